"""Records that redelivery cannot fix reach the dead-letter topic at once instead of blocking
or stalling their partition: header values that are not UTF-8 (or null), which FastStream would
fail to parse before the dead-letter guard sees the record, and JSON nested too deeply to
decode."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser
from opora_shared.messaging import DeadLetters, read_undecodable_headers

VALUE = b'{"text": "\xff not utf-8 either"}'


def record(headers: list[tuple[str, bytes | None]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="intake.inbound-messages.v1",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=VALUE,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(VALUE),
        headers=headers,
    )


def parse():
    return AioKafkaParser(msg_class=KafkaMessage, regex=None).parse_message


async def test_a_header_value_that_is_not_utf8_is_read_with_replacement_characters() -> None:
    parsed = await read_undecodable_headers(
        record([("ce_type", b"\xff\xfeopora.inbound.sms.v1"), ("ce_id", b"1")]), parse()
    )

    assert parsed.headers == {"ce_type": "\ufffd\ufffdopora.inbound.sms.v1", "ce_id": "1"}
    assert parsed.body == VALUE


async def test_a_null_header_value_is_read_as_empty() -> None:
    parsed = await read_undecodable_headers(record([("ce_type", None)]), parse())

    assert parsed.headers == {"ce_type": ""}


async def test_decodable_headers_are_left_as_they_are() -> None:
    parsed = await read_undecodable_headers(record([("ce_type", "тип".encode())]), parse())

    assert parsed.headers == {"ce_type": "тип"}


class RecordingDeadLetters(DeadLetters):
    def __init__(self) -> None:
        super().__init__("test")
        self.sent: list[str] = []

    async def send(self, msg: Any, reason: str, error: BaseException | None) -> None:
        self.sent.append(reason)


async def test_json_nested_too_deeply_is_dead_lettered_on_the_first_attempt() -> None:
    dead_letters = RecordingDeadLetters()
    message = await parse()(record([("ce_type", b"opora.inbound.sms.v1")]))

    async def decode(msg: Any) -> Any:
        return json.loads(b"[" * 100_000 + b"]" * 100_000)

    assert await dead_letters.guard(decode, message) is None
    assert len(dead_letters.sent) == 1
    assert dead_letters.sent[0].startswith("JSON nested too deeply")
