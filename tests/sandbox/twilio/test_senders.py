"""Sender pools: phone numbers, short codes and alpha senders of a Messaging Service."""

from __future__ import annotations

from .conftest import Api, Creds


def pool(service_sid: str, kind: str = "PhoneNumbers", sid: str | None = None) -> str:
    return f"/v1/Services/{service_sid}/{kind}" + (f"/{sid}" if sid else "")


async def _account_with_service(api: Api, name: str = "tenant") -> tuple[Creds, dict[str, object]]:
    sub = await api.sub_creds(name)
    return sub, await api.service(sub, f"{name}-svc")


async def test_add_list_fetch_remove_number(api: Api) -> None:
    sub, service = await _account_with_service(api)
    pn = await api.buy_number(sub.username, "+15005550006")
    added = await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": pn})
    assert added.status == 201
    assert added.body["sid"] == pn
    assert added.body["phone_number"] == "+15005550006"
    assert added.body["service_sid"] == service["sid"]
    assert added.body["account_sid"] == sub.username
    assert added.body["country_code"] == "US"
    assert set(added.body["capabilities"]) == {"SMS", "MMS", "Voice"}
    assert added.body["url"] == f"https://messaging.twilio.com/v1/Services/{service['sid']}/PhoneNumbers/{pn}"
    listed = await api.call("GET", "messaging", pool(service["sid"]), sub)
    assert [n["sid"] for n in listed.body["phone_numbers"]] == [pn]
    assert listed.body["meta"]["key"] == "phone_numbers"
    fetched = await api.call("GET", "messaging", pool(service["sid"], sid=pn), sub)
    assert fetched.body["phone_number"] == "+15005550006"
    removed = await api.call("DELETE", "messaging", pool(service["sid"], sid=pn), sub)
    assert removed.status == 204
    assert (await api.call("GET", "messaging", pool(service["sid"], sid=pn), sub)).status == 404
    assert (await api.call("DELETE", "messaging", pool(service["sid"], sid=pn), sub)).status == 404
    # Removing a number from a service does not release it from the account.
    numbers = await api.call(
        "GET", "api", f"/2010-04-01/Accounts/{sub.username}/IncomingPhoneNumbers.json", sub
    )
    assert [n["sid"] for n in numbers.body["incoming_phone_numbers"]] == [pn]


async def test_same_number_twice_in_one_service_is_21710(api: Api) -> None:
    sub, service = await _account_with_service(api)
    pn = await api.buy_number(sub.username, "+15005550006")
    await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": pn})
    again = await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": pn})
    assert (again.status, again.code) == (409, 21710)


async def test_number_in_another_service_is_21712_until_freed(api: Api) -> None:
    sub, first = await _account_with_service(api)
    second = await api.service(sub, "second")
    pn = await api.buy_number(sub.username, "+15005550006")
    await api.call("POST", "messaging", pool(first["sid"]), sub, data={"PhoneNumberSid": pn})
    taken = await api.call("POST", "messaging", pool(second["sid"]), sub, data={"PhoneNumberSid": pn})
    assert (taken.status, taken.code) == (409, 21712)
    # Deleting the service frees its numbers.
    await api.call("DELETE", "messaging", f"/v1/Services/{first['sid']}", sub)
    moved = await api.call("POST", "messaging", pool(second["sid"]), sub, data={"PhoneNumberSid": pn})
    assert moved.status == 201


async def test_number_must_belong_to_the_services_account(api: Api) -> None:
    sub, service = await _account_with_service(api, "a")
    other = await api.sub_creds("b")
    foreign = await api.buy_number(other.username, "+15005550007")
    answer = await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": foreign})
    assert (answer.status, answer.code) == (404, 20404)


async def test_number_without_sms_or_mms_is_21715(api: Api) -> None:
    sub, service = await _account_with_service(api)
    voice_only = await api.buy_number(
        sub.username, "+15005550008", capabilities={"voice": True, "sms": False, "mms": False, "fax": False}
    )
    answer = await api.call(
        "POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": voice_only}
    )
    assert (answer.status, answer.code) == (400, 21715)


async def test_pool_limit_is_21714_with_412(api: Api) -> None:
    await api.control("POST", "config", {"pool_limit": 3})
    sub, service = await _account_with_service(api)
    numbers = [await api.buy_number(sub.username, f"+1500555001{i}") for i in range(3)]
    code = await api.lease_short_code(sub.username, "12345")
    for pn in numbers[:2]:
        assert (
            await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": pn})
        ).status == 201
    # Short codes count towards the same pool.
    sc = await api.call(
        "POST", "messaging", pool(service["sid"], "ShortCodes"), sub, data={"ShortCodeSid": code}
    )
    assert sc.status == 201
    full = await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": numbers[2]})
    assert (full.status, full.code) == (412, 21714)


async def test_default_pool_limit_is_400(api: Api) -> None:
    sub, service = await _account_with_service(api)
    state = api.emulator.state
    live = state.services[str(service["sid"])]
    for i in range(400):
        number = state.buy_number(sub.username, f"+1500600{i:04d}")
        state.add_number_to_service(live, number.sid, "setup")
    extra = await api.buy_number(sub.username, "+15007009999")
    answer = await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": extra})
    assert (answer.status, answer.code) == (412, 21714)


async def test_short_codes_in_a_pool(api: Api) -> None:
    sub, service = await _account_with_service(api)
    other = await api.service(sub, "other")
    code = await api.lease_short_code(sub.username, "54321")
    added = await api.call(
        "POST", "messaging", pool(service["sid"], "ShortCodes"), sub, data={"ShortCodeSid": code}
    )
    assert added.status == 201
    assert (added.body["sid"], added.body["short_code"]) == (code, "54321")
    again = await api.call(
        "POST", "messaging", pool(service["sid"], "ShortCodes"), sub, data={"ShortCodeSid": code}
    )
    assert (again.status, again.code) == (409, 21710)
    elsewhere = await api.call(
        "POST", "messaging", pool(other["sid"], "ShortCodes"), sub, data={"ShortCodeSid": code}
    )
    assert (elsewhere.status, elsewhere.code) == (409, 21712)
    listed = await api.call("GET", "messaging", pool(service["sid"], "ShortCodes"), sub)
    assert [c["sid"] for c in listed.body["short_codes"]] == [code]
    fetched = await api.call("GET", "messaging", pool(service["sid"], "ShortCodes", code), sub)
    assert fetched.body["short_code"] == "54321"
    removed = await api.call("DELETE", "messaging", pool(service["sid"], "ShortCodes", code), sub)
    assert removed.status == 204
    assert (
        await api.call(
            "POST", "messaging", pool(other["sid"], "ShortCodes"), sub, data={"ShortCodeSid": code}
        )
    ).status == 201


async def test_alpha_senders(api: Api) -> None:
    sub, service = await _account_with_service(api)
    added = await api.call(
        "POST", "messaging", pool(service["sid"], "AlphaSenders"), sub, data={"AlphaSender": "ACME Co"}
    )
    assert added.status == 201
    assert added.body["sid"].startswith("AI") and len(added.body["sid"]) == 34
    assert added.body["alpha_sender"] == "ACME Co"
    duplicate = await api.call(
        "POST", "messaging", pool(service["sid"], "AlphaSenders"), sub, data={"AlphaSender": "ACME Co"}
    )
    assert (duplicate.status, duplicate.code) == (409, 21710)
    for bad in ("TwelveLetter", "12345", "bad!char"):
        answer = await api.call(
            "POST", "messaging", pool(service["sid"], "AlphaSenders"), sub, data={"AlphaSender": bad}
        )
        assert (answer.status, answer.code) == (400, 20001), bad
    listed = await api.call("GET", "messaging", pool(service["sid"], "AlphaSenders"), sub)
    assert [a["alpha_sender"] for a in listed.body["alpha_senders"]] == ["ACME Co"]
    fetched = await api.call("GET", "messaging", pool(service["sid"], "AlphaSenders", added.body["sid"]), sub)
    assert fetched.body["alpha_sender"] == "ACME Co"
    removed = await api.call(
        "DELETE", "messaging", pool(service["sid"], "AlphaSenders", added.body["sid"]), sub
    )
    assert removed.status == 204
    missing = await api.call("POST", "messaging", pool(service["sid"], "AlphaSenders"), sub)
    assert (missing.status, missing.code) == (400, 20001)


async def test_closing_an_account_releases_its_numbers(api: Api) -> None:
    sub, service = await _account_with_service(api)
    pn = await api.buy_number(sub.username, "+15005550006")
    sc = await api.lease_short_code(sub.username, "11111")
    await api.call("POST", "messaging", pool(service["sid"]), sub, data={"PhoneNumberSid": pn})
    await api.call("POST", "messaging", pool(service["sid"], "ShortCodes"), sub, data={"ShortCodeSid": sc})
    await api.call(
        "POST", "api", f"/2010-04-01/Accounts/{sub.username}.json", api.parent, data={"Status": "closed"}
    )
    numbers = await api.call(
        "GET", "api", f"/2010-04-01/Accounts/{sub.username}/IncomingPhoneNumbers.json", api.parent
    )
    assert numbers.body["incoming_phone_numbers"] == []
    dumped = (await api.control("GET", "state")).body
    [svc] = [s for s in dumped["services"] if s["sid"] == service["sid"]]
    assert svc["senders"]["phone_numbers"] == [] and svc["senders"]["short_codes"] == []
    # A released number can be bought again, by anyone.
    other = await api.subaccount("next owner")
    assert await api.buy_number(other["sid"], "+15005550006")
