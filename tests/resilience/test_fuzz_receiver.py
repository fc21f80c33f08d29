"""Property-based fuzzing of the receiver's endpoints: whatever arrives, the answer is 2xx or 4xx, never a
5xx, and nothing is stored unless it was signed with the account's token.

Random forms (any names, values, encodings) for status, usage-trigger and archive callbacks, random headers
(signature, forwarding, content type), random JSON for Event Streams, and bodies that are not text at all,
each sent over a real HTTP connection to a receiver serving on loopback with an embedded store. The number
of examples goes to $CHAOS_RECEIVER_FUZZ_REPORT when set (`make chaos` reports it).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.receiver import signed_json
from twilio_operator.receiver import signature
from twilio_operator.receiver.app import Receiver
from twilio_operator.receiver.committer import Committer
from twilio_operator.receiver.directory import Directory
from twilio_operator.receiver.metrics import ReceiverMetrics
from twilio_operator.receiver.store import Store, open_store

ACCOUNT = "AC" + "1" * 32
TOKEN = "f" * 32
OTHER = "AC" + "2" * 32
EXAMPLES = int(os.environ.get("RECEIVER_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    max_examples=EXAMPLES,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
COUNT = {"examples": 0, "accepted": 0}


@dataclass
class Served:
    port: int
    loop: asyncio.AbstractEventLoop
    store: Store

    def counts(self) -> tuple[int, int]:
        return asyncio.run_coroutine_threadsafe(self.store.counts(), self.loop).result(30)

    def firings_and_days(self) -> tuple[int, int]:
        async def count() -> tuple[int, int]:
            return len(await self.store.usage_alerts(10_000)), len(await self.store.archive_days(10_000))

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A receiver on a real port, its event loop in a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    path = tmp_path_factory.mktemp("fuzz") / "receiver.db"

    async def start() -> tuple[Any, Store, Committer, int]:
        from aiohttp import web

        store = open_store(f"sqlite:///{path}")
        await store.start()
        directory = Directory()
        directory.replace_credentials([(ACCOUNT, TOKEN, "fuzz")])
        metrics = ReceiverMetrics(directory)
        committer = Committer(store, on_commit=metrics.committed)
        committer.start()
        receiver = Receiver(store, committer, directory, metrics, max_body=16 * 1024)
        receiver.store_started = True
        runner = web.AppRunner(receiver.application(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, store, committer, runner.addresses[0][1]

    runner, store, committer, port = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    yield Served(port, loop, store)

    async def stop() -> None:
        await runner.cleanup()
        await committer.stop()
        await store.close()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    print(f"\nreceiver fuzz: {json.dumps(COUNT)}")
    target = os.environ.get("CHAOS_RECEIVER_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps(COUNT))


def send(served: Served, path: str, body: bytes, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# -- strategies ---------------------------------------------------------------------------------------

text = st.text(max_size=40)
sids = st.one_of(
    st.just(ACCOUNT),
    st.just(OTHER),
    st.from_regex(r"\A(AC|SM|MM|MG)[0-9a-f]{32}\Z"),
    text,
)
known_fields = st.fixed_dictionaries(
    {},
    optional={
        "AccountSid": sids,
        "MessageSid": st.one_of(st.from_regex(r"\ASM[0-9a-f]{32}\Z"), text),
        "MessageStatus": st.one_of(st.sampled_from(["queued", "sent", "delivered", "failed", "READ"]), text),
        "ErrorCode": st.one_of(st.sampled_from(["30003", "0", "", "-1", "99999999999"]), text),
        "MessagingServiceSid": sids,
    },
)
# Well-formed callbacks too, with fields Twilio may add: the signed path is exercised as well as refusals.
well_formed = st.fixed_dictionaries(
    {
        "AccountSid": st.just(ACCOUNT),
        "MessageSid": st.from_regex(r"\ASM[0-9a-f]{32}\Z"),
        "MessageStatus": st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read"]),
    },
    optional={"ErrorCode": st.sampled_from(["30003", "30007"]), "To": text, "Body": text},
)
extras = st.dictionaries(text.filter(lambda k: k not in ("AccountSid", "MessageSid")), text, max_size=6)
forms = st.one_of(
    st.tuples(well_formed, extras).map(lambda pair: {**pair[1], **pair[0]}),
    st.tuples(known_fields, st.dictionaries(text, text, max_size=6)).map(lambda pair: {**pair[1], **pair[0]}),
)
header_values = st.one_of(text, st.sampled_from(["", "https", "http", "hooks.example.com", "a,b", "::1"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
cloud_events = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.one_of(text, st.integers()),
            "type": st.one_of(st.just("com.twilio.messaging.message.sent"), text),
        },
        optional={
            "data": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"accountSid": sids, "messageSid": sids},
                    optional={"messageStatus": text, "errorCode": st.one_of(st.integers(), text)},
                ),
            )
        },
    ),
    max_size=4,
)


@st.composite
def status_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str], bool]:
    """A form request, how it is signed, and whether that signature is the account's over its URL."""
    params = draw(forms)
    body = urllib.parse.urlencode(params).encode()
    if draw(st.integers(0, 3)) == 0:
        body = draw(st.one_of(st.binary(max_size=300), st.just(body + b"&%ZZ"), st.just(b"x" * 20_000)))
    form = "application/x-www-form-urlencoded"
    headers = {"Content-Type": draw(st.sampled_from([form, form, form, "text/plain", ""]))}
    for name in ("X-Forwarded-Proto", "X-Forwarded-Host"):
        if draw(st.booleans()):
            headers[name] = draw(header_values)
    how = draw(st.sampled_from(["none", "garbage", "other-token", "signed", "signed"]))
    url = "http://127.0.0.1/twilio/status"
    if how == "garbage":
        headers["X-Twilio-Signature"] = draw(header_values)
    elif how == "other-token":
        headers["X-Twilio-Signature"] = signature.compute("0" * 32, url, params.items())
    elif how == "signed":
        headers["X-Twilio-Signature"] = signature.compute(TOKEN, url, params.items())
        headers.pop("X-Forwarded-Proto", None)
        headers.pop("X-Forwarded-Host", None)
        headers["Host"] = "127.0.0.1"
    genuine = (
        how == "signed"
        and body == urllib.parse.urlencode(params).encode()
        and params.get("AccountSid") == ACCOUNT
        and headers["Content-Type"] == form
    )
    return body, {k: v for k, v in headers.items() if _sendable(v)}, genuine


def _sendable(value: str) -> bool:
    return all(32 <= ord(c) < 127 for c in value)


@given(request=status_requests())
@settings(FUZZ)
def test_status_endpoint_answers_2xx_or_4xx_and_stores_only_what_is_signed(
    served: Served, request: tuple[bytes, dict[str, str], bool]
) -> None:
    COUNT["examples"] += 1
    body, headers, genuine = request
    before = served.counts()
    status = send(served, "/twilio/status", body, headers)
    assert 200 <= status < 500, status
    COUNT["accepted"] += status < 300
    after = served.counts()
    if not genuine:
        assert status >= 400 and after == before, (
            "stored a request that was not signed with the account's token"
        )


@given(
    events=st.one_of(cloud_events, json_values), how=st.sampled_from(["none", "garbage", "no-hash", "signed"])
)
@settings(FUZZ)
def test_events_endpoint_answers_2xx_or_4xx_and_stores_only_what_is_signed(
    served: Served, events: Any, how: str
) -> None:
    COUNT["examples"] += 1
    url, body, headers = signed_json(TOKEN, "http://127.0.0.1/twilio/events", events)
    headers["Host"] = "127.0.0.1"
    path = url.removeprefix("http://127.0.0.1")
    if how == "none":
        del headers["X-Twilio-Signature"]
    elif how == "garbage":
        headers["X-Twilio-Signature"] = "AAAA"
    elif how == "no-hash":
        path = "/twilio/events"
    before = served.counts()
    status = send(served, path, body, headers)
    assert 200 <= status < 500, status
    COUNT["accepted"] += status < 300
    if how != "signed":
        assert status >= 400 and served.counts() == before


numbers = st.one_of(
    st.floats().map(str), st.integers().map(str), st.sampled_from(["1e400", "-0", "nan", "0x10"]), text
)
usage_and_archive_fields = st.fixed_dictionaries(
    {"AccountSid": st.one_of(st.just(ACCOUNT), sids)},
    optional={
        "UsageTriggerSid": st.one_of(st.from_regex(r"\AUT[0-9a-f]{32}\Z"), text),
        "DateFired": st.one_of(
            st.sampled_from(
                [
                    "Sat, 31 Jan 2026 12:00:00 +0000",
                    "Sat, 31 Jan 2026 12:00:00 -0000",
                    "Mon, 31 Dec 99999 25:61:61 +9999",
                    "31 Jan 1 00:00:00 GMT",
                ]
            ),
            text,
        ),
        "UsageCategory": st.one_of(st.sampled_from(["sms", "totalprice", "SMS", ""]), text),
        "TriggerBy": st.one_of(st.sampled_from(["count", "usage", "price"]), text),
        "TriggerValue": numbers,
        "CurrentValue": numbers,
        "Recurring": st.one_of(st.sampled_from(["monthly", ""]), text),
        "ResourceType": st.one_of(st.just("Messages"), text),
        "Day": st.one_of(st.sampled_from(["2026-01-31", "2026-02-30", "0000-01-01", "99999-01-01"]), text),
        "Size": numbers,
    },
)

# Complete firings and notifications too, so the signed path that stores is exercised as well as refusals.
finite = st.floats(allow_nan=False, allow_infinity=False).map(str)
well_formed_usage = st.fixed_dictionaries(
    {
        "AccountSid": st.just(ACCOUNT),
        "UsageTriggerSid": st.from_regex(r"\AUT[0-9a-f]{32}\Z"),
        "DateFired": st.datetimes(timezones=st.just(UTC)).map(
            lambda d: d.strftime("%a, %d %b %Y %H:%M:%S +0000")
        ),
        "UsageCategory": st.sampled_from(["sms", "totalprice", "calls-inbound-tollfree"]),
        "TriggerBy": st.sampled_from(["count", "usage", "price"]),
        "TriggerValue": finite,
        "CurrentValue": finite,
        "Recurring": st.sampled_from(["daily", "monthly", "yearly", "alltime", ""]),
    }
)
well_formed_archive = st.fixed_dictionaries(
    {
        "AccountSid": st.just(ACCOUNT),
        "ResourceType": st.just("Messages"),
        "Day": st.dates().map(lambda d: d.isoformat()),
        "Size": st.integers(0, 10**12).map(str),
    }
)
usage_and_archive_forms = st.one_of(
    usage_and_archive_fields,
    *(
        st.tuples(complete, extras).map(lambda pair: {**pair[1], **pair[0]})
        for complete in (well_formed_usage, well_formed_archive)
    ),
)


@given(
    params=usage_and_archive_forms,
    path=st.sampled_from(["/twilio/usage?alert=budget", "/twilio/usage", "/twilio/archives"]),
    signed=st.booleans(),
)
@settings(FUZZ)
def test_usage_and_archive_endpoints_answer_2xx_or_4xx_and_store_only_what_is_signed(
    served: Served, params: dict[str, str], path: str, signed: bool
) -> None:
    COUNT["examples"] += 1
    token = TOKEN if signed else "0" * 32
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Host": "127.0.0.1",
        "X-Twilio-Signature": signature.compute(token, f"http://127.0.0.1{path}", params.items()),
    }
    before = served.firings_and_days()
    status = send(served, path, urllib.parse.urlencode(params).encode(), headers)
    assert 200 <= status < 500, status
    COUNT["accepted"] += status < 300
    if not signed:
        assert status >= 400 and served.firings_and_days() == before
