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
    # Buying numbers is not emulated through the REST API (the control endpoint does it).
    answer = await api.call(
        "POST", "api", numbers_path(sub.username), sub, data={"PhoneNumber": "+14155550100"}
    )
    assert (answer.status, answer.code) == (405, 20004)
