"""Credential scoping: who may act on which account, through which API."""

from __future__ import annotations

import base64

from .conftest import Api, Creds, made


async def test_missing_or_wrong_credentials_are_20003(api: Api) -> None:
    no_auth = await api.call("GET", "api", "/2010-04-01/Accounts.json")
    assert (no_auth.status, no_auth.code) == (401, 20003)
    assert no_auth.headers["WWW-Authenticate"].startswith("Basic")
    assert no_auth.body["message"] == "Authenticate"
    for creds in (
        Creds(api.parent.username, "0" * 32),
        Creds("AC" + "0" * 32, api.parent.password),
        Creds("SK" + "0" * 32, "secret"),
        Creds("someone", "else"),
    ):
        answer = await api.call("GET", "messaging", "/v1/Services", creds)
        assert (answer.status, answer.code) == (401, 20003)
    garbled = await api.call(
        "GET", "api", "/2010-04-01/Accounts.json", headers={"Authorization": "Basic !!!"}
    )
    assert garbled.status == 401
    no_colon = base64.b64encode(api.parent.username.encode()).decode()
    bare = await api.call(
        "GET", "api", "/2010-04-01/Accounts.json", headers={"Authorization": f"Basic {no_colon}"}
    )
    assert bare.status == 401


async def test_parent_auth_token_acts_on_subaccount_2010_paths(api: Api) -> None:
    sub = await api.subaccount()
    key = await api.call(
        "POST", "api", f"/2010-04-01/Accounts/{sub['sid']}/Keys.json", api.parent, data={"FriendlyName": "k"}
    )
    assert key.status == 201
    [logged] = [r for r in api.emulator.requests() if r["operation"] == "CreateNewKey"]
    assert logged["principal"] == sub["sid"]
    assert logged["auth_sid"] == api.parent.username


async def test_parent_main_key_is_denied_subaccount_2010_resources(api: Api) -> None:
    sub = await api.subaccount()
    created = await api.control("POST", f"accounts/{api.parent.username}/keys", {"type": "main"})
    main = Creds(created.body["sid"], created.body["secret"])
    own = await api.call("GET", "api", f"/2010-04-01/Accounts/{api.parent.username}/Keys.json", main)
    assert own.status == 200
    denied = await api.call("GET", "api", f"/2010-04-01/Accounts/{sub['sid']}/Keys.json", main)
    assert (denied.status, denied.code) == (401, 20003)


async def test_v1_acts_as_whoever_authenticated(api: Api) -> None:
    sub = await api.sub_creds()
    created = await api.call("POST", "messaging", "/v1/Services", sub, data={"FriendlyName": "s"})
    assert created.body["account_sid"] == sub.username
    [logged] = [r for r in api.emulator.requests() if r["operation"] == "CreateService"]
    assert logged["principal"] == sub.username
    parent_view = await api.call("GET", "messaging", "/v1/Services", api.parent)
    assert made(parent_view.body["services"]) == []


async def test_suspended_and_closed_accounts_credentials_are_refused(api: Api) -> None:
    sub = await api.sub_creds()
    key = await api.key(sub.username)
    as_key = Creds(key["sid"], key["secret"])
    path = f"/2010-04-01/Accounts/{sub.username}.json"
    await api.call("POST", "api", path, api.parent, data={"Status": "suspended"})
    for creds in (sub, as_key):
        refused = await api.call("GET", "messaging", "/v1/Services", creds)
        assert refused.status == 401
        assert refused.code in (20003, 20005, 10001, 20403)
    # The parent still manages a suspended subaccount.
    managed = await api.call("GET", "api", f"/2010-04-01/Accounts/{sub.username}/Keys.json", api.parent)
    assert managed.status == 200
    await api.call("POST", "api", path, api.parent, data={"Status": "active"})
    assert (await api.call("GET", "messaging", "/v1/Services", sub)).status == 200
    await api.call("POST", "api", path, api.parent, data={"Status": "closed"})
    for creds in (sub, as_key):
        closed = await api.call("GET", "messaging", "/v1/Services", creds)
        assert (closed.status, closed.code) == (401, 20003)


async def test_closed_subaccount_data_is_readable_but_not_writable(api: Api) -> None:
    sub = await api.subaccount()
    key = await api.key(sub["sid"])
    await api.call(
        "POST", "api", f"/2010-04-01/Accounts/{sub['sid']}.json", api.parent, data={"Status": "closed"}
    )
    keys_path = f"/2010-04-01/Accounts/{sub['sid']}/Keys.json"
    listed = await api.call("GET", "api", keys_path, api.parent)
    assert [k["sid"] for k in listed.body["keys"]] == [key["sid"]]
    write = await api.call("POST", "api", keys_path, api.parent, data={"FriendlyName": "late"})
    assert (write.status, write.code) == (403, 20403)


async def test_unknown_account_in_path_is_not_reachable(api: Api) -> None:
    answer = await api.call("GET", "api", f"/2010-04-01/Accounts/AC{'1' * 32}/Keys.json", api.parent)
    assert (answer.status, answer.code) == (401, 20003)
