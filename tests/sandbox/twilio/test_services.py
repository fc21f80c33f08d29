"""Messaging Services: every writable field, defaults, clearing URLs, account scoping."""

from __future__ import annotations

import re

from .conftest import Api, made

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

EVERY_FIELD = {
    "FriendlyName": "alerts",
    "InboundRequestUrl": "https://hooks.example.com/inbound",
    "InboundMethod": "GET",
    "FallbackUrl": "https://hooks.example.com/fallback",
    "FallbackMethod": "GET",
    "StatusCallback": "https://hooks.example.com/status",
    "StickySender": "false",
    "MmsConverter": "false",
    "SmartEncoding": "false",
    "ScanMessageContent": "disable",
    "FallbackToLongCode": "false",
    "AreaCodeGeomatch": "false",
    "ValidityPeriod": "600",
    "SynchronousValidation": "true",
    "Usecase": "notifications",
    "UseInboundWebhookOnNumber": "true",
}
EXPECTED = {
    "friendly_name": "alerts",
    "inbound_request_url": "https://hooks.example.com/inbound",
    "inbound_method": "GET",
    "fallback_url": "https://hooks.example.com/fallback",
    "fallback_method": "GET",
    "status_callback": "https://hooks.example.com/status",
    "sticky_sender": False,
    "mms_converter": False,
    "smart_encoding": False,
    "scan_message_content": "disable",
    "fallback_to_long_code": False,
    "area_code_geomatch": False,
    "validity_period": 600,
    "synchronous_validation": True,
    "usecase": "notifications",
    "use_inbound_webhook_on_number": True,
}


async def test_create_with_defaults(api: Api) -> None:
    sub = await api.sub_creds()
    service = await api.service(sub, "plain")
    assert re.fullmatch(r"MG[0-9a-f]{32}", service["sid"])
    assert service["account_sid"] == sub.username
    assert {k: service[k] for k in EXPECTED} == {
        "friendly_name": "plain",
        "inbound_request_url": None,
        "inbound_method": "POST",
        "fallback_url": None,
        "fallback_method": "POST",
        "status_callback": None,
        "sticky_sender": True,
        "mms_converter": True,
        "smart_encoding": True,
        "scan_message_content": "inherit",
        "fallback_to_long_code": True,
        "area_code_geomatch": True,
        "validity_period": 36000,
        "synchronous_validation": False,
        "usecase": "undeclared",
        "use_inbound_webhook_on_number": False,
    }
    assert ISO.match(service["date_created"]) and ISO.match(service["date_updated"])
    assert service["url"] == f"https://messaging.twilio.com/v1/Services/{service['sid']}"
    assert service["links"]["phone_numbers"] == f"{service['url']}/PhoneNumbers"


async def test_create_with_every_writable_field(api: Api) -> None:
    sub = await api.sub_creds()
    answer = await api.call("POST", "messaging", "/v1/Services", sub, data=EVERY_FIELD)
    assert answer.status == 201
    assert {k: answer.body[k] for k in EXPECTED} == EXPECTED
    fetched = await api.call("GET", "messaging", f"/v1/Services/{answer.body['sid']}", sub)
    assert {k: fetched.body[k] for k in EXPECTED} == EXPECTED


async def test_update_changes_only_what_is_sent(api: Api) -> None:
    sub = await api.sub_creds()
    service = await api.service(sub, "orig", StatusCallback="https://a.example.com/s")
    answer = await api.call(
        "POST",
        "messaging",
        f"/v1/Services/{service['sid']}",
        sub,
        data={"StickySender": "false", "ValidityPeriod": "14400"},
    )
    assert answer.status == 200
    assert answer.body["sticky_sender"] is False
    assert answer.body["validity_period"] == 14400
    assert answer.body["friendly_name"] == "orig"
    assert answer.body["status_callback"] == "https://a.example.com/s"
    every = await api.call("POST", "messaging", f"/v1/Services/{service['sid']}", sub, data=EVERY_FIELD)
    assert {k: every.body[k] for k in EXPECTED} == EXPECTED


async def test_empty_value_clears_url_fields(api: Api) -> None:
    sub = await api.sub_creds()
    service = await api.service(
        sub,
        InboundRequestUrl="https://a.example.com/in",
        FallbackUrl="https://a.example.com/fb",
        StatusCallback="https://a.example.com/st",
    )
    answer = await api.call(
        "POST",
        "messaging",
        f"/v1/Services/{service['sid']}",
        sub,
        data={"InboundRequestUrl": "", "FallbackUrl": "", "StatusCallback": ""},
    )
    assert answer.status == 200
    assert (
        answer.body["inbound_request_url"],
        answer.body["fallback_url"],
        answer.body["status_callback"],
    ) == (
        None,
        None,
        None,
    )
    assert api.violations() == []


async def test_missing_friendly_name_is_20001(api: Api) -> None:
    sub = await api.sub_creds()
    with_other_field = await api.call(
        "POST", "messaging", "/v1/Services", sub, data={"StatusCallback": "https://a.example.com/s"}
    )
    empty = await api.call("POST", "messaging", "/v1/Services", sub)
    for answer in (with_other_field, empty):
        assert (answer.status, answer.code) == (400, 20001)
        assert answer.body["message"] == "Missing required parameter FriendlyName in the post body"
    assert [v["problems"][0]["parameter"] for v in api.violations()] == ["FriendlyName", "FriendlyName"]


async def test_wire_values_are_checked(api: Api) -> None:
    sub = await api.sub_creds()
    cases = {
        "StickySender": "yes",
        "ValidityPeriod": "ten",
        "InboundMethod": "PUT",
        "ScanMessageContent": "always",
        "StatusCallback": "not a url",
    }
    for field, value in cases.items():
        answer = await api.call(
            "POST", "messaging", "/v1/Services", sub, data={"FriendlyName": "x", field: value}
        )
        assert (answer.status, answer.code) == (400, 20001), field
        assert field in answer.body["message"]
    assert [v["problems"][0]["parameter"] for v in api.violations()] == list(cases)
    listed = await api.call("GET", "messaging", "/v1/Services", sub)
    assert made(listed.body["services"]) == []


async def test_validity_period_range(api: Api) -> None:
    sub = await api.sub_creds()
    for value in ("0", "36001"):
        answer = await api.call(
            "POST", "messaging", "/v1/Services", sub, data={"FriendlyName": "x", "ValidityPeriod": value}
        )
        assert (answer.status, answer.code) == (400, 20001)
    ok = await api.call(
        "POST", "messaging", "/v1/Services", sub, data={"FriendlyName": "x", "ValidityPeriod": "36000"}
    )
    assert ok.status == 201


async def test_fetch_list_delete(api: Api) -> None:
    sub = await api.sub_creds()
    one = await api.service(sub, "one")
    two = await api.service(sub, "two")
    listed = await api.call("GET", "messaging", "/v1/Services", sub)
    assert [s["sid"] for s in made(listed.body["services"])] == [one["sid"], two["sid"]]
    deleted = await api.call("DELETE", "messaging", f"/v1/Services/{one['sid']}", sub)
    assert (deleted.status, deleted.body) == (204, None)
    gone = await api.call("GET", "messaging", f"/v1/Services/{one['sid']}", sub)
    assert (gone.status, gone.code) == (404, 20404)
    again = await api.call("DELETE", "messaging", f"/v1/Services/{one['sid']}", sub)
    assert again.status == 404


async def test_services_belong_to_the_authenticating_account(api: Api) -> None:
    sub = await api.sub_creds("a")
    other = await api.sub_creds("b")
    mine = await api.service(sub, "mine")
    parents = await api.service(api.parent, "parent's")
    assert parents["account_sid"] == api.parent.username
    # Parent credentials on v1 act on the parent account: they never reach a subaccount's services.
    from_parent = await api.call("GET", "messaging", "/v1/Services", api.parent)
    assert [s["sid"] for s in made(from_parent.body["services"])] == [parents["sid"]]
    assert (await api.call("GET", "messaging", f"/v1/Services/{mine['sid']}", api.parent)).status == 404
    assert (await api.call("GET", "messaging", f"/v1/Services/{mine['sid']}", other)).status == 404
    update = await api.call(
        "POST", "messaging", f"/v1/Services/{mine['sid']}", other, data={"FriendlyName": "stolen"}
    )
    assert update.status == 404
    assert (await api.call("DELETE", "messaging", f"/v1/Services/{mine['sid']}", other)).status == 404
