"""iam.twilio.com/v1: API keys, including Restricted keys with a permission policy.

Create and list name the account in an ``AccountSid`` parameter; fetch, update and delete do not, so they
act on the credential's account. Whether parent credentials may name a subaccount there is undocumented;
like twilio-api.md §9 advises, the emulator refuses it (use the subaccount's credentials or the 2010 path).
"""

from __future__ import annotations

import json
from typing import Any

from .calls import Call, Handler, Reply, friendly_name
from .errors import authenticate, invalid_parameter
from .formats import rfc2822, utcnow
from .paging import page_request, page_v1, paginate
from .state import ApiKey, KeyType

MAX_PERMISSIONS = 100


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_updated),
        "policy": key.policy,
    }


def _listed_key_json(key: ApiKey) -> dict[str, Any]:
    # The list schema (iam.v1.get_keys) has no policy.
    return {k: v for k, v in key_json(key).items() if k != "policy"}


def _policy(raw: str) -> dict[str, Any]:
    """Parse a ``Policy`` form value: ``{"allow": ["/twilio/…", …]}`` with at most 100 permissions."""
    try:
        policy = json.loads(raw)
    except json.JSONDecodeError as error:
        raise invalid_parameter(f"Invalid parameter Policy: not valid JSON ({error.msg})") from error
    allow = policy.get("allow") if isinstance(policy, dict) else None
    if not isinstance(allow, list) or not all(isinstance(p, str) and p.startswith("/twilio/") for p in allow):
        raise invalid_parameter('Invalid parameter Policy: expected {"allow": ["/twilio/...", ...]}')
    if len(allow) > MAX_PERMISSIONS:
        raise invalid_parameter(f"Invalid parameter Policy: at most {MAX_PERMISSIONS} permissions")
    return {"allow": list(allow)}


def _own_account(call: Call, account_sid: str) -> None:
    if account_sid != call.principal.account.sid:
        raise authenticate(detail="AccountSid must be the account of the credentials used")


def create_key(call: Call) -> Reply:
    _own_account(call, call.form["AccountSid"])
    name = friendly_name(call)
    restricted = call.form.get("KeyType") == "restricted"
    raw_policy = call.form.get("Policy")
    if restricted and raw_policy is None:
        raise invalid_parameter("Missing required parameter Policy for a restricted key")
    if raw_policy is not None and not restricted:
        raise invalid_parameter("Policy is only allowed with KeyType=restricted")
    key = call.state.create_key(
        call.account.sid,
        name,
        KeyType.RESTRICTED if restricted else KeyType.STANDARD,
        _policy(raw_policy) if raw_policy is not None else None,
    )
    # The secret appears in this response only.
    return Reply(201, {**key_json(key), "secret": key.secret})


def list_keys(call: Call) -> Reply:
    _own_account(call, call.query["AccountSid"])
    keys = list(call.state.account_keys(call.account.sid))
    page = paginate(keys, lambda k: k.sid, call.state.order_of, page_request(call.query), _listed_key_json)
    return Reply(200, page_v1("keys", page, call.public_base, call.path, call.filters))


def _key(call: Call) -> ApiKey:
    return call.state.key_of(call.account.sid, call.path_params["Sid"], call.path)


def fetch_key(call: Call) -> Reply:
    return Reply(200, key_json(_key(call)))


def update_key(call: Call) -> Reply:
    key = _key(call)
    name = friendly_name(call)
    raw_policy = call.form.get("Policy")
    # Standard and Main keys can change only their friendly name (keys-in-console docs).
    if raw_policy is not None and key.type is not KeyType.RESTRICTED:
        raise invalid_parameter("Policy can only be updated on a restricted key")
    policy = _policy(raw_policy) if raw_policy is not None else key.policy
    if (name is not None and name != key.friendly_name) or policy != key.policy:
        key.friendly_name = name if name is not None else key.friendly_name
        key.policy = policy
        key.date_updated = utcnow()
    return Reply(200, key_json(key))


def delete_key(call: Call) -> Reply:
    call.state.delete_key(_key(call))
    return Reply(204)


HANDLERS: dict[str, Handler] = {
    "CreateNewKey": create_key,
    "ListGetKeys": list_keys,
    "FetchKey": fetch_key,
    "UpdateKey": update_key,
    "DeleteKey": delete_key,
}
