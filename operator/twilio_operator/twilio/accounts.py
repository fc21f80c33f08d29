"""External client for subaccounts (2010 Accounts API, with the parent credentials)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from . import shapes
from .errors import NotFound
from .gateway import TwilioGateway
from .observed import Observed

# Twilio's status values for the spec's states.
TWILIO_STATE = {"Active": "active", "Suspended": "suspended"}


@dataclass(frozen=True)
class DesiredAccount:
    friendly_name: str
    status: str  # active | suspended


def observed_account(account: Any) -> Observed:
    sid = shapes.sid(account, "AC", "subaccount")
    shapes.required(account, "subaccount", ("friendly_name", "owner_account_sid"))
    shapes.one_of(account, "subaccount", "status", ("active", "suspended", "closed"))
    created = account.date_created if isinstance(account.date_created, datetime.datetime) else None
    return Observed(
        sid=sid,
        data={
            "friendly_name": account.friendly_name,
            "status": account.status,
            "owner_account_sid": account.owner_account_sid,
        },
        created_at=created,
        secrets={"auth_token": str(account.auth_token)} if account.auth_token else {},
    )


class Accounts:
    """Observe, find, create, update and close subaccounts of the parent."""

    adoptable = True

    def __init__(self, gateway: TwilioGateway) -> None:
        self.gw = gateway

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        parent = self.gw.parent_sid
        account = None
        if steady:
            # One list of the parent's accounts serves the drift checks of every subaccount.
            listed = await self.gw.listed(
                parent, "ListAccount", lambda: self.gw.parent().api.v2010.accounts.list_async(page_size=1000)
            )
            account = listed.get(sid)
        if account is None:
            account = await self.gw.call(
                parent, "FetchAccount", lambda: self.gw.parent().api.v2010.accounts(sid).fetch_async()
            )
        observed = observed_account(account)
        if observed.data["owner_account_sid"] != parent or sid == parent:
            # Only the parent's own subaccounts are manageable; anything else is treated as absent.
            raise NotFound(f"{sid} is not a subaccount of the operator's account")
        return observed

    async def find(self, desired: DesiredAccount, since: datetime.datetime) -> list[Observed]:
        parent = self.gw.parent_sid
        accounts = await self.gw.call(
            parent,
            "ListAccount",
            lambda: self.gw.parent().api.v2010.accounts.list_async(friendly_name=desired.friendly_name),
        )
        found = [observed_account(a) for a in accounts]
        return [
            o
            for o in found
            if o.sid != parent
            and o.data["status"] != "closed"
            and (o.created_at is None or o.created_at >= since)
        ]

    async def create(self, desired: DesiredAccount) -> Observed:
        parent = self.gw.parent_sid
        account = await self.gw.call(
            parent,
            "CreateAccount",
            lambda: self.gw.parent().api.v2010.accounts.create_async(friendly_name=desired.friendly_name),
            idempotent=False,
        )
        return observed_account(account)

    def values(self, desired: DesiredAccount) -> dict[str, Any]:
        return {"friendlyName": desired.friendly_name, "state": desired.status}

    def differences(self, desired: DesiredAccount, observed: Observed) -> list[str]:
        fields = []
        if observed.data["friendly_name"] != desired.friendly_name:
            fields.append("friendlyName")
        if observed.data["status"] != desired.status:
            fields.append("state")
        return fields

    async def update(self, desired: DesiredAccount, observed: Observed, fields: list[str]) -> Observed:
        changes: dict[str, str] = {}
        if "friendlyName" in fields:
            changes["friendly_name"] = desired.friendly_name
        if "state" in fields:
            changes["status"] = desired.status
        return await self.set(observed.sid, **changes)

    async def set(self, sid: str, **changes: str) -> Observed:
        parent = self.gw.parent_sid
        account = await self.gw.call(
            parent, "UpdateAccount", lambda: self.gw.parent().api.v2010.accounts(sid).update_async(**changes)
        )
        return observed_account(account)

    async def is_closed(self, sid: str) -> bool:
        """Whether the account is closed (or gone): its keys and services went with it."""
        try:
            observed = await self.observe(sid)
        except NotFound:
            return True
        return bool(observed.data["status"] == "closed")

    async def discard(self, orphan: Observed) -> None:
        # Closing is irreversible: a duplicate subaccount is left for a person to look at, never closed here.
        return None
