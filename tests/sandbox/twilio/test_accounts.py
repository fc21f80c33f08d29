"""2010 Accounts: subaccount lifecycle, listing, and who may manage accounts."""

from __future__ import annotations

import re

from twilio_operator.sandbox.twilio import TwilioEmulator

from .conftest import Api, Creds

ACCOUNTS = "/2010-04-01/Accounts.json"
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


def account_path(sid: str) -> str:
    return f"/2010-04-01/Accounts/{sid}.json"


async def test_parent_exists_at_start_and_is_its_own_owner(api: Api) -> None:
    answer = await api.call("GET", "api", account_path(api.parent.username), api.parent)
    assert answer.status == 200
    assert answer.body["sid"] == api.parent.username
    assert answer.body["owner_account_sid"] == api.parent.username
    assert answer.body["auth_token"] == api.parent.password
    assert answer.body["status"] == "active"
    assert answer.body["type"] == "Full"


def test_parent_credentials_follow_the_seed() -> None:
    first, again, other = TwilioEmulator(seed=3), TwilioEmulator(seed=3), TwilioEmulator(seed=4)
    assert (first.parent_sid, first.parent_token) == (again.parent_sid, again.parent_token)
    assert first.parent_sid != other.parent_sid
    assert re.fullmatch(r"AC[0-9a-f]{32}", first.parent_sid)
    assert re.fullmatch(r"[0-9a-f]{32}", first.parent_token)


async def test_create_subaccount_returns_its_auth_token_to_the_parent(api: Api) -> None:
    answer = await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "tenant-a"})
    assert answer.status == 201
    sub = answer.body
    assert re.fullmatch(r"AC[0-9a-f]{32}", sub["sid"])
    assert re.fullmatch(r"[0-9a-f]{32}", sub["auth_token"])
    assert sub["owner_account_sid"] == api.parent.username
    assert sub["friendly_name"] == "tenant-a"
    assert sub["status"] == "active"
    assert RFC2822.match(sub["date_created"]) and RFC2822.match(sub["date_updated"])
    assert sub["uri"] == f"/2010-04-01/Accounts/{sub['sid']}.json"
    assert sub["subresource_uris"]["keys"] == f"/2010-04-01/Accounts/{sub['sid']}/Keys.json"
    assert sub["subresource_uris"]["short_codes"] == f"/2010-04-01/Accounts/{sub['sid']}/SMS/ShortCodes.json"


async def test_create_with_empty_body_uses_the_default_friendly_name(api: Api) -> None:
    answer = await api.call("POST", "api", ACCOUNTS, api.parent)
    assert answer.status == 201
    assert re.fullmatch(
        r"SubAccount Created at \d{4}-\d{2}-\d{2} \d{2}:\d{2} (am|pm)", answer.body["friendly_name"]
    )


async def test_friendly_name_longer_than_64_characters_is_refused(api: Api) -> None:
    answer = await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "x" * 65})
    assert (answer.status, answer.code) == (400, 20001)


async def test_list_holds_parent_and_subaccounts_and_filters(api: Api) -> None:
    a = await api.subaccount("alpha")
    b = await api.subaccount("beta")
    listed = await api.call("GET", "api", ACCOUNTS, api.parent)
    assert [acc["sid"] for acc in listed.body["accounts"]] == [api.parent.username, a["sid"], b["sid"]]
    by_name = await api.call("GET", "api", ACCOUNTS, api.parent, params={"FriendlyName": "beta"})
    assert [acc["sid"] for acc in by_name.body["accounts"]] == [b["sid"]]
    await api.call("POST", "api", account_path(a["sid"]), api.parent, data={"Status": "suspended"})
    suspended = await api.call("GET", "api", ACCOUNTS, api.parent, params={"Status": "suspended"})
    assert [acc["sid"] for acc in suspended.body["accounts"]] == [a["sid"]]
    # The filters are echoed in the page URIs, as Twilio does.
    assert "Status=suspended" in suspended.body["uri"]


async def test_subaccount_lists_only_itself(api: Api) -> None:
    sub = await api.sub_creds("alpha")
    await api.subaccount("beta")
    listed = await api.call("GET", "api", ACCOUNTS, sub)
    assert [acc["sid"] for acc in listed.body["accounts"]] == [sub.username]


async def test_status_transitions_active_suspended_active(api: Api) -> None:
    sub = await api.subaccount()
    for status in ("suspended", "active", "suspended", "active"):
        answer = await api.call("POST", "api", account_path(sub["sid"]), api.parent, data={"Status": status})
        assert (answer.status, answer.body["status"]) == (200, status)
    fetched = await api.call("GET", "api", account_path(sub["sid"]), api.parent)
    assert fetched.body["status"] == "active"


async def test_closed_is_terminal_and_closed_accounts_stay_listed(api: Api) -> None:
    sub = await api.subaccount()
    closed = await api.call("POST", "api", account_path(sub["sid"]), api.parent, data={"Status": "closed"})
    assert closed.body["status"] == "closed"
    for status in ("active", "suspended"):
        reopen = await api.call("POST", "api", account_path(sub["sid"]), api.parent, data={"Status": status})
        assert (reopen.status, reopen.code) == (400, 21479)
    again = await api.call("POST", "api", account_path(sub["sid"]), api.parent, data={"Status": "closed"})
    assert (again.status, again.body["status"]) == (200, "closed")
    listed = await api.call("GET", "api", ACCOUNTS, api.parent, params={"Status": "closed"})
    assert [acc["sid"] for acc in listed.body["accounts"]] == [sub["sid"]]


async def test_update_friendly_name(api: Api) -> None:
    sub = await api.subaccount("old")
    answer = await api.call("POST", "api", account_path(sub["sid"]), api.parent, data={"FriendlyName": "new"})
    assert answer.body["friendly_name"] == "new"
    assert answer.body["status"] == "active"


async def test_invalid_status_is_21475_and_a_contract_violation(api: Api) -> None:
    sub = await api.subaccount()
    answer = await api.call("POST", "api", account_path(sub["sid"]), api.parent, data={"Status": "paused"})
    assert (answer.status, answer.code) == (400, 21475)
    assert "Status" in answer.body["message"]
    [violation] = api.violations()
    assert violation["operation"] == "UpdateAccount"
    assert violation["problems"][0]["parameter"] == "Status"


async def test_parent_status_cannot_change(api: Api) -> None:
    answer = await api.call(
        "POST", "api", account_path(api.parent.username), api.parent, data={"Status": "suspended"}
    )
    assert (answer.status, answer.code) == (400, 21477)


async def test_subaccount_cannot_change_its_own_status_or_create_subaccounts(api: Api) -> None:
    sub = await api.sub_creds()
    status = await api.call("POST", "api", account_path(sub.username), sub, data={"Status": "closed"})
    assert (status.status, status.code) == (401, 20003)
    nested = await api.call("POST", "api", ACCOUNTS, sub, data={"FriendlyName": "nested"})
    assert (nested.status, nested.code) == (400, 21101)


async def test_subaccount_cannot_see_parent_or_siblings(api: Api) -> None:
    sub = await api.sub_creds("a")
    sibling = await api.subaccount("b")
    for sid in (api.parent.username, sibling["sid"]):
        answer = await api.call("GET", "api", account_path(sid), sub)
        assert (answer.status, answer.code) == (404, 20404)
        update = await api.call("POST", "api", account_path(sid), sub, data={"FriendlyName": "mine"})
        assert (update.status, update.code) == (404, 20404)


async def test_unknown_account_is_20404(api: Api) -> None:
    answer = await api.call("GET", "api", account_path("AC" + "0" * 32), api.parent)
    assert (answer.status, answer.code) == (404, 20404)
    assert answer.body["more_info"] == "https://www.twilio.com/docs/errors/20404"
    assert "/2010-04-01/Accounts/AC" in answer.body["message"]


async def test_subaccount_limit_is_21480(api: Api) -> None:
    await api.control("POST", "config", {"subaccount_limit": 2})
    await api.subaccount("one")
    await api.subaccount("two")
    answer = await api.call("POST", "api", ACCOUNTS, api.parent, data={"FriendlyName": "three"})
    assert (answer.status, answer.code) == (400, 21480)


async def test_main_key_manages_accounts_but_sees_no_auth_tokens(api: Api) -> None:
    created = await api.control("POST", f"accounts/{api.parent.username}/keys", {"type": "main"})
    main = Creds(created.body["sid"], created.body["secret"])
    sub = await api.call("POST", "api", ACCOUNTS, main, data={"FriendlyName": "via-main-key"})
    assert sub.status == 201
    assert sub.body["auth_token"] is None
    listed = await api.call("GET", "api", ACCOUNTS, main)
    assert all(acc["auth_token"] is None for acc in listed.body["accounts"])
