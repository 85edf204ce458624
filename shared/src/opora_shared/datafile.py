"""Rules and policies as data: a YAML file validated into a pydantic model, or the one a package
ships. A file that does not fit fails at load with the path of every failing field, never later
on a live message."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, PlainSerializer, PlainValidator, ValidationError, WithJsonSchema

M = TypeVar("M", bound=BaseModel)
Where = Callable[[tuple[int | str, ...], dict[str, Any]], str]


def _dotted(loc: tuple[int | str, ...], _data: dict[str, Any]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def read_source(
    path: Path | None, packaged: tuple[str, str], *, what: str, error: type[ValueError]
) -> tuple[str, str]:
    """The text of ``path``, or of the ``(package, resource)`` shipped when there is none, and a
    name for it in messages."""
    if path is None:
        package, name = packaged
        source = f"{package}:{name}"
        try:
            return resources.files(package).joinpath(name).read_text(encoding="utf-8"), source
        except OSError as exc:
            raise error(f"cannot read the packaged {what} {source}: {exc}") from exc
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc}") from exc


def parse_yaml(
    raw: str,
    model: type[M],
    *,
    source: str,
    what: str,
    error: type[ValueError],
    where: Where = _dotted,
) -> M:
    """Validate YAML text into ``model``; ``error`` lists every failing field by its path."""
    try:
        data = yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date, 2026-02-30
        raise error(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{source}: the top level must be a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {where(problem['loc'], data)}: {problem['msg']}" for problem in exc.errors()
        )
        raise error(f"{source} has invalid {what}:\n{problems}") from exc


# --- field types that rules files share ---------------------------------------------------------


def fold(text: str) -> str:
    """Russian product names are written with and without ``ё``; fold both to one spelling (do
    the same to the text a pattern is searched in)."""
    return text.replace("ё", "е").replace("Ё", "Е")


def _compile_patterns(value: Any) -> tuple[re.Pattern[str], ...]:
    if isinstance(value, tuple) and all(isinstance(p, re.Pattern) for p in value):
        return value
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError("expected a non-empty list of regular expressions")
    compiled = []
    for index, pattern in enumerate(value):
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"entry {index}: a pattern must be a non-empty string")
        try:
            compiled.append(re.compile(fold(pattern), re.IGNORECASE))
        except re.error as error:
            raise ValueError(
                f"entry {index}: invalid regular expression {pattern!r}: {error}"
            ) from None
    return tuple(compiled)


Patterns = Annotated[
    tuple[re.Pattern[str], ...],
    PlainValidator(_compile_patterns),
    PlainSerializer(lambda patterns: [p.pattern for p in patterns], return_type=list[str]),
    WithJsonSchema({"type": "array", "items": {"type": "string", "format": "regex"}}),
]
"""Case-insensitive regular expressions, ``ё``-folded and compiled at load, to be searched
anywhere in a folded text."""
