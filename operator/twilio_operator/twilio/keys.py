"""External client for API keys: 2010 Keys (standard) with the parent credentials, IAM v1 Keys
(restricted) with the subaccount's own credentials."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from . import shapes
from .errors import NotFound
from .gateway import TwilioGateway
from .observed import Observed


@dataclass(frozen=True)
class DesiredKey:
    account_sid: str
    friendly_name: str
    type: str  # Standard | Restricted
    policy: tuple[str, ...] | None
    secret_name: str
    # The Secret as read before any Twilio call (None when absent); never printed.
    secret: dict[str, Any] | None = field(default=None, repr=False, compare=False)


def _observed(key: Any, policy: Any = None) -> Observed:
    sid = shapes.sid(key, "SK", "key")
    shapes.required(key, "key", ("friendly_name",))
    created = key.date_created if isinstance(key.date_created, datetime.datetime) else None
    secret = getattr(key, "secret", None)
    return Observed(
        sid=sid,
        data={"friendly_name": key.friendly_name, "policy": policy},
        created_at=created,
        secrets={"secret": str(secret)} if secret else {},
    )


def _allowed(policy: Any) -> tuple[str, ...] | None:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    if isinstance(policy, dict) and isinstance(policy.get("allow"), list):
        return tuple(sorted(str(p) for p in policy["allow"]))
    return None


class Keys:
    """Keys of one account. A key's secret is only in the create response, so keys are never adopted."""

    adoptable = False

    def __init__(self, gateway: TwilioGateway, account_sid: str, key_type: str) -> None:
        self.gw = gateway
        self.account = account_sid
        self.restricted = key_type == "Restricted"

    def _keys(self) -> Any:
        return self.gw.parent().api.v2010.accounts(self.account)

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        if self.restricted:
            client = await self.gw.account_client(self.account)
            key = await self.gw.call(
                self.account, "FetchApiKey", lambda: client.iam.v1.api_key(sid).fetch_async()
            )
            return _observed(key, _allowed(key.policy))
        key = None
        if steady:
            listed = await self.gw.listed(
                self.account, "ListKey", lambda: self._keys().keys.list_async(page_size=1000)
            )
            key = listed.get(sid)
        if key is None:
            # Not listed (created since, or gone): the fetch tells which.
            key = await self.gw.call(self.account, "FetchKey", lambda: self._keys().keys(sid).fetch_async())
        return _observed(key)

    async def find(self, desired: DesiredKey, since: datetime.datetime) -> list[Observed]:
        keys = await self.gw.call(self.account, "ListKey", self._keys().keys.list_async)
        return [
            _observed(k)
            for k in keys
            if k.friendly_name == desired.friendly_name
            and isinstance(k.date_created, datetime.datetime)
            and k.date_created >= since
        ]

    async def create(self, desired: DesiredKey) -> Observed:
        if self.restricted:
            client = await self.gw.account_client(self.account)
            policy = {"allow": list(desired.policy or ())}
            key = await self.gw.call(
                self.account,
                "CreateNewApiKey",
                lambda: client.iam.v1.new_api_key.create_async(
                    account_sid=self.account,
                    friendly_name=desired.friendly_name,
                    key_type="restricted",
                    policy=policy,
                ),
                idempotent=False,
            )
            return _observed(key, _allowed(key.policy))
        key = await self.gw.call(
            self.account,
            "CreateNewKey",
            lambda: self._keys().new_keys.create_async(friendly_name=desired.friendly_name),
            idempotent=False,
        )
        return _observed(key)

    def values(self, desired: DesiredKey) -> dict[str, Any]:
        return {"friendlyName": desired.friendly_name, "policy": desired.policy}

    def differences(self, desired: DesiredKey, observed: Observed) -> list[str]:
        fields = []
        if observed.data["friendly_name"] != desired.friendly_name:
            fields.append("friendlyName")
        # A changed policy is handled by the kind: a spec change replaces the key, console drift is reverted.
        return fields

    async def update(self, desired: DesiredKey, observed: Observed, fields: list[str]) -> Observed:
        if self.restricted:
            client = await self.gw.account_client(self.account)
            changes: dict[str, Any] = {"friendly_name": desired.friendly_name}
            if "policy" in fields:
                changes["policy"] = {"allow": list(desired.policy or ())}
            key = await self.gw.call(
                self.account,
                "UpdateApiKey",
                lambda: client.iam.v1.api_key(observed.sid).update_async(**changes),
            )
            return _observed(key, _allowed(key.policy))
        key = await self.gw.call(
            self.account,
            "UpdateKey",
            lambda: self._keys().keys(observed.sid).update_async(friendly_name=desired.friendly_name),
        )
        return _observed(key)

    async def delete(self, sid: str) -> None:
        """Revoke a key of any type (the 2010 Keys resource holds them all); absent is fine."""
        try:
            await self.gw.call(self.account, "DeleteKey", lambda: self._keys().keys(sid).delete_async())
        except NotFound:
            return

    async def set_policy(self, sid: str, policy: tuple[str, ...] | None) -> Observed:
        client = await self.gw.account_client(self.account)
        key = await self.gw.call(
            self.account,
            "UpdateApiKey",
            lambda: client.iam.v1.api_key(sid).update_async(policy={"allow": list(policy or ())}),
        )
        return _observed(key, _allowed(key.policy))

    async def discard(self, orphan: Observed) -> None:
        # Its secret died with the pass that created it: revoke it.
        await self.delete(orphan.sid)
