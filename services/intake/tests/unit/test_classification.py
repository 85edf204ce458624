"""How intake classifies a message by its rules file: request type, priority, language, skills,
references and product, each decision with its reason; and how a bad rules file is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opora_intake.domain.classification import (
    ClassificationInput,
    ClassificationRules,
    RulesError,
    classify,
    clean_text,
    input_from_message,
    ivr_path_prefixes,
    load_rules,
    parse_rules,
)
from opora_intake.domain.classification.patterns import Haystack, TextPattern
from opora_shared.contracts.common import Channel, CustomerContact, Priority, RequestType
from opora_shared.contracts.inbound import InboundCallV1, InboundWalkInV1, InboundWebFormV1

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
RULES = load_rules()


@pytest.fixture
def rules() -> ClassificationRules:
    return RULES


def message(text: str = "", **fields: Any) -> ClassificationInput:
    fields.setdefault("channel", Channel.EMAIL)
    return ClassificationInput(text=text, **fields)


MINIMAL = """
version: test
language: {candidates: [ru, en], default: en}
"""


def rules_with(extra: str) -> ClassificationRules:
    return parse_rules(MINIMAL + extra)


# Request types from wording, one Russian and one English example each.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ноутбук не включается после обновления", RequestType.TECHNICAL_SUPPORT),
        ("My router keeps dropping the connection, it's broken", RequestType.TECHNICAL_SUPPORT),
        ("Сломался чайник, он ещё на гарантии", RequestType.WARRANTY),
        ("The blender I bought is defective, is it covered by the warranty?", RequestType.WARRANTY),
        ("Гарантия закончилась, нужен платный ремонт", RequestType.POST_WARRANTY),
        ("My warranty has expired, can you do a paid repair?", RequestType.POST_WARRANTY),
        (
            "Подскажите, сколько стоит этот пылесос и есть ли он в наличии?",
            RequestType.CONSULTATION,
        ),
        ("Which model would you recommend for a small kitchen?", RequestType.CONSULTATION),
        ("Хочу оставить жалобу на грубость курьера", RequestType.COMPLAINT),
        ("I want to complain about the rude staff in your store", RequestType.COMPLAINT),
        ("Где мой заказ? Жду уже неделю", RequestType.ORDER_STATUS),
        ("Hi, where is my order?", RequestType.ORDER_STATUS),
        ("Не начислились бонусы за покупку", RequestType.LOYALTY),
        ("How many bonus points do I have?", RequestType.LOYALTY),
        ("У меня есть предложение: добавьте оплату по QR", RequestType.FEEDBACK),
        ("A suggestion: it would be nice to pay by QR code", RequestType.FEEDBACK),
    ],
)
def test_request_type_is_recognised_from_wording(
    rules: ClassificationRules, text: str, expected: RequestType
) -> None:
    assert classify(message(text), rules).request_type is expected


def test_text_without_a_recognisable_request_gets_the_default_type(
    rules: ClassificationRules,
) -> None:
    result = classify(message("Добрый день"), rules)

    assert result.request_type is RequestType.OTHER
    assert "request_type=other: no rule matched (default)" in result.reasons


def test_yo_and_ye_spellings_match_the_same_rule(rules: ClassificationRules) -> None:
    assert classify(message("Заказ до сих пор не пришёл"), rules).request_type is (
        classify(message("Заказ до сих пор не пришел"), rules).request_type
    )


def test_the_subject_counts_as_text(rules: ClassificationRules) -> None:
    result = classify(message("Номер 12345678", subject="Жалоба"), rules)

    assert result.request_type is RequestType.COMPLAINT


def test_form_id_decides_before_wording(rules: ClassificationRules) -> None:
    result = classify(
        message("Где мой заказ?", channel=Channel.WEB_FORM, form_id="warranty"), rules
    )

    assert result.request_type is RequestType.WARRANTY
    assert "request_type=warranty by rule 'warranty-form' (form 'warranty')" in result.reasons


def test_form_field_value_chooses_between_warranty_and_paid_repair(
    rules: ClassificationRules,
) -> None:
    def repair(under_warranty: str) -> RequestType:
        inputs = message(
            "Не греет духовка",
            channel=Channel.WEB_FORM,
            form_id="repair",
            form_fields={"under_warranty": under_warranty},
        )
        return classify(inputs, rules).request_type

    assert repair("Yes") is RequestType.WARRANTY
    assert repair("no") is RequestType.POST_WARRANTY


def test_complaint_book_entry_is_a_complaint(rules: ClassificationRules) -> None:
    result = classify(
        message("Долго ждал консультанта", channel=Channel.WALK_IN, form_id="complaint_book"),
        rules,
    )

    assert result.request_type is RequestType.COMPLAINT


def test_first_matching_rule_wins() -> None:
    rules = rules_with("""
request_types:
  rules:
    - {id: first, request_type: complaint, when: {text_matches: ['заказ']}}
    - {id: second, request_type: order_status, when: {text_matches: ['где мой заказ']}}
""")

    result = classify(message("Где мой заказ?"), rules)

    assert result.request_type is RequestType.COMPLAINT
    assert result.reasons[0] == "request_type=complaint by rule 'first' (text matched 'заказ')"


def test_all_conditions_of_a_rule_must_hold() -> None:
    rules = rules_with("""
request_types:
  rules:
    - id: phone-complaint
      request_type: complaint
      when: {channel: [phone], text_matches: ['недоволен']}
""")

    by_email = classify(message("Я недоволен"), rules)
    by_phone = classify(message("Я недоволен", channel=Channel.PHONE), rules)

    assert by_email.request_type is RequestType.OTHER
    assert by_phone.request_type is RequestType.COMPLAINT
    assert "(channel phone; text matched 'недоволен')" in by_phone.reasons[0]


def test_an_ivr_selection_condition_holds_for_the_menus_passed_through() -> None:
    rules = rules_with("""
request_types:
  rules:
    - {id: english-line, request_type: consultation, when: {ivr_selection: ["2"]}}
""")

    result = classify(message(channel=Channel.PHONE, ivr_selections=("2", "9")), rules)

    assert result.request_type is RequestType.CONSULTATION
    assert result.reasons[0] == "request_type=consultation by rule 'english-line' (IVR 2)"


# Adapter hints and the IVR menu.


def test_adapter_request_type_hint_wins_over_rules(rules: ClassificationRules) -> None:
    result = classify(message("Где мой заказ?", request_type=RequestType.LOYALTY), rules)

    assert result.request_type is RequestType.LOYALTY
    assert "request_type=loyalty: adapter hint" in result.reasons


def test_a_hint_of_other_leaves_the_type_to_the_rules(rules: ClassificationRules) -> None:
    result = classify(message("Где мой заказ?", request_type=RequestType.OTHER), rules)

    assert result.request_type is RequestType.ORDER_STATUS


def test_adapter_priority_hint_wins_over_base_and_bumps(rules: ClassificationRules) -> None:
    inputs = message("СРОЧНО! Пожар!", customer_tier="vip", priority=Priority.LOW)

    result = classify(inputs, rules)

    assert result.priority is Priority.LOW
    assert "priority=low: adapter hint" in result.reasons


def test_adapter_language_hint_wins_and_is_reduced_to_its_primary_subtag(
    rules: ClassificationRules,
) -> None:
    result = classify(message("Where is my order?", language="ru-RU"), rules)

    assert result.language == "ru"
    assert "language=ru: adapter hint" in result.reasons


def test_a_language_hint_that_is_no_language_code_is_ignored(
    rules: ClassificationRules,
) -> None:
    result = classify(message("Where is my order?", language="klingon"), rules)

    assert result.language == "en"
    assert any(reason.startswith("language hint 'klingon' ignored") for reason in result.reasons)


def test_ivr_menu_gives_request_type_and_language(rules: ClassificationRules) -> None:
    result = classify(message(channel=Channel.PHONE, ivr_selections=("1", "2")), rules)

    assert result.request_type is RequestType.WARRANTY
    assert result.language == "ru"
    assert "request_type=warranty by IVR menu '1-2'" in result.reasons
    assert "language=ru by IVR menu '1'" in result.reasons


def test_ivr_path_may_arrive_as_one_joined_selection(rules: ClassificationRules) -> None:
    result = classify(message(channel=Channel.PHONE, ivr_selections=("2-4",)), rules)

    assert (result.request_type, result.language) == (RequestType.ORDER_STATUS, "en")


def test_ivr_language_choice_alone_leaves_the_type_to_the_transcript(
    rules: ClassificationRules,
) -> None:
    inputs = message("I'd like to complain", channel=Channel.PHONE, ivr_selections=("2",))

    result = classify(inputs, rules)

    assert (result.request_type, result.language) == (RequestType.COMPLAINT, "en")


def test_ivr_path_prefixes_list_every_level_from_the_top() -> None:
    assert ivr_path_prefixes(["2", "3", "1"]) == ("2", "2-3", "2-3-1")
    assert ivr_path_prefixes(["1", "1-4"]) == ("1", "1-4")
    assert ivr_path_prefixes([]) == ()


# Priority.


def test_priority_starts_from_the_base_for_the_request_type(rules: ClassificationRules) -> None:
    assert classify(message("Хочу пожаловаться"), rules).priority is Priority.HIGH
    assert classify(message("Where is my order?"), rules).priority is Priority.LOW


def test_vip_customer_raises_priority_by_one(rules: ClassificationRules) -> None:
    result = classify(message("Ноутбук не включается", customer_tier="VIP"), rules)

    assert result.priority is Priority.HIGH
    assert (
        "priority=high (was normal) by bump 'vip-customer' (customer tier 'VIP')" in result.reasons
    )


def test_phone_channel_raises_priority_by_one(rules: ClassificationRules) -> None:
    result = classify(message("Ноутбук не включается", channel=Channel.PHONE), rules)

    assert result.priority is Priority.HIGH


def test_urgent_wording_raises_priority_by_one(rules: ClassificationRules) -> None:
    result = classify(message("Срочно! Ноутбук не включается"), rules)

    assert result.priority is Priority.HIGH
    assert any("bump 'urgent-wording' (text matched 'Срочно')" in r for r in result.reasons)


def test_danger_wording_makes_a_request_urgent(rules: ClassificationRules) -> None:
    assert classify(message("Из розетки идёт дым"), rules).priority is Priority.URGENT
    assert classify(message("The charger gives off smoke"), rules).priority is Priority.URGENT


def test_bumps_add_up(rules: ClassificationRules) -> None:
    inputs = message("Срочно, не работает роутер", customer_tier="vip")

    assert classify(inputs, rules).priority is Priority.URGENT


def test_bumps_stop_at_the_ceiling() -> None:
    rules = rules_with("""
priority:
  default: normal
  ceiling: high
  bumps:
    - {id: vip, raise_by: 2, when: {customer_tier: [vip]}}
    - {id: fire, at_least: urgent, when: {text_matches: ['пожар']}}
""")

    result = classify(message("Пожар!", customer_tier="vip"), rules)

    assert result.priority is Priority.HIGH
    assert "priority stays high: bump 'fire' (text matched 'Пожар') at the ceiling" in (
        result.reasons
    )


def test_a_bump_already_satisfied_changes_nothing() -> None:
    rules = rules_with("""
priority:
  by_request_type: {complaint: high}
  bumps: [{id: at-least-normal, at_least: normal, when: {channel: [email]}}]
request_types:
  rules: [{id: c, request_type: complaint, when: {text_matches: ['жалоб']}}]
""")

    result = classify(message("Жалоба"), rules)

    assert result.priority is Priority.HIGH
    assert "priority stays high: bump 'at-least-normal' (channel email) asks no more" in (
        result.reasons
    )


def test_a_bump_can_be_limited_to_request_types() -> None:
    rules = rules_with("""
request_types:
  rules: [{id: c, request_type: complaint, when: {text_matches: ['жалоб']}}]
priority:
  bumps: [{id: vip-complaint, raise_by: 1, when: {request_type: [complaint]}}]
""")

    assert classify(message("Жалоба"), rules).priority is Priority.HIGH
    assert classify(message("Вопрос"), rules).priority is Priority.NORMAL


# Language.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("не работает", "ru"),
        ("цена?", "ru"),
        ("hi, where is my order?", "en"),
        ("ok", "en"),
        ("Samsung Galaxy S23 гарантия", "ru"),
        ("не работает Wi-Fi роутер TP-Link Archer C6", "ru"),
        ("Мой iPhone 15 Pro не заряжается", "ru"),
    ],
)
def test_language_is_detected_on_short_and_mixed_texts(
    rules: ClassificationRules, text: str, expected: str
) -> None:
    assert classify(message(text), rules).language == expected


def test_detected_language_records_the_detector_and_confidence(
    rules: ClassificationRules,
) -> None:
    result = classify(message("Здравствуйте, не включается телевизор"), rules)

    assert re.search(
        r"^language=ru detected \(lingua, confidence \d\.\d\d\)$",
        "\n".join(result.reasons),
        re.MULTILINE,
    )


@pytest.mark.parametrize("text", ["", "   ", "12345678", "!!! ???"])
def test_text_without_letters_gets_the_default_language(
    rules: ClassificationRules, text: str
) -> None:
    result = classify(message(text), rules)

    assert result.language == rules.language.default
    assert f"language={rules.language.default}: default (no letters to detect from)" in (
        result.reasons
    )


# Skills.


def test_skills_combine_request_type_language_and_product_family(
    rules: ClassificationRules,
) -> None:
    result = classify(message("Мой iPhone 15 Pro не заряжается"), rules)

    assert result.skills == {"technical": 2, "lang:ru": 1, "product:phones": 1}


def test_product_family_is_recognised_from_the_given_product(
    rules: ClassificationRules,
) -> None:
    result = classify(message("Не работает", product="Стиральная машина Bosch"), rules)

    assert result.skills["product:appliances"] == 1


def test_the_same_skill_needed_twice_keeps_the_higher_level() -> None:
    rules = rules_with("""
skills:
  by_request_type: {other: {technical: 1}}
  product_families:
    - {id: servers, matches: ['server'], skills: {technical: 3}}
""")

    assert classify(message("our server is down"), rules).skills["technical"] == 3


# References and product.


@pytest.mark.parametrize(
    ("text", "kind", "values"),
    [
        ("Где заказ № 12345678?", "order", ("12345678",)),
        ("Номер заказа: 87654321", "order", ("87654321",)),
        ("Any news on order #A-1234?", "order", ("A-1234",)),
        ("Гарантийный талон 55-7781 у меня", "warranty", ("55-7781",)),
        ("warranty card: WC-99812", "warranty", ("WC-99812",)),
        ("serial SN1234567890 on the label", "serial", ("SN1234567890",)),
        ("Серийный номер: X7-2291-001", "serial", ("X7-2291-001",)),
        (
            "Мой iPhone 15 Pro Max и Samsung Galaxy S23",
            "product",
            ("iPhone 15 Pro Max", "Samsung Galaxy S23"),
        ),
    ],
)
def test_references_are_extracted_by_kind(
    rules: ClassificationRules, text: str, kind: str, values: tuple[str, ...]
) -> None:
    assert classify(message(text), rules).references[kind] == values


def test_several_references_of_one_kind_come_in_text_order_without_repeats(
    rules: ClassificationRules,
) -> None:
    text = "Заказы 11112222 и заказ 33334444, ещё раз заказ 11112222"

    assert classify(message(text), rules).references["order"] == ("11112222", "33334444")


def test_text_without_references_has_none(rules: ClassificationRules) -> None:
    assert classify(message("Спасибо!"), rules).references == {}


def test_product_named_in_the_text_becomes_the_product(rules: ClassificationRules) -> None:
    result = classify(message("Пылесос Dyson V11 перестал заряжаться"), rules)

    assert result.product == "Dyson V11"
    assert "product='Dyson V11' from the text" in result.reasons


def test_the_adapters_product_wins_over_the_text(rules: ClassificationRules) -> None:
    result = classify(message("Dyson V11 не работает", product="Dyson V15 Detect"), rules)

    assert result.product == "Dyson V15 Detect"


# Reasons.


def test_every_decision_is_recorded_with_its_reason(rules: ClassificationRules) -> None:
    inputs = message("Срочно! Гарантия, заказ № 12345678", customer_tier="gold", language="ru")

    reasons = classify(inputs, rules).reasons

    assert reasons == (
        "request_type=warranty by rule 'warranty-words' (text matched 'Гаранти')",
        "language=ru: adapter hint",
        "priority=normal: base for warranty",
        "priority=high (was normal) by bump 'urgent-wording' (text matched 'Срочно')",
        "priority=urgent (was high) by bump 'vip-customer' (customer tier 'gold')",
        "references: order=12345678",
        "skills: warranty>=2 (warranty), lang:ru>=1 (language)",
    )


# Clean text and translation from inbound messages.


def test_clean_text_drops_invisible_characters_and_extra_spaces() -> None:
    raw = "\ufeffДобрый\u200b  день,\u00a0Иван!\r\n\r\n\r\n\r\n  Не работает\t\tпринтер.  "

    assert clean_text(raw) == "Добрый день, Иван!\n\nНе работает принтер."


def test_web_form_message_becomes_classification_input() -> None:
    form = InboundWebFormV1(
        source_message_id="f-1",
        conversation_id="f-1",
        received_at=AT,
        customer=CustomerContact(email="ivan@example.com"),
        text="Не греет",
        form_id="repair",
        subject="Духовка",
        product="Bosch HBF",
        fields={"under_warranty": "no"},
    )

    inputs = input_from_message(form, customer_tier="vip")

    assert inputs == ClassificationInput(
        channel=Channel.WEB_FORM,
        text="Не греет",
        subject="Духовка",
        form_id="repair",
        form_fields={"under_warranty": "no"},
        customer_tier="vip",
        product="Bosch HBF",
    )


def test_call_brings_its_ivr_selections_and_transcript() -> None:
    call = InboundCallV1(
        source_message_id="c-1",
        conversation_id="c-1",
        received_at=AT,
        customer=CustomerContact(phone="+79001234567"),
        call_id="c-1",
        ivr_selections=("1", "4"),
        transcript="Где мой заказ",
    )

    inputs = input_from_message(call)

    assert (inputs.ivr_selections, inputs.text) == (("1", "4"), "Где мой заказ")


def test_walk_in_complaint_book_entry_carries_the_complaint_book_form() -> None:
    entry = InboundWalkInV1(
        source_message_id="w-1",
        conversation_id="w-1",
        received_at=AT,
        customer=CustomerContact(name="Анна", phone="+79001234568"),
        kind="complaint_book",
        location="Тверская, 1",
        text="Долго ждала",
    )

    assert input_from_message(entry).form_id == "complaint_book"


# Loading the rules.


def test_packaged_rules_load(rules: ClassificationRules) -> None:
    assert rules.version
    assert rules.request_types.rules
    assert set(rules.language.candidates) == {"ru", "en"}


def test_rules_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(MINIMAL, encoding="utf-8")

    assert load_rules(path).version == "test"


@pytest.mark.parametrize(
    ("extra", "failing_field"),
    [
        (
            "request_types:\n  rules: [{id: a, request_type: other, when: {text_matches: ['(']}}]",
            "request_types.rules.0.when.text_matches",
        ),
        (
            "request_types:\n  rules: [{id: a, request_type: nonsense, when: {form_id: [x]}}]",
            "request_types.rules.0.request_type",
        ),
        (
            "request_types:\n  rules: [{id: a, request_type: other, when: {}}]",
            "request_types.rules.0.when",
        ),
        (
            "request_types:\n  rules: [{id: a, request_type: other, when: {colour: [red]}}]",
            "request_types.rules.0.when.colour",
        ),
        (
            "request_types:\n  rules:\n"
            "    - {id: a, request_type: other, when: {form_id: [x]}}\n"
            "    - {id: a, request_type: loyalty, when: {form_id: [y]}}",
            "request_types.rules",
        ),
        ("ivr_menu: {'1-x': {language: ru}}", "ivr_menu.1-x.[key]"),
        ("ivr_menu: {'1': {}}", "ivr_menu.1"),
        (
            "priority:\n  bumps: [{id: b, raise_by: 1, at_least: high, when: {channel: [sms]}}]",
            "priority.bumps.0",
        ),
        ("priority: {by_request_type: {warranty: critical}}", "priority.by_request_type.warranty"),
        ("skills: {by_request_type: {warranty: {warranty: 9}}}", "skills.by_request_type"),
        ("references: {product_kind: product, patterns: {order: ['\\d+']}}", "references"),
    ],
)
def test_a_malformed_rules_file_fails_at_load_naming_the_field(
    extra: str, failing_field: str
) -> None:
    with pytest.raises(RulesError) as failure:
        parse_rules(MINIMAL + extra, source="bad.yaml")

    assert "bad.yaml has invalid classification rules" in str(failure.value)
    assert f"  {failing_field}" in str(failure.value)


def test_an_unknown_language_candidate_fails_at_load() -> None:
    with pytest.raises(RulesError, match=r"language\.candidates: .*does not know 'xx'"):
        parse_rules("version: v\nlanguage: {candidates: [ru, xx], default: en}")


def test_a_missing_version_fails_at_load() -> None:
    with pytest.raises(RulesError, match=r"\n  version: Field required"):
        parse_rules("language: {candidates: [ru, en], default: en}")


def test_a_file_that_is_not_yaml_fails_at_load() -> None:
    with pytest.raises(RulesError, match="is not valid YAML"):
        parse_rules("version: [unclosed")


def test_a_missing_rules_file_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")


# The pattern prefilter is an optimisation only: it never changes what matches.


def _default_patterns() -> list[TextPattern]:
    rules = RULES
    sets = [rule.when.text_matches for rule in rules.request_types.rules]
    sets += [bump.when.text_matches for bump in rules.priority.bumps]
    sets += [family.matches for family in rules.skills.product_families]
    sets += list(rules.references.patterns.values())
    return [pattern for patterns in sets if patterns for pattern in patterns]


DEFAULT_PATTERNS = _default_patterns()
WORDS = sorted({literal for pattern in DEFAULT_PATTERNS for literal in pattern.literals})
FRAGMENTS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(str.upper),
    st.sampled_from(WORDS).map(str.title),
    st.sampled_from([" ", ", ", "\n", "-", "№ ", "#", "12345678", "SN12345678", "ё", "x"]),
    st.text(max_size=5),
)


def test_every_default_pattern_has_a_prefilter() -> None:
    unfiltered = [pattern.source for pattern in DEFAULT_PATTERNS if not pattern.literals]

    assert unfiltered == []


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=12).map("".join))
def test_prefiltered_search_finds_exactly_what_re_finds(text: str) -> None:
    haystack = Haystack.of(text)

    for pattern in DEFAULT_PATTERNS:
        expected = pattern.regex.search(haystack.searchable)
        found = pattern.search(haystack)
        assert (found and found.span()) == (expected and expected.span()), pattern.source
        assert [m.span() for m in pattern.finditer(haystack)] == [
            m.span() for m in pattern.regex.finditer(haystack.searchable)
        ], pattern.source


# Whatever arrives, classification answers.

CHANNELS = st.sampled_from(list(Channel))
SHORT = st.text(max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        ClassificationInput,
        channel=CHANNELS,
        text=st.one_of(st.text(max_size=300), st.lists(FRAGMENTS, max_size=20).map("".join)),
        subject=SHORT,
        form_id=st.none() | SHORT,
        form_fields=st.dictionaries(SHORT, SHORT, max_size=3),
        ivr_selections=st.lists(st.text(alphabet="0123456789-* #", max_size=6), max_size=4).map(
            tuple
        ),
        request_type=st.none() | st.sampled_from(list(RequestType)),
        priority=st.none() | st.sampled_from(list(Priority)),
        language=st.none() | SHORT | st.sampled_from(["ru", "en-GB", "EN"]),
        customer_tier=st.none() | st.sampled_from(["vip", "standard", "Gold"]) | SHORT,
        product=st.none() | SHORT,
    )
)
def test_classify_never_fails_and_always_answers_within_the_taxonomy(
    inputs: ClassificationInput,
) -> None:
    result = classify(inputs, RULES)

    assert isinstance(result.request_type, RequestType)
    assert isinstance(result.priority, Priority)
    assert re.fullmatch(r"[a-z]{2}", result.language)
    assert all(1 <= level <= 5 for level in result.skills.values())
    assert f"lang:{result.language}" in result.skills
    assert result.reasons
