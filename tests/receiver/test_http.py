"""The receiver's endpoints in-process, on both stores: what is signed is stored once, the rest refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.receiver import sid, signed_form, signed_json
from twilio_operator.receiver.app import Receiver
from twilio_operator.receiver.committer import Committer
from twilio_operator.receiver.directory import Directory
from twilio_operator.receiver.metrics import ReceiverMetrics
from twilio_operator.receiver.store import Store

PUBLIC = "https://hooks.dev.shop.example.com"
ACCOUNT, TOKEN = sid("AC"), "a" * 32
OTHER_ACCOUNT, OTHER_TOKEN = sid("AC"), "b" * 32
SERVICE = sid("MG")


@dataclass
class Setup:
    client: TestClient
    receiver: Receiver
    store: Store
    directory: Directory


@pytest.fixture
async def setup(store: Store) -> AsyncIterator[Setup]:
    directory = Directory()
    directory.replace_credentials([(ACCOUNT, TOKEN, "shop"), (OTHER_ACCOUNT, OTHER_TOKEN, "other")])
    directory.replace_services({SERVICE: "notifications"})
    metrics = ReceiverMetrics(directory)
    committer = Committer(store, on_commit=metrics.committed)
    committer.start()
    receiver = Receiver(store, committer, directory, metrics, max_body=64 * 1024)
    receiver.store_started = True
    client = TestClient(TestServer(receiver.application()))
    await client.start_server()
    yield Setup(client, receiver, store, directory)
    await client.close()
    await committer.stop()


def callback(message: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "MessagingServiceSid": SERVICE,
        "MessageSid": message,
        "SmsSid": message,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": "+14155550199",
        "From": "+14155550100",
        "ApiVersion": "2010-04-01",
        **extra,
    }


async def post_status(
    setup: Setup, params: dict[str, str], token: str = TOKEN, url: str = f"{PUBLIC}/twilio/status"
) -> int:
    body, headers = signed_form(token, url, params)
    headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.dev.shop.example.com"}
    response = await setup.client.post("/twilio/status", data=body, headers=headers)
    return response.status


async def metric(setup: Setup, name: str) -> dict[str, float]:
    text = await (await setup.client.get("/metrics")).text()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name)
    }


async def test_signed_callbacks_stored_out_of_order_and_twice(setup: Setup) -> None:
    message = sid("SM")
    for status in ("sent", "delivered", "sent", "queued", "delivered"):
        assert await post_status(setup, callback(message, status)) == 200
    answer = await setup.client.get(f"/api/messages/{message}")
    data = await answer.json()
    assert data["status"] == "delivered"
    assert (data["sid"], data["accountSid"], data["messagingServiceSid"]) == (message, ACCOUNT, SERVICE)
    assert (data["from"], data["to"], data["errorCode"]) == ("+14155550100", "+14155550199", None)
    assert [e["status"] for e in data["events"]] == ["sent", "delivered", "queued"]
    assert data["events"][0]["payload"]["MessageStatus"] == "sent"
    counted = await metric(setup, "twilio_receiver_callbacks_total")
    assert counted['twilio_receiver_callbacks_total{endpoint="status",result="stored"}'] == 3
    assert counted['twilio_receiver_callbacks_total{endpoint="status",result="duplicate"}'] == 2
    statuses = await metric(setup, "twilio_receiver_messages_total")
    key = 'twilio_receiver_messages_total{service="notifications",status="delivered",subaccount="shop"}'
    assert statuses[key] == 1


async def test_fields_twilio_adds_without_notice_are_signed_too(setup: Setup) -> None:
    message = sid("SM")
    params = callback(message, "delivered", RawDlrDoneDate="2601311200", NewField="x")
    assert await post_status(setup, params) == 200
    data = await (await setup.client.get(f"/api/messages/{message}")).json()
    assert data["events"][0]["payload"]["NewField"] == "x"


async def test_port_and_public_url(setup: Setup) -> None:
    message = sid("SM")
    assert await post_status(setup, callback(message, "sent"), url=f"{PUBLIC}:443/twilio/status") == 200
    setup.receiver.public_url = "https://elsewhere.example.com"
    assert await post_status(setup, callback(message, "delivered")) == 403
    body, headers = signed_form(
        TOKEN, "https://elsewhere.example.com/twilio/status", callback(message, "failed")
    )
    assert (await setup.client.post("/twilio/status", data=body, headers=headers)).status == 200


@pytest.mark.parametrize(
    ("case", "expected", "reason"),
    [
        ("unsigned", 403, "unsigned"),
        ("forged", 403, "bad_signature"),
        ("changed", 403, "bad_signature"),
        ("parent_token", 403, "bad_signature"),
        ("unknown_account", 403, "unknown_account"),
        ("not_form", 400, "malformed"),
        ("bad_sid", 400, "malformed"),
        ("too_large", 413, "too_large"),
    ],
)
async def test_refused_and_nothing_stored(setup: Setup, case: str, expected: int, reason: str) -> None:
    message = sid("SM")
    params = callback(message, "delivered")
    url = f"{PUBLIC}/twilio/status"
    body, headers = signed_form(TOKEN, url, params)
    headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.dev.shop.example.com"}
    if case == "unsigned":
        del headers["X-Twilio-Signature"]
    elif case == "forged":
        headers["X-Twilio-Signature"] = "x" * 28
    elif case == "changed":
        # A genuine signature replayed with a changed status.
        body = body.replace(b"delivered", b"failed")
    elif case == "parent_token":
        # A subaccount's callbacks are signed with its own token, not another account's.
        body, signed = signed_form(OTHER_TOKEN, url, params)
        headers["X-Twilio-Signature"] = signed["X-Twilio-Signature"]
    elif case == "unknown_account":
        unknown = {**params, "AccountSid": sid("AC")}
        body, signed = signed_form(TOKEN, url, unknown)
        headers["X-Twilio-Signature"] = signed["X-Twilio-Signature"]
    elif case == "not_form":
        headers["Content-Type"] = "application/json"
    elif case == "bad_sid":
        bad = {**params, "MessageSid": "SMnot-a-sid"}
        body, signed = signed_form(TOKEN, url, bad)
        headers["X-Twilio-Signature"] = signed["X-Twilio-Signature"]
    elif case == "too_large":
        big = {**params, "Body": "x" * 70_000}
        body, signed = signed_form(TOKEN, url, big)
        headers["X-Twilio-Signature"] = signed["X-Twilio-Signature"]
    response = await setup.client.post("/twilio/status", data=body, headers=headers)
    assert response.status == expected
    assert await setup.store.counts() == (0, 0)
    rejected = await metric(setup, "twilio_receiver_callbacks_rejected_total")
    assert rejected[f'twilio_receiver_callbacks_rejected_total{{endpoint="status",reason="{reason}"}}'] == 1


def cloud_event(event_id: str, kind: str, message: str, status: str, **data: object) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "type": kind,
        "source": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{message}.json",
        "id": event_id,
        "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/8",
        "datacontenttype": "application/json",
        "time": "2026-01-31T12:00:00.000Z",
        "data": {
            "messageSid": message,
            "accountSid": ACCOUNT,
            "messagingServiceSid": SERVICE,
            "messageStatus": status,
            "from": "+14155550100",
            "to": "+14155550199",
            **data,
        },
    }


async def test_event_streams_deduplicated_on_id(setup: Setup) -> None:
    message = sid("SM")
    events = [
        cloud_event("EZ1", "com.twilio.messaging.message.sent", message, "SENT"),
        cloud_event(
            "EZ2", "com.twilio.messaging.message.undelivered", message, "UNDELIVERED", errorCode=30003
        ),
        cloud_event("EZ3", "com.twilio.error-logs.error.logged", message, "", errorCode=30003),
    ]
    url, body, headers = signed_json(TOKEN, f"{PUBLIC}/twilio/events", events)
    path = url.removeprefix(PUBLIC)
    for _ in range(2):  # at least once: the second delivery is acknowledged and not stored again
        response = await setup.client.post(
            path,
            data=body,
            headers={
                **headers,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "hooks.dev.shop.example.com",
            },
        )
        assert response.status == 200
    data = await (await setup.client.get(f"/api/messages/{message}")).json()
    assert (data["status"], data["errorCode"]) == ("undelivered", 30003)
    assert await setup.store.counts() == (1, 3)
    errors = await metric(setup, "twilio_receiver_message_errors_total")
    key = 'twilio_receiver_message_errors_total{error_code="30003",service="notifications",subaccount="shop"}'
    assert errors[key] == 1


async def test_event_streams_refused_when_body_changed(setup: Setup) -> None:
    message = sid("SM")
    events = [cloud_event("EZ9", "com.twilio.messaging.message.delivered", message, "DELIVERED")]
    url, body, headers = signed_json(TOKEN, "http://127.0.0.1/twilio/events", events)
    setup.receiver.public_url = "http://127.0.0.1"
    path = url.removeprefix("http://127.0.0.1")
    tampered = body.replace(b"DELIVERED", b"FAILED")
    assert (await setup.client.post(path, data=tampered, headers=headers)).status == 403
    unsigned = {k: v for k, v in headers.items() if k != "X-Twilio-Signature"}
    assert (await setup.client.post(path, data=body, headers=unsigned)).status == 403
    assert (await setup.client.post(path, data=body, headers=headers)).status == 200
    assert await setup.store.counts() == (1, 1)


async def test_reads_and_probes(setup: Setup) -> None:
    assert (await setup.client.get(f"/api/messages/{sid('SM')}")).status == 404
    assert (await setup.client.get("/api/messages/nonsense")).status == 400
    assert (await setup.client.get("/healthz")).status == 200
    assert (await setup.client.get("/readyz")).status == 200
    setup.receiver.store_started = False
    assert (await setup.client.get("/readyz")).status == 503
    assert await post_status(setup, callback(sid("SM"), "sent")) == 503


async def test_summary_counts_and_latency(setup: Setup) -> None:
    outcomes = ["delivered"] * 6 + ["undelivered", "failed"]
    for outcome in outcomes:
        message = sid("SM")
        assert await post_status(setup, callback(message, "sent")) == 200
        extra = {"ErrorCode": "30007"} if outcome != "delivered" else {}
        assert await post_status(setup, callback(message, outcome, **extra)) == 200
    summary = await (await setup.client.get("/api/summary")).json()
    [group] = summary["groups"]
    assert (group["subaccount"], group["service"]) == ("shop", "notifications")
    hour = group["windows"]["hour"]
    assert (hour["sent"], hour["delivered"], hour["undelivered"], hour["failed"]) == (8, 6, 1, 1)
    assert hour["deliveryRate"] == 0.75
    assert hour["p50LatencySeconds"] is not None and hour["p50LatencySeconds"] < 5
    assert group["topErrors"] == [
        {"code": 30007, "description": "Message filtered (carrier violation)", "count": 2}
    ]
    assert len(summary["recentFailures"]) == 2
    page = await (await setup.client.get("/")).text()
    assert not any(
        tag in page for tag in ("<script", "src=", "href=", "@import", "url(")
    )  # no external assets
    assert 'data-field="delivered" data-value="6"' in page
    text = await (await setup.client.get("/metrics")).text()
    assert "+1415" not in text and TOKEN not in text  # no phone numbers or tokens in any label


async def test_before_the_secrets_are_read_unknown_accounts_get_503(setup: Setup) -> None:
    setup.receiver.credentials_loaded = lambda: False
    assert (await setup.client.get("/readyz")).status == 503
    stranger = {**callback(sid("SM"), "sent"), "AccountSid": sid("AC")}
    assert await post_status(setup, stranger) == 503  # Twilio retries; a 403 would lose it
    assert await post_status(setup, callback(sid("SM"), "sent")) == 200  # known accounts go through
    setup.receiver.credentials_loaded = lambda: True
    assert await post_status(setup, stranger) == 403


# -- usage triggers and message archives ------------------------------------------------------------------

TRIGGER = sid("UT")


def fired(date_fired: str = "Sat, 31 Jan 2026 12:00:00 +0000", **extra: str) -> dict[str, str]:
    """A usage trigger's callback, as Twilio posts it."""
    return {
        "AccountSid": ACCOUNT,
        "UsageTriggerSid": TRIGGER,
        "DateFired": date_fired,
        "Recurring": "monthly",
        "UsageCategory": "totalprice",
        "TriggerBy": "price",
        "TriggerValue": "50",
        "CurrentValue": "50.0237",
        "UsageRecordUri": f"/2010-04-01/Accounts/{ACCOUNT}/Usage/Records.json?Category=totalprice",
        "IdempotencyToken": f"{TRIGGER}-2026-01",
        **extra,
    }


async def post_form(
    setup: Setup, path: str, params: dict[str, str], token: str = TOKEN, signed_path: str | None = None
) -> int:
    """POST a form signed over the public URL of ``signed_path`` (default: the path posted to)."""
    body, headers = signed_form(token, PUBLIC + (signed_path or path), params)
    headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.dev.shop.example.com"}
    response = await setup.client.post(path, data=body, headers=headers)
    return response.status


async def test_a_usage_alert_is_stored_and_counted_once(setup: Setup) -> None:
    path = "/twilio/usage?alert=monthly-budget"
    # Twilio's retry and an exact replay are the same firing.
    for _ in range(3):
        assert await post_form(setup, path, fired()) == 200
    alerts = (await (await setup.client.get("/api/usage-alerts")).json())["usageAlerts"]
    assert alerts == [
        {
            "accountSid": ACCOUNT,
            "subaccount": "shop",
            "alert": "monthly-budget",
            "triggerSid": TRIGGER,
            "usageCategory": "totalprice",
            "triggerBy": "price",
            "triggerValue": 50.0,
            "currentValue": 50.0237,
            "recurring": "monthly",
            "dateFired": "2026-01-31T12:00:00Z",
            "receivedAt": alerts[0]["receivedAt"],
        }
    ]
    counted = await metric(setup, "twilio_receiver_usage_alerts_total")
    key = 'twilio_receiver_usage_alerts_total{alert="monthly-budget",category="totalprice",subaccount="shop"}'
    assert counted == {key: 1}
    callbacks = await metric(setup, "twilio_receiver_callbacks_total")
    assert callbacks['twilio_receiver_callbacks_total{endpoint="usage",result="stored"}'] == 1
    assert callbacks['twilio_receiver_callbacks_total{endpoint="usage",result="duplicate"}'] == 2
    # The next month's firing of the same trigger is another one.
    assert await post_form(setup, path, fired("Sat, 28 Feb 2026 09:30:00 +0000", CurrentValue="51")) == 200
    assert (await metric(setup, "twilio_receiver_usage_alerts_total"))[key] == 2
    summary = await (await setup.client.get("/api/summary")).json()
    assert [a["dateFired"] for a in summary["recentUsageAlerts"]] == [
        "2026-02-28T09:30:00Z",
        "2026-01-31T12:00:00Z",
    ]
    page = await (await setup.client.get("/")).text()
    assert f'data-trigger="{TRIGGER}"' in page and "monthly-budget" in page
    assert (await (await setup.client.get("/api/usage-alerts?limit=1")).json())["usageAlerts"][0][
        "currentValue"
    ] == 51


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("", "unknown"),  # a trigger made by hand, without the operator's alert name
        ("?alert=Not_A_Name", "unknown"),
        ("?alert=" + "a" * 41, "unknown"),
        ("?alert=a" + "-b" * 19 + "c", "a" + "-b" * 19 + "c"),  # 40 characters: a name the operator can give
    ],
)
async def test_alert_labels_are_names_the_operator_can_give(setup: Setup, query: str, label: str) -> None:
    assert await post_form(setup, "/twilio/usage" + query, fired()) == 200
    counted = await metric(setup, "twilio_receiver_usage_alerts_total")
    assert counted == {
        f'twilio_receiver_usage_alerts_total{{alert="{label}",category="totalprice",subaccount="shop"}}': 1
    }
    [stored] = (await (await setup.client.get("/api/usage-alerts")).json())["usageAlerts"]
    assert stored["alert"] == query.removeprefix("?alert=")


@pytest.mark.parametrize(
    ("case", "expected", "reason"),
    [
        ("unsigned", 403, "unsigned"),
        ("other_alert", 403, "bad_signature"),
        ("other_token", 403, "bad_signature"),
        ("unknown_account", 403, "unknown_account"),
        ("bad_date", 400, "malformed"),
        ("bad_value", 400, "malformed"),
        ("no_trigger", 400, "malformed"),
        ("too_large", 413, "too_large"),
    ],
)
async def test_usage_alerts_refused_and_nothing_stored(
    setup: Setup, case: str, expected: int, reason: str
) -> None:
    path, params, token, signed_path = "/twilio/usage?alert=budget", fired(), TOKEN, None
    if case == "unsigned":
        body, headers = signed_form(TOKEN, PUBLIC + path, params)
        del headers["X-Twilio-Signature"]
        status = (await setup.client.post(path, data=body, headers=headers)).status
    else:
        if case == "other_alert":
            # The alert name is in the signed URL: a genuine firing replayed under another name is refused.
            signed_path = path
            path = "/twilio/usage?alert=other"
        elif case == "other_token":
            token = OTHER_TOKEN
        elif case == "unknown_account":
            params["AccountSid"] = sid("AC")
        elif case == "bad_date":
            params["DateFired"] = "yesterday"
        elif case == "bad_value":
            params["CurrentValue"] = "nan"
        elif case == "no_trigger":
            del params["UsageTriggerSid"]
        elif case == "too_large":
            params["Padding"] = "x" * 70_000
        status = await post_form(setup, path, params, token, signed_path)
    assert status == expected
    assert (await (await setup.client.get("/api/usage-alerts")).json())["usageAlerts"] == []
    assert await metric(setup, "twilio_receiver_usage_alerts_total") == {}
    rejected = await metric(setup, "twilio_receiver_callbacks_rejected_total")
    assert rejected[f'twilio_receiver_callbacks_rejected_total{{endpoint="usage",reason="{reason}"}}'] == 1


def day_ready(day: str = "2026-01-31", **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "ResourceType": "Messages",
        "Day": day,
        "Size": "48213",
        "FriendlyName": f"Export {day}",
        **extra,
    }


async def test_an_archive_day_is_recorded_once(setup: Setup) -> None:
    for _ in range(2):
        assert await post_form(setup, "/twilio/archives", day_ready()) == 200
    assert await post_form(setup, "/twilio/archives", day_ready("2026-02-01")) == 200
    days = (await (await setup.client.get("/api/archive-days")).json())["archiveDays"]
    assert [(d["day"], d["resourceType"], d["size"], d["subaccount"]) for d in days] == [
        ("2026-02-01", "Messages", 48213, "shop"),
        ("2026-01-31", "Messages", 48213, "shop"),
    ]
    assert all(d["notifiedAt"] and d["fetchedAt"] is None and d["messages"] is None for d in days)
    counted = await metric(setup, "twilio_receiver_archive_days_total")
    assert counted == {'twilio_receiver_archive_days_total{subaccount="shop"}': 2}
    callbacks = await metric(setup, "twilio_receiver_callbacks_total")
    assert callbacks['twilio_receiver_callbacks_total{endpoint="archives",result="duplicate"}'] == 1


@pytest.mark.parametrize(
    ("change", "token", "expected", "reason"),
    [
        ({}, OTHER_TOKEN, 403, "bad_signature"),
        ({"Day": "2026-02-30"}, TOKEN, 400, "malformed"),
        ({"Size": "-1"}, TOKEN, 400, "malformed"),
        ({"ResourceType": "../Calls"}, TOKEN, 400, "malformed"),
    ],
)
async def test_archive_notifications_refused(
    setup: Setup, change: dict[str, str], token: str, expected: int, reason: str
) -> None:
    assert await post_form(setup, "/twilio/archives", day_ready(**change), token) == expected
    assert (await (await setup.client.get("/api/archive-days")).json())["archiveDays"] == []
    rejected = await metric(setup, "twilio_receiver_callbacks_rejected_total")
    assert rejected[f'twilio_receiver_callbacks_rejected_total{{endpoint="archives",reason="{reason}"}}'] == 1
