"""Messages: sent through a service, they meet a seeded fate, and signed callbacks report it, imperfectly."""

from __future__ import annotations

import time
from collections import Counter

from twilio.request_validator import RequestValidator

from .conftest import FAST, Api, Collector, send, settled, setup_service


async def test_messages_meet_their_fate_and_callbacks_report_it(api: Api, collector: Collector) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    sent = [await send(api, sub, service) for _ in range(60)]
    assert {m["status"] for m in sent} == {"accepted"}
    assert all(m["messaging_service_sid"] == service["sid"] and m["from"] == "+14155550100" for m in sent)
    truth = await settled(api)
    finals = Counter(m["final_status"] for m in truth)
    assert finals["delivered"] > 40 and finals["undelivered"] + finals["failed"] > 0
    assert all((m["final_error_code"] is None) == (m["final_status"] == "delivered") for m in truth)
    # FetchMessage answers Twilio's truth.
    for message in truth[:10]:
        answer = await api.call(
            "GET", "api", f"/2010-04-01/Accounts/{sub.username}/Messages/{message['sid']}.json", sub
        )
        assert (answer.body["status"], answer.body["error_code"]) == (
            message["final_status"],
            message["final_error_code"],
        )
    # Every callback is signed with the subaccount's token over the URL Twilio called.
    validator = RequestValidator(sub.password)
    for item in collector.received:
        assert validator.validate(collector.url + item["path"], item["params"], item["signature"])
    # Every message's final status was posted (callbacks a few milliseconds apart may arrive in either order).
    posted: dict[str, set[str]] = {}
    for item in collector.received:
        posted.setdefault(item["params"]["MessageSid"], set()).add(item["params"]["MessageStatus"])
    assert posted.keys() == {m["sid"] for m in truth}
    assert [m["sid"] for m in truth if m["final_status"] not in posted[m["sid"]]] == []
    assert api.violations() == []


async def test_callbacks_dropped_duplicated_reordered_as_seeded(api: Api, collector: Collector) -> None:
    await api.control(
        "POST",
        "config",
        {
            "message_time_scale": FAST,
            "callback_drop_rate": 0.15,
            "callback_duplicate_rate": 0.15,
            "callback_reorder_rate": 0.15,
        },
    )
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    for _ in range(40):
        await send(api, sub, service)
    truth = await settled(api)
    faults = Counter(cb["fault"] for m in truth for cb in m["callbacks"])
    assert faults["dropped"] and faults["duplicated"] and faults["reordered"]
    arrived = Counter((i["params"]["MessageSid"], i["params"]["MessageStatus"]) for i in collector.received)
    for message in truth:
        for callback in message["callbacks"]:
            count = arrived[(message["sid"], callback["status"])]
            expected = {"dropped": 0, "duplicated": 2}.get(callback["fault"], 1)
            assert count == expected, (message["sid"], callback)


async def test_a_failed_callback_is_retried_once(api: Api, collector: Collector) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    collector.status = 503
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    await send(api, sub, service)
    [message] = await settled(api)
    assert all(cb["attempts"] == [503, 503] for cb in message["callbacks"])
    assert len(collector.received) == 2 * len(message["callbacks"])


async def test_a_public_host_reaches_a_local_receiver_through_the_route(
    api: Api, collector: Collector
) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    public = "https://hooks.dev.shop.example.com/twilio/status"
    refused = await api.control("POST", "routes", {"host": "hooks.example.com", "target": "https://10.0.0.1"})
    assert refused.status == 400
    routed = await api.control(
        "POST", "routes", {"host": "hooks.dev.shop.example.com", "target": collector.url}
    )
    assert routed.status == 201
    sub, service = await setup_service(api, public)
    await send(api, sub, service)
    await settled(api)
    assert collector.received
    validator = RequestValidator(sub.password)
    for item in collector.received:
        assert item["forwarded"] == ("https", "hooks.dev.shop.example.com")
        assert validator.validate(public, item["params"], item["signature"])
    # Without a route, a public host is never contacted.
    await api.control("DELETE", "routes")
    await send(api, sub, service)
    messages = await settled(api)
    assert all(cb["attempts"] == ["no_route", "no_route"] for cb in messages[-1]["callbacks"])


async def test_message_level_callback_and_sending_errors(api: Api, collector: Collector) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, "https://unused.example.com/status")
    own = await send(api, sub, service, StatusCallback=f"{collector.url}/twilio/status")
    await settled(api)
    assert {i["params"]["MessageSid"] for i in collector.received} == {own["sid"]}
    path = f"/2010-04-01/Accounts/{sub.username}/Messages.json"
    cases = [
        ({"To": "+14155550199", "Body": "x"}, 21603),
        ({"To": "+14155550199", "MessagingServiceSid": service["sid"]}, 21602),
        ({"To": "12", "MessagingServiceSid": service["sid"], "Body": "x"}, 21211),
        ({"To": "+14155550199", "From": "+14155550999", "Body": "x"}, 21606),
    ]
    for data, code in cases:
        answer = await api.call("POST", "api", path, sub, data=data)
        assert (answer.status, answer.code) == (400, code), data
    empty = await api.service(sub, "no senders")
    failed = await send(api, sub, empty)
    [*_, last] = await settled(api)
    assert (last["sid"], last["final_status"], last["final_error_code"]) == (failed["sid"], "failed", 21704)


async def test_messages_listed_newest_first_in_pages(api: Api, collector: Collector) -> None:
    await api.control("POST", "config", {"message_time_scale": FAST})
    sub, service = await setup_service(api, f"{collector.url}/twilio/status")
    sent = [(await send(api, sub, service))["sid"] for _ in range(5)]
    await settled(api)
    path = f"/2010-04-01/Accounts/{sub.username}/Messages.json"
    listed: list[str] = []
    answer = await api.call("GET", "api", path, sub, params={"PageSize": "2"})
    while True:
        assert answer.status == 200, answer.body
        listed += [m["sid"] for m in answer.body["messages"]]
        following = answer.body["next_page_uri"]
        if not following:
            break
        answer = await api.call("GET", "api", following, sub)
    assert listed == sent[::-1]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    answer = await api.call(
        "GET", "api", path, sub, params={"DateSent>": f"{today}T00:00:00Z", "To": "+14155550199"}
    )
    assert {m["sid"] for m in answer.body["messages"]} <= set(sent)
    assert api.violations() == []
