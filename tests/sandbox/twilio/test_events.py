"""Event Streams: sinks with their test and validation, subscriptions, subscribed types, the catalogue."""

from __future__ import annotations

import json

from .conftest import Api, Creds

KINESIS = {
    "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/twilio",
    "role_arn": "arn:aws:iam::111111111111:role/twilio",
    "external_id": "an-external-id",
}
WEBHOOK = {"destination": "https://hooks.example.com/twilio/events", "method": "POST", "batch_events": True}


async def sink(api: Api, creds: Creds, kind: str = "webhook", config: object = None) -> dict[str, object]:
    answer = await api.call(
        "POST",
        "events",
        "/v1/Sinks",
        creds,
        data={
            "Description": f"{kind} sink",
            "SinkType": kind,
            "SinkConfiguration": json.dumps(config or (WEBHOOK if kind == "webhook" else KINESIS)),
        },
    )
    assert answer.status == 201, answer.body
    body: dict[str, object] = answer.body
    return body


def types(*entries: tuple[str, int | None]) -> list[tuple[str, str]]:
    return [
        ("Types", json.dumps({"type": name, **({"schema_version": v} if v is not None else {})}))
        for name, v in entries
    ]


async def test_a_webhook_sink_is_active_and_takes_a_subscription_with_its_types(api: Api) -> None:
    sub = await api.sub_creds()
    made = await sink(api, sub)
    assert made["status"] == "active"
    assert made["sink_configuration"] == WEBHOOK
    created = await api.call(
        "POST",
        "events",
        "/v1/Subscriptions",
        sub,
        data=[
            ("Description", "delivery"),
            ("SinkSid", str(made["sid"])),
            *types(
                ("com.twilio.messaging.message.delivered", None), ("com.twilio.messaging.message.failed", 3)
            ),
        ],  # type: ignore[arg-type]
    )
    assert created.status == 201, created.body
    assert created.body["sink_sid"] == made["sid"]
    listed = await api.call("GET", "events", f"/v1/Subscriptions/{created.body['sid']}/SubscribedEvents", sub)
    assert {(t["type"], t["schema_version"]) for t in listed.body["types"]} == {
        ("com.twilio.messaging.message.delivered", 8),
        ("com.twilio.messaging.message.failed", 3),
    }
    assert api.violations() == []


async def test_types_are_added_changed_and_removed_one_by_one(api: Api) -> None:
    sub = await api.sub_creds()
    made = await sink(api, sub)
    created = await api.call(
        "POST",
        "events",
        "/v1/Subscriptions",
        sub,
        data=[
            ("Description", "d"),
            ("SinkSid", str(made["sid"])),
            *types(("com.twilio.messaging.message.sent", 1)),
        ],  # type: ignore[arg-type]
    )
    base = f"/v1/Subscriptions/{created.body['sid']}/SubscribedEvents"
    added = await api.call("POST", "events", base, sub, data={"Type": "com.twilio.messaging.message.read"})
    assert (added.status, added.body["schema_version"]) == (201, 8)
    again = await api.call("POST", "events", base, sub, data={"Type": "com.twilio.messaging.message.read"})
    assert again.status == 409
    changed = await api.call(
        "POST", "events", f"{base}/com.twilio.messaging.message.sent", sub, data={"SchemaVersion": "2"}
    )
    assert changed.body["schema_version"] == 2
    removed = await api.call("DELETE", "events", f"{base}/com.twilio.messaging.message.sent", sub)
    assert removed.status == 204
    last = await api.call("DELETE", "events", f"{base}/com.twilio.messaging.message.read", sub)
    assert last.status == 400
    unknown = await api.call("POST", "events", base, sub, data={"Type": "com.twilio.nothing.like.this"})
    assert unknown.status == 400 and "com.twilio.nothing.like.this" in unknown.body["message"]
    too_new = await api.call(
        "POST",
        "events",
        base,
        sub,
        data={"Type": "com.twilio.messaging.message.queued", "SchemaVersion": "99"},
    )
    assert too_new.status == 400


async def test_kinesis_sink_waits_for_test_and_validation_before_a_subscription(api: Api) -> None:
    sub = await api.sub_creds()
    made = await sink(api, sub, "kinesis")
    sid = str(made["sid"])
    assert made["status"] == "initialized"
    refused = await api.call(
        "POST",
        "events",
        "/v1/Subscriptions",
        sub,
        data=[("Description", "d"), ("SinkSid", sid), *types(("com.twilio.messaging.message.sent", None))],  # type: ignore[arg-type]
    )
    assert refused.status == 400
    tested = await api.call("POST", "events", f"/v1/Sinks/{sid}/Test", sub)
    assert (tested.status, tested.body) == (201, {"result": "submitted"})
    dump = (await api.control("GET", "state")).body
    [record] = [s for s in dump["sinks"] if s["sid"] == sid]
    assert "external_id" not in record["configuration"] and record["status"] == "validating"
    wrong = await api.call("POST", "events", f"/v1/Sinks/{sid}/Validate", sub, data={"TestId": "TEnope"})
    assert wrong.status == 400
    right = await api.call(
        "POST", "events", f"/v1/Sinks/{sid}/Validate", sub, data={"TestId": record["tests"][0]}
    )
    assert (right.status, right.body) == (201, {"result": "valid"})
    fetched = await api.call("GET", "events", f"/v1/Sinks/{sid}", sub)
    assert fetched.body["status"] == "active"


async def test_a_subscription_moves_to_another_sink_and_a_used_sink_stays(api: Api) -> None:
    sub = await api.sub_creds()
    one, two = await sink(api, sub), await sink(api, sub)
    created = await api.call(
        "POST",
        "events",
        "/v1/Subscriptions",
        sub,
        data=[
            ("Description", "d"),
            ("SinkSid", str(one["sid"])),
            *types(("com.twilio.messaging.message.sent", None)),
        ],  # type: ignore[arg-type]
    )
    busy = await api.call("DELETE", "events", f"/v1/Sinks/{one['sid']}", sub)
    assert busy.status == 400
    moved = await api.call(
        "POST", "events", f"/v1/Subscriptions/{created.body['sid']}", sub, data={"SinkSid": str(two["sid"])}
    )
    assert moved.body["sink_sid"] == two["sid"]
    freed = await api.call("DELETE", "events", f"/v1/Sinks/{one['sid']}", sub)
    assert freed.status == 204
    by_sink = await api.call("GET", "events", "/v1/Subscriptions", sub, params={"SinkSid": str(two["sid"])})
    assert [s["sid"] for s in by_sink.body["subscriptions"]] == [created.body["sid"]]


async def test_sinks_belong_to_the_account_that_made_them(api: Api) -> None:
    a, b = await api.sub_creds("a"), await api.sub_creds("b")
    theirs = await sink(api, b)
    assert (await api.call("GET", "events", f"/v1/Sinks/{theirs['sid']}", a)).status == 404
    assert (await api.call("GET", "events", "/v1/Sinks", a)).body["sinks"] == []


async def test_the_type_catalogue_lists_messaging_types(api: Api) -> None:
    sub = await api.sub_creds()
    listed = await api.call("GET", "events", "/v1/Types", sub, params={"PageSize": "5"})
    assert listed.status == 200 and len(listed.body["types"]) == 5
    seen = [t["type"] for t in listed.body["types"]]
    following = await api.call(
        "GET", "events", listed.body["meta"]["next_page_url"].split("twilio.com", 1)[1], sub
    )
    seen += [t["type"] for t in following.body["types"]]
    assert "com.twilio.messaging.message.delivered" in seen
    one = await api.call("GET", "events", "/v1/Types/com.twilio.messaging.message.delivered", sub)
    assert one.body["schema_id"] == "Messaging.MessageStatus"


async def test_bad_sink_configurations_are_refused(api: Api) -> None:
    sub = await api.sub_creds()
    for kind, config in (("webhook", {"destination": "x"}), ("kinesis", {"arn": "nope"}), ("webhook", [1])):
        answer = await api.call(
            "POST",
            "events",
            "/v1/Sinks",
            sub,
            data={"Description": "d", "SinkType": kind, "SinkConfiguration": json.dumps(config)},
        )
        assert answer.status == 400, (kind, config)
    bad_type = await api.call(
        "POST",
        "events",
        "/v1/Sinks",
        sub,
        data={"Description": "d", "SinkType": "carrier-pigeon", "SinkConfiguration": "{}"},
    )
    assert bad_type.status == 400
