"""Both stores, the same behaviour: deduplication, furthest-progressed status, repair queries, export."""

from __future__ import annotations

import io
import json
import time

from tests.support.receiver import sid
from twilio_operator.receiver.export import export
from twilio_operator.receiver.store import Store
from twilio_operator.receiver.store.model import Event

ACCOUNT = sid("AC")
SERVICE = sid("MG")


def event(message: str, status: str, at: float, *, code: int | None = None, key: str | None = None) -> Event:
    return Event(
        dedupe_key=key or f"cb:{message}:{status}:{at}",
        source="callback",
        account_sid=ACCOUNT,
        message_sid=message,
        status=status,
        error_code=code,
        received_at=at,
        payload=json.dumps([["MessageStatus", status]]),
        service_sid=SERVICE,
        from_number="+14155550100",
        to_number="+14155550199",
    )


async def test_furthest_status_wins_whatever_the_order(store: Store) -> None:
    now = time.time()
    message = sid("SM")
    result = await store.commit([event(message, "delivered", now + 2)])
    assert [a.message.status for a in result.advances] == ["delivered"]
    result = await store.commit([event(message, "sent", now + 1), event(message, "queued", now)])
    assert result.advances == []  # a late `sent` never moves `delivered` back
    found = await store.message(message)
    assert found is not None
    stored, events = found
    assert stored.status == "delivered"
    assert stored.sent_at == now + 1  # still dates the sending, for the latency
    assert [e.status for e in events] == ["queued", "sent", "delivered"]  # oldest first


async def test_duplicates_stored_once(store: Store) -> None:
    now = time.time()
    message = sid("SM")
    first = event(message, "sent", now, key="cb:same")
    result = await store.commit([first, first])
    assert result.stored == {"cb:same"}
    result = await store.commit([first])
    assert result.stored == set()
    assert await store.counts() == (1, 1)


async def test_terminal_statuses_do_not_replace_each_other(store: Store) -> None:
    now = time.time()
    message = sid("SM")
    await store.commit([event(message, "undelivered", now, code=30003)])
    await store.commit([event(message, "delivered", now + 1)])
    found = await store.message(message)
    assert found is not None
    assert (found[0].status, found[0].error_code) == ("undelivered", 30003)


async def test_batch_of_many_messages_one_commit(store: Store) -> None:
    now = time.time()
    messages = [sid("SM") for _ in range(300)]
    events = [event(m, status, now + i) for i, m in enumerate(messages) for status in ("sent", "delivered")]
    result = await store.commit(events)
    assert len(result.stored) == 600
    assert sum(1 for a in result.advances if a.message.status == "delivered") == 300
    assert await store.counts() == (300, 600)


async def test_pending_repairs_by_age_then_checked(store: Store) -> None:
    now = time.time()
    old, fresh, done = sid("SM"), sid("SM"), sid("SM")
    await store.commit(
        [event(old, "sent", now - 1000), event(fresh, "sent", now), event(done, "delivered", now - 1000)]
    )
    due = await store.pending_repairs(now - 900, 10)
    assert [m.sid for m in due] == [old]
    assert await store.count_pending(now - 900) == 1
    await store.mark_checked([old], now)
    assert await store.pending_repairs(now - 900, 10) == []


async def test_migrations_apply_once(store: Store) -> None:
    await store.start()  # a second start (another replica, a restart) finds the schema in place
    assert await store.counts() == (0, 0)


async def test_export_jsonl_and_csv(store: Store) -> None:
    now = time.time()
    first, second = sid("SM"), sid("SM")
    await store.commit([event(first, "delivered", now - 10), event(second, "failed", now, code=30007)])
    url = getattr(store, "url", None) or f"sqlite:///{store.path}"  # type: ignore[attr-defined]
    password = getattr(store, "_password", None)
    out = io.StringIO()
    assert await export(url, password, 0.0, "jsonl", out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["sid"] for r in rows] == [first, second]
    assert rows[1]["status"] == "failed" and rows[1]["errorCode"] == 30007
    out = io.StringIO()
    assert await export(url, password, now - 1, "csv", out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sid,accountSid,messagingServiceSid,from,to,status,errorCode")
    assert lines[1].startswith(second) and ",failed,30007," in lines[1]
