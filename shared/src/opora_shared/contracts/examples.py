"""One realistic, deterministic example per event type of the contract.

The examples are exported next to the JSON Schemas (``opora-contracts export``), quoted in
docs/contracts.md and used by the contract tests, so every id and timestamp here is fixed: the
exported files must come out byte-for-byte the same on every run.

Most examples follow one ticket: Иван Петров writes in Telegram that his washing machine does not
switch on after a warranty repair; the ticket is opened, queued, offered to Анна Смирнова,
answered, put under an SLA, solved and surveyed. The other inbound examples show the remaining
channels (an English e-mail reply, a web form, a chat hand-over, an IVR call, an SMS and a
complaint-book entry typed in at a service centre).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import (
    Attachment,
    Channel,
    CustomerContact,
    CustomerRef,
    Priority,
    RequestType,
    TicketStatus,
)
from opora_shared.contracts.customers import (
    CustomerIdentifierLinkedV1,
    CustomerMatchSuggestedV1,
    CustomerMergedV1,
    CustomerUnmergedV1,
    IdentifierKind,
)
from opora_shared.contracts.feedback import (
    DetractorFoundV1,
    SurveyAnswerReceivedV1,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
    SurveyType,
)
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessengerMessageV1,
    InboundSmsV1,
    InboundWalkInV1,
    InboundWebFormV1,
)
from opora_shared.contracts.notifications import (
    CancelReason,
    NotificationCancelledV1,
    NotificationFailedV1,
    NotificationSentV1,
)
from opora_shared.contracts.routing import (
    CandidateScore,
    RoutingReason,
    TicketAssignedV1,
    TicketEscalatedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketQueuedV1,
)
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaFulfilledV1,
    SlaWarningV1,
    Target,
)
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
    TicketUpdatedV1,
)
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    Presence,
    ReplyPostedV1,
    StatusSetV1,
    TicketTransferRequestedV1,
    WorkspaceStatus,
)

MSK = timezone(timedelta(hours=3), "MSK")
"""A fixed offset, not a tz database zone, so the examples never depend on the host's tzdata."""


def _at(day: int, hour: int, minute: int, second: int = 0, *, tz: timezone = UTC) -> datetime:
    """A fixed instant in March 2025."""
    return datetime(2025, 3, day, hour, minute, second, tzinfo=tz)


def _event_id(n: int) -> str:
    """A fixed, well-formed UUID per example, numbered so the examples are easy to tell apart."""
    return f"5b0c9e2a-7d41-4f3e-9a6b-{n:012d}"


TICKET_ID = "tkt_01JPB3X8Q4W6M0Y2K7R9T5V1C3"
TICKET_NUMBER = "OP-2025-000123"
CUSTOMER_ID = "cus_ivan_petrov_7731"
AGENT_ID = "agt_anna_smirnova"
OFFER_ID = "off_4f2a91"
TELEGRAM_CHAT_ID = "482193377"

IVAN = CustomerRef(
    customer_id=CUSTOMER_ID,
    name="Иван Петров",
    email="ivan.petrov@example.ru",
    phone="+79161234567",
    language="ru",
    tier="gold",
)

_RU_WASHER = "Здравствуйте! Не включается стиральная машина после ремонта по гарантии"

# --- inbound messages (channel adapters → intake) ---------------------------------------------

_INBOUND: tuple[Event, ...] = (
    InboundMessengerMessageV1(
        event_id=_event_id(1),
        occurred_at=_at(14, 9, 12, 5, tz=MSK),
        source_message_id="tg:482193377:1841",
        conversation_id=f"telegram:{TELEGRAM_CHAT_ID}",
        received_at=_at(14, 9, 12, 4, tz=MSK),
        customer=CustomerContact(
            name="Иван Петров", external_id="tg-user:482193377", language="ru"
        ),
        text=(
            f"{_RU_WASHER}. Мастер приходил 10 марта, заказ-наряд № 55-1187. "
            "Индикатор мигает, барабан не крутится."
        ),
        language="ru",
        attachments=(
            Attachment(
                filename="panel.jpg",
                content_type="image/jpeg",
                size_bytes=284_113,
                url="https://files.opora.dev/telegram/482193377/1841/panel.jpg",
            ),
        ),
        request_type=RequestType.WARRANTY,
        network="telegram",
        chat_id=TELEGRAM_CHAT_ID,
    ),
    InboundEmailV1(
        event_id=_event_id(2),
        occurred_at=_at(14, 10, 3, 17),
        source_message_id="<CAJx9f2b1Qe7@mail.example.com>",
        conversation_id="<ack.OP-2025-000118@support.opora.dev>",
        received_at=_at(14, 10, 3, 15),
        customer=CustomerContact(
            name="Emily Carter", email="emily.carter@example.com", language="en"
        ),
        text=(
            "Hi,\n\nThanks for the quick reply. The courier never arrived yesterday and the "
            "tracking page still says 'out for delivery'. Could you check order 7781-2203?\n\n"
            "Best,\nEmily"
        ),
        language="en",
        request_type=RequestType.ORDER_STATUS,
        message_id="<CAJx9f2b1Qe7@mail.example.com>",
        in_reply_to="<ack.OP-2025-000118@support.opora.dev>",
        references=("<ack.OP-2025-000118@support.opora.dev>",),
        to=("support@opora.dev",),
        subject="Re: [OP-2025-000118] Where is my order?",
        html=(
            "<p>Hi,</p><p>Thanks for the quick reply. The courier never arrived yesterday and "
            "the tracking page still says 'out for delivery'. Could you check order "
            "7781-2203?</p><p>Best,<br>Emily</p>"
        ),
    ),
    InboundWebFormV1(
        event_id=_event_id(3),
        occurred_at=_at(14, 11, 40, 2),
        source_message_id="webform-sub-90817",
        conversation_id="webform-sub-90817",
        received_at=_at(14, 11, 40, 1),
        customer=CustomerContact(
            name="Мария Соколова", email="m.sokolova@example.ru", phone="+79031112233"
        ),
        text=(
            "Холодильник сильно шумит по ночам, гарантия закончилась в январе. "
            "Сколько стоит ремонт?"
        ),
        language="ru",
        request_type=RequestType.POST_WARRANTY,
        form_id="service-request",
        subject="Платный ремонт холодильника",
        product="Холодильник NordFrost RF-360",
        fields={"serial_number": "NF360-22-114589", "purchase_date": "2023-01-18"},
    ),
    InboundChatMessageV1(
        event_id=_event_id(4),
        occurred_at=_at(14, 12, 5, 30),
        source_message_id="chat-msg-33d1e",
        conversation_id="chat-session-8a1f07",
        received_at=_at(14, 12, 5, 29),
        customer=CustomerContact(external_id="visitor-5f0c2d", language="en"),
        text="I'd like to talk to a person, please.",
        language="en",
        request_type=RequestType.CONSULTATION,
        session_id="chat-session-8a1f07",
        bot_transcript=(
            "Bot: Hello! How can I help you today?",
            "Customer: Which dishwasher fits a 45 cm niche?",
            "Bot: Here are our 45 cm models: DW-45 Slim, DW-45 Pro.",
            "Customer: I'd like to talk to a person, please.",
        ),
    ),
    InboundCallV1(
        event_id=_event_id(5),
        occurred_at=_at(14, 13, 21, 48, tz=MSK),
        source_message_id="call-2025-03-14-0042917",
        conversation_id="call-2025-03-14-0042917",
        received_at=_at(14, 13, 21, 47, tz=MSK),
        customer=CustomerContact(phone="+74951234567", language="ru"),
        text="Клиент просит перезвонить: сервисный инженер не пришёл в назначенное время.",
        language="ru",
        request_type=RequestType.TECHNICAL_SUPPORT,
        priority=Priority.HIGH,
        call_id="call-2025-03-14-0042917",
        ivr_selections=("1: Сервис и ремонт", "3: Выезд мастера", "0: Соединить с оператором"),
        transcript=(
            "Здравствуйте, мастер должен был прийти с десяти до двенадцати, никого нет. "
            "Перезвоните, пожалуйста."
        ),
        recording_url="https://pbx.opora.dev/recordings/2025/03/14/0042917.ogg",
        callback_requested=True,
        duration_s=96,
    ),
    InboundSmsV1(
        event_id=_event_id(6),
        occurred_at=_at(14, 14, 2, 11, tz=MSK),
        source_message_id="sms-7c2e55a0",
        conversation_id="+79262345678",
        received_at=_at(14, 14, 2, 10, tz=MSK),
        customer=CustomerContact(phone="+79262345678"),
        text="Статус заказа 7781-1950? Спасибо",
        language="ru",
    ),
    InboundWalkInV1(
        event_id=_event_id(7),
        occurred_at=_at(14, 16, 45, 0, tz=MSK),
        source_message_id="complaint-book-ekb-2025-017",
        conversation_id="complaint-book-ekb-2025-017",
        received_at=_at(14, 16, 30, 0, tz=MSK),
        customer=CustomerContact(name="Сергей Кузнецов", phone="+79122223344", language="ru"),
        text=(
            "Запись в книге жалоб и предложений: ожидал выдачи пылесоса из ремонта 40 минут, "
            "в очереди один сотрудник на приёмке. Прошу навести порядок."
        ),
        language="ru",
        request_type=RequestType.COMPLAINT,
        kind="complaint_book",
        location="Сервисный центр «Опора», Екатеринбург, ул. Ленина, 15",
        recorded_by="staff_olga_kim",
    ),
)

# --- agent workspace ---------------------------------------------------------------------------

_WORKSPACE: tuple[Event, ...] = (
    AgentProfileChangedV1(
        event_id=_event_id(8),
        occurred_at=_at(14, 5, 55, 0),
        agent_id=AGENT_ID,
        name="Анна Смирнова",
        email="anna.smirnova@opora.dev",
        skills={"washing_machines": 5, "warranty": 4, "english": 3},
        languages=("ru", "en"),
        teams=("tier1-appliances",),
        capacity={Channel.MESSENGER: 4, Channel.EMAIL: 6, Channel.PHONE: 1},
    ),
    AgentPresenceChangedV1(
        event_id=_event_id(9),
        occurred_at=_at(14, 6, 0, 0),
        agent_id=AGENT_ID,
        presence=Presence.ONLINE,
    ),
    OfferAcceptedV1(
        event_id=_event_id(10),
        occurred_at=_at(14, 6, 13, 20),
        ticket_id=TICKET_ID,
        agent_id=AGENT_ID,
        offer_id=OFFER_ID,
    ),
    OfferDeclinedV1(
        event_id=_event_id(11),
        occurred_at=_at(14, 6, 13, 5),
        ticket_id=TICKET_ID,
        agent_id="agt_dmitry_orlov",
        offer_id="off_4f2a90",
        reason="На обеде / at lunch",
    ),
    ReplyPostedV1(
        event_id=_event_id(12),
        occurred_at=_at(14, 6, 21, 0),
        ticket_id=TICKET_ID,
        agent_id=AGENT_ID,
        reply_id="rpl_91c0",
        public=True,
        text=(
            "Иван, здравствуйте! Сожалеем о неудобствах. Мы записали повторный выезд мастера "
            "по гарантии на 15 марта с 10:00 до 12:00. Ремонт бесплатный."
        ),
    ),
    StatusSetV1(
        event_id=_event_id(13),
        occurred_at=_at(15, 9, 30, 0),
        ticket_id=TICKET_ID,
        agent_id=AGENT_ID,
        status=WorkspaceStatus.SOLVED,
        comment="Мастер заменил плату управления, машина работает.",
    ),
    TicketTransferRequestedV1(
        event_id=_event_id(14),
        occurred_at=_at(14, 6, 18, 0),
        ticket_id=TICKET_ID,
        agent_id=AGENT_ID,
        to_queue="tier2-warranty",
        reason="Repeat failure after a warranty repair: needs a tier 2 decision on replacement",
        kind="escalate",
    ),
)

# --- canonical ticket events (intake) ----------------------------------------------------------

_TICKETS: tuple[Event, ...] = (
    TicketOpenedV1(
        event_id=_event_id(15),
        occurred_at=_at(14, 6, 12, 6),
        ticket_id=TICKET_ID,
        number=TICKET_NUMBER,
        channel=Channel.MESSENGER,
        customer=IVAN,
        subject="Не включается стиральная машина после гарантийного ремонта",
        text=_RU_WASHER,
        request_type=RequestType.WARRANTY,
        priority=Priority.HIGH,
        language="ru",
        product="Стиральная машина AquaLine WM-7",
        tags=("warranty", "repeat-repair", "telegram"),
        source_message_id="tg:482193377:1841",
        skills={"warranty": 2, "lang:ru": 1},
        references={"warranty": ("ГТ-2025-55812",)},
        classification=(
            "request_type=warranty by rule 'warranty-words' (text matched 'гаранти')",
            "priority=high: tier gold raises normal by one",
            "language=ru given by the adapter",
        ),
        attachments=(
            Attachment(
                filename="panel.jpg",
                content_type="image/jpeg",
                size_bytes=284_113,
                url="https://files.opora.dev/telegram/482193377/1841/panel.jpg",
            ),
        ),
    ),
    TicketMessageReceivedV1(
        event_id=_event_id(16),
        occurred_at=_at(14, 6, 40, 0),
        ticket_id=TICKET_ID,
        message_id="tg:482193377:1849",
        channel=Channel.MESSENGER,
        customer_id=CUSTOMER_ID,
        text="Спасибо! 15 марта подходит, буду дома.",
        threaded_by="conversation",
    ),
    TicketUpdatedV1(
        event_id=_event_id(17),
        occurred_at=_at(14, 6, 16, 0),
        ticket_id=TICKET_ID,
        priority=Priority.URGENT,
        tags=("warranty", "repeat-repair", "telegram", "vip"),
    ),
    TicketRepliedV1(
        event_id=_event_id(18),
        occurred_at=_at(14, 6, 21, 1),
        ticket_id=TICKET_ID,
        reply_id="rpl_91c0",
        agent_id=AGENT_ID,
        public=True,
        text=(
            "Иван, здравствуйте! Сожалеем о неудобствах. Мы записали повторный выезд мастера "
            "по гарантии на 15 марта с 10:00 до 12:00. Ремонт бесплатный."
        ),
    ),
    TicketStatusChangedV1(
        event_id=_event_id(19),
        occurred_at=_at(15, 9, 30, 1),
        ticket_id=TICKET_ID,
        status=TicketStatus.SOLVED,
        previous_status=TicketStatus.OPEN,
        agent_id=AGENT_ID,
        actor="agent",
        auto_change_at=_at(19, 9, 30, 1),
    ),
)

# --- routing -----------------------------------------------------------------------------------

_ROUTING: tuple[Event, ...] = (
    TicketQueuedV1(
        event_id=_event_id(20),
        occurred_at=_at(14, 6, 12, 7),
        ticket_id=TICKET_ID,
        queue="tier1-appliances",
        rule_id="rule-warranty-ru",
        rule_version="2025-03-01",
        required_skills={"washing_machines": 3, "warranty": 3},
        position=2,
    ),
    TicketOfferedV1(
        event_id=_event_id(21),
        occurred_at=_at(14, 6, 13, 6),
        ticket_id=TICKET_ID,
        queue="tier1-appliances",
        rule_id="rule-warranty-ru",
        rule_version="2025-03-01",
        offer_id=OFFER_ID,
        agent_id=AGENT_ID,
        expires_at=_at(14, 6, 14, 6),
        reason=RoutingReason(
            step=0,
            candidates=3,
            scores=(
                CandidateScore(
                    agent_id=AGENT_ID, spare=7, idle_since=_at(14, 5, 40, 0), rank="(-7, 05:40)"
                ),
                CandidateScore(agent_id="agt_oleg_kim", spare=4, rank="(-4, never)"),
            ),
            why="rule-warranty-ru step 0: warranty ≥ 4, lang:ru; most spare capacity",
        ),
    ),
    TicketOfferRevokedV1(
        event_id=_event_id(44),
        occurred_at=_at(14, 6, 14, 6),
        ticket_id=TICKET_ID,
        queue="tier1-appliances",
        rule_id="rule-warranty-ru",
        rule_version="2025-03-01",
        offer_id="off_4f2a90",
        agent_id="agt_oleg_kim",
        cause="timed_out",
    ),
    TicketAssignedV1(
        event_id=_event_id(22),
        occurred_at=_at(14, 6, 13, 21),
        ticket_id=TICKET_ID,
        queue="tier1-appliances",
        rule_id="rule-warranty-ru",
        rule_version="2025-03-01",
        agent_id=AGENT_ID,
        offer_id=OFFER_ID,
        team="tier1-appliances",
    ),
    TicketEscalatedV1(
        event_id=_event_id(23),
        occurred_at=_at(14, 6, 18, 1),
        ticket_id=TICKET_ID,
        queue="tier2-warranty",
        level=2,
        from_queue="tier1-appliances",
        reason="Transfer requested by the agent: repeat failure after a warranty repair",
    ),
)

# --- SLA ---------------------------------------------------------------------------------------

SLA_POLICY_ID = "sla-warranty-gold"

_SLA: tuple[Event, ...] = (
    SlaAppliedV1(
        event_id=_event_id(24),
        occurred_at=_at(14, 6, 12, 7),
        ticket_id=TICKET_ID,
        policy_id=SLA_POLICY_ID,
        policy_version=3,
        calendar_id="msk-business-hours",
        targets=(
            Target(
                metric=Metric.FIRST_REPLY,
                target_s=3_600,
                business_hours=True,
                due_at=_at(14, 7, 12, 6),
            ),
            Target(
                metric=Metric.RESOLUTION,
                target_s=3 * 9 * 3_600,
                business_hours=True,
                due_at=_at(19, 6, 12, 6),
            ),
        ),
    ),
    SlaWarningV1(
        event_id=_event_id(25),
        occurred_at=_at(14, 7, 25, 0),
        ticket_id=TICKET_ID,
        policy_id=SLA_POLICY_ID,
        policy_version=3,
        metric=Metric.NEXT_REPLY,
        due_at=_at(14, 7, 40, 0),
        elapsed_s=2_700,
        remaining_s=900,
        threshold="75%",
    ),
    SlaBreachedV1(
        event_id=_event_id(26),
        occurred_at=_at(14, 7, 40, 0),
        ticket_id=TICKET_ID,
        policy_id=SLA_POLICY_ID,
        policy_version=3,
        metric=Metric.NEXT_REPLY,
        due_at=_at(14, 7, 40, 0),
        elapsed_s=3_600,
        remaining_s=0,
    ),
    SlaEscalatedV1(
        event_id=_event_id(27),
        occurred_at=_at(14, 8, 10, 0),
        ticket_id=TICKET_ID,
        policy_id=SLA_POLICY_ID,
        policy_version=3,
        metric=Metric.NEXT_REPLY,
        due_at=_at(14, 7, 40, 0),
        elapsed_s=5_400,
        remaining_s=-1_800,
        level=1,
    ),
    SlaFulfilledV1(
        event_id=_event_id(28),
        occurred_at=_at(14, 6, 21, 1),
        ticket_id=TICKET_ID,
        policy_id=SLA_POLICY_ID,
        policy_version=3,
        metric=Metric.FIRST_REPLY,
        due_at=_at(14, 7, 12, 6),
        elapsed_s=535,
        remaining_s=3_065,
        breached=False,
    ),
)

# --- notifications -----------------------------------------------------------------------------

_NOTIFICATIONS: tuple[Event, ...] = (
    NotificationSentV1(
        event_id=_event_id(29),
        occurred_at=_at(14, 6, 12, 9),
        ticket_id=TICKET_ID,
        notification_id="ntf_ticket-acknowledged_tkt_01JPB3X8_tg",
        intent="ticket.acknowledged",
        channel=Channel.MESSENGER,
        recipient_masked="48*****77",
        template="ticket-acknowledged",
        language="ru",
        provider_message_id="tg:482193377:1842",
    ),
    NotificationFailedV1(
        event_id=_event_id(30),
        occurred_at=_at(15, 9, 31, 12),
        ticket_id=TICKET_ID,
        notification_id="ntf_ticket-solved_tkt_01JPB3X8_email",
        intent="ticket.solved",
        channel=Channel.EMAIL,
        recipient_masked="i***@example.ru",
        template="ticket-solved",
        language="ru",
        reason="451 4.7.1 Greylisted, please try again later",
        attempts=2,
        will_retry=True,
    ),
    NotificationCancelledV1(
        event_id=_event_id(60),
        occurred_at=_at(16, 10, 5, 2),
        ticket_id=TICKET_ID,
        notification_id="ntf_warranty-repair-follow-up_tkt_01JPB3X8",
        intent="warranty.repair_follow_up",
        reason=CancelReason.CUSTOMER_REPLIED,
        audience="customer",
        template="warranty_repair_follow_up",
        category="follow_ups",
        detail="cancelled: customer_replied",
        trigger_event_id=_event_id(19),
        scheduled_for=_at(18, 9, 30, 1),
    ),
)

# --- feedback ----------------------------------------------------------------------------------

SURVEY_ID = "srv_csat_tkt_01JPB3X8"

_FEEDBACK: tuple[Event, ...] = (
    SurveyIssuedV1(
        event_id=_event_id(31),
        occurred_at=_at(15, 9, 30, 5),
        ticket_id=TICKET_ID,
        survey_id=SURVEY_ID,
        survey_type=SurveyType.CSAT,
        agent_id=AGENT_ID,
        team="tier1-appliances",
        channel=Channel.MESSENGER,
        request_type=RequestType.WARRANTY,
        customer=IVAN,
        url="https://survey.opora.dev/s/srv_csat_tkt_01JPB3X8?sig=3b9f0c1d",
        expires_at=_at(22, 9, 30, 5),
        send_after=_at(15, 10, 30, 5),
        language="ru",
    ),
    # Иван answers the invitation in Telegram with a digit and a few words (intake → feedback).
    SurveyAnswerReceivedV1(
        event_id=_event_id(39),
        occurred_at=_at(15, 18, 2, 41),
        ticket_id=TICKET_ID,
        channel=Channel.MESSENGER,
        source_message_id="tg:482193377:1907",
        received_at=_at(15, 18, 2, 41),
        score=2,
        survey_type=SurveyType.CSAT,
        comment="мастер так и не перезвонил",
    ),
    SurveyResponseRecordedV1(
        event_id=_event_id(32),
        occurred_at=_at(15, 18, 2, 44),
        ticket_id=TICKET_ID,
        survey_id=SURVEY_ID,
        survey_type=SurveyType.CSAT,
        agent_id=AGENT_ID,
        team="tier1-appliances",
        channel=Channel.MESSENGER,
        request_type=RequestType.WARRANTY,
        score=2,
        has_comment=True,
        revision=1,
    ),
    DetractorFoundV1(
        event_id=_event_id(33),
        occurred_at=_at(15, 18, 2, 45),
        ticket_id=TICKET_ID,
        survey_id=SURVEY_ID,
        survey_type=SurveyType.CSAT,
        agent_id=AGENT_ID,
        team="tier1-appliances",
        channel=Channel.MESSENGER,
        request_type=RequestType.WARRANTY,
        score=2,
    ),
)

# --- customer profiles (intake) ----------------------------------------------------------------

_OTHER_IVAN = "cus_web_form_ivan_9912"

_CUSTOMERS: tuple[Event, ...] = (
    CustomerIdentifierLinkedV1(
        event_id=_event_id(40),
        occurred_at=_at(14, 9, 12, 6),
        customer_id=CUSTOMER_ID,
        kind=IdentifierKind.ACCOUNT,
        value="telegram:482193377",
        verified=True,
        source="messenger:tg:482193377:1841",
    ),
    CustomerMatchSuggestedV1(
        event_id=_event_id(41),
        occurred_at=_at(14, 11, 40, 0),
        customer_id=CUSTOMER_ID,
        other_customer_id=_OTHER_IVAN,
        evidence=("email ivan.petrov@example.ru typed into web form 'support'",),
    ),
    CustomerMergedV1(
        event_id=_event_id(42),
        occurred_at=_at(14, 12, 5, 0),
        customer_id=CUSTOMER_ID,
        merged_customer_id=_OTHER_IVAN,
        actor=AGENT_ID,
        reason="Same person: confirmed by phone",
    ),
    CustomerUnmergedV1(
        event_id=_event_id(43),
        occurred_at=_at(14, 12, 30, 0),
        customer_id=CUSTOMER_ID,
        merged_customer_id=_OTHER_IVAN,
        actor=AGENT_ID,
        reason="Merged by mistake: a namesake",
    ),
)

ALL_EXAMPLES: tuple[Event, ...] = (
    *_INBOUND,
    *_WORKSPACE,
    *_TICKETS,
    *_CUSTOMERS,
    *_ROUTING,
    *_SLA,
    *_NOTIFICATIONS,
    *_FEEDBACK,
)
"""Every example, in a stable order; ``EXAMPLES`` indexes them by event class."""

EXAMPLES: dict[type[Event], Event] = {type(example): example for example in ALL_EXAMPLES}


def example_for(event_type: type[Event]) -> Event:
    """The example of ``event_type``; a KeyError names the type that has none."""
    return EXAMPLES[event_type]
