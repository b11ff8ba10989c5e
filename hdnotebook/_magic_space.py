"""The body of ``%%hyperdrive``: a search space in the article's own syntax, parsed safely.

Two forms are accepted; both may hold comments and blank lines::

    {"learning_rate": loguniform(-6, -1), "batch_size": choice(16, 32)}

    learning_rate: loguniform(-6, -1)      # one ``name: expression`` per line
    batch_size: choice(*my_sizes)          # names from the notebook are allowed in the arguments

The article's snippet without commas between the entries, braces on their own lines, also parses.

Each expression must be a call of one of the nine expression functions (``choice``, ``uniform``,
...); its arguments are evaluated with the notebook's names. Errors are
:class:`HyperDriveMagicError` (an IPython ``UsageError``) whose message starts with ``line N``,
counting the ``%%hyperdrive`` line as line 1, as the notebook numbers the cell's lines.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from .space import EXPRESSIONS, ParameterExpression

__all__ = ["HyperDriveMagicError", "SpaceEntry", "parse_space", "suggest_name"]

#: the cell's first line is the magic line, so body line k is cell line k + BODY_OFFSET
BODY_OFFSET = 1


class HyperDriveMagicError(UsageError):
    """A ``%%hyperdrive`` usage error; IPython prints it as one clean message, no traceback.

    Attributes:
        line: the cell line it points at (1 is the ``%%hyperdrive`` line), or ``None``.
        option: the magic-line option it is about (``"--policy"``), or ``None``.
    """

    def __init__(self, message: str, line: int | None = None, option: str | None = None) -> None:
        self.line = line
        self.option = option
        if line is not None:
            message = f"line {line}: {message}"
        super().__init__(message)


@dataclass(frozen=True)
class SpaceEntry:
    """One ``name: expression`` of the body, with where it was written."""

    name: str
    expression: ParameterExpression
    line: int  # cell line (1 = the magic line)
    source: str  # the expression as written


def suggest_name(name: str, candidates: Any) -> str:
    """``" (did you mean 'choice'?)"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if not close and isinstance(name, str):
        lowered = {str(c).lower(): c for c in candidates}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


_ALLOWED = ", ".join(f"{n}()" for n in EXPRESSIONS)
_EXAMPLE = 'learning_rate: loguniform(-6, -1)  or  {"learning_rate": loguniform(-6, -1)}'


def parse_space(body: str, namespace: Mapping[str, Any]) -> list[SpaceEntry]:
    """Parse and evaluate the cell body into entries, in the order written.

    Args:
        body: the cell body (everything after the ``%%hyperdrive`` line).
        namespace: the notebook's names, used in the expressions' arguments.

    Raises:
        HyperDriveMagicError: pointing at the line, saying how to fix it.
    """
    lines = body.splitlines()
    if not any(_code(line) for line in lines):
        raise HyperDriveMagicError(
            "the cell body is empty: write the search space below the %%hyperdrive line, e.g. "
            + _EXAMPLE,
            line=BODY_OFFSET + 1,
        )
    raw = _dict_literal(body)
    if raw is None:
        try:
            raw = _line_entries(lines)
        except HyperDriveMagicError:
            # a body that opens a dict but is not valid Python: Python's own message says more
            dict_error = dict_syntax_error(body) if _first_code(lines).startswith("{") else None
            if dict_error is not None:
                raise dict_error from None
            raise
    entries: list[SpaceEntry] = []
    seen: dict[str, int] = {}
    globals_ = _eval_globals(namespace)
    for name, node, line, source in raw:
        if name in seen:
            raise HyperDriveMagicError(
                f"{name!r} is defined twice (first on line {seen[name]}); give each parameter once",
                line=line,
            )
        seen[name] = line
        entries.append(SpaceEntry(name, _evaluate(name, node, line, source, globals_), line, source))
    return entries


# ---------------------------------------------------------------------------------------------
# the two forms
# ---------------------------------------------------------------------------------------------
_Raw = tuple[str, ast.expr, int, str]


def _code(line: str) -> str:
    """The line without its comment and surrounding blanks (a ``#`` inside quotes is kept)."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.COMMENT:
                return line[: tok.start[1]].strip()
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # an open bracket or string: the tokens before it were read
    return line.strip()


def _dict_literal(body: str) -> list[_Raw] | None:
    """Entries of a body that is one dict display, or ``None`` when it is not one."""
    if not _first_code(body.splitlines()).startswith("{"):
        return None
    text = _dedent(body)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None  # maybe the article's snippet without commas: the line form reads it
    node = tree.body
    if not isinstance(node, ast.Dict):
        return None
    out: list[_Raw] = []
    for key, value in zip(node.keys, node.values):
        if key is None:  # {**other}
            line = BODY_OFFSET + value.lineno
            raise HyperDriveMagicError(
                "'**' unpacking is not allowed in the search space; write each parameter as "
                '"name": expression',
                line=line,
            )
        line = BODY_OFFSET + key.lineno
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value):
            raise HyperDriveMagicError(
                f"the parameter name must be a quoted string, got {ast.unparse(key)}; write it "
                f'as "{ast.unparse(key)}": expression',
                line=line,
            )
        source = ast.get_source_segment(text, value) or ast.unparse(value)
        out.append((key.value, value, line, source))
    return out


def _first_code(lines: list[str]) -> str:
    return next((code for code in map(_code, lines) if code), "")


def _dedent(body: str) -> str:
    """Strip the common indentation so an indented dict (as in the article) parses."""
    import textwrap

    return textwrap.dedent(body)


_ENTRY = re.compile(r"""^\s*(?:(["'])(?P<q>[^"']+)\1|(?P<n>[A-Za-z_][\w.\-]*))\s*:(?P<rest>.*)$""")


def _line_entries(lines: list[str]) -> list[_Raw]:
    """``name: expression`` per line; an expression may continue over lines inside brackets."""
    out: list[_Raw] = []
    i = 0
    while i < len(lines):
        code = _code(lines[i])
        line_no = BODY_OFFSET + i + 1
        if not code or code in {"{", "}", "},", "})"}:
            i += 1
            continue
        if code.startswith("{") or code.endswith("}"):
            code = code.lstrip("{").rstrip().rstrip(",").rstrip("}").strip()
            if not code:
                i += 1
                continue
        match = _ENTRY.match(code)
        if match is None:
            raise HyperDriveMagicError(
                f"expected 'name: expression' here, got {lines[i].strip()!r}; write one parameter "
                f"per line as {_EXAMPLE}",
                line=line_no,
            )
        name = match.group("q") or match.group("n")
        text = match.group("rest").strip()
        start = i
        # continue while brackets are open
        while _open_brackets(text) and i + 1 < len(lines):
            i += 1
            text += "\n" + _code(lines[i])
        text = text.rstrip().rstrip(",").rstrip()
        if text.endswith("}") and _open_brackets(text) < 0:
            text = text[:-1].rstrip().rstrip(",").rstrip()
        if not text:
            raise HyperDriveMagicError(
                f"{name!r} has no expression after ':'; write e.g. {name}: choice(16, 32)",
                line=line_no,
            )
        out.append((name, _parse_expression(name, text, BODY_OFFSET + start + 1, lines), BODY_OFFSET + start + 1, text))
        i += 1
    if not out:
        raise HyperDriveMagicError(
            "the cell body holds no parameter: write e.g. " + _EXAMPLE, line=BODY_OFFSET + 1
        )
    return out


def _open_brackets(text: str) -> int:
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
    except tokenize.TokenError:
        return max(depth, 1)
    except (SyntaxError, IndentationError):
        return depth
    return depth


def _parse_expression(name: str, text: str, line: int, lines: list[str]) -> ast.expr:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        at = line + (exc.lineno or 1) - 1
        shown = lines[at - BODY_OFFSET - 1].strip() if 0 <= at - BODY_OFFSET - 1 < len(lines) else text
        hint = exc.msg or "invalid syntax"
        raise HyperDriveMagicError(
            f"syntax error in {name!r}: {hint}\n    {shown}\nwrite a Python expression such as "
            "choice(16, 32) or loguniform(-6, -1)",
            line=at,
        ) from None


def dict_syntax_error(body: str) -> HyperDriveMagicError | None:
    """The error for a body that looks like a dict but is not valid Python."""
    try:
        ast.parse(_dedent(body), mode="eval")
    except SyntaxError as exc:
        lines = body.splitlines()
        at = BODY_OFFSET + (exc.lineno or 1)
        shown = lines[(exc.lineno or 1) - 1].strip() if exc.lineno and exc.lineno <= len(lines) else ""
        return HyperDriveMagicError(f"syntax error: {exc.msg}\n    {shown}", line=at)
    return None


# ---------------------------------------------------------------------------------------------
# evaluation: the top call must be one of the nine expression functions
# ---------------------------------------------------------------------------------------------
_CALLER = "__hdnotebook_expression__"


def _eval_globals(namespace: Mapping[str, Any]) -> dict[str, Any]:
    g: dict[str, Any] = dict(EXPRESSIONS)
    g.update(namespace)
    g.setdefault("__builtins__", __builtins__)
    return g


def _evaluate(name: str, node: ast.expr, line: int, source: str, globals_: dict[str, Any]) -> ParameterExpression:
    if not isinstance(node, ast.Call):
        raise HyperDriveMagicError(
            f"{name!r} must be a parameter expression, one of {_ALLOWED}; got {source!r}. A fixed "
            f"value is choice({source})",
            line=line,
        )
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in EXPRESSIONS:
        raise HyperDriveMagicError(
            f"{name!r}: write {func.attr}(...) without the prefix "
            f"'{ast.unparse(func.value)}.'; the body knows the expression functions by name",
            line=line,
        )
    if not isinstance(func, ast.Name):
        raise HyperDriveMagicError(
            f"{name!r} must call one of {_ALLOWED} directly; got {source!r}", line=line
        )
    if func.id not in EXPRESSIONS:
        raise HyperDriveMagicError(
            f"unknown expression {func.id}(){suggest_name(func.id, EXPRESSIONS)} in {name!r}; "
            f"the search space allows {_ALLOWED}",
            line=line,
        )
    constructor = EXPRESSIONS[func.id]
    call = ast.Call(func=ast.Name(id=_CALLER, ctx=ast.Load()), args=node.args, keywords=node.keywords)
    expression = ast.Expression(body=call)
    ast.copy_location(call, node)
    ast.fix_missing_locations(expression)
    try:
        code = compile(expression, f"<%%hyperdrive line {line}>", "eval")
    except SyntaxError as exc:  # pragma: no cover - the source parsed already
        raise HyperDriveMagicError(f"syntax error in {name!r}: {exc.msg}", line=line) from None
    globals_[_CALLER] = constructor
    try:
        value = eval(code, globals_)  # noqa: S307 - the top call is one of the nine constructors
    except NameError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        known = [k for k in globals_ if not k.startswith("_")]
        raise HyperDriveMagicError(
            f"{name!r}: name {missing!r} is not defined in the notebook"
            f"{suggest_name(missing, known) if isinstance(missing, str) else ''}; define it in a cell "
            f"above, or write the values out: {source}",
            line=line,
        ) from None
    except (TypeError, ValueError) as exc:
        raise HyperDriveMagicError(f"{name!r}: {exc}", line=line) from None
    except Exception as exc:
        raise HyperDriveMagicError(
            f"{name!r}: evaluating {source} raised {type(exc).__name__}: {exc}", line=line
        ) from None
    finally:
        globals_.pop(_CALLER, None)
    return value
