"""twilio_operator.twilio.http: URL rewriting, Host header, real timeouts, no retries."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.twilio.http import BaseUrlAsyncHttpClient, BaseUrlHttpClient, rewrite_url

from .conftest import Api, made


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts.json?PageSize=2",
            "http://127.0.0.1:8080",
            ("http://127.0.0.1:8080/2010-04-01/Accounts.json?PageSize=2", "api.twilio.com"),
        ),
        (
            "https://messaging.twilio.com/v1/Services?PageSize=2&Page=1&PageToken=PAMGx",
            "http://emu:9/",
            ("http://emu:9/v1/Services?PageSize=2&Page=1&PageToken=PAMGx", "messaging.twilio.com"),
        ),
        (
            "https://iam.twilio.com/v1/Keys/SKx",
            "https://proxy.example.com/twilio",
            ("https://proxy.example.com/twilio/v1/Keys/SKx", "iam.twilio.com"),
        ),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts.json",
            "http://127.0.0.1:1",
            ("http://127.0.0.1:1/2010-04-01/Accounts.json", "api.dublin.ie1.twilio.com"),
        ),
    ],
)
def test_rewrite_url(url: str, base: str, expected: tuple[str, str]) -> None:
    assert rewrite_url(url, base) == expected


async def test_regional_hosts_reach_the_right_product(emulator: TwilioEmulator) -> None:
    http = BaseUrlAsyncHttpClient(emulator.url)
    try:
        client = Client(
            emulator.parent_sid, emulator.parent_token, http_client=http, edge="dublin", region="ie1"
        )
        await client.messaging.v1.services.create_async(friendly_name="eu")
        assert [s.friendly_name for s in made(await client.messaging.v1.services.list_async())] == ["eu"]
    finally:
        await http.close()


async def test_async_client_enforces_its_timeout(emulator: TwilioEmulator, api: Api) -> None:
    await api.control("POST", "faults", {"operation": "ListAccount", "kind": "hang"})
    http = BaseUrlAsyncHttpClient(emulator.url, timeout=0.3)
    try:
        client = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
        started = time.monotonic()
        with pytest.raises((asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            await client.api.v2010.accounts.list_async()
        assert time.monotonic() - started < 2
        with pytest.raises(ValueError):
            await http.request("GET", "https://api.twilio.com/2010-04-01/Accounts.json", timeout=0)
    finally:
        await http.close()


async def test_sync_client_enforces_its_timeout(emulator: TwilioEmulator, api: Api) -> None:
    await api.control("POST", "faults", {"operation": "ListAccount", "kind": "hang"})
    client = Client(
        emulator.parent_sid, emulator.parent_token, http_client=BaseUrlHttpClient(emulator.url, timeout=0.3)
    )
    with pytest.raises(requests.exceptions.Timeout):
        await asyncio.to_thread(client.api.v2010.accounts.list)


async def test_neither_client_retries(emulator: TwilioEmulator, api: Api) -> None:
    await api.control("POST", "faults", {"operation": "CreateAccount", "kind": "status", "status": 503})
    http = BaseUrlAsyncHttpClient(emulator.url)
    try:
        async_client = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
        with pytest.raises(TwilioRestException) as failed:
            await async_client.api.v2010.accounts.create_async(friendly_name="x")
        assert (failed.value.status, failed.value.code) == (503, 20503)
    finally:
        await http.close()
    sync_client = Client(
        emulator.parent_sid, emulator.parent_token, http_client=BaseUrlHttpClient(emulator.url)
    )
    with pytest.raises(TwilioRestException):
        await asyncio.to_thread(sync_client.api.v2010.accounts.create, friendly_name="x")
    assert [r["operation"] for r in emulator.requests()] == ["CreateAccount", "CreateAccount"]


async def test_host_header_carries_the_original_host(emulator: TwilioEmulator) -> None:
    client = Client(emulator.parent_sid, emulator.parent_token, http_client=BaseUrlHttpClient(emulator.url))

    def calls() -> None:
        client.api.v2010.accounts.list()
        client.messaging.v1.services.list()
        client.iam.v1.get_api_keys.list(account_sid=emulator.parent_sid)

    await asyncio.to_thread(calls)
    assert [r["host"] for r in emulator.requests()] == [
        "api.twilio.com",
        "messaging.twilio.com",
        "iam.twilio.com",
    ]
