"""Usage: records computed from the messages sent, triggers that fire signed callbacks, message archives."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from twilio.rest import Client

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.sandbox.twilio.usage import ARCHIVE_HOST, SMS_PRICE
from twilio_operator.twilio.http import BaseUrlAsyncHttpClient

from .conftest import FAST, Api, Collector, Creds, send, settled, setup_service


@pytest.fixture
async def http(emulator: TwilioEmulator) -> AsyncIterator[BaseUrlAsyncHttpClient]:
    client = BaseUrlAsyncHttpClient(emulator.url, timeout=5.0)
    try:
        yield client
    finally:
        await client.close()


async def _sent_count(api: Api, account: str) -> int:
    messages = (await api.control("GET", "messages")).body["messages"]
    return sum(1 for m in messages if m["account_sid"] == account and m["final_status"] != "failed")


async def _until(check: object, what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_this_month_counts_and_prices_the_messages_sent(
    api: Api, collector: Collector, emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient
) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    other, other_service = await setup_service(api, f"{collector.url}/twilio/status", "+14155550101")
    for _ in range(12):
        await send(api, sub, service)
    await send(api, other, other_service)
    await settled(api)
    sent = await _sent_count(api, sub.username)
    assert sent > 0
    # The parent reads a subaccount's records by path (2010 API), one call for every category.
    parent = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
    records = await parent.api.v2010.accounts(sub.username).usage.records.this_month.list_async(
        include_subaccounts=False, page_size=1000
    )
    by_category = {r.category: r for r in records}
    assert by_category["sms"].count == str(sent) and by_category["sms-outbound"].usage == str(sent)
    assert float(by_category["sms"].price) == pytest.approx(sent * SMS_PRICE)
    assert float(by_category["totalprice"].price) == pytest.approx(sent * SMS_PRICE)
    assert by_category["sms"].price_unit == "usd" and by_category["mms"].count == "0"
    assert {r.account_sid for r in records} == {sub.username}
    only = await parent.api.v2010.accounts(sub.username).usage.records.this_month.list_async(
        category="totalprice"
    )
    assert [r.category for r in only] == ["totalprice"]
    assert api.violations() == []


async def test_a_trigger_fires_once_with_a_signed_callback_when_usage_reaches_it(
    api: Api, collector: Collector, emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient
) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    client = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
    triggers = client.api.v2010.accounts(sub.username).usage.triggers
    hook = f"{collector.url}/twilio/usage"
    trigger = await triggers.create_async(
        callback_url=hook,
        trigger_value="3",
        usage_category="sms",
        trigger_by="count",
        recurring="monthly",
        friendly_name="three",
    )
    never = await triggers.create_async(
        callback_url=hook, trigger_value="1000", usage_category="totalprice", trigger_by="price"
    )
    assert trigger.sid.startswith("UT") and trigger.date_fired is None and trigger.recurring == "monthly"
    for _ in range(10):
        await send(api, sub, service)
    await settled(api)

    def fired() -> list[dict[str, str]]:
        return [r["params"] for r in collector.received if r["path"] == "/twilio/usage"]

    async def arrived() -> bool:
        return len(fired()) >= 1

    await _until(arrived, "the trigger's callback never came")
    # Once per recurring period, however much more is sent.
    for _ in range(3):
        await send(api, sub, service)
    await settled(api)
    assert len(fired()) == 1
    (params,) = fired()
    assert params["UsageTriggerSid"] == trigger.sid and params["AccountSid"] == sub.username
    assert (params["UsageCategory"], params["TriggerBy"], params["TriggerValue"]) == ("sms", "count", "3")
    assert params["Recurring"] == "monthly" and int(params["CurrentValue"]) >= 3
    assert params["IdempotencyToken"].startswith(trigger.sid)
    item = next(r for r in collector.received if r["path"] == "/twilio/usage")
    from twilio.request_validator import RequestValidator

    assert RequestValidator(sub.password).validate(hook, item["params"], item["signature"])
    now = await triggers(trigger.sid).fetch_async()
    assert now.date_fired is not None and float(now.current_value) >= 3
    assert (await triggers(never.sid).fetch_async()).date_fired is None
    # Only the callback and the name change in place.
    renamed = await triggers(trigger.sid).update_async(friendly_name="renamed", callback_url=hook + "?v=2")
    assert (renamed.friendly_name, renamed.callback_url) == ("renamed", hook + "?v=2")
    assert [t.sid for t in await triggers.list_async(usage_category="totalprice")] == [never.sid]
    assert await triggers(never.sid).delete_async() is True
    assert [t.sid for t in await triggers.list_async()] == [trigger.sid]
    assert api.violations() == []


async def test_an_offset_trigger_value_counts_from_the_usage_now(
    api: Api, collector: Collector, emulator: TwilioEmulator
) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    for _ in range(4):
        await send(api, sub, service)
    await settled(api)
    sent = await _sent_count(api, sub.username)
    answer = await api.call(
        "POST",
        "api",
        f"/2010-04-01/Accounts/{sub.username}/Usage/Triggers.json",
        api.parent,
        data={
            "CallbackUrl": f"{collector.url}/twilio/usage",
            "TriggerValue": "+30",
            "UsageCategory": "sms",
            "TriggerBy": "count",
        },
    )
    assert answer.status == 201 and answer.body["trigger_value"] == str(sent + 30)
    assert "recurring" not in answer.body


async def test_a_subaccount_cannot_see_another_accounts_triggers(
    api: Api, collector: Collector, emulator: TwilioEmulator
) -> None:
    first, second = await api.sub_creds("a"), await api.sub_creds("b")
    made = await api.call(
        "POST",
        "api",
        f"/2010-04-01/Accounts/{first.username}/Usage/Triggers.json",
        first,
        data={"CallbackUrl": "https://h.example.com/u", "TriggerValue": "1", "UsageCategory": "sms"},
    )
    assert made.status == 201
    path = f"/2010-04-01/Accounts/{first.username}/Usage/Triggers/{made.body['sid']}.json"
    assert (await api.call("GET", "api", path, second)).status == 401
    elsewhere = f"/2010-04-01/Accounts/{second.username}/Usage/Triggers/{made.body['sid']}.json"
    assert (await api.call("GET", "api", elsewhere, second)).status == 404


async def test_message_archives_are_configured_notified_and_fetched(
    api: Api, collector: Collector, emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient
) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    sent = [await send(api, sub, service) for _ in range(5)]
    await settled(api)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    # Not enabled: no day is made.
    refused = await api.control("POST", f"accounts/{sub.username}/exports/Messages/days", {"day": today})
    assert refused.status == 409
    # BulkExports acts as whoever authenticated: the subaccount's own credentials.
    client = Client(sub.username, sub.password, http_client=http)
    exports = client.bulkexports.v1.exports("Messages")
    configuration = client.bulkexports.v1.export_configuration("Messages")
    config = await configuration.fetch_async()
    assert (config.enabled, config.webhook_url) == (False, None)
    hook = f"{collector.url}/twilio/archives"
    config = await configuration.update_async(enabled=True, webhook_url=hook, webhook_method="POST")
    assert (config.enabled, config.webhook_url, config.webhook_method) == (True, hook, "POST")
    ready = await api.control("POST", f"accounts/{sub.username}/exports/Messages/days", {"day": today})
    assert ready.status == 201 and ready.body["size"] > 0

    async def notified() -> bool:
        return any(r["path"] == "/twilio/archives" for r in collector.received)

    await _until(notified, "the archive's webhook was never called")
    note = next(r for r in collector.received if r["path"] == "/twilio/archives")
    assert note["params"]["Day"] == today and note["params"]["ResourceType"] == "Messages"
    from twilio.request_validator import RequestValidator

    assert RequestValidator(sub.password).validate(hook, note["params"], note["signature"])
    days = await exports.days.list_async()
    assert [(d.day, d.size) for d in days] == [(today, ready.body["size"])]
    day = await exports.days(today).fetch_async()
    assert day.redirect_to.startswith(f"https://{ARCHIVE_HOST}/")
    # The file is where it redirects, with no credentials (a presigned storage URL).
    where = day.redirect_to.removeprefix(f"https://{ARCHIVE_HOST}")
    file = await api.session.get(emulator.url + where, headers={"Host": ARCHIVE_HOST})
    lines = gzip.decompress(await file.read()).decode().splitlines()
    archived = [json.loads(line) for line in lines]
    assert sorted(m["sid"] for m in archived) == sorted(m["sid"] for m in sent)
    assert {m["account_sid"] for m in archived} == {sub.username}
    # Another account sees none of it.
    other: Creds = await api.sub_creds("other")
    theirs = Client(other.username, other.password, http_client=http).bulkexports.v1.exports("Messages")
    assert await theirs.days.list_async() == []
    assert api.violations() == []
