"""intake's Kafka entry points: raw channel messages and workspace actions, handed to use cases;
feedback's invitations (kept to recognise an answer texted back) and detractors."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyIssuedV1
from opora_shared.contracts.inbound import INBOUND_EVENTS, InboundMessage
from opora_shared.contracts.topics import FEEDBACK, INBOUND_MESSAGES, WORKSPACE_TICKET_ACTIONS
from opora_shared.contracts.workspace import ReplyPostedV1, StatusSetV1
from opora_shared.messaging import Subscription
from opora_shared.ports import Publisher

from opora_intake.domain import service
from opora_intake.domain.automations import Automation
from opora_intake.domain.ports import Repository

GROUP = "intake"


def register(
    router: KafkaRouter,
    repo: Repository,
    publisher: Publisher,
    policy: service.Policy,
    automation: Automation | None = None,
) -> None:
    inbound = Subscription(router, INBOUND_MESSAGES, group=GROUP, on_unknown="dead_letter")
    for message_type in INBOUND_EVENTS:
        inbound.on(message_type)(_acceptor(message_type, repo, publisher, policy))

    actions = Subscription(router, WORKSPACE_TICKET_ACTIONS, group=GROUP)

    @actions.on(ReplyPostedV1)
    async def on_reply_posted(action: ReplyPostedV1) -> None:
        await service.record_reply(action, publisher, automation)

    @actions.on(StatusSetV1)
    async def on_status_set(action: StatusSetV1) -> None:
        await service.change_status(action, repo, publisher, automation)

    feedback = Subscription(router, FEEDBACK, group=GROUP)

    @feedback.on(SurveyIssuedV1)
    async def on_survey_issued(issued: SurveyIssuedV1) -> None:
        await service.remember_invitation(issued, repo)

    @feedback.on(DetractorFoundV1)
    async def on_detractor(detractor: DetractorFoundV1) -> None:
        await service.open_recovery(detractor, repo, publisher, policy)


def _acceptor(
    message_type: type[InboundMessage],
    repo: Repository,
    publisher: Publisher,
    policy: service.Policy,
) -> service.Handler:
    async def accept(message: InboundMessage) -> None:
        await service.accept_message(message, repo, publisher, policy)

    # FastStream validates the record against the handler's annotation: give each its model.
    accept.__annotations__["message"] = message_type
    accept.__name__ = f"on_{message_type.channel.value}"
    return accept
