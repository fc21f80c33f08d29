"""The /__sandbox/ test-control endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from twilio_operator.sandbox.twilio.server import RequestLog

from .conftest import Api, Creds, made

REQUEST_FIELDS = {
    "seq",
    "time",
    "host",
    "method",
    "path",
    "operation",
    "principal",
    "auth_sid",
    "status",
    "write",
    "duration",
}


async def test_request_log_records_each_api_call(api: Api) -> None:
    sub = await api.subaccount()
    await api.call("GET", "api", f"/2010-04-01/Accounts/{sub['sid']}/Keys.json", api.parent)
    await api.call("GET", "messaging", "/v1/Services", Creds("AC" + "0" * 32, "wrong"))
    answer = await api.control("GET", "requests?since=0")
    entries = answer.body["requests"]
    assert answer.body["next"] == entries[-1]["seq"] == 3
    assert all(set(e) == REQUEST_FIELDS for e in entries)
    create, keys, denied = entries
    assert (create["host"], create["method"], create["operation"], create["status"], create["write"]) == (
        "api.twilio.com",
        "POST",
        "CreateAccount",
        201,
        True,
    )
    assert create["principal"] == api.parent.username
    assert (keys["operation"], keys["principal"], keys["write"]) == ("ListKey", sub["sid"], False)
    assert (denied["host"], denied["status"], denied["principal"], denied["auth_sid"]) == (
        "messaging.twilio.com",
        401,
        None,
        "AC" + "0" * 32,
    )
    assert all(e["duration"] >= 0 for e in entries)
    # Control calls are not logged, and since/next page through the log.
    later = await api.control("GET", "requests?since=2")
    assert [e["seq"] for e in later.body["requests"]] == [3]
    nothing = await api.control("GET", f"requests?since={answer.body['next']}")
    assert (nothing.body["requests"], nothing.body["next"]) == ([], 3)
    beyond = await api.control("GET", "requests?since=999999")
    assert beyond.body["next"] == 3


async def test_request_log_never_holds_secrets(api: Api) -> None:
    sub = await api.subaccount()
    key = await api.key(sub["sid"])
    await api.call("GET", "messaging", "/v1/Services", Creds(key["sid"], key["secret"]))
    text = json.dumps((await api.control("GET", "requests")).body)
    for secret in (api.parent.password, sub["auth_token"], key["secret"]):
        assert secret not in text
    assert key["sid"] in text


async def test_requests_long_poll_returns_when_a_request_arrives(api: Api) -> None:
    waiter = asyncio.ensure_future(api.control("GET", "requests?since=0&wait=10"))
    await asyncio.sleep(0)
    assert not waiter.done()
    await api.call("GET", "api", "/2010-04-01/Accounts.json", api.parent)
    answer = await asyncio.wait_for(waiter, 5)
    assert [e["operation"] for e in answer.body["requests"]] == ["ListAccount"]


def test_request_log_is_bounded() -> None:
    log = RequestLog(size=3)
    for index in range(5):
        log.append({"index": index})
    assert [e["seq"] for e in log.since(0)] == [3, 4, 5]
    assert [e["seq"] for e in log.since(4)] == [5]
    assert log.last_seq == 5


async def test_violations_list_and_clear(api: Api) -> None:
    await api.call(
        "POST", "messaging", "/v1/Services", api.parent, data={"FriendlyName": "x", "ValidityPeriod": "soon"}
    )
    listed = await api.control("GET", "violations")
    [violation] = listed.body
    assert violation["operation"] == "CreateService"
    assert violation["kind"] == "request"
    assert violation["problems"][0]["parameter"] == "ValidityPeriod"
    assert violation["seq"] == 1
    cleared = await api.control("DELETE", "violations")
    assert cleared.body == []
    assert (await api.control("GET", "violations")).body == []


async def test_state_dump_holds_everything_but_secrets(api: Api) -> None:
    sub = await api.sub_creds()
    key = await api.key(sub.username, name="deploy")
    restricted = await api.call(
        "POST",
        "iam",
        "/v1/Keys",
        sub,
        data={
            "AccountSid": sub.username,
            "KeyType": "restricted",
            "Policy": json.dumps({"allow": ["/twilio/x/y"]}),
        },
    )
    service = await api.service(sub, "alerts", StatusCallback="https://h.example.com/s")
    pn = await api.buy_number(sub.username, "+15005550006")
    await api.call(
        "POST", "messaging", f"/v1/Services/{service['sid']}/PhoneNumbers", sub, data={"PhoneNumberSid": pn}
    )
    await api.call(
        "POST", "messaging", f"/v1/Services/{service['sid']}/AlphaSenders", sub, data={"AlphaSender": "ACME"}
    )
    dump = (await api.control("GET", "state")).body
    assert {a["sid"]: (a["status"], a["owner"]) for a in dump["accounts"]} == {
        api.parent.username: ("active", api.parent.username),
        sub.username: ("active", api.parent.username),
    }
    assert {k["sid"]: (k["account"], k["type"], k["policy"]) for k in dump["keys"]} == {
        key["sid"]: (sub.username, "standard", None),
        restricted.body["sid"]: (sub.username, "restricted", {"allow": ["/twilio/x/y"]}),
    }
    [svc] = made(dump["services"])
    assert (svc["sid"], svc["account"], svc["friendly_name"]) == (service["sid"], sub.username, "alerts")
    assert svc["settings"]["status_callback"] == "https://h.example.com/s"
    assert svc["senders"]["phone_numbers"] == [{"sid": pn, "phone_number": "+15005550006"}]
    assert [a["alpha_sender"] for a in svc["senders"]["alpha_senders"]] == ["ACME"]
    [number] = dump["incoming_phone_numbers"]
    assert {k: number[k] for k in ("sid", "account", "phone_number", "service")} == {
        "sid": pn,
        "account": sub.username,
        "phone_number": "+15005550006",
        "service": service["sid"],
    }
    text = json.dumps(dump)
    for secret in (api.parent.password, sub.password, key["secret"], restricted.body["secret"]):
        assert secret not in text


async def test_buying_numbers_and_short_codes(api: Api) -> None:
    sub = await api.subaccount()
    bought = await api.control(
        "POST", f"accounts/{sub['sid']}/incoming-phone-numbers", {"phone_number": "+15005550006"}
    )
    assert bought.status == 201
    assert bought.body["sid"].startswith("PN") and len(bought.body["sid"]) == 34
    taken = await api.control(
        "POST", f"accounts/{sub['sid']}/incoming-phone-numbers", {"phone_number": "+15005550006"}
    )
    assert taken.status == 409
    bad = await api.control(
        "POST", f"accounts/{sub['sid']}/incoming-phone-numbers", {"phone_number": "5550006"}
    )
    assert bad.status == 400
    unknown = await api.control(
        "POST", f"accounts/AC{'0' * 32}/incoming-phone-numbers", {"phone_number": "+15005550009"}
    )
    assert unknown.status == 404
    code = await api.control("POST", f"accounts/{sub['sid']}/short-codes", {"short_code": "12345"})
    assert code.status == 201 and code.body["sid"].startswith("SC")
    assert (
        await api.control("POST", f"accounts/{sub['sid']}/short-codes", {"short_code": "12a45"})
    ).status == 400
    bad_json_url = f"{api.emulator.url}/__sandbox/accounts/{sub['sid']}/short-codes"
    async with api.session.post(bad_json_url, data=b"{") as bad_json:
        assert bad_json.status == 400


async def test_control_keys_include_main_keys(api: Api) -> None:
    created = await api.control(
        "POST", f"accounts/{api.parent.username}/keys", {"type": "main", "friendly_name": "ops"}
    )
    assert created.status == 201
    main = Creds(created.body["sid"], created.body["secret"])
    assert (await api.call("GET", "api", "/2010-04-01/Accounts.json", main)).status == 200
    refused = await api.control("POST", f"accounts/{api.parent.username}/keys", {"type": "restricted"})
    assert refused.status == 400


async def test_reset_restores_a_fresh_emulator_with_the_same_parent(api: Api) -> None:
    await api.subaccount()
    await api.control("POST", "faults", {"kind": "hang", "operation": "DeleteKey"})
    info = await api.control("POST", "reset")
    assert (info.body["parent_sid"], info.body["parent_token"]) == (api.parent.username, api.parent.password)
    assert (await api.control("GET", "state")).body["accounts"][1:] == []
    assert (await api.control("GET", "faults")).body["faults"] == []
    assert (await api.control("GET", "requests")).body["requests"] == []
    assert (await api.call("GET", "api", "/2010-04-01/Accounts.json", api.parent)).status == 200


async def test_config_round_trip(api: Api) -> None:
    answer = await api.control("POST", "config", {"latency": 0.01, "concurrency_limit": 5, "pool_limit": 10})
    assert answer.body == {
        "latency": 0.01,
        "concurrency_limit": 5,
        "check_responses": True,
        "subaccount_limit": 1000,
        "pool_limit": 10,
        "message_time_scale": 1.0,
        "callback_drop_rate": 0.0,
        "callback_duplicate_rate": 0.0,
        "callback_reorder_rate": 0.0,
    }
    assert (await api.control("GET", "config")).body == answer.body
    assert (await api.control("POST", "config", {"latency": "slow"})).status == 400


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, str], str]]]]:
    received: list[tuple[str, dict[str, str], str]] = []

    async def record(request: web.Request) -> web.Response:
        form = await request.post()
        received.append(
            (str(request.url), {k: str(v) for k, v in form.items()}, request.headers["X-Twilio-Signature"])
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/status", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/status", received
    finally:
        await runner.cleanup()


async def test_status_callback_is_signed_with_the_subaccount_token(
    api: Api, receiver: tuple[str, list[tuple[str, dict[str, str], str]]]
) -> None:
    url, received = receiver
    sub = await api.sub_creds()
    service = await api.service(sub, StatusCallback=url)
    pn = await api.buy_number(sub.username, "+15005550006")
    await api.call(
        "POST", "messaging", f"/v1/Services/{service['sid']}/PhoneNumbers", sub, data={"PhoneNumberSid": pn}
    )
    answer = await api.control(
        "POST",
        f"services/{service['sid']}/status-callbacks",
        {"message_status": "undelivered", "to": "+15551230000", "error_code": 30003},
    )
    assert (answer.status, answer.body["status"]) == (200, 204)
    [(called, params, signature)] = received
    assert called == url
    assert params["AccountSid"] == sub.username
    assert params["MessagingServiceSid"] == service["sid"]
    assert (params["MessageStatus"], params["SmsStatus"], params["ErrorCode"]) == (
        "undelivered",
        "undelivered",
        "30003",
    )
    assert (params["From"], params["To"]) == ("+15005550006", "+15551230000")
    assert params["MessageSid"] == params["SmsSid"] and params["MessageSid"].startswith("SM")
    assert RequestValidator(sub.password).validate(url, params, signature)
    assert not RequestValidator(api.parent.password).validate(url, params, signature)
    no_callback = await api.service(sub, "quiet")
    refused = await api.control(
        "POST", f"services/{no_callback['sid']}/status-callbacks", {"message_status": "sent"}
    )
    assert refused.status == 409
    bad = await api.control("POST", f"services/{service['sid']}/status-callbacks", {"message_status": "lost"})
    assert bad.status == 400
