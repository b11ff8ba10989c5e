"""pyproject promises Python >= 3.10: names that only 3.11 has must not be used outside their shims."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hdnotebook"

#: Standard-library names new in Python 3.11, and where a shim for one may use it.
NEW_IN_311 = {
    r"\benum\.StrEnum\b": {"_vocab.py"},  # hdnotebook._vocab.StrEnum is the shim everyone imports
    r"\bimport tomllib\b": set(),
    r"\bExceptionGroup\b": set(),
    r"\bTaskGroup\b": set(),
    r"\bfrom typing import [^\n]*\bSelf\b": set(),
    r"\bdatetime\.UTC\b": set(),
}


def test_pyproject_still_says_python_3_10():
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10"' in text


def test_no_module_uses_a_name_python_3_10_lacks():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern, allowed in NEW_IN_311.items():
            if path.name not in allowed and re.search(pattern, text):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}: {pattern}")
    assert not offenders, "use hdnotebook._vocab.StrEnum (or a 3.10 spelling) instead: " + ", ".join(offenders)
