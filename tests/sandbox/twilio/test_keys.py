"""API keys: the 2010 Keys resource and IAM v1 Keys (standard and restricted)."""

from __future__ import annotations

import json
import re

from .conftest import Api, Creds, made


def keys_path(account_sid: str, key_sid: str | None = None) -> str:
    suffix = f"/{key_sid}" if key_sid else ""
    return f"/2010-04-01/Accounts/{account_sid}/Keys{suffix}.json"


# -- 2010 ---------------------------------------------------------------------------------------------------


async def test_2010_key_lifecycle_and_secret_only_on_create(api: Api) -> None:
    sub = await api.subaccount()
    created = await api.call("POST", "api", keys_path(sub["sid"]), api.parent, data={"FriendlyName": "ci"})
    assert created.status == 201
    key = created.body
    assert re.fullmatch(r"SK[0-9a-f]{32}", key["sid"])
    assert re.fullmatch(r"[A-Za-z0-9]{32}", key["secret"])
    assert set(key) == {"sid", "friendly_name", "date_created", "date_updated", "secret"}

    fetched = await api.call("GET", "api", keys_path(sub["sid"], key["sid"]), api.parent)
    assert fetched.status == 200
    assert "secret" not in fetched.body
    listed = await api.call("GET", "api", keys_path(sub["sid"]), api.parent)
    assert [k["sid"] for k in listed.body["keys"]] == [key["sid"]]
    assert all("secret" not in k for k in listed.body["keys"])

    updated = await api.call(
        "POST", "api", keys_path(sub["sid"], key["sid"]), api.parent, data={"FriendlyName": "renamed"}
    )
    assert updated.body["friendly_name"] == "renamed"
    deleted = await api.call("DELETE", "api", keys_path(sub["sid"], key["sid"]), api.parent)
    assert (deleted.status, deleted.body) == (204, None)
    gone = await api.call("GET", "api", keys_path(sub["sid"], key["sid"]), api.parent)
    assert (gone.status, gone.code) == (404, 20404)


async def test_key_authenticates_in_its_account_until_deleted(api: Api) -> None:
    sub = await api.sub_creds()
    key = await api.key(sub.username)
    as_key = Creds(key["sid"], key["secret"])
    service = await api.call("POST", "messaging", "/v1/Services", as_key, data={"FriendlyName": "by-key"})
    assert service.status == 201
    assert service.body["account_sid"] == sub.username
    wrong = await api.call("GET", "messaging", "/v1/Services", Creds(key["sid"], "x" * 32))
    assert (wrong.status, wrong.code) == (401, 20003)
    await api.call("DELETE", "api", keys_path(sub.username, key["sid"]), api.parent)
    revoked = await api.call("GET", "messaging", "/v1/Services", as_key)
    assert (revoked.status, revoked.code) == (401, 20003)


async def test_subaccount_manages_its_own_keys_but_not_others(api: Api) -> None:
    sub = await api.sub_creds("a")
    sibling = await api.subaccount("b")
    own = await api.call("POST", "api", keys_path(sub.username), sub, data={"FriendlyName": "own"})
    assert own.status == 201
    for account in (api.parent.username, sibling["sid"]):
        answer = await api.call("GET", "api", keys_path(account), sub)
        assert (answer.status, answer.code) == (401, 20003)


async def test_key_of_another_account_is_not_found_on_this_path(api: Api) -> None:
    a = await api.subaccount("a")
    b = await api.subaccount("b")
    key = await api.key(a["sid"])
    answer = await api.call("GET", "api", keys_path(b["sid"], key["sid"]), api.parent)
    assert (answer.status, answer.code) == (404, 20404)


async def test_standard_key_is_denied_keys_and_accounts(api: Api) -> None:
    sub = await api.sub_creds()
    key = await api.key(sub.username)
    standard = Creds(key["sid"], key["secret"])
    for method, path in (
        ("GET", keys_path(sub.username)),
        ("POST", keys_path(sub.username)),
        ("GET", "/2010-04-01/Accounts.json"),
        ("GET", f"/2010-04-01/Accounts/{sub.username}.json"),
    ):
        answer = await api.call(method, "api", path, standard)
        assert (answer.status, answer.code) == (401, 20003), (method, path)
    iam = await api.call("GET", "iam", "/v1/Keys", standard, params={"AccountSid": sub.username})
    assert (iam.status, iam.code) == (401, 20003)


# -- IAM v1 -------------------------------------------------------------------------------------------------


async def test_iam_standard_key_lifecycle(api: Api) -> None:
    sub = await api.sub_creds()
    created = await api.call(
        "POST", "iam", "/v1/Keys", sub, data={"AccountSid": sub.username, "FriendlyName": "v1"}
    )
    assert created.status == 201
    assert created.body["policy"] is None
    assert re.fullmatch(r"[A-Za-z0-9]{32}", created.body["secret"])
    sid = created.body["sid"]
    fetched = await api.call("GET", "iam", f"/v1/Keys/{sid}", sub)
    assert fetched.status == 200 and "secret" not in fetched.body and fetched.body["policy"] is None
    listed = await api.call("GET", "iam", "/v1/Keys", sub, params={"AccountSid": sub.username})
    assert [k["sid"] for k in listed.body["keys"]] == [sid]
    assert all("secret" not in k for k in listed.body["keys"])
    renamed = await api.call("POST", "iam", f"/v1/Keys/{sid}", sub, data={"FriendlyName": "v1b"})
    assert renamed.body["friendly_name"] == "v1b"
    deleted = await api.call("DELETE", "iam", f"/v1/Keys/{sid}", sub)
    assert deleted.status == 204
    gone = await api.call("GET", "iam", f"/v1/Keys/{sid}", sub)
    assert (gone.status, gone.code) == (404, 20404)


async def test_iam_restricted_key_echoes_its_policy(api: Api) -> None:
    sub = await api.sub_creds()
    policy = {"allow": ["/twilio/messaging/services/read"]}
    created = await api.call(
        "POST",
        "iam",
        "/v1/Keys",
        sub,
        data={"AccountSid": sub.username, "KeyType": "restricted", "Policy": json.dumps(policy)},
    )
    assert created.status == 201
    assert created.body["policy"] == policy
    fetched = await api.call("GET", "iam", f"/v1/Keys/{created.body['sid']}", sub)
    assert fetched.body["policy"] == policy
    wider = {"allow": [*policy["allow"], "/twilio/messaging/services/create"]}
    updated = await api.call(
        "POST", "iam", f"/v1/Keys/{created.body['sid']}", sub, data={"Policy": json.dumps(wider)}
    )
    assert updated.body["policy"] == wider


async def test_iam_key_requires_account_sid_of_the_caller(api: Api) -> None:
    sub = await api.sub_creds()
    missing = await api.call("POST", "iam", "/v1/Keys", sub, data={"FriendlyName": "x"})
    assert (missing.status, missing.code) == (400, 20001)
    assert missing.body["message"] == "Missing required parameter AccountSid in the post body"
    listing = await api.call("GET", "iam", "/v1/Keys", sub)
    assert (listing.status, listing.code) == (400, 20001)
    assert "AccountSid" in listing.body["message"]
    # Parent credentials do not reach a subaccount through AccountSid (twilio-api.md §9: assume no).
    for_sub = await api.call("POST", "iam", "/v1/Keys", api.parent, data={"AccountSid": sub.username})
    assert (for_sub.status, for_sub.code) == (401, 20003)
    list_sub = await api.call("GET", "iam", "/v1/Keys", api.parent, params={"AccountSid": sub.username})
    assert (list_sub.status, list_sub.code) == (401, 20003)


async def test_iam_fetch_acts_on_the_callers_account(api: Api) -> None:
    sub = await api.sub_creds()
    created = await api.call("POST", "iam", "/v1/Keys", sub, data={"AccountSid": sub.username})
    from_parent = await api.call("GET", "iam", f"/v1/Keys/{created.body['sid']}", api.parent)
    assert (from_parent.status, from_parent.code) == (404, 20404)


async def test_iam_policy_rules(api: Api) -> None:
    sub = await api.sub_creds()
    base = {"AccountSid": sub.username}
    no_policy = await api.call("POST", "iam", "/v1/Keys", sub, data={**base, "KeyType": "restricted"})
    assert (no_policy.status, no_policy.code) == (400, 20001)
    bad_json = await api.call(
        "POST", "iam", "/v1/Keys", sub, data={**base, "KeyType": "restricted", "Policy": "{"}
    )
    assert (bad_json.status, bad_json.code) == (400, 20001)
    bad_shape = await api.call(
        "POST", "iam", "/v1/Keys", sub, data={**base, "KeyType": "restricted", "Policy": '{"allow": "all"}'}
    )
    assert (bad_shape.status, bad_shape.code) == (400, 20001)
    too_many = {"allow": [f"/twilio/messaging/services/p{i}" for i in range(101)]}
    excess = await api.call(
        "POST", "iam", "/v1/Keys", sub, data={**base, "KeyType": "restricted", "Policy": json.dumps(too_many)}
    )
    assert (excess.status, excess.code) == (400, 20001)
    standard_with_policy = await api.call(
        "POST", "iam", "/v1/Keys", sub, data={**base, "Policy": '{"allow": []}'}
    )
    assert standard_with_policy.status == 400
    main_type = await api.call("POST", "iam", "/v1/Keys", sub, data={**base, "KeyType": "main"})
    assert (main_type.status, main_type.code) == (400, 20001)
    standard = await api.call("POST", "iam", "/v1/Keys", sub, data=base)
    policy_on_standard = await api.call(
        "POST", "iam", f"/v1/Keys/{standard.body['sid']}", sub, data={"Policy": '{"allow": []}'}
    )
    assert (policy_on_standard.status, policy_on_standard.code) == (400, 20001)


async def test_restricted_key_reaches_only_its_permissions(api: Api) -> None:
    sub = await api.sub_creds()
    service = await api.service(sub)
    policy = {"allow": ["/twilio/messaging/services/read"]}
    created = await api.call(
        "POST",
        "iam",
        "/v1/Keys",
        sub,
        data={"AccountSid": sub.username, "KeyType": "restricted", "Policy": json.dumps(policy)},
    )
    restricted = Creds(created.body["sid"], created.body["secret"])
    listed = await api.call("GET", "messaging", "/v1/Services", restricted)
    assert [s["sid"] for s in made(listed.body["services"])] == [service["sid"]]
    fetched = await api.call("GET", "messaging", f"/v1/Services/{service['sid']}", restricted)
    assert fetched.status == 200
    for method, path in (("POST", "/v1/Services"), ("DELETE", f"/v1/Services/{service['sid']}")):
        denied = await api.call(
            method, "messaging", path, restricted, data={"FriendlyName": "x"} if method == "POST" else None
        )
        assert (denied.status, denied.code) == (401, 20003)
    numbers = await api.call(
        "GET", "api", f"/2010-04-01/Accounts/{sub.username}/IncomingPhoneNumbers.json", restricted
    )
    assert (numbers.status, numbers.code) == (401, 20003)
    keys = await api.call("GET", "iam", "/v1/Keys", restricted, params={"AccountSid": sub.username})
    assert (keys.status, keys.code) == (401, 20003)
    # Widening the policy takes effect on the next request.
    wider = {"allow": [*policy["allow"], "/twilio/messaging/services/create"]}
    await api.call("POST", "iam", f"/v1/Keys/{restricted.username}", sub, data={"Policy": json.dumps(wider)})
    allowed = await api.call("POST", "messaging", "/v1/Services", restricted, data={"FriendlyName": "now ok"})
    assert allowed.status == 201


async def test_keys_created_through_iam_show_in_the_2010_list(api: Api) -> None:
    sub = await api.sub_creds()
    v1 = await api.call(
        "POST", "iam", "/v1/Keys", sub, data={"AccountSid": sub.username, "FriendlyName": "v1"}
    )
    listed = await api.call("GET", "api", keys_path(sub.username), api.parent)
    assert [k["sid"] for k in listed.body["keys"]] == [v1.body["sid"]]
