"""Kafka plumbing every service shares: the broker, publishing with CloudEvents headers,
typed subscriptions dispatched by ``ce_type``, and the dead-letter path.

Delivery is at-least-once: subscribers commit only after the handler returns
(``AckPolicy.NACK_ON_ERROR``). A record that can never be processed — it fails validation, or
the handler raises :class:`PermanentError`, or a non-infrastructure error repeats
``max_attempts`` times — is copied with its original key, bytes and headers plus the reason to
the topic's dead-letter topic, and the offset moves on. Infrastructure errors (MongoDB or
Kafka unreachable) are retried with backoff without limit, because the record is valid.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, TypeVar, Union

from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.security import parse_security
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry import metrics, trace
from opentelemetry.trace import TracerProvider
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from opora_shared import attributes
from opora_shared.contracts.base import Event, cloudevent_headers, source_of
from opora_shared.contracts.topics import PartitionKey, TopicSpec, all_topics
from opora_shared.errors import PermanentError
from opora_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[..., Awaitable[Any]]
OnUnknown = Literal["ignore", "dead_letter"]

_DEAD_LETTER_OF = {t.name: t.dead_letter for t in all_topics()}
_INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (ConnectionFailure, OSError)

# Through the global meter provider (telemetry.configure_metrics): a no-op until one is set.
_meter = metrics.get_meter("opora.messaging")
_dead_lettered = _meter.create_counter(
    "opora.dead_letters",
    unit="{record}",
    description="Records copied to a dead-letter topic, by source topic and error type",
)
_published = _meter.create_counter(
    "opora.events.published",
    unit="{event}",
    description="Contract events published, by topic and CloudEvents type",
)


class DeadLetters:
    """Publishes records that cannot be processed, and decides which failures those are."""

    def __init__(self, service: str, *, max_attempts: int = 8, max_backoff_s: float = 10.0):
        self.service = service
        self.max_attempts = max_attempts
        self.max_backoff_s = max_backoff_s
        self._broker: KafkaBroker | None = None
        self._attempts: dict[tuple[str, int, int], int] = {}

    def bind(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(self, msg: StreamMessage[Any], reason: str, error: BaseException | None) -> None:
        record = msg.raw_message
        topic = getattr(record, "topic", "")
        headers = {k: v for k, v in msg.headers.items() if isinstance(v, str)}
        headers.update(
            {
                "dlq_reason": reason[:2000],
                "dlq_error": type(error).__name__ if error else "",
                "dlq_source_topic": topic,
                "dlq_source_partition": str(getattr(record, "partition", "")),
                "dlq_source_offset": str(getattr(record, "offset", "")),
                "dlq_service": self.service,
            }
        )
        assert self._broker is not None, "DeadLetters.bind() was not called"
        await self._broker.publish(
            msg.body,
            topic=_DEAD_LETTER_OF.get(topic, f"{topic}.dlq"),
            key=getattr(record, "key", None),
            headers=headers,
        )
        _dead_lettered.add(
            1,
            {
                "messaging.destination.name": topic,
                "error.type": type(error).__name__ if error else "unknown",
            },
        )
        log.warning(
            "dead-lettered a record",
            extra={"topic": topic, "offset": getattr(record, "offset", None), "reason": reason},
        )

    def middleware(self) -> type[BaseMiddleware[Any, Any]]:
        dead_letters = self

        class DeadLetterMiddleware(BaseMiddleware[Any, Any]):
            async def consume_scope(
                self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
            ) -> Any:
                return await dead_letters.guard(call_next, msg)

        return DeadLetterMiddleware

    async def guard(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        record = msg.raw_message
        position = (
            getattr(record, "topic", ""),
            getattr(record, "partition", -1),
            getattr(record, "offset", -1),
        )
        try:
            result = await call_next(msg)
        except ValidationError as exc:
            await self.send(msg, f"invalid message: {_summarise(exc)}", exc)
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # redelivery cannot fix bytes
            await self.send(msg, f"not JSON: {exc}", exc)
            return None
        except RecursionError as exc:  # JSON nested deeper than the decoder goes, for good
            await self.send(msg, f"JSON nested too deeply: {exc}", exc)
            return None
        except PermanentError as exc:
            await self.send(msg, f"cannot be processed: {exc}", exc)
            return None
        except _INFRASTRUCTURE_ERRORS:
            await asyncio.sleep(self._backoff(position, count=False))
            raise
        except Exception as exc:
            attempts = self._attempts.get(position, 0) + 1
            if attempts >= self.max_attempts:
                self._attempts.pop(position, None)
                await self.send(msg, f"failed {attempts} times: {exc!r}", exc)
                return None
            log.exception("handler failed; the record will be redelivered")
            await asyncio.sleep(self._backoff(position))
            raise
        self._attempts.pop(position, None)
        return result

    def _backoff(self, position: tuple[str, int, int], *, count: bool = True) -> float:
        attempts = self._attempts.get(position, 0) + 1
        if count:
            self._attempts[position] = attempts
        return float(min(0.1 * 2 ** min(attempts, 10), self.max_backoff_s))


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        location = ".".join(str(p) for p in error["loc"])
        parts.append(f"{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(parts)


_TICKET_KEYED = frozenset(t.name for t in all_topics() if t.key is PartitionKey.TICKET_ID)


class SpanAttributesMiddleware(BaseMiddleware[Any, Any]):
    """Name, on the span that processes a record, the contract event and (on the topics keyed
    by ticket) the ticket it is about: ``opora.event_type`` and ``opora.ticket_id``."""

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        span = trace.get_current_span()
        if span.is_recording():
            ce_type = msg.headers.get("ce_type")
            if isinstance(ce_type, str):
                span.set_attribute(attributes.EVENT_TYPE, ce_type)
            record = msg.raw_message
            key = getattr(record, "key", None)
            if getattr(record, "topic", None) in _TICKET_KEYED and isinstance(key, bytes):
                span.set_attribute(attributes.TICKET_ID, key.decode("utf-8", "replace"))
        return await call_next(msg)


_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The broker's security settings (``kafka_security_protocol`` and friends) as FastStream
    takes them; None for plaintext."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    tls = protocol in ("SSL", "SASL_SSL")
    ssl_context = (
        create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
        if tls
        else None
    )
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    username, password = settings.kafka_sasl_username, settings.kafka_sasl_password
    if username is None or password is None:  # the settings' validator refuses this
        raise ValueError(f"kafka_security_protocol {protocol} needs a SASL user and password")
    return _SASL[settings.kafka_sasl_mechanism](
        username,
        password.get_secret_value(),
        ssl_context=ssl_context,
        use_ssl=tls,
    )


def kafka_client_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """The same security settings as keyword arguments of aiokafka's clients
    (``AIOKafkaConsumer(..., **kafka_client_kwargs(settings))``), for a client made outside
    the broker. FastStream's own translation, so the two can never disagree."""
    return parse_security(kafka_security(settings))


async def read_undecodable_headers(
    record: Any, parse: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream's parser, given header values that are not UTF-8 with the bad bytes replaced.

    FastStream decodes every header before any middleware runs, so one undecodable value would
    raise outside the dead-letter guard, the record would be nacked and redelivered for ever and
    its partition blocked (a null value likewise). Replaced, the header names no known type:
    the record is dead-lettered (or skipped) like any other whose ``ce_type`` is unknown, with
    its value's bytes unchanged.
    """
    headers = getattr(record, "headers", None) or ()
    if not all(_is_utf8(value) for _, value in headers):
        record.headers = [
            (name, b"" if value is None else value.decode("utf-8", "replace").encode())
            for name, value in headers
        ]
    return await parse(record)


def _is_utf8(value: bytes | None) -> bool:
    """Whether FastStream can decode this header value (Kafka allows null ones; it cannot)."""
    if value is None:
        return False
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def make_broker(
    bootstrap_servers: str,
    *,
    service: str,
    tracer_provider: TracerProvider | None = None,
    graceful_timeout_s: float = 15.0,
    security: BaseSecurity | None = None,
) -> KafkaBroker:
    """A broker whose producer waits for every replica (``acks=all``) and is idempotent."""
    dead_letters = DeadLetters(service)
    broker = KafkaBroker(
        bootstrap_servers,
        security=security,
        client_id=service,
        parser=read_undecodable_headers,
        acks="all",
        enable_idempotence=True,
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            SpanAttributesMiddleware,
            dead_letters.middleware(),
        ],
        graceful_timeout=graceful_timeout_s,
        logger=logging.getLogger(f"opora.{service}.kafka"),
    )
    dead_letters.bind(broker)
    return broker


class EventPublisher:
    """Publishes contract events: JSON body, key = the event's partition key, CloudEvents headers.

    One FastStream publisher per topic is declared so that the AsyncAPI document lists what the
    service publishes. ``publish`` returns once the broker acknowledged the record.
    """

    def __init__(self, broker: KafkaBroker, *, service: str, events: Iterable[type[Event]]):
        self.source = source_of(service)
        self._publishers: dict[str, Any] = {}
        by_topic: dict[str, list[type[Event]]] = {}
        for event_type in events:
            by_topic.setdefault(event_type.topic.name, []).append(event_type)
        for topic, types in by_topic.items():
            self._publishers[topic] = broker.publisher(
                topic,
                title=f"{self.source}:{topic}",
                description=", ".join(t.ce_type for t in types),
                schema=_union(types),
            )

    async def publish(self, event: Event) -> None:
        publisher = self._publishers.get(event.topic.name)
        if publisher is None:
            raise LookupError(f"{self.source} does not publish on {event.topic.name}")
        await publisher.publish(
            event.model_dump(mode="json"),
            key=event.partition_key.encode(),
            headers=cloudevent_headers(event, source=self.source),
        )
        _published.add(
            1,
            {
                "messaging.destination.name": event.topic.name,
                "cloudevents.event_type": event.ce_type,
            },
        )


def _union(types: list[type[Event]]) -> Any:
    return types[0] if len(types) == 1 else Union[tuple(types)]  # noqa: UP007


def connect(
    service: str,
    settings: ServiceSettings,
    *,
    publishes: Iterable[type[Event]],
    tracer_provider: TracerProvider | None = None,
) -> tuple[KafkaBroker, EventPublisher]:
    """A service's broker and the publisher of the events it owns, wired the same everywhere."""
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        service=service,
        tracer_provider=tracer_provider,
        graceful_timeout_s=settings.graceful_timeout_s,
        security=kafka_security(settings),
    )
    return broker, EventPublisher(broker, service=service, events=publishes)


class Subscription:
    """A consumer of one topic for one service, dispatching each record by its ``ce_type``.

    Records whose type this service does not handle are acknowledged and skipped (a newer
    producer may add types: that is an additive change), or dead-lettered where the topic is
    a public way in and an unknown type means bad input.
    """

    def __init__(
        self,
        router: KafkaRouter,
        topic: TopicSpec,
        *,
        group: str,
        on_unknown: OnUnknown = "ignore",
    ) -> None:
        self.topic = topic
        self.group = group
        self._known: set[str] = set()
        self._subscriber: DefaultSubscriber = router.subscriber(
            topic.name,
            group_id=group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            title=f"{group}:{topic.name}",
            description=topic.description,
        )
        self._subscriber(filter=self._is_unknown)(
            self._skip if on_unknown == "ignore" else self._reject
        )

    def on(self, event_type: type[E]) -> Callable[[Handler], Handler]:
        """Register the handler of ``event_type``; its first parameter receives the model."""
        ce_type = event_type.ce_type
        self._known.add(ce_type)

        def register(handler: Handler) -> Handler:
            self._subscriber(
                filter=lambda msg: msg.headers.get("ce_type") == ce_type,
            )(handler)
            return handler

        return register

    def _is_unknown(self, msg: StreamMessage[Any]) -> bool:
        return msg.headers.get("ce_type") not in self._known

    @staticmethod
    async def _skip() -> None:
        log.debug("skipped a record of a type this service does not handle")

    @staticmethod
    async def _reject() -> None:
        raise PermanentError("missing or unknown ce_type header for this topic")
