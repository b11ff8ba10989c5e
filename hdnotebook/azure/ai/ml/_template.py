"""The ``${{inputs.x}}`` command template of SDK v2 jobs: parse, check and fill it in.

A v2 ``command`` string names its inputs and outputs as ``${{inputs.NAME}}`` and
``${{outputs.NAME}}`` (sweep YAML also writes ``${{search_space.NAME}}``); a part written as
``$[[ ... ]]`` is kept only when every input it names has a value::

    >>> render("python train.py --C ${{inputs.C}} $[[--seed ${{inputs.seed}}]]", {"C": "0.5", "seed": None})
    'python train.py --C 0.5'
    >>> render("python train.py --C ${{ inputs.C }} --out ${{outputs.model}}", {"C": "1"}, {"model": "/tmp/m"})
    'python train.py --C 1 --out /tmp/m'

Values are put in as text, exactly as given (no quoting), as Azure ML does.
Pure: no I/O, used by the notebook side (to check a job) and by the trial launcher (to run it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Reference", "references", "render", "check_references", "format_value"]

_REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
#: what a ``${{...}}`` that does not match the grammar above looks like
_ANY_REFERENCE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_DROPPED = "\x00"


@dataclass(frozen=True)
class Reference:
    """One ``${{kind.name}}`` in a command: ``kind`` is ``"inputs"`` or ``"outputs"``."""

    kind: str
    name: str
    optional: bool


def references(template: str) -> list[Reference]:
    """Every reference in ``template``, in order; ``search_space.x`` counts as an input.

        >>> [(r.kind, r.name, r.optional) for r in references("a ${{inputs.x}} $[[b ${{outputs.y}}]]")]
        [('inputs', 'x', False), ('outputs', 'y', True)]

    Raises:
        ValueError: a ``${{...}}`` that names neither ``inputs.NAME``, ``outputs.NAME`` nor
            ``search_space.NAME``.
    """
    if not isinstance(template, str):
        raise TypeError(f"command must be a string such as 'python train.py --lr ${{{{inputs.lr}}}}', got {template!r}")
    for match in _ANY_REFERENCE.finditer(template):
        if not _REFERENCE.fullmatch(match.group(0)):
            raise ValueError(
                f"command: {match.group(0)!r} is not a reference this job understands; write "
                "${{inputs.NAME}}, ${{outputs.NAME}} or ${{search_space.NAME}}"
            )
    optional_spans = [m.span(1) for m in _OPTIONAL.finditer(template)]
    found = []
    for match in _REFERENCE.finditer(template):
        kind = "outputs" if match.group(1) == "outputs" else "inputs"
        optional = any(start <= match.start() < end for start, end in optional_spans)
        found.append(Reference(kind, match.group(2), optional))
    return found


def check_references(template: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
    """Raise when ``template`` names an input or output the job does not have.

    An input named only inside ``$[[ ... ]]`` may be missing (that part is then left out).

        >>> check_references("python t.py --lr ${{inputs.lr}}", {"learning_rate": 0.1}, {})
        Traceback (most recent call last):
        ...
        ValueError: command names ${{inputs.lr}}, but the job has no input 'lr'; its inputs: ['learning_rate']
    """
    for ref in references(template):
        known = inputs if ref.kind == "inputs" else outputs
        if ref.name not in known and not ref.optional:
            raise ValueError(
                f"command names ${{{{{ref.kind}.{ref.name}}}}}, but the job has no "
                f"{ref.kind[:-1]} {ref.name!r}; its {ref.kind}: {sorted(known)}"
            )


def format_value(value: Any) -> str:
    """The text a value becomes in a command: ``repr`` for floats (no digits lost), else ``str``."""
    return repr(value) if isinstance(value, float) else str(value)


def render(template: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None = None) -> str:
    """Fill in ``template``; an input whose value is ``None`` is missing.

    ``$[[ ... ]]`` parts whose inputs all have values are kept (without the brackets), the others
    dropped; a required reference without a value raises ``ValueError``.
    """
    outputs = outputs or {}
    check_references(template, {k: v for k, v in inputs.items() if v is not None}, outputs)

    def value_of(kind: str, name: str) -> Any:
        table = outputs if kind == "outputs" else inputs
        return table.get(name)

    def keep_optional(match: re.Match[str]) -> str:
        body = match.group(1)
        for ref in _REFERENCE.finditer(body):
            if value_of(ref.group(1), ref.group(2)) is None:
                return _DROPPED
        return body

    text = _OPTIONAL.sub(keep_optional, template)
    text = _REFERENCE.sub(lambda m: format_value(value_of(m.group(1), m.group(2))), text)
    if _DROPPED in text:  # one space where a dropped part was, none at either end
        text = re.sub(rf"[ \t]*{_DROPPED}[ \t]*", " ", text).strip()
    return text
