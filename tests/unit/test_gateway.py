"""The gateway against an in-process Twilio emulator: credentials of subaccounts are fetched once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.settings import Settings
from twilio_operator.twilio.errors import NotFound
from twilio_operator.twilio.gateway import TwilioGateway
from twilio_operator.twilio.keys import DesiredKey, Keys
from twilio_operator.twilio.services import DesiredSenders, DesiredService, Services


@pytest.fixture
async def emulator() -> AsyncIterator[TwilioEmulator]:
    # Some latency, so concurrent callers really overlap.
    emulator = TwilioEmulator(seed=3, latency=0.05)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
    assert emulator.violations() == [], "requests Twilio's OpenAPI spec rejects"


async def test_concurrent_callers_of_one_subaccount_share_a_single_token_fetch(
    emulator: TwilioEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emulator.parent_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emulator.parent_token)
    monkeypatch.setenv("TWILIO_API_BASE_URL", emulator.url)
    gateway = TwilioGateway(Settings())
    try:
        subs = [
            await gateway.parent().api.v2010.accounts.create_async(friendly_name=f"t{i}") for i in range(2)
        ]
        seq = emulator.core.log.last_seq
        clients = await asyncio.gather(*(gateway.account_client(s.sid) for s in subs for _ in range(20)))
        fetches = [e for e in emulator.core.log.since(seq) if e["operation"] == "FetchAccount"]
        assert sorted(e["path"] for e in fetches) == sorted(
            f"/2010-04-01/Accounts/{s.sid}.json" for s in subs
        )
        assert {c.username for c in clients} == {s.sid for s in subs}
        # And a waiter that gives up does not cancel the fetch the others share.
        gateway.forget_token(subs[0].sid)
        waiter = asyncio.ensure_future(gateway.account_client(subs[0].sid))
        await asyncio.sleep(0)
        other = asyncio.ensure_future(gateway.account_client(subs[0].sid))
        waiter.cancel()
        assert (await other).username == subs[0].sid
    finally:
        await gateway.close()


@pytest.fixture
async def gateway(emulator: TwilioEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TwilioGateway]:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emulator.parent_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emulator.parent_token)
    monkeypatch.setenv("TWILIO_API_BASE_URL", emulator.url)
    monkeypatch.setenv("TWILIO_OPERATOR_READ_CACHE", "60")
    gateway = TwilioGateway(Settings())
    try:
        yield gateway
    finally:
        await gateway.close()


def operations(emulator: TwilioEmulator, seq: int) -> list[str]:
    return [e["operation"] for e in emulator.core.log.since(seq)]


async def test_drift_checks_of_one_account_share_a_list_until_the_next_write(
    emulator: TwilioEmulator, gateway: TwilioGateway
) -> None:
    sub = await gateway.parent().api.v2010.accounts.create_async(friendly_name="t")
    keys = Keys(gateway, sub.sid, "Standard")
    made = [await keys.create(DesiredKey(sub.sid, f"k{i}", "Standard", None, "s")) for i in range(3)]

    seq = emulator.core.log.last_seq
    seen = [await keys.observe(k.sid, steady=True) for k in made]
    assert [o.data["friendly_name"] for o in seen] == ["k0", "k1", "k2"]
    assert operations(emulator, seq) == ["ListKey"]

    # A pass asked to do something reads afresh.
    seq = emulator.core.log.last_seq
    await keys.observe(made[0].sid)
    assert operations(emulator, seq) == ["FetchKey"]

    # Any write in the account retires the list: what it says may have changed.
    await keys.update(DesiredKey(sub.sid, "renamed", "Standard", None, "s"), seen[0], ["friendlyName"])
    seq = emulator.core.log.last_seq
    assert (await keys.observe(made[0].sid, steady=True)).data["friendly_name"] == "renamed"
    assert operations(emulator, seq) == ["ListKey"]

    # Not in the list (gone, or created since): the fetch decides.
    await keys.delete(made[1].sid)
    seq = emulator.core.log.last_seq
    with pytest.raises(NotFound):
        await keys.observe(made[1].sid, steady=True)
    assert operations(emulator, seq) == ["ListKey", "FetchKey"]


async def test_a_list_that_overlaps_a_write_is_not_reused(
    emulator: TwilioEmulator, gateway: TwilioGateway
) -> None:
    sub = await gateway.parent().api.v2010.accounts.create_async(friendly_name="t")
    keys = Keys(gateway, sub.sid, "Standard")
    key = await keys.create(DesiredKey(sub.sid, "k", "Standard", None, "s"))
    await asyncio.gather(
        keys.observe(key.sid, steady=True),
        keys.update(DesiredKey(sub.sid, "renamed", "Standard", None, "s"), key, ["friendlyName"]),
    )
    seq = emulator.core.log.last_seq
    assert (await keys.observe(key.sid, steady=True)).data["friendly_name"] == "renamed"
    assert operations(emulator, seq) == ["ListKey"]


async def test_a_listed_service_reads_exactly_like_a_fetched_one(
    emulator: TwilioEmulator, gateway: TwilioGateway
) -> None:
    sub = await gateway.parent().api.v2010.accounts.create_async(friendly_name="t")
    gateway.remember_token(sub.sid, sub.auth_token)
    services = Services(gateway, sub.sid)
    settings = {
        "usecase": "marketing",
        "inbound_request_url": "https://x.example/sms",
        "validity_period": 600,
    }
    senders = DesiredSenders(None, None, None)
    made = await services.create(DesiredService(sub.sid, "svc", settings, senders))
    assert await services.observe(made.sid, steady=True) == await services.observe(made.sid)
