"""Credentials to principals, and Twilio's rules for what each credential may reach.

The rules (twilio-api.md §1, §2c, §8):

* Account SID + Auth Token, and Main API keys, may do everything on their own account. Only they may call
  ``/Accounts`` and the Keys endpoints (2010 and IAM v1); Standard and Restricted keys get 401/20003 there.
* The parent's SID + Auth Token also reach the 2010 resources of its subaccounts (the subaccount SID goes in
  the path). A parent Main key does not.
* Product APIs (messaging, iam) have no account in the path: they always act on the credential's account.
* Restricted keys reach only what their policy allows (see ``PERMISSIONS``).
* Credentials of a suspended or closed account are refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import account_not_active, authenticate, forbidden
from .state import Account, AccountStatus, KeyType, TwilioState

ACCOUNT_OPERATIONS = frozenset({"CreateAccount", "ListAccount", "FetchAccount", "UpdateAccount"})
KEY_OPERATIONS_2010 = frozenset({"ListKey", "CreateNewKey", "FetchKey", "UpdateKey", "DeleteKey"})

# The permission a Restricted key needs for each operation. Twilio names permissions
# "/twilio/<product>/<resource>/<action>" (e.g. "/twilio/messaging/messages/read") but publishes the full list
# only as downloadable tables; these names follow that scheme for the resources the emulator serves.
# Operations absent here (accounts, keys) are never open to Restricted keys.
PERMISSIONS: Mapping[tuple[str, str], str] = {
    ("api", "CreateMessage"): "/twilio/messaging/messages/create",
    ("api", "FetchMessage"): "/twilio/messaging/messages/read",
    ("api", "ListMessage"): "/twilio/messaging/messages/read",
    ("messaging", "CreateService"): "/twilio/messaging/services/create",
    ("messaging", "ListService"): "/twilio/messaging/services/read",
    ("messaging", "FetchService"): "/twilio/messaging/services/read",
    ("messaging", "UpdateService"): "/twilio/messaging/services/update",
    ("messaging", "DeleteService"): "/twilio/messaging/services/delete",
    ("messaging", "CreatePhoneNumber"): "/twilio/messaging/services/phone-numbers/create",
    ("messaging", "ListPhoneNumber"): "/twilio/messaging/services/phone-numbers/read",
    ("messaging", "FetchPhoneNumber"): "/twilio/messaging/services/phone-numbers/read",
    ("messaging", "DeletePhoneNumber"): "/twilio/messaging/services/phone-numbers/delete",
    ("messaging", "CreateShortCode"): "/twilio/messaging/services/short-codes/create",
    ("messaging", "ListShortCode"): "/twilio/messaging/services/short-codes/read",
    ("messaging", "FetchShortCode"): "/twilio/messaging/services/short-codes/read",
    ("messaging", "DeleteShortCode"): "/twilio/messaging/services/short-codes/delete",
    ("messaging", "CreateAlphaSender"): "/twilio/messaging/services/alpha-senders/create",
    ("messaging", "ListAlphaSender"): "/twilio/messaging/services/alpha-senders/read",
    ("messaging", "FetchAlphaSender"): "/twilio/messaging/services/alpha-senders/read",
    ("messaging", "DeleteAlphaSender"): "/twilio/messaging/services/alpha-senders/delete",
    ("api", "ListIncomingPhoneNumber"): "/twilio/phone-numbers/incoming/read",
    ("api", "FetchIncomingPhoneNumber"): "/twilio/phone-numbers/incoming/read",
    ("api", "ListShortCode"): "/twilio/messaging/short-codes/read",
    ("api", "FetchShortCode"): "/twilio/messaging/short-codes/read",
}


@dataclass(frozen=True)
class Principal:
    """Who made a request: the credential's account and what kind of credential it was."""

    account: Account
    auth_sid: str
    # None for Account SID + Auth Token.
    key_type: KeyType | None
    permissions: frozenset[str] = frozenset()

    @property
    def has_main_powers(self) -> bool:
        return self.key_type is None or self.key_type is KeyType.MAIN


def parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def authenticate_request(state: TwilioState, header: str | None) -> Principal:
    credentials = parse_basic(header)
    if credentials is None:
        raise authenticate()
    username, password = credentials
    if username.startswith("AC"):
        account = state.accounts.get(username)
        if account is None or not hmac.compare_digest(account.auth_token, password):
            raise authenticate()
        principal = Principal(account=account, auth_sid=username, key_type=None)
    elif username.startswith("SK"):
        key = state.keys.get(username)
        if key is None or not hmac.compare_digest(key.secret, password):
            raise authenticate()
        allow = (key.policy or {}).get("allow", [])
        principal = Principal(
            account=state.accounts[key.account_sid],
            auth_sid=username,
            key_type=key.type,
            permissions=frozenset(p for p in allow if isinstance(p, str)),
        )
    else:
        raise authenticate()
    status = principal.account.status
    if status is AccountStatus.CLOSED:
        raise authenticate(detail=f"Account {principal.account.sid} is closed")
    if status is AccountStatus.SUSPENDED:
        raise account_not_active(principal.account.sid)
    return principal


def authorize(
    principal: Principal,
    state: TwilioState,
    host: str,
    operation: str,
    path_params: Mapping[str, str],
    method: str,
) -> Account:
    """Check the credential may make this call; return the account the call acts on.

    Account management (``/Accounts``) acts on the caller's own account, whose subaccounts it manages; 2010
    sub-resources act on the path's account; product APIs on the credential's account.
    """
    if (
        host == "iam"
        or operation in ACCOUNT_OPERATIONS
        or (host == "api" and operation in KEY_OPERATIONS_2010)
    ):
        if not principal.has_main_powers:
            raise authenticate(detail="Standard and Restricted API keys cannot access /Accounts or /Keys")
    elif principal.key_type is KeyType.RESTRICTED:
        needed = PERMISSIONS.get((host, operation))
        if needed is None or needed not in principal.permissions:
            raise authenticate(detail="Policy evaluation failed")

    if host != "api" or operation in ACCOUNT_OPERATIONS:
        return principal.account

    target = state.accounts.get(path_params.get("AccountSid", ""))
    if target is None:
        raise authenticate(detail="The AccountSid in the URL is not reachable with these credentials")
    if target.sid == principal.account.sid:
        return target
    if target.owner_sid == principal.account.sid and principal.key_type is None:
        if target.status is AccountStatus.CLOSED and method != "GET":
            raise forbidden(f"Account {target.sid} is closed")
        return target
    raise authenticate(detail="The AccountSid in the URL is not reachable with these credentials")
