"""Classifying one inbound message by the rules: request type, priority, language, skills,
references and product, each decision with the reason it was taken.

``classify`` is pure: it reads only its inputs and the rules, whose regexes were compiled at
load. On the shared 2-core development machine it takes 0.2-0.6 ms for a 1 KB text when the
language is given (the pattern prefilter in ``patterns`` skips rules whose words are absent).
Language detection runs only when neither the adapter nor the IVR menu named the language, on
the first ``language.sample_chars`` of the text: ~20 µs for an SMS, ~0.2 ms for 300
characters."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessage,
    InboundWalkInV1,
    InboundWebFormV1,
)

from opora_intake.domain.classification.language import DETECTOR_NAME, detect_language
from opora_intake.domain.classification.patterns import Haystack, PatternSet, fold_yo
from opora_intake.domain.classification.rules import (
    BumpConditions,
    ClassificationRules,
    MessageConditions,
)
from opora_intake.domain.surveys import is_survey_selection

COMPLAINT_BOOK_FORM = "complaint_book"
"""The form id a walk-in complaint-book entry is classified under."""

_PRIORITIES = sorted(Priority, key=lambda priority: priority.rank)
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")
_QUOTE_CHARS = 40

# Format and control characters (zero-width spaces, BOM, soft hyphens, bidi marks) other than
# the newline and tab that carry layout.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029"
    "\u202a-\u202e\u2060-\u2064\ufeff]"
)
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ClassificationInput:
    """What classification looks at, whatever the channel it came from."""

    channel: Channel
    text: str = ""
    subject: str = ""
    form_id: str | None = None
    form_fields: Mapping[str, str] = field(default_factory=dict)
    ivr_selections: tuple[str, ...] = ()
    request_type: RequestType | None = None
    priority: Priority | None = None
    language: str | None = None
    customer_tier: str | None = None
    product: str | None = None


@dataclass(frozen=True)
class Classification:
    """The decisions about one message; ``skills`` maps a skill to the minimum proficiency
    (1-5) an agent needs, ``references`` a kind (order, serial, ...) to the values found."""

    request_type: RequestType
    priority: Priority
    language: str
    skills: dict[str, int]
    references: dict[str, tuple[str, ...]]
    product: str | None
    reasons: tuple[str, ...]


def clean_text(text: str) -> str:
    """Text as a ticket should carry it: NFC-normalised, without invisible characters, runs of
    spaces collapsed, lines trimmed, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    # Invisible characters are all unprintable; the test is much cheaper than the removal.
    if not text.replace("\n", "").replace("\t", "").isprintable():
        text = _INVISIBLE.sub("", text)
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip() if "\n\n\n" in text else text.strip()


def input_from_message(
    message: InboundMessage, *, customer_tier: str | None = None
) -> ClassificationInput:
    """Translate an inbound message of any channel into classification input."""
    text_parts = [message.text]
    subject = ""
    form_id: str | None = None
    form_fields: Mapping[str, str] = {}
    ivr_selections: tuple[str, ...] = ()
    product: str | None = None
    if isinstance(message, InboundEmailV1):
        subject = message.subject
    elif isinstance(message, InboundWebFormV1):
        subject, form_id, form_fields = message.subject, message.form_id, message.fields
        product = message.product
    elif isinstance(message, InboundCallV1):
        # A post-call survey result is no step through the menu (see domain/surveys.py).
        ivr_selections = tuple(s for s in message.ivr_selections if not is_survey_selection(s))
        text_parts.append(message.transcript or "")
    elif isinstance(message, InboundChatMessageV1):
        text_parts = [*message.bot_transcript, message.text]
    elif isinstance(message, InboundWalkInV1) and message.kind == "complaint_book":
        form_id = COMPLAINT_BOOK_FORM
    return ClassificationInput(
        channel=message.channel,
        text="\n".join(part for part in text_parts if part),
        subject=subject,
        form_id=form_id,
        form_fields=form_fields,
        ivr_selections=ivr_selections,
        request_type=message.request_type,
        priority=message.priority,
        language=message.language or message.customer.language,
        customer_tier=customer_tier,
        product=product,
    )


def ivr_path_prefixes(selections: Iterable[str]) -> tuple[str, ...]:
    """Every menu level the caller passed, from the top: ("2", "3") -> ("2", "2-3").

    Adapters may send each key pressed, or the full path as the last selection ("2-3").
    """
    keys = [key.strip() for key in selections if key.strip()]
    if not keys:
        return ()
    path = keys[-1] if "-" in keys[-1] else "-".join(keys)
    steps = [step.strip() for step in path.split("-")]
    return tuple("-".join(steps[: depth + 1]) for depth in range(len(steps)))


@dataclass(frozen=True)
class _Message:
    """The input prepared once for all the rules: cleaned, folded, IVR path expanded."""

    inputs: ClassificationInput
    haystack: Haystack
    ivr_path: tuple[str, ...]
    tier: str | None
    form_fields: Mapping[str, str]

    @classmethod
    def of(cls, inputs: ClassificationInput) -> _Message:
        subject, body = clean_text(inputs.subject), clean_text(inputs.text)
        text = f"{subject}\n{body}" if subject and body else subject or body
        return cls(
            inputs=inputs,
            haystack=Haystack.of(text),
            ivr_path=ivr_path_prefixes(inputs.ivr_selections),
            tier=inputs.customer_tier.strip().casefold() if inputs.customer_tier else None,
            form_fields={name.casefold(): value for name, value in inputs.form_fields.items()},
        )

    @property
    def text(self) -> str:
        return self.haystack.text

    def find(self, patterns: PatternSet, text: str | None = None) -> str | None:
        """The first pattern's match in the message (or in ``text``), quoted as written."""
        haystack = self.haystack if text is None else Haystack.of(text)
        match = patterns.search(haystack)
        return None if match is None else _quote(haystack.text[match.start() : match.end()])


def _quote(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= _QUOTE_CHARS else value[: _QUOTE_CHARS - 1] + "…"


def _evidence(
    when: MessageConditions, message: _Message, request_type: RequestType | None = None
) -> list[str] | None:
    """Why the conditions hold, one phrase per condition, or None when one does not."""
    inputs, found = message.inputs, []
    if when.channel is not None:
        if inputs.channel not in when.channel:
            return None
        found.append(f"channel {inputs.channel.value}")
    if isinstance(when, BumpConditions) and when.request_type is not None:
        if request_type not in when.request_type:
            return None
        found.append(f"request type {request_type}")
    if when.customer_tier is not None:
        if message.tier not in {tier.casefold() for tier in when.customer_tier}:
            return None
        found.append(f"customer tier '{inputs.customer_tier}'")
    if when.form_id is not None:
        form_id = (inputs.form_id or "").casefold()
        if form_id not in {candidate.casefold() for candidate in when.form_id}:
            return None
        found.append(f"form '{inputs.form_id}'")
    if when.form_field is not None:
        condition = when.form_field
        value = message.form_fields.get(condition.name.casefold())
        if value is None:
            return None
        folded = fold_yo(value.strip()).casefold()
        if condition.equals is not None:
            if folded != fold_yo(condition.equals.strip()).casefold():
                return None
        elif fold_yo(condition.contains or "").casefold() not in folded:
            return None
        found.append(f"field {condition.name}='{_quote(value)}'")
    if when.ivr_selection is not None:
        passed = [step for step in message.ivr_path if step in when.ivr_selection]
        if not passed:
            return None
        found.append(f"IVR {passed[-1]}")
    if when.text_matches is not None:
        quote = message.find(when.text_matches)
        if quote is None:
            return None
        found.append(f"text matched '{quote}'")
    return found


def _request_type(message: _Message, rules: ClassificationRules, reasons: list[str]) -> RequestType:
    hint = message.inputs.request_type
    if hint is not None and hint is not RequestType.OTHER:
        reasons.append(f"request_type={hint}: adapter hint")
        return hint
    if hint is RequestType.OTHER:
        reasons.append("request_type hint 'other' names no type: rules applied")
    for step in reversed(message.ivr_path):
        choice = rules.ivr_menu.get(step)
        if choice is not None and choice.request_type is not None:
            reasons.append(f"request_type={choice.request_type} by IVR menu '{step}'")
            return choice.request_type
    for rule in rules.request_types.rules:
        found = _evidence(rule.when, message)
        if found is not None:
            reasons.append(
                f"request_type={rule.request_type} by rule '{rule.id}' ({'; '.join(found)})"
            )
            return rule.request_type
    default = rules.request_types.default
    reasons.append(f"request_type={default}: no rule matched (default)")
    return default


def _language(message: _Message, rules: ClassificationRules, reasons: list[str]) -> str:
    hint = message.inputs.language
    if hint:
        code = hint.strip().split("-")[0].split("_")[0].lower()
        if _LANGUAGE_CODE.match(code):
            reasons.append(f"language={code}: adapter hint")
            return code
        reasons.append(f"language hint '{_quote(hint)}' ignored: not an ISO 639-1 code")
    for step in reversed(message.ivr_path):
        choice = rules.ivr_menu.get(step)
        if choice is not None and choice.language is not None:
            reasons.append(f"language={choice.language} by IVR menu '{step}'")
            return choice.language
    settings = rules.language
    detected = detect_language(message.text[: settings.sample_chars], settings.candidates)
    if detected is None:
        reasons.append(f"language={settings.default}: default (no letters to detect from)")
        return settings.default
    if detected.confidence < settings.min_confidence:
        reasons.append(
            f"language={settings.default}: default ({DETECTOR_NAME} unsure: "
            f"{detected.language} at confidence {detected.confidence:.2f})"
        )
        return settings.default
    reasons.append(
        f"language={detected.language} detected "
        f"({DETECTOR_NAME}, confidence {detected.confidence:.2f})"
    )
    return detected.language


def _priority(
    message: _Message, request_type: RequestType, rules: ClassificationRules, reasons: list[str]
) -> Priority:
    hint = message.inputs.priority
    if hint is not None:
        reasons.append(f"priority={hint}: adapter hint")
        return hint
    settings = rules.priority
    priority = settings.by_request_type.get(request_type)
    if priority is None:
        priority = settings.default
        reasons.append(f"priority={priority}: default")
    else:
        reasons.append(f"priority={priority}: base for {request_type}")
    for bump in settings.bumps:
        found = _evidence(bump.when, message, request_type)
        if found is None:
            continue
        if bump.at_least is not None:
            target = max(priority.rank, bump.at_least.rank)
        else:
            target = priority.rank + (bump.raise_by or 0)
        raised = _PRIORITIES[min(target, settings.ceiling.rank, len(_PRIORITIES) - 1)]
        why = "; ".join(found)
        if raised.rank > priority.rank:
            reasons.append(f"priority={raised} (was {priority}) by bump '{bump.id}' ({why})")
            priority = raised
        elif target > settings.ceiling.rank:
            reasons.append(f"priority stays {priority}: bump '{bump.id}' ({why}) at the ceiling")
        else:
            reasons.append(f"priority stays {priority}: bump '{bump.id}' ({why}) asks no more")
    return priority


def _references(message: _Message, rules: ClassificationRules) -> dict[str, tuple[str, ...]]:
    settings, found = rules.references, {}
    for kind, patterns in settings.patterns.items():
        if not patterns.may_match(message.haystack):
            continue
        spans: list[tuple[int, int]] = []
        for pattern in patterns:
            regex = pattern.regex
            group = "ref" if "ref" in regex.groupindex else 1 if regex.groups else 0
            for match in pattern.finditer(message.haystack):
                start, end = match.span(group)
                if start < end:
                    spans.append((start, end))
        values: list[str] = []
        outer_end = -1
        # By start, longest first: a span inside the one before it is part of that value.
        for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
            if end <= outer_end:
                continue
            outer_end = end
            value = message.text[start:end].strip()[:_VALUE_LIMIT]
            if value and value not in values:
                values.append(value)
        if values:
            found[kind] = tuple(values[: settings.max_per_kind])
    return found


_VALUE_LIMIT = 200
"""Longest reference or product kept: an unbounded pattern cannot outgrow the contract."""


def _product(
    message: _Message,
    references: Mapping[str, tuple[str, ...]],
    rules: ClassificationRules,
    reasons: list[str],
) -> str | None:
    given = (message.inputs.product or "").strip()[:_VALUE_LIMIT]
    if given:
        reasons.append(f"product='{_quote(given)}': adapter hint")
        return given
    kind = rules.references.product_kind
    named = references.get(kind, ()) if kind else ()
    if named:
        reasons.append(f"product='{named[0]}' from the text")
        return named[0]
    return None


def _skills(
    message: _Message,
    request_type: RequestType,
    language: str,
    product: str | None,
    rules: ClassificationRules,
    reasons: list[str],
) -> dict[str, int]:
    settings = rules.skills
    skills: dict[str, int] = {}
    why: list[str] = []

    def need(skill: str, level: int, because: str) -> None:
        if level > skills.get(skill, 0):
            skills[skill] = level
        why.append(f"{skill}>={level} ({because})")

    for skill, level in settings.by_request_type.get(request_type, {}).items():
        need(skill, level, str(request_type))
    if settings.language is not None:
        skill = settings.language.skill.replace("{language}", language)
        need(skill, settings.language.level, "language")
    for family in settings.product_families:
        quote = message.find(family.matches, product) if product else None
        quote = quote or message.find(family.matches)
        if quote is not None:
            for skill, level in family.skills.items():
                need(skill, level, f"product family '{family.id}', matched '{quote}'")
    if why:
        reasons.append(f"skills: {', '.join(why)}")
    return skills


def classify(inputs: ClassificationInput, rules: ClassificationRules) -> Classification:
    """Decide a message's request type, priority, language, skills, references and product.

    Precedence, each recorded in ``reasons``: for the request type the adapter's hint, then
    the IVR menu, then the first matching rule, then the default; for the language the hint,
    then the IVR menu, then detection, then the default; for the priority the hint, else the
    base for the request type raised by every matching bump up to the ceiling.
    """
    message = _Message.of(inputs)
    reasons: list[str] = []
    request_type = _request_type(message, rules, reasons)
    language = _language(message, rules, reasons)
    priority = _priority(message, request_type, rules, reasons)
    references = _references(message, rules)
    if references:
        listed = "; ".join(f"{kind}={', '.join(values)}" for kind, values in references.items())
        reasons.append(f"references: {listed}")
    product = _product(message, references, rules, reasons)
    skills = _skills(message, request_type, language, product, rules, reasons)
    return Classification(
        request_type=request_type,
        priority=priority,
        language=language,
        skills=skills,
        references=references,
        product=product,
        reasons=tuple(reasons),
    )
