"""An in-process Twilio emulator per test, a raw HTTP client for it, and helpers that build accounts."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from twilio_operator.sandbox.twilio import TwilioEmulator

HOSTS = {
    "api": "api.twilio.com",
    "messaging": "messaging.twilio.com",
    "iam": "iam.twilio.com",
    "events": "events.twilio.com",
    "bulkexports": "bulkexports.twilio.com",
}
FAST = 0.05  # messages settle in a few hundred milliseconds


# Twilio makes this service in every account; tests about the services they make leave it out.
DEFAULT_SERVICE = "[Auto-generated] Default Messaging Service"


def made(services: list[Any]) -> list[Any]:
    """Services (JSON objects or SDK instances) without each account's auto-generated one."""
    return [
        s
        for s in services
        if (s.get("friendly_name") if isinstance(s, dict) else s.friendly_name) != DEFAULT_SERVICE
    ]


@dataclass(frozen=True)
class Creds:
    username: str
    password: str

    def header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


class Api:
    """Raw HTTP against the emulator: every call names the Twilio host it means, as a Host header."""

    def __init__(self, session: aiohttp.ClientSession, emulator: TwilioEmulator) -> None:
        self.session = session
        self.emulator = emulator
        self.parent = Creds(emulator.parent_sid, emulator.parent_token)

    async def call(
        self,
        method: str,
        host: str,
        path: str,
        creds: Creds | None = None,
        *,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        give_up_after: float | None = None,
    ) -> Answer:
        sent = {"Host": HOSTS.get(host, host), **(headers or {})}
        if creds is not None:
            sent["Authorization"] = creds.header()
        client_timeout = aiohttp.ClientTimeout(total=give_up_after) if give_up_after is not None else None
        async with self.session.request(
            method,
            self.emulator.url + path,
            data=data,
            params=params,
            headers=sent,
            timeout=client_timeout,
        ) as response:
            text = await response.text()
            return Answer(response.status, json.loads(text) if text else None, response.headers)

    # -- conveniences used across the test modules ----------------------------------------------------------

    async def subaccount(self, name: str = "tenant") -> dict[str, Any]:
        answer = await self.call(
            "POST", "api", "/2010-04-01/Accounts.json", self.parent, data={"FriendlyName": name}
        )
        assert answer.status == 201, answer.body
        body: dict[str, Any] = answer.body
        return body

    async def sub_creds(self, name: str = "tenant") -> Creds:
        sub = await self.subaccount(name)
        return Creds(sub["sid"], sub["auth_token"])

    async def key(self, account_sid: str, creds: Creds | None = None, name: str = "k") -> dict[str, Any]:
        answer = await self.call(
            "POST",
            "api",
            f"/2010-04-01/Accounts/{account_sid}/Keys.json",
            creds or self.parent,
            data={"FriendlyName": name},
        )
        assert answer.status == 201, answer.body
        body: dict[str, Any] = answer.body
        return body

    async def service(self, creds: Creds, name: str = "svc", **fields: str) -> dict[str, Any]:
        answer = await self.call(
            "POST", "messaging", "/v1/Services", creds, data={"FriendlyName": name, **fields}
        )
        assert answer.status == 201, answer.body
        body: dict[str, Any] = answer.body
        return body

    async def control(self, method: str, path: str, body: Any = None) -> Answer:
        async with self.session.request(
            method, f"{self.emulator.url}/__sandbox/{path}", json=body
        ) as response:
            text = await response.text()
            return Answer(response.status, json.loads(text) if text else None, response.headers)

    async def buy_number(self, account_sid: str, number: str, **extra: Any) -> str:
        answer = await self.control(
            "POST", f"accounts/{account_sid}/incoming-phone-numbers", {"phone_number": number, **extra}
        )
        assert answer.status == 201, answer.body
        sid: str = answer.body["sid"]
        return sid

    async def lease_short_code(self, account_sid: str, digits: str) -> str:
        answer = await self.control("POST", f"accounts/{account_sid}/short-codes", {"short_code": digits})
        assert answer.status == 201, answer.body
        sid: str = answer.body["sid"]
        return sid

    def violations(self, kind: str = "request") -> list[dict[str, Any]]:
        return [v for v in self.emulator.violations() if v["kind"] == kind]


@pytest.fixture
async def emulator() -> AsyncIterator[TwilioEmulator]:
    emulator = TwilioEmulator(seed=7)
    # Every response any test provokes is checked against the spec's response schema.
    emulator.core.settings.check_responses = True
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
    problems = [v for v in emulator.violations() if v["kind"] == "response"]
    assert problems == [], f"responses that break Twilio's OpenAPI spec: {problems}"


@pytest.fixture
async def api(emulator: TwilioEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, emulator)


@dataclass
class Collector:
    """A stand-in receiver on loopback that records what reaches it and answers ``status``."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    found = Collector()

    async def record(request: web.Request) -> web.Response:
        form = await request.post()
        found.received.append(
            {
                "path": request.path_qs,
                "params": {k: str(v) for k, v in form.items()},
                "signature": request.headers.get("X-Twilio-Signature", ""),
                "forwarded": (
                    request.headers.get("X-Forwarded-Proto"),
                    request.headers.get("X-Forwarded-Host"),
                ),
            }
        )
        return web.Response(status=found.status)

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    found.url = f"http://{host}:{port}"
    yield found
    await runner.cleanup()


async def setup_service(
    api: Api, callback: str, number: str = "+14155550100"
) -> tuple[Creds, dict[str, Any]]:
    sub = await api.sub_creds()
    service = await api.service(sub, StatusCallback=callback)
    pn = await api.buy_number(sub.username, number)
    answer = await api.call(
        "POST", "messaging", f"/v1/Services/{service['sid']}/PhoneNumbers", sub, data={"PhoneNumberSid": pn}
    )
    assert answer.status == 201
    return sub, service


async def send(api: Api, sub: Creds, service: dict[str, Any], **extra: str) -> dict[str, Any]:
    answer = await api.call(
        "POST",
        "api",
        f"/2010-04-01/Accounts/{sub.username}/Messages.json",
        sub,
        data={"To": "+14155550199", "MessagingServiceSid": service["sid"], "Body": "hello", **extra},
    )
    assert answer.status == 201, answer.body
    body: dict[str, Any] = answer.body
    return body


async def settled(api: Api) -> list[dict[str, Any]]:
    """Wait until every message is final and no callback is still on its way."""
    deadline = time.monotonic() + 20.0
    while True:
        state = (await api.control("GET", "messages")).body
        if all(m["settled"] for m in state["messages"]) and state["callbacks_in_flight"] == 0:
            messages: list[dict[str, Any]] = state["messages"]
            return messages
        assert time.monotonic() < deadline, "messages did not settle"
        await asyncio.sleep(0.05)
