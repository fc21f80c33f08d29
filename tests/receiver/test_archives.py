"""Usage triggers and message archives against the Twilio emulator in-process, on both stores: a trigger's
own callback stored under its alert name, and a day's archive read into the store after every callback of
the day was lost."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.sandbox.twilio.conftest import FAST, Api, Creds, send, settled, setup_service
from twilio_operator.receiver.app import Receiver
from twilio_operator.receiver.archives import ArchiveError, ArchiveReader, GzipJsonLines
from twilio_operator.receiver.committer import Committer
from twilio_operator.receiver.directory import Directory
from twilio_operator.receiver.metrics import ReceiverMetrics
from twilio_operator.receiver.store import Store
from twilio_operator.sandbox.twilio import TwilioEmulator


@dataclass
class Live:
    """The emulator and a receiver it reaches on loopback (so it signs over the receiver's own URL)."""

    api: Api
    emulator: TwilioEmulator
    store: Store
    directory: Directory
    committer: Committer
    session: aiohttp.ClientSession
    url: str

    async def tenant(self) -> tuple[Creds, dict[str, object]]:
        sub, service = await setup_service(self.api, f"{self.url}/twilio/status")
        self.directory.replace_credentials([(sub.username, sub.password, "shop")])
        return sub, service


@pytest.fixture
async def live(store: Store) -> AsyncIterator[Live]:
    emulator = TwilioEmulator(seed=11)
    await emulator.start()
    directory = Directory()
    metrics = ReceiverMetrics(directory)
    committer = Committer(store, on_commit=metrics.committed)
    committer.start()
    receiver = Receiver(store, committer, directory, metrics)
    receiver.store_started = True
    client = TestClient(TestServer(receiver.application(), host="127.0.0.1"))
    await client.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = str(client.make_url("")).rstrip("/")
            yield Live(Api(session, emulator), emulator, store, directory, committer, session, url)
    finally:
        await client.close()
        await committer.stop()
        await emulator.stop()


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_usage_trigger_callback_is_stored_under_its_alert(live: Live) -> None:
    api = live.api
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await live.tenant()
    made = await api.call(
        "POST",
        "api",
        f"/2010-04-01/Accounts/{sub.username}/Usage/Triggers.json",
        sub,
        data={
            "CallbackUrl": f"{live.url}/twilio/usage?alert=sms-budget",
            "TriggerValue": "3",
            "UsageCategory": "sms",
            "TriggerBy": "count",
            "Recurring": "monthly",
        },
    )
    assert made.status == 201, made.body
    for _ in range(6):
        await send(api, sub, service)
    await settled(api)

    async def stored() -> bool:
        return bool(await live.store.usage_alerts(10))

    await until(stored, "the trigger's callback was not stored")
    [alert] = await live.store.usage_alerts(10)
    assert (alert.trigger_sid, alert.account_sid, alert.alert) == (
        made.body["sid"],
        sub.username,
        "sms-budget",
    )
    assert (alert.usage_category, alert.trigger_by, alert.trigger_value) == ("sms", "count", 3.0)
    assert alert.current_value >= 3 and alert.recurring == "monthly"
    [trigger] = [t for t in live.emulator.state.triggers.values() if t.sid == made.body["sid"]]
    assert trigger.callbacks[0]["attempts"] == [200]
    assert abs(alert.date_fired - trigger.date_fired.timestamp()) < 1  # type: ignore[union-attr]


async def test_a_days_archive_gives_messages_whose_callbacks_were_all_lost_their_final_status(
    live: Live,
) -> None:
    api = live.api
    await api.control("POST", "config", {"message_time_scale": FAST, "callback_drop_rate": 1.0})
    sub, service = await live.tenant()
    for _ in range(8):
        await send(api, sub, service)
    truth = await settled(api)
    assert {m["final_status"] for m in truth} >= {"delivered"}
    assert await live.store.counts() == (0, 0)  # not one callback arrived
    configured = await api.call(
        "POST",
        "bulkexports",
        "/v1/Exports/Messages/Configuration",
        sub,
        data={"Enabled": "true", "WebhookUrl": f"{live.url}/twilio/archives", "WebhookMethod": "POST"},
    )
    assert configured.status == 200, configured.body
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    ready = await api.control("POST", f"accounts/{sub.username}/exports/Messages/days", {"day": today})
    assert ready.status == 201

    async def notified() -> bool:
        return bool(await live.store.archive_days())

    await until(notified, "the archive's webhook was not recorded")
    reader = ArchiveReader(live.store, live.committer, live.session, live.emulator.url, 5.0)
    done = await reader.fetch(sub.username, sub.password, today)
    assert (done.messages, done.moved, done.size) == (8, 8, ready.body["size"])
    for message in truth:
        found = await live.store.message(message["sid"])
        assert found is not None
        stored, events = found
        assert (stored.status, stored.error_code) == (message["final_status"], message["final_error_code"])
        assert stored.repaired and stored.service_sid == service["sid"]
        assert [e.source for e in events] == ["archive"]
    [day] = await live.store.archive_days()
    assert (day.account_sid, day.resource_type, day.day, day.messages) == (sub.username, "Messages", today, 8)
    assert day.notified_at is not None and day.fetched_at is not None and day.size == ready.body["size"]
    # Read again: nothing new moves, nothing is stored twice.
    again = await reader.fetch(sub.username, sub.password, today)
    assert (again.messages, again.moved) == (8, 0)
    assert await live.store.counts() == (8, 8)
    assert api.violations() == []  # the receiver's BulkExports requests are the API's own


async def test_a_day_not_ready_or_refused_credentials_are_said_and_nothing_recorded(live: Live) -> None:
    sub, _ = await live.tenant()
    reader = ArchiveReader(live.store, live.committer, live.session, live.emulator.url, 5.0)
    with pytest.raises(ArchiveError, match="the 2001-01-01 archive is not ready"):
        await reader.fetch(sub.username, sub.password, "2001-01-01")
    with pytest.raises(ArchiveError, match="refused the account's credentials"):
        await reader.fetch(sub.username, "0" * 32, "2001-01-01")
    assert await live.store.archive_days() == []


def test_archive_lines_across_chunks_and_gzip_members() -> None:
    records = [{"sid": f"SM{i:032x}", "status": "delivered"} for i in range(7)]
    text = [json.dumps(r) + "\n" for r in records]
    data = gzip.compress("".join(text[:3]).encode()) + gzip.compress("".join(text[3:]).encode())
    reading = GzipJsonLines()
    for start in range(0, len(data), 13):
        reading.feed(data[start : start + 13])
    reading.finish()
    assert reading.records == records and reading.size == len(data)
    truncated = GzipJsonLines()
    truncated.feed(data[:-20])
    with pytest.raises(ArchiveError, match="ends early"):
        truncated.finish()
    with pytest.raises(ArchiveError, match="not gzip"):
        GzipJsonLines().feed(b"plain text\n")
    inflated = GzipJsonLines()  # served with Content-Encoding: gzip, the client inflated it
    inflated.compressed = False
    for line in text:
        inflated.feed(line.encode())
    inflated.finish()
    assert inflated.records == records
