"""The pieces the generic reconcile runs on: the drift timer, kopf's record of the handled spec, the claims on
SIDs, the directories of followed objects and the peering gate's rule."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import kopf
import pytest

from twilio_operator.clock import backoff, parse_duration, parse_time, rfc3339, utcnow
from twilio_operator.kube.peering import PeeringConfig, standing_by
from twilio_operator.reconcile import seal
from twilio_operator.reconcile.handled import HandledRecord
from twilio_operator.reconcile.indexes import (
    Claim,
    ClaimKey,
    Claims,
    Directory,
    Followed,
    NameKey,
    Referrer,
    RefKey,
    referrers,
)
from twilio_operator.reconcile.scheduler import DriftScheduler


def body(uid: str, **status: Any) -> kopf.Body:
    return kopf.Body({"metadata": {"uid": uid, "name": uid, "namespace": "ns"}, "status": status})


# --- the drift timer ---------------------------------------------------------------------------------------


async def test_the_timer_runs_what_is_due_and_reschedules_it() -> None:
    ran: list[str] = []
    done = asyncio.Event()

    async def run_pass(b: kopf.Body) -> float | None:
        ran.append(str(b.metadata.uid))
        if len(ran) == 3:
            done.set()
        return None

    def due(b: kopf.Body, synced: datetime.datetime | None) -> float:
        return 0.0 if b.metadata.uid == "now" else 3600.0

    scheduler = DriftScheduler(run_pass, due)
    scheduler.track("now", body("now"))
    scheduler.track("later", body("later"))
    task = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    await scheduler.stop()
    assert set(ran) == {"now"}, "only what is due runs, and again when due again"


async def test_a_kick_runs_a_pass_now_and_a_gone_object_never() -> None:
    ran: list[str] = []
    kicked = asyncio.Event()

    async def run_pass(b: kopf.Body) -> float | None:
        ran.append(str(b.metadata.uid))
        kicked.set()
        return None

    scheduler = DriftScheduler(run_pass, lambda b, s: 3600.0)
    scheduler.track("a", body("a"))
    scheduler.track("b", body("b"))
    scheduler.track("b", None)
    task = asyncio.create_task(scheduler.run())
    scheduler.kick("b")  # gone: nothing
    scheduler.kick("a")
    await asyncio.wait_for(kicked.wait(), 5)
    task.cancel()
    await scheduler.stop()
    assert ran == ["a"] and "b" not in scheduler and "a" in scheduler


async def test_the_timer_waits_for_its_gate() -> None:
    ran: list[str] = []
    gate = asyncio.Event()

    async def run_pass(b: kopf.Body) -> float | None:
        ran.append(str(b.metadata.uid))
        return None

    scheduler = DriftScheduler(run_pass, lambda b, s: 0.0, gate=gate.wait)
    scheduler.track("a", body("a"))
    task = asyncio.create_task(scheduler.run())
    for _ in range(20):
        await asyncio.sleep(0)
    assert ran == [], "a pass ran while the gate was closed"
    gate.set()
    for _ in range(200):
        if ran:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await scheduler.stop()
    assert ran[:1] == ["a"]


async def test_a_failing_pass_is_retried_and_does_not_stop_the_others() -> None:
    ran: list[str] = []
    both = asyncio.Event()

    async def run_pass(b: kopf.Body) -> float | None:
        ran.append(str(b.metadata.uid))
        if {"bad", "good"} <= set(ran):
            both.set()
        if b.metadata.uid == "bad":
            raise RuntimeError("boom")
        return None

    scheduler = DriftScheduler(run_pass, lambda b, s: 0.0 if s is None else 3600.0)
    scheduler.track("bad", body("bad"))
    scheduler.track("good", body("good"))
    task = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(both.wait(), 5)
    task.cancel()
    await scheduler.stop()


# --- kopf's record of the handled spec ---------------------------------------------------------------------


def test_the_record_rides_on_the_status_write_and_answers_stale_events() -> None:
    record = HandledRecord()
    essence = kopf.BodyEssence({"spec": {"a": 1}})
    obj = body("u1")
    assert record.fetch(body=obj) is None
    record.carried("u1", record.encode(essence))
    # An event of an earlier write, without the record in its status, is answered from memory...
    assert record.fetch(body=obj) == essence
    # ...and kopf's own write of the same record is skipped (it went with the pass's status).
    patch = kopf.Patch()
    record.store(body=obj, patch=patch, essence=essence)
    assert not patch
    # A different record is kopf's to write.
    other = kopf.BodyEssence({"spec": {"a": 2}})
    record.store(body=obj, patch=patch, essence=other)
    assert patch["status"]["lastHandledConfiguration"] == record.encode(other)
    record.forget("u1")
    assert record.fetch(body=obj) is None


# --- claims, directories, references -----------------------------------------------------------------------


def test_one_owner_per_sid_the_creator_first_then_the_oldest() -> None:
    claims = Claims()
    claims.indexes = [
        {ClaimKey("SK1"): [Claim("adopter-old", False, "2020-01-01T00:00:00Z")]},
        {ClaimKey("SK1"): [Claim("creator", True, "2024-01-01T00:00:00Z")]},
    ]
    assert claims.owner("SK1", Claim("adopter-new", False, "2023-01-01T00:00:00Z")) == "creator"
    assert claims.owner("SK2", Claim("alone", False, "2023-01-01T00:00:00Z")) == "alone"
    claims.indexes = [{ClaimKey("SK1"): [Claim("adopter-old", False, "2020-01-01T00:00:00Z")]}]
    assert claims.owner("SK1", Claim("adopter-new", False, "2023-01-01T00:00:00Z")) == "adopter-old"
    # A claimant's own (older) entry in the index is replaced by what it claims now.
    assert claims.owner("SK1", Claim("adopter-old", False, "2020-01-01T00:00:00Z")) == "adopter-old"


async def test_a_directory_wakes_its_waiters_when_the_object_changes() -> None:
    followed = Followed("", "v1", "things", lambda obj: str(obj.get("state")))
    directory: Directory[str] = Directory(followed)
    index: dict[Any, list[str]] = {}
    directory.index = index
    waiter = asyncio.create_task(directory.wait_for("ns", "t", lambda v: v == "ready", 5))
    await asyncio.sleep(0)
    index[NameKey("ns", "t")] = ["creating"]
    directory.changed("ns", "t")
    await asyncio.sleep(0)
    assert not waiter.done()
    index[NameKey("ns", "t")] = ["ready"]
    directory.changed("ns", "t")
    assert await asyncio.wait_for(waiter, 5) == "ready"
    assert await directory.wait_for("ns", "missing", lambda v: v is not None, 0.01) is None


def test_referrers_are_found_across_kinds() -> None:
    one, two = Referrer("svc-1", "AC1"), Referrer("key-2", None)
    keys = [
        {RefKey("twiliosubaccounts", "ns", "sub"): [one]},
        {RefKey("twiliosubaccounts", "ns", "sub"): [two]},
    ]
    assert referrers(keys, "twiliosubaccounts", "ns", "sub") == [one, two]
    assert referrers(keys, "twiliosubaccounts", "other", "sub") == []


# --- the peering gate's rule -------------------------------------------------------------------------------


ME = PeeringConfig("twilio-operator", "me", 100, ())
SECOND = datetime.timedelta(seconds=1)


# Peers as (priority, lifetime, seconds since last seen): their keep-alive times are made when the test runs,
# not when it is collected, so a long run (collection minutes before this test) does not age them.
@pytest.mark.parametrize(
    ("peers", "stands_by"),
    [
        # (identity, priority, lifetime, seconds since its keep-alive), timed when the test runs
        ([], False),
        ([("me", 100, 60, 0)], False),
        ([("low", 50, 60, 0)], False),
        ([("high", 200, 60, 0)], True),
        ([("same", 100, 60, 0)], True),
        ([("dead", 200, 10, 60)], False),
    ],
)
def test_a_replica_stands_by_while_a_live_peer_outranks_or_equals_it(
    peers: list[tuple[str, int, int, int]], stands_by: bool
) -> None:
    now = utcnow()
    status = {
        name: {"priority": priority, "lifetime": lifetime, "lastseen": rfc3339(now - age * SECOND)}
        for name, priority, lifetime, age in peers
    }
    wait = standing_by(status, ME, now)
    assert (wait is not None) == stands_by
    if wait is not None:
        assert 0 < wait <= 60


# --- time --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plain", "seconds"),
    [
        ("90s", False, 90),
        ("1h30m", False, 5400),
        ("30d", False, 30 * 86400),
        ("300", True, 300),
        ("300", False, None),
        ("abc", True, None),
        ("", True, None),
        ("1.5h", False, None),
    ],
)
def test_durations(text: str, plain: bool, seconds: int | None) -> None:
    parsed = parse_duration(text, plain_seconds=plain)
    assert (parsed.total_seconds() if parsed else None) == seconds


def test_times_round_trip_and_garbage_is_none() -> None:
    moment = utcnow().replace(microsecond=0)
    assert parse_time(rfc3339(moment)) == moment
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert all(0 <= backoff(n, 0.5, 30) <= min(30, 0.5 * 2**n) for n in range(10))


def test_the_create_record_is_sealed_for_its_object_and_sid() -> None:
    value = seal.seal("token", "uid-1", "AC1", "2026-01-01T00:00:00Z")
    assert seal.when(value) == "2026-01-01T00:00:00Z"
    assert seal.sealed("token", "uid-1", "AC1", value)
    assert not seal.sealed("token", "uid-2", "AC1", value), "another object's record"
    assert not seal.sealed("token", "uid-1", "AC2", value), "another SID"
    assert not seal.sealed("other-token", "uid-1", "AC1", value), "forged without the operator's key"
    assert not seal.sealed("token", "uid-1", "AC1", "2026-01-01T00:00:00Z"), "a bare time proves nothing"
