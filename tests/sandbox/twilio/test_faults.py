"""Fault injection, added latency and the per-account concurrency limit."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.sandbox.twilio.faults import FaultRegistry

from .conftest import Api, made

ACCOUNTS = "/2010-04-01/Accounts.json"


async def _subaccount_count(api: Api) -> int:
    return len((await api.control("GET", "state")).body["accounts"]) - 1


async def test_status_fault_answers_without_processing(api: Api) -> None:
    added = await api.control(
        "POST",
        "faults",
        {"operation": "CreateAccount", "kind": "status", "status": 429, "retry_after": 2, "times": 1},
    )
    assert added.status == 201 and isinstance(added.body["id"], int)
    throttled = await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "x"})
    assert throttled.status == 429
    assert throttled.body == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert throttled.headers["Retry-After"] == "2"
    assert await _subaccount_count(api) == 0
    # times=1: the fault is spent, the retry goes through.
    assert (await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "x"})).status == 201
    assert (await api.control("GET", "faults")).body["faults"] == []


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503)])
async def test_server_error_faults(api: Api, status: int, code: int) -> None:
    await api.control(
        "POST", "faults", {"method": "GET", "path_regex": "/v1/Services$", "kind": "status", "status": status}
    )
    answer = await api.call("GET", "messaging", "/v1/Services", api.parent)
    assert (answer.status, answer.code) == (status, code)
    # Only matching requests fail: another path is untouched.
    assert (await api.call("GET", "api", ACCOUNTS, api.parent)).status == 200
    logged = api.emulator.requests()
    assert [(r["operation"], r["status"], r.get("fault")) for r in logged] == [
        ("ListService", status, "status"),
        ("ListAccount", 200, None),
    ]


async def test_latency_fault_delays_then_serves(api: Api) -> None:
    await api.control("POST", "faults", {"operation": "ListAccount", "kind": "latency", "latency": 0.3})
    started = time.monotonic()
    answer = await api.call("GET", "api", ACCOUNTS, api.parent)
    assert answer.status == 200
    assert time.monotonic() - started >= 0.3


async def test_hang_never_answers_and_processes_nothing(api: Api) -> None:
    await api.control("POST", "faults", {"operation": "CreateAccount", "kind": "hang"})
    with pytest.raises(asyncio.TimeoutError):
        await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "x"}, give_up_after=0.3)
    assert await _subaccount_count(api) == 0
    [entry] = api.emulator.requests()
    assert (entry["operation"], entry["status"], entry["fault"]) == ("CreateAccount", None, "hang")


async def test_commit_then_hang_writes_then_never_answers(api: Api) -> None:
    await api.control(
        "POST", "faults", {"operation": "CreateAccount", "kind": "commit_then_hang", "times": 1}
    )
    with pytest.raises(asyncio.TimeoutError):
        await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "leaky"}, give_up_after=0.5)
    state = (await api.control("GET", "state")).body
    assert [a["friendly_name"] for a in state["accounts"][1:]] == ["leaky"]
    [entry] = api.emulator.requests()
    assert (entry["status"], entry["fault"], entry["write"]) == (201, "commit_then_hang", True)


async def test_stop_releases_hung_requests_promptly() -> None:
    emulator = TwilioEmulator()
    await emulator.start()
    emulator.core.faults.add({"kind": "hang"})
    async with aiohttp.ClientSession() as session:
        pending = asyncio.ensure_future(session.get(f"{emulator.url}/2010-04-01/Accounts.json"))
        await emulator.core.log.wait_beyond(0, 5)
        started = time.monotonic()
        await emulator.stop()
        assert time.monotonic() - started < 2
        [outcome] = await asyncio.gather(pending, return_exceptions=True)
    # The held request ends with the server: an error answer or a dropped connection, never a success.
    assert isinstance(outcome, aiohttp.ClientError) or outcome.status == 503


async def test_probability_is_seeded_and_faults_can_be_cleared(api: Api) -> None:
    spec = {"kind": "status", "status": 503, "probability": 0.5, "seed": 42, "operation": "ListAccount"}
    await api.control("POST", "faults", spec)
    outcomes = [(await api.call("GET", "api", ACCOUNTS, api.parent)).status for _ in range(20)]
    assert set(outcomes) == {200, 503}
    # The same seed gives the same sequence of hits.
    registry = FaultRegistry()
    registry.add(spec)
    again = [503 if registry.match("ListAccount", "GET", ACCOUNTS) else 200 for _ in range(20)]
    assert again == outcomes
    listed = (await api.control("GET", "faults")).body["faults"]
    assert listed[0]["fired"] == outcomes.count(503)
    await api.control("DELETE", "faults")
    assert all([(await api.call("GET", "api", ACCOUNTS, api.parent)).status == 200 for _ in range(5)])


async def test_invalid_fault_specs_are_refused(api: Api) -> None:
    for spec in (
        {"kind": "explode"},
        {"kind": "status", "status": 404},
        {"kind": "latency", "probability": 2},
        {"kind": "hang", "times": 0},
        {"kind": "hang", "path_regex": "("},
    ):
        answer = await api.control("POST", "faults", spec)
        assert answer.status == 400, spec
        assert "error" in answer.body


async def test_no_fault_matching_without_faults(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("fault matching ran with no faults registered")

    monkeypatch.setattr(api.emulator.core.faults, "match", refuse)
    assert (await api.call("GET", "api", ACCOUNTS, api.parent)).status == 200


async def test_configured_latency_applies_to_every_call(api: Api) -> None:
    config = await api.control("POST", "config", {"latency": 0.2})
    assert config.body["latency"] == 0.2
    started = time.monotonic()
    await api.call("GET", "messaging", "/v1/Services", api.parent)
    assert time.monotonic() - started >= 0.2
    await api.control("POST", "config", {"latency": 0})
    started = time.monotonic()
    await api.call("GET", "messaging", "/v1/Services", api.parent)
    assert time.monotonic() - started < 0.2


async def test_concurrency_limit_rejects_excess_requests_unprocessed(api: Api) -> None:
    other = await api.sub_creds("other")
    await api.control("POST", "config", {"latency": 0.4, "concurrency_limit": 1})

    async def create(name: str) -> tuple[int, int | None, float]:
        started = time.monotonic()
        answer = await api.call("POST", "messaging", "/v1/Services", api.parent, data={"FriendlyName": name})
        return answer.status, answer.code, time.monotonic() - started

    results, elsewhere = await asyncio.gather(
        asyncio.gather(*(create(f"s{i}") for i in range(3))),
        api.call("GET", "messaging", "/v1/Services", other),
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201, 429, 429]
    assert all(code == 20429 and took < 0.3 for status, code, took in results if status == 429)
    assert elsewhere.status == 200  # the limit is per account
    await api.control("POST", "config", {"latency": 0, "concurrency_limit": None})
    services = await api.call("GET", "messaging", "/v1/Services", api.parent)
    assert len(made(services.body["services"])) == 1
