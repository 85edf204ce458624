"""Rules and policies as data: a YAML file validated into a pydantic model, or the one a package
ships. A file that does not fit fails at load with the path of every failing field, never later
on a live message."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

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
