"""The gateway against an in-process Twilio emulator: credentials of subaccounts are fetched once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.settings import Settings
from twilio_operator.twilio.gateway import TwilioGateway


@pytest.fixture
async def emulator() -> AsyncIterator[TwilioEmulator]:
    # Some latency, so concurrent callers really overlap.
    emulator = TwilioEmulator(seed=3, latency=0.05)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


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
