"""The classification rules file: its schema, and loading it with every pattern compiled once.

Rules are data so that a support lead can change how requests are recognised without a
release. A file that does not fit the schema fails at load with the path of the failing field
(``request_types.rules.3.when.text_matches: Value error, entry 0: invalid regular
expression ...``), never later on a live message.

Regexes are matched case-insensitively against text in which ``ё`` is written ``е``, so a
pattern need not spell both; the same folding is applied to the patterns themselves.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar

from lingua import IsoCode639_1
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.datafile import parse_yaml, read_source
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from opora_intake.domain.classification.patterns import PatternSet, TextPattern, fold_yo

DEFAULT_RULES = ("opora_intake", "rules/classification.yaml")

T = TypeVar("T")


def _compile(value: Any) -> TextPattern:
    if not isinstance(value, str) or not value:
        raise ValueError("a pattern must be a non-empty string")
    try:
        return TextPattern.compile(fold_yo(value))
    except re.error as error:
        raise ValueError(f"invalid regular expression {value!r}: {error}") from None


def _compile_all(value: Any) -> PatternSet:
    if isinstance(value, PatternSet):
        return value
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError("expected a non-empty list of regular expressions")
    compiled = []
    for index, pattern in enumerate(value):
        try:
            compiled.append(_compile(pattern))
        except ValueError as error:
            raise ValueError(f"entry {index}: {error}") from None
    return PatternSet.of(compiled)


Patterns = Annotated[
    PatternSet,
    PlainValidator(_compile_all),
    WithJsonSchema({"type": "array", "items": {"type": "string", "format": "regex"}}),
]
"""Case-insensitive regular expressions, compiled when the file is loaded, tried in order."""

IvrPath = Annotated[str, StringConstraints(pattern=r"^[0-9*#]+(-[0-9*#]+)*$")]
"""An IVR menu path: the keys pressed at each level, joined by '-' ("1", "2-3")."""

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
NonEmpty = Annotated[tuple[T, ...], Field(min_length=1)]
"""A list that must name at least one entry: an empty condition could never hold."""
Proficiency = Annotated[int, Field(ge=1, le=5)]
"""Skill levels 1-5, the steps routing matches agents' proficiency against."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique_ids(items: tuple[Any, ...], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"duplicate {what} id {item.id!r}")
        seen.add(item.id)


class FormFieldCondition(_Strict):
    """A web-form field compared case-insensitively: exactly one of ``equals``/``contains``."""

    name: Name
    equals: str | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _one_comparison(self) -> Self:
        if (self.equals is None) == (self.contains is None):
            raise ValueError("give exactly one of 'equals' or 'contains'")
        return self


class MessageConditions(_Strict):
    """What a message must show for a rule to apply.

    Every condition given must hold; a list holds when any of its entries does.
    """

    channel: NonEmpty[Channel] | None = None
    form_id: NonEmpty[Name] | None = None
    form_field: FormFieldCondition | None = None
    ivr_selection: NonEmpty[IvrPath] | None = Field(
        default=None, description="Holds when the caller's IVR path passes through any of these"
    )
    customer_tier: NonEmpty[Name] | None = None
    text_matches: Patterns | None = Field(
        default=None, description="Searched in the subject and the text"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a rule needs at least one condition")
        return self


class BumpConditions(MessageConditions):
    request_type: NonEmpty[RequestType] | None = None


class RequestTypeRule(_Strict):
    id: Name
    request_type: RequestType
    when: MessageConditions


class RequestTypeRules(_Strict):
    """Ordered rules: the first whose conditions hold decides the request type."""

    default: RequestType = RequestType.OTHER
    rules: tuple[RequestTypeRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _ids_unique(cls, rules: tuple[RequestTypeRule, ...]) -> tuple[RequestTypeRule, ...]:
        _unique_ids(rules, "rule")
        return rules


class IvrChoice(_Strict):
    """What pressing a key in the IVR menu tells: the caller's language, the request type."""

    request_type: RequestType | None = None
    language: LanguageCode | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if self.request_type is None and self.language is None:
            raise ValueError("an IVR choice needs a 'request_type' or a 'language'")
        return self


class PriorityBump(_Strict):
    """Raises the priority when its conditions hold: by steps, or to at least a level."""

    id: Name
    when: BumpConditions
    raise_by: Annotated[int, Field(ge=1, le=3)] | None = None
    at_least: Priority | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> Self:
        if (self.raise_by is None) == (self.at_least is None):
            raise ValueError("give exactly one of 'raise_by' or 'at_least'")
        return self


class PriorityRules(_Strict):
    """An explicit priority wins; otherwise the base by request type, then every bump that
    applies, in order, never above ``ceiling``."""

    default: Priority = Priority.NORMAL
    by_request_type: dict[RequestType, Priority] = Field(default_factory=dict)
    ceiling: Priority = Priority.URGENT
    bumps: tuple[PriorityBump, ...] = ()

    @field_validator("bumps")
    @classmethod
    def _ids_unique(cls, bumps: tuple[PriorityBump, ...]) -> tuple[PriorityBump, ...]:
        _unique_ids(bumps, "bump")
        return bumps


class LanguageRules(_Strict):
    """Detection chooses only among ``candidates``: fewer models, better accuracy on short
    texts. Below ``min_confidence``, or with no letters to go on, ``default`` is used."""

    candidates: tuple[LanguageCode, ...] = Field(min_length=1)
    default: LanguageCode
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    sample_chars: int = Field(
        default=2000, ge=50, description="Only the start of a long text is read to detect"
    )

    @field_validator("candidates")
    @classmethod
    def _known_to_detector(cls, candidates: tuple[str, ...]) -> tuple[str, ...]:
        for code in candidates:
            try:
                IsoCode639_1.from_str(code)
            except ValueError:
                raise ValueError(f"the language detector does not know {code!r}") from None
        if len(set(candidates)) != len(candidates):
            raise ValueError("languages are listed twice")
        return candidates


class LanguageSkill(_Strict):
    skill: Name = "lang:{language}"
    level: Proficiency = 1

    @field_validator("skill")
    @classmethod
    def _has_placeholder(cls, skill: str) -> str:
        if "{language}" not in skill:
            raise ValueError("the skill name must contain '{language}'")
        return skill


class ProductFamily(_Strict):
    """Products recognised by name (in the product field or the text) and the skills they need."""

    id: Name
    matches: Patterns
    skills: dict[Name, Proficiency] = Field(min_length=1)


class SkillRules(_Strict):
    by_request_type: dict[RequestType, dict[Name, Proficiency]] = Field(default_factory=dict)
    language: LanguageSkill | None = LanguageSkill()
    product_families: tuple[ProductFamily, ...] = ()

    @field_validator("product_families")
    @classmethod
    def _ids_unique(cls, families: tuple[ProductFamily, ...]) -> tuple[ProductFamily, ...]:
        _unique_ids(families, "product family")
        return families


class ReferenceRules(_Strict):
    """Patterns per kind of reference. A match's value is its group named ``ref``, else its
    first group, else the whole match."""

    patterns: dict[Name, Patterns] = Field(default_factory=dict)
    product_kind: Name | None = Field(
        default=None,
        description="The kind whose first match names the product when the adapter gave none",
    )
    max_per_kind: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _product_kind_known(self) -> Self:
        if self.product_kind is not None and self.product_kind not in self.patterns:
            raise ValueError(f"product_kind {self.product_kind!r} has no patterns")
        return self


class ClassificationRules(_Strict):
    """The whole rules file."""

    version: Name
    language: LanguageRules
    request_types: RequestTypeRules = RequestTypeRules()
    ivr_menu: dict[IvrPath, IvrChoice] = Field(default_factory=dict)
    priority: PriorityRules = PriorityRules()
    skills: SkillRules = SkillRules()
    references: ReferenceRules = ReferenceRules()


class RulesError(ValueError):
    """The rules file cannot be read, is not YAML, or does not fit the schema."""


def load_rules(path: Path | None = None) -> ClassificationRules:
    """Read and validate a rules file; without a path, the one shipped with intake."""
    raw, source = read_source(path, DEFAULT_RULES, what="classification rules", error=RulesError)
    return parse_rules(raw, source=source)


def parse_rules(raw: str, *, source: str = "<string>") -> ClassificationRules:
    """Validate the YAML text of a rules file."""
    return parse_yaml(
        raw, ClassificationRules, source=source, what="classification rules", error=RulesError
    )
