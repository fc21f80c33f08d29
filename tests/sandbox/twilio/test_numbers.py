"""IncomingPhoneNumbers and SMS ShortCodes, read through the 2010 API."""

from __future__ import annotations

import json

from .conftest import Api, Creds


def numbers_path(account: str, sid: str | None = None) -> str:
    return f"/2010-04-01/Accounts/{account}/IncomingPhoneNumbers" + (f"/{sid}" if sid else "") + ".json"


def short_codes_path(account: str, sid: str | None = None) -> str:
    return f"/2010-04-01/Accounts/{account}/SMS/ShortCodes" + (f"/{sid}" if sid else "") + ".json"


async def test_resolve_an_e164_number_to_its_sid(api: Api) -> None:
    sub = await api.sub_creds()
    wanted = await api.buy_number(sub.username, "+14155550100")
    await api.buy_number(sub.username, "+14155550199")
    found = await api.call(
        "GET", "api", numbers_path(sub.username), api.parent, params={"PhoneNumber": "+14155550100"}
    )
    assert found.status == 200
    [number] = found.body["incoming_phone_numbers"]
    assert (number["sid"], number["phone_number"], number["account_sid"]) == (
        wanted,
        "+14155550100",
        sub.username,
    )
    assert number["friendly_name"] == "(415) 555-0100"
    assert number["capabilities"] == {"voice": True, "sms": True, "mms": True, "fax": False}
    assert "PhoneNumber=%2B14155550100" in found.body["uri"]
    fetched = await api.call("GET", "api", numbers_path(sub.username, wanted), sub)
    assert fetched.body["phone_number"] == "+14155550100"


async def test_number_filter_takes_partial_numbers_and_wildcards(api: Api) -> None:
    sub = await api.sub_creds()
    for suffix in ("0100", "0101", "0200"):
        await api.buy_number(sub.username, f"+1415555{suffix}")
    wildcard = await api.call(
        "GET", "api", numbers_path(sub.username), sub, params={"PhoneNumber": "555010*"}
    )
    assert sorted(n["phone_number"] for n in wildcard.body["incoming_phone_numbers"]) == [
        "+14155550100",
        "+14155550101",
    ]
    none = await api.call(
        "GET", "api", numbers_path(sub.username), sub, params={"PhoneNumber": "+19999999999"}
    )
    assert none.body["incoming_phone_numbers"] == []


async def test_numbers_of_another_account_are_invisible(api: Api) -> None:
    a = await api.sub_creds("a")
    b = await api.sub_creds("b")
    theirs = await api.buy_number(b.username, "+14155550100")
    listed = await api.call("GET", "api", numbers_path(a.username), a, params={"PhoneNumber": "+14155550100"})
    assert listed.body["incoming_phone_numbers"] == []
    fetched = await api.call("GET", "api", numbers_path(a.username, theirs), a)
    assert (fetched.status, fetched.code) == (404, 20404)
    other_path = await api.call("GET", "api", numbers_path(b.username, theirs), a)
    assert (other_path.status, other_path.code) == (401, 20003)


async def test_sms_short_codes_list_and_fetch(api: Api) -> None:
    sub = await api.sub_creds()
    sc = await api.lease_short_code(sub.username, "55555")
    await api.lease_short_code(sub.username, "66666")
    listed = await api.call("GET", "api", short_codes_path(sub.username), api.parent)
    assert [c["short_code"] for c in listed.body["short_codes"]] == ["55555", "66666"]
    filtered = await api.call(
        "GET", "api", short_codes_path(sub.username), sub, params={"ShortCode": "555*5"}
    )
    assert [c["sid"] for c in filtered.body["short_codes"]] == [sc]
    fetched = await api.call("GET", "api", short_codes_path(sub.username, sc), sub)
    assert (fetched.body["sid"], fetched.body["short_code"]) == (sc, "55555")
    missing = await api.call("GET", "api", short_codes_path(sub.username, "SC" + "0" * 32), sub)
    assert (missing.status, missing.code) == (404, 20404)


async def test_standard_and_restricted_keys_on_number_lookups(api: Api) -> None:
    sub = await api.sub_creds()
    await api.buy_number(sub.username, "+14155550100")
    key = await api.key(sub.username)
    standard = await api.call("GET", "api", numbers_path(sub.username), Creds(key["sid"], key["secret"]))
    assert standard.status == 200 and len(standard.body["incoming_phone_numbers"]) == 1
    created = await api.call(
        "POST",
        "iam",
        "/v1/Keys",
        sub,
        data={
            "AccountSid": sub.username,
            "KeyType": "restricted",
            "Policy": json.dumps({"allow": ["/twilio/phone-numbers/incoming/read"]}),
        },
    )
    restricted = Creds(created.body["sid"], created.body["secret"])
    allowed = await api.call("GET", "api", numbers_path(sub.username), restricted)
    assert allowed.status == 200
    denied = await api.call("GET", "api", short_codes_path(sub.username), restricted)
    assert (denied.status, denied.code) == (401, 20003)


async def test_number_operations_outside_the_spec_subset_do_not_exist(api: Api) -> None:
    sub = await api.sub_creds()
    # The searches for numbers to buy are read-only.
    answer = await api.call(
        "DELETE", "api", f"/2010-04-01/Accounts/{sub.username}/AvailablePhoneNumbers/US/Local.json", sub
    )
    assert (answer.status, answer.code) == (405, 20004)


async def test_numbers_are_bought_through_the_official_api(api: Api) -> None:
    sub = await api.sub_creds()
    search = await api.call(
        "GET",
        "api",
        f"/2010-04-01/Accounts/{sub.username}/AvailablePhoneNumbers/US/Local.json",
        api.parent,
        params={"AreaCode": "628", "Contains": "555*1**", "SmsEnabled": "true", "PageSize": "3"},
    )
    assert search.status == 200, search.body
    offered = [n["phone_number"] for n in search.body["available_phone_numbers"]]
    assert len(offered) == 3 and all(n.startswith("+1628") for n in offered)
    bought = await api.call(
        "POST",
        "api",
        numbers_path(sub.username),
        api.parent,
        data={"PhoneNumber": offered[0], "FriendlyName": "support", "SmsUrl": "https://a.example.com/sms"},
    )
    assert bought.status == 201, bought.body
    assert (bought.body["account_sid"], bought.body["friendly_name"], bought.body["sms_url"]) == (
        sub.username,
        "support",
        "https://a.example.com/sms",
    )
    again = await api.call(
        "POST", "api", numbers_path(sub.username), api.parent, data={"PhoneNumber": offered[0]}
    )
    assert again.status >= 400 and again.code == 21422
    by_area = await api.call("POST", "api", numbers_path(sub.username), api.parent, data={"AreaCode": "415"})
    assert by_area.status == 201 and by_area.body["phone_number"].startswith("+1415")
    later = await api.call(
        "GET",
        "api",
        f"/2010-04-01/Accounts/{sub.username}/AvailablePhoneNumbers/US/Local.json",
        sub,
        params={"AreaCode": "628"},
    )
    assert offered[0] not in [n["phone_number"] for n in later.body["available_phone_numbers"]]
    assert api.violations() == []


async def test_number_webhooks_are_updated_and_cleared(api: Api) -> None:
    sub = await api.sub_creds()
    sid = await api.buy_number(sub.username, "+14155550100")
    path = numbers_path(sub.username, sid)
    updated = await api.call(
        "POST",
        "api",
        path,
        sub,
        data={
            "SmsUrl": "https://a.example.com/sms",
            "SmsMethod": "GET",
            "StatusCallback": "https://a.example.com/s",
        },
    )
    assert (updated.body["sms_url"], updated.body["sms_method"], updated.body["status_callback"]) == (
        "https://a.example.com/sms",
        "GET",
        "https://a.example.com/s",
    )
    cleared = await api.call("POST", "api", path, sub, data={"SmsUrl": ""})
    assert cleared.body["sms_url"] is None


async def test_the_exchange_moves_a_number_with_parent_credentials_only(api: Api) -> None:
    a, b = await api.sub_creds("a"), await api.sub_creds("b")
    sid = await api.buy_number(api.parent.username, "+14155550100")
    service = await api.service(Creds(api.parent.username, api.parent.password))
    pooled = await api.call(
        "POST",
        "messaging",
        f"/v1/Services/{service['sid']}/PhoneNumbers",
        api.parent,
        data={"PhoneNumberSid": sid},
    )
    assert pooled.status == 201
    moved = await api.call(
        "POST", "api", numbers_path(api.parent.username, sid), api.parent, data={"AccountSid": a.username}
    )
    assert (moved.status, moved.body["account_sid"], moved.body["sid"]) == (200, a.username, sid)
    # It left the parent's service: services are per account.
    left = await api.call("GET", "messaging", f"/v1/Services/{service['sid']}/PhoneNumbers", api.parent)
    assert left.body["phone_numbers"] == []
    assert (await api.call("GET", "api", numbers_path(api.parent.username, sid), api.parent)).status == 404
    by_sub = await api.call("POST", "api", numbers_path(a.username, sid), a, data={"AccountSid": b.username})
    assert by_sub.status == 400 and "parent" in by_sub.body["message"]
    sibling = await api.call(
        "POST", "api", numbers_path(a.username, sid), api.parent, data={"AccountSid": b.username}
    )
    assert sibling.body["account_sid"] == b.username
    released = await api.call("DELETE", "api", numbers_path(b.username, sid), api.parent)
    assert released.status == 204
    assert (await api.call("GET", "api", numbers_path(b.username, sid), b)).status == 404


async def test_every_account_has_its_default_messaging_service(api: Api) -> None:
    sub = await api.sub_creds()
    listed = await api.call("GET", "messaging", "/v1/Services", sub)
    [default] = listed.body["services"]
    assert default["friendly_name"] == "[Auto-generated] Default Messaging Service"
    await api.buy_number(sub.username, "+14155550100")
    sent = await api.call(
        "POST",
        "api",
        f"/2010-04-01/Accounts/{sub.username}/Messages.json",
        sub,
        data={"To": "+14155550111", "From": "+14155550100", "Body": "hi"},
    )
    assert sent.status == 201 and sent.body["messaging_service_sid"] == default["sid"]
