"""Classifying inbound messages by a rules file: request type, priority, language, routing
skills, references and product, each decision with its reason.

``load_rules()`` reads and validates the rules (the packaged ``rules/classification.yaml``
unless given a path) once; ``classify()`` is a pure function of a ``ClassificationInput`` and
those rules.
"""

from opora_intake.domain.classification.engine import (
    COMPLAINT_BOOK_FORM,
    Classification,
    ClassificationInput,
    classify,
    clean_text,
    input_from_message,
    ivr_path_prefixes,
)
from opora_intake.domain.classification.language import Detected, detect_language
from opora_intake.domain.classification.rules import (
    ClassificationRules,
    RulesError,
    load_rules,
    parse_rules,
)

__all__ = [
    "COMPLAINT_BOOK_FORM",
    "Classification",
    "ClassificationInput",
    "ClassificationRules",
    "Detected",
    "RulesError",
    "classify",
    "clean_text",
    "detect_language",
    "input_from_message",
    "ivr_path_prefixes",
    "load_rules",
    "parse_rules",
]
