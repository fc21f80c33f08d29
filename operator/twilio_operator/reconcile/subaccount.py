"""TwilioSubaccount plugged into the generic reconcile."""

from __future__ import annotations

import datetime
from typing import Any

from ..api.subaccount import TwilioSubaccountSpec
from ..kube.client import KubeClient
from ..kube.secrets import SecretConflict, write_owned
from ..twilio.accounts import TWILIO_STATE, Accounts, DesiredAccount
from ..twilio.gateway import TwilioGateway
from . import conditions as c
from .child import parse_spec
from .model import Journal, Observed, Outcome, Resource

SUSPEND_POLICIES = {"Suspend": "suspended", "Close": "closed"}


class SubaccountKind:
    def __init__(self, gateway: TwilioGateway, kube: KubeClient) -> None:
        self.gw = gateway
        self.kube = kube
        self.accounts = Accounts(gateway)

    def _spec(self, resource: Resource) -> TwilioSubaccountSpec:
        return parse_spec(TwilioSubaccountSpec, resource)

    async def desired(self, resource: Resource, journal: Journal) -> DesiredAccount:
        spec = self._spec(resource)
        return DesiredAccount(
            friendly_name=spec.friendly_name or resource.default_friendly_name,
            status=TWILIO_STATE[spec.state or "Active"],
        )

    def external(self, desired: DesiredAccount) -> Accounts:
        return self.accounts

    def account_of(self, desired: DesiredAccount) -> str:
        return self.gw.parent_sid

    async def publish(
        self, resource: Resource, desired: DesiredAccount, observed: Observed, created: bool, journal: Journal
    ) -> Observed:
        token = observed.secrets.get("auth_token")
        if token:
            # Children (keys, services) authenticate as the subaccount with this token; memory only.
            self.gw.remember_token(observed.sid, token)
        spec = self._spec(resource)
        if spec.credentials_secret_ref is None or not token:
            return observed
        try:
            await write_owned(
                self.kube,
                resource.namespace,
                spec.credentials_secret_ref.name,
                {"TWILIO_ACCOUNT_SID": observed.sid, "TWILIO_AUTH_TOKEN": token},
                resource.body,
                labels={"twilio.operator.dev/subaccount": resource.name},
            )
        except SecretConflict as conflict:
            raise Outcome(
                str(conflict),
                ready=c.Cond.true(c.AVAILABLE),
                synced=c.Cond.false("SecretConflict", str(conflict)),
            ) from None
        return observed

    def deadline(self, status: dict[str, Any]) -> datetime.datetime | None:
        return None

    def status(self, observed: Observed) -> dict[str, Any]:
        return {
            "state": observed.data["status"],
            "friendlyName": observed.data["friendly_name"],
            "ownerAccountSid": observed.data["owner_account_sid"],
        }

    @staticmethod
    def deletion_policy(spec: dict[str, Any]) -> str:
        return str(spec.get("deletionPolicy") or "Orphan")

    @staticmethod
    def finalizer_needed(spec: dict[str, Any]) -> bool:
        return SubaccountKind.deletion_policy(spec) in SUSPEND_POLICIES

    async def delete_orphans(self, resource: Resource, since: datetime.datetime) -> None:
        # Suspending or closing a subaccount found by name alone is too drastic: left for a person.
        return None

    async def delete(self, resource: Resource, sid: str, policy: str) -> None:
        target = SUSPEND_POLICIES.get(policy)
        if target is None:
            return
        observed = await self.accounts.observe(sid)
        if observed.data["status"] in (target, "closed"):
            return
        await self.accounts.set(sid, status=target)
        self.gw.forget_token(sid)
