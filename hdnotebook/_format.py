"""The one number format of every view: widget, sidebar, /hdnotebook page, static HTML and text.

A float shows 4 significant digits, written the way JavaScript writes the rounded number
(``Number(v.toPrecision(4)).toString()``, what the front ends' ``fmt`` does), so a value reads the
same in the table of the widget, the sidebar and the static HTML an nbconvert export keeps. An
integer shows all its digits. Imports nothing of hdnotebook.

>>> format_number(0.123456), format_number(123456.7), format_number(123456)
('0.1235', '123500', '123456')
>>> format_number(1.23e-7), format_number(2.5e22), format_number(-0.000123456)
('1.23e-7', '2.5e+22', '-0.0001235')
>>> format_number(None), format_number(True), format_number(float("nan")), format_number("adam")
('', 'true', 'NaN', 'adam')
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["format_number", "json_value", "SIGNIFICANT_DIGITS"]

#: how many significant digits a float shows
SIGNIFICANT_DIGITS = 4


def _js_number_text(x: float) -> str:
    """``x`` as JavaScript's ``Number.prototype.toString()`` writes it (shortest round-trip digits).

    >>> _js_number_text(1e21), _js_number_text(1e-7), _js_number_text(0.000001), _js_number_text(120.0)
    ('1e+21', '1e-7', '0.000001', '120')
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    exact = Decimal(repr(abs(x))).as_tuple()  # Python's repr: the same shortest digits as JS
    digits = "".join(map(str, exact.digits)).rstrip("0")
    n = len(exact.digits) + int(exact.exponent)  # the value is 0.DIGITS x 10**n
    n -= len(exact.digits) - len("".join(map(str, exact.digits)).lstrip("0"))
    digits = digits.lstrip("0")
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + text


def format_number(value: Any) -> str:
    """``value`` as every view shows it: 4 significant digits for floats, all digits for integers.

    ``None`` is empty; booleans, strings and anything else show as JavaScript would (``true``,
    the string itself); a list shows its items joined by commas.

    >>> format_number(2.0), format_number(0.1 + 0.2), format_number(-1e-3)
    ('2', '0.3', '-0.001')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) < 10**21:
        return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join(format_number(v) for v in value)
    if isinstance(value, str):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    if not math.isfinite(x) or x == int(x):
        return _js_number_text(x)  # an integral number keeps all its digits, as in the front ends
    return _js_number_text(_to_precision(x, SIGNIFICANT_DIGITS))


def _to_precision(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant digits as JavaScript's ``toPrecision`` rounds: from
    its exact binary value, a tie away from zero (Python's ``%g`` rounds a tie to even).

    >>> _to_precision(1234.5, 4), _to_precision(-1.0625, 4), _to_precision(2.675, 3)
    (1235.0, -1.063, 2.67)
    """
    exact = Decimal(x)  # every digit of the double, no rounding yet
    step = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    return float(exact.quantize(step, rounding=ROUND_HALF_UP))


def json_value(value: Any) -> Any:
    """A parameter value as the views receive it in JSON: numpy scalars as Python numbers,
    non-finite floats as their text (JSON has no NaN), anything else unusual as its ``repr``.

    >>> json_value(float("inf")), json_value(3), json_value((1, 2))
    ('inf', 3, '(1, 2)')
    """
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
