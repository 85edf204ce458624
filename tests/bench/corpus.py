"""Realistic inbound traffic for the benchmarks, built from the contract models.

A seeded generator writes what channel adapters send: Russian and English customers on every
channel, texts from an SMS line to a multi-paragraph e-mail, order and serial numbers, product
names, repeat customers, and follow-ups in a conversation already seen. Every message has a
unique ``source_message_id`` (prefixed with a run id), so nothing is taken for a retry.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opora_shared.contracts.common import CustomerContact
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessage,
    InboundMessengerMessageV1,
    InboundSmsV1,
    InboundWalkInV1,
    InboundWebFormV1,
)

# HTTP path segment (``/v1/inbound/<slug>``) → model; the same slugs as intake's API.
MODELS: dict[str, type[InboundMessage]] = {
    "email": InboundEmailV1,
    "web-form": InboundWebFormV1,
    "chat": InboundChatMessageV1,
    "call": InboundCallV1,
    "sms": InboundSmsV1,
    "messenger": InboundMessengerMessageV1,
    "walk-in": InboundWalkInV1,
}
MODELS_BY_CE_TYPE: dict[str, type[InboundMessage]] = {m.ce_type: m for m in MODELS.values()}
SLUG_BY_CE_TYPE: dict[str, str] = {m.ce_type: slug for slug, m in MODELS.items()}

# Roughly what a support desk sees: e-mail and chat first, walk-ins rare.
CHANNEL_MIX: dict[str, float] = {
    "email": 0.25,
    "web-form": 0.20,
    "chat": 0.20,
    "messenger": 0.15,
    "sms": 0.10,
    "call": 0.05,
    "walk-in": 0.05,
}
HTTP_CHANNEL_MIX: dict[str, float] = {"web-form": 0.4, "chat": 0.4, "sms": 0.2}
RUSSIAN_SHARE = 0.7
REPEAT_CUSTOMER_SHARE = 0.3
FOLLOW_UP_SHARE = 0.15

_START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

_PRODUCTS = {
    "ru": [
        "стиральная машина Bosch",
        "холодильник Atlant",
        "смартфон Samsung Galaxy S23",
        "ноутбук Lenovo ThinkPad",
        "роутер TP-Link Archer C6",
        "пылесос Dyson V11",
        "посудомоечная машина",
        "iPhone 14 Pro",
        "Xiaomi Redmi Note 12",
        "духовка Gorenje",
    ],
    "en": [
        "Bosch washing machine",
        "Samsung fridge",
        "Samsung Galaxy S23",
        "Lenovo ThinkPad laptop",
        "TP-Link Archer C6 router",
        "Dyson V11 vacuum cleaner",
        "dishwasher",
        "iPhone 14 Pro",
        "MacBook Air M2",
        "oven",
    ],
}

# {p} is a product, {o} an order number, {s} a serial number.
_SENTENCES = {
    "ru": [
        "{p} не включается после ремонта.",
        "Купил {p} месяц назад, а он уже перестал работать.",
        "Где мой заказ {o}? Обещали доставить ещё в понедельник.",
        "Статус моего заказа {o} не меняется третий день.",
        "Хочу оформить замену по гарантии, серийный номер {s}.",
        "Гарантия на {p} закончилась, сколько будет стоить платный ремонт?",
        "Подскажите, пожалуйста, как подключить {p} к Wi-Fi.",
        "Курьер не приехал, заказ {o} так и не доставили.",
        "Хочу пожаловаться на грубость сотрудника в сервисном центре.",
        "Верните мне деньги за заказ {o}, товар пришёл бракованный.",
        "Сколько бонусных баллов начислят за покупку?",
        "Было бы удобно, если бы в приложении показывали статус ремонта.",
        "{p} сильно шумит и иногда выдаёт ошибку E21.",
        "Из {p} идёт дым, срочно нужна помощь!",
        "Какую модель посоветуете для семьи из четырёх человек?",
        "Заказ номер {o} пришёл без инструкции.",
        "Экран мигает и {p} зависает при загрузке.",
    ],
    "en": [
        "My {p} won't turn on after the repair.",
        "I bought a {p} last month and it already stopped working.",
        "Where is my order {o}? It was supposed to arrive on Monday.",
        "The status of my order {o} has not changed for three days.",
        "I'd like a warranty replacement, serial number {s}.",
        "The warranty on my {p} has expired, how much is a paid repair?",
        "Could you tell me how to set up the {p}?",
        "The courier never came and order {o} was not delivered.",
        "I want to complain about a rude member of staff at the service centre.",
        "Please give me my money back for order {o}, the item is defective.",
        "How many reward points do I get for this purchase?",
        "It would be nice to see the repair status in the app.",
        "The {p} is very noisy and keeps showing error E21.",
        "There is smoke coming out of the {p}, this is urgent!",
        "Which model would you recommend for a family of four?",
        "Order number {o} arrived without a manual.",
        "The screen flickers and the {p} freezes while booting.",
    ],
}
_GREETINGS = {"ru": ["Здравствуйте!", "Добрый день.", "Привет.", ""], "en": ["Hello,", "Hi!", ""]}
_CLOSINGS = {
    "ru": ["Спасибо.", "Жду ответа.", "С уважением, {n}", ""],
    "en": ["Thanks.", "Looking forward to your reply.", "Best regards, {n}", ""],
}
_SUBJECTS = {
    "ru": ["Не работает {p}", "Заказ {o}", "Гарантийный ремонт", "Вопрос по доставке", "Жалоба"],
    "en": ["{p} not working", "Order {o}", "Warranty repair", "Delivery question", "Complaint"],
}
_NAMES = {
    "ru": ["Иван Петров", "Анна Смирнова", "Пётр Сидоров", "Ольга Кузнецова", "Дмитрий Орлов"],
    "en": ["John Smith", "Emily Clark", "Oliver Brown", "Sophie Turner", "James Wilson"],
}
_FORMS = ["support", "contact", "repair", "warranty", "delivery", "feedback", "complaint"]
_SENTENCES_PER_CHANNEL: dict[str, tuple[int, int]] = {
    "sms": (1, 1),
    "chat": (1, 2),
    "messenger": (1, 3),
    "web-form": (2, 4),
    "call": (2, 3),
    "walk-in": (2, 3),
    "email": (3, 7),
}


@dataclass(frozen=True)
class Person:
    number: int
    language: str
    name: str
    email: str
    phone: str
    account: str


@dataclass(frozen=True)
class Conversation:
    slug: str
    conversation_id: str
    person: Person
    subject: str
    last_message_id: str


@dataclass(frozen=True)
class RawRecord:
    """One inbound message as it travels: the record value's bytes and what identifies it."""

    slug: str  # the HTTP path segment, ``web-form``
    ce_type: str  # the raw topic's ``ce_type`` header, which picks the model
    value: bytes

    @property
    def model(self) -> type[InboundMessage]:
        return MODELS_BY_CE_TYPE[self.ce_type]


class Corpus:
    """An endless, reproducible stream of inbound messages; ``seed`` fixes the content and
    ``run_id`` makes every id unique to this run."""

    def __init__(
        self,
        *,
        seed: int = 20261102,
        run_id: str = "bench",
        channel_mix: dict[str, float] | None = None,
    ) -> None:
        self._random = random.Random(seed)
        self._run_id = run_id
        mix = channel_mix or CHANNEL_MIX
        self._slugs, self._weights = list(mix), list(mix.values())
        self._people: list[Person] = []
        self._open: list[Conversation] = []
        self._count = 0

    def __iter__(self) -> Iterator[InboundMessage]:
        while True:
            yield self.next_message()

    def records(self, count: int) -> list[RawRecord]:
        return [to_record(self.next_message()) for _ in range(count)]

    def next_message(self) -> InboundMessage:
        self._count += 1
        rnd = self._random
        if self._open and rnd.random() < FOLLOW_UP_SHARE:
            return self._follow_up(rnd.choice(self._open))
        slug = rnd.choices(self._slugs, self._weights)[0]
        person = self._person()
        message_id = self._id("m")
        conversation = Conversation(
            slug,
            self._id("c") if slug not in ("sms",) else person.phone,
            person,
            self._fill(rnd.choice(_SUBJECTS[person.language]), person.language),
            message_id,
        )
        self._open.append(conversation)
        if len(self._open) > 500:  # conversations go quiet; keep follow-ups recent
            self._open.pop(0)
        return self._message(conversation, message_id, reply=False)

    # --- parts -------------------------------------------------------------------------------

    def _id(self, kind: str) -> str:
        return f"{self._run_id}-{kind}{self._count:08d}"

    def _at(self) -> datetime:
        return _START + timedelta(seconds=7 * self._count)

    def _person(self) -> Person:
        rnd = self._random
        if self._people and rnd.random() < REPEAT_CUSTOMER_SHARE:
            return rnd.choice(self._people)
        number = len(self._people) + 1
        language = "ru" if rnd.random() < RUSSIAN_SHARE else "en"
        person = Person(
            number=number,
            language=language,
            name=rnd.choice(_NAMES[language]),
            email=f"customer{number}.{self._run_id}@example.com".lower(),
            phone=f"+7916{number % 10_000_000:07d}" if language == "ru" else f"+4477{number:08d}",
            account=f"{self._run_id}-u{number}",
        )
        self._people.append(person)
        return person

    def _fill(self, template: str, language: str) -> str:
        rnd = self._random
        return template.format(
            p=rnd.choice(_PRODUCTS[language]),
            o=str(rnd.randrange(10_000_000, 99_999_999)),
            s=f"SN{rnd.randrange(10**9, 10**10)}",
            n="",
        )

    def _text(self, slug: str, person: Person) -> str:
        rnd = self._random
        language = person.language
        low, high = _SENTENCES_PER_CHANNEL[slug]
        body = [
            self._fill(s, language)
            for s in rnd.sample(_SENTENCES[language], rnd.randint(low, high))
        ]
        if slug in ("sms", "chat", "messenger"):
            return " ".join(body)
        greeting = rnd.choice(_GREETINGS[language])
        closing = rnd.choice(_CLOSINGS[language]).format(n=person.name)
        parts = [greeting, " ".join(body), closing] if slug == "email" else [greeting, *body]
        return "\n\n".join(p for p in parts if p)

    def _follow_up(self, conversation: Conversation) -> InboundMessage:
        message_id = self._id("m")
        message = self._message(conversation, message_id, reply=True)
        self._open.remove(conversation)
        self._open.append(
            Conversation(
                conversation.slug,
                conversation.conversation_id,
                conversation.person,
                conversation.subject,
                message_id,
            )
        )
        return message

    def _message(
        self, conversation: Conversation, message_id: str, *, reply: bool
    ) -> InboundMessage:
        rnd = self._random
        person, slug = conversation.person, conversation.slug
        common = {
            "source_message_id": message_id,
            "conversation_id": conversation.conversation_id,
            "received_at": self._at(),
            "text": self._text(slug, person),
        }
        if slug == "email":
            domain = "mail.example"
            return InboundEmailV1(
                **common,
                customer=CustomerContact(name=person.name, email=person.email),
                message_id=f"<{message_id}@{domain}>",
                in_reply_to=f"<{conversation.last_message_id}@{domain}>" if reply else None,
                references=(f"<{conversation.conversation_id}@{domain}>",) if reply else (),
                to=("support@opora.example",),
                subject=("Re: " if reply else "") + conversation.subject,
            )
        if slug == "web-form":
            form = rnd.choice(_FORMS)
            return InboundWebFormV1(
                **common,
                customer=CustomerContact(
                    name=person.name,
                    email=person.email,
                    phone=person.phone if rnd.random() < 0.5 else None,
                ),
                form_id=form,
                subject=conversation.subject,
                fields={"under_warranty": rnd.choice(["yes", "no"])} if form == "repair" else {},
            )
        if slug == "chat":
            return InboundChatMessageV1(
                **common,
                customer=CustomerContact(external_id=person.account, name=person.name),
                session_id=conversation.conversation_id,
                bot_transcript=() if reply or rnd.random() < 0.5 else ("Чем помочь?", "Оператор"),
            )
        if slug == "messenger":
            return InboundMessengerMessageV1(
                **common,
                customer=CustomerContact(external_id=person.account, name=person.name),
                network=rnd.choice(["telegram", "whatsapp", "vk"]),
                chat_id=conversation.conversation_id,
            )
        if slug == "sms":
            return InboundSmsV1(**common, customer=CustomerContact(phone=person.phone))
        if slug == "call":
            menu = "1" if person.language == "ru" else "2"
            return InboundCallV1(
                **common,
                customer=CustomerContact(phone=person.phone, name=person.name),
                call_id=conversation.conversation_id,
                ivr_selections=(menu, f"{menu}-{rnd.randint(1, 8)}"),
                duration_s=rnd.randint(30, 900),
            )
        return InboundWalkInV1(
            **common,
            customer=CustomerContact(name=person.name, phone=person.phone),
            kind=rnd.choice(["visit", "complaint_book"]),
            location="Москва, Тверская 7",
        )


def to_record(message: InboundMessage) -> RawRecord:
    """The bytes an adapter publishes (or posts) for ``message``."""
    ce_type = message.ce_type
    return RawRecord(SLUG_BY_CE_TYPE[ce_type], ce_type, message.model_dump_json().encode())


def channel_counts(records: Sequence[RawRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.slug] = counts.get(record.slug, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
