"""A notifications process killed (SIGKILL) in the middle of a send, and started again: every
notification arrives exactly once — the one cut off mid-send, the ones already sent, and a
follow-up whose timer was pending at the time of the crash.

The service runs as ``opora-notifications`` processes, as ``make run`` starts it, against the
real Kafka broker, FerretDB and an SMTP server on loopback. The SMTP server holds the first
message to ``slow@…`` in DATA (the content is on the wire, the server has not answered), which
is where the test kills the process: the server then drops the message, like a real one that
never said 250. The claim lease is short so the restarted process does not wait two minutes to
decide the cut-off attempt is in doubt.
"""

from __future__ import annotations

import asyncio
from importlib import resources

import pytest
import yaml
from opora_notifications.adapters.repository import MongoNotificationStore
from opora_notifications.domain.model import CUSTOMER, DeliveryState, Outcome, notification_id
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.notifications import NotificationSentV1
from opora_shared.contracts.topics import NOTIFICATIONS
from opora_shared.testing import KafkaTail
from pymongo import AsyncMongoClient

from .conftest import Replica, settled, skip_to_the_end

pytestmark = pytest.mark.integration


@pytest.fixture
def rules_file(tmp_path):
    """The packaged rules, with the first pending reminder after 8 seconds instead of 24 hours."""
    text = resources.files("opora_notifications").joinpath("rules/notifications.yaml").read_text()
    rules = yaml.safe_load(text)
    for rule in rules["notifications"]:
        if rule["intent"] == "pending.reminder_1":
            rule["after"] = "8s"
    path = tmp_path / "notifications.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


async def test_a_send_cut_off_by_a_crash_is_delivered_once_after_the_restart(
    infra, database_name, smtp, publish, tmp_path, rules_file, ticket_opened, sla_applied, status
):
    env = {
        "OPORA_NOTIFICATIONS_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "OPORA_NOTIFICATIONS_MONGODB_URI": infra.mongodb_uri,
        "OPORA_NOTIFICATIONS_MONGODB_DATABASE": database_name,
        "OPORA_NOTIFICATIONS_SMTP_PORT": str(smtp.port),
        "OPORA_NOTIFICATIONS_SMTP_TIMEOUT_S": "3",
        "OPORA_NOTIFICATIONS_QUICK_TRIES": "1",
        "OPORA_NOTIFICATIONS_CLAIM_LEASE_S": "6",
        "OPORA_NOTIFICATIONS_RULES_FILE": str(rules_file),
        "OPORA_NOTIFICATIONS_GRACEFUL_TIMEOUT_S": "5",
    }
    now = utc_now()
    slow = ticket_opened(ticket_id=f"{database_name}-slow", email="slow@example.com", at=now)
    fine = ticket_opened(ticket_id=f"{database_name}-fine", email="fine@example.com", at=now)
    smtp.stall.add("slow@example.com")
    await skip_to_the_end(infra.bootstrap_servers)
    first = Replica(env, tmp_path, "notifications-1")
    second = Replica(env, tmp_path, "notifications-2")
    async with KafkaTail(infra.bootstrap_servers, NOTIFICATIONS.name) as tail:
        first.start()
        try:
            await first.ready()
            await settled(infra.bootstrap_servers)
            await publish(fine)
            await publish(sla_applied(ticket_id=fine.ticket_id))
            await smtp.wait_for(1)
            pending = status(TicketStatus.PENDING, ticket_id=fine.ticket_id)
            await publish(pending.model_copy(update={"occurred_at": utc_now()}))
            await publish(slow)
            await publish(sla_applied(ticket_id=slow.ticket_id))
            assert await asyncio.to_thread(smtp.stalled.wait, 30), "the slow send never started"
            first.kill()

            second.start()
            await second.ready()
            # The reminder (8 s after pending) and the cut-off acknowledgement both arrive.
            await smtp.wait_for(3, timeout_s=45)
            await asyncio.sleep(2)  # anything that would arrive twice has had time to
            sent = await tail.wait_for(
                lambda s: (
                    isinstance(s.event, NotificationSentV1)
                    and s.event.ticket_id in (slow.ticket_id, fine.ticket_id)
                ),
                count=3,
            )
        finally:
            if first.process is not None and first.process.poll() is None:
                first.kill()
            await second.stop()

    received = [(str(m["To"]), str(m["Subject"]), str(m["Message-ID"])) for m in smtp.accepted]
    assert len(received) == 3, received
    assert len(smtp.to("slow@example.com")) == 1
    fine_subjects = sorted(str(m["Subject"]) for m in smtp.to("fine@example.com"))
    assert fine_subjects == [
        "[OP-000123] Мы ждём вашего ответа",
        "[OP-000123] Мы получили ваше обращение",
    ]
    slow_ack = notification_id("ticket.acknowledged", slow.ticket_id, CUSTOMER)
    assert smtp.to("slow@example.com")[0]["Message-ID"] == f"<{slow_ack}@opora.local>"
    assert len({s.event.notification_id for s in sent if s.event is not None}) == 3
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        store = MongoNotificationStore(client[database_name])
        attempts = await store.attempts(slow_ack)
        record = await store.get(slow_ack)
    finally:
        await client.drop_database(database_name)
        await client.close()
    # Attempt 1 was cut off and never settled; the restarted process found it in doubt.
    assert [(a.number, a.outcome) for a in attempts] == [(1, None), (2, Outcome.SENT)]
    assert record is not None
    assert record.state is DeliveryState.SENT
