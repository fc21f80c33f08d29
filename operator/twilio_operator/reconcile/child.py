"""What every kind that lives inside a subaccount shares: finding its account, and deleting in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import kopf

from ..api.common import ChildSpec, ChildStatus
from ..kube import events
from ..twilio.accounts import Accounts
from ..twilio.errors import AuthError, Terminal
from . import conditions as c
from .entry import Services
from .indexes import Directory, Reference
from .model import CREATE_SUCCEEDED, EXTERNAL_NAME, D, Journal, ManagedKind, Outcome, Resource
from .subaccount import SUBACCOUNTS, SubaccountView

CS = TypeVar("CS", bound=ChildSpec)
CT = TypeVar("CT", bound=ChildStatus)

# Seconds a child waits in memory for its subaccount before its status says it is waiting: saying so would
# cost every child applied together with its subaccount a status write for a state nobody gets to see.
QUIET_WAIT = 2.0


def subaccount_names(spec: ChildSpec) -> set[str]:
    return {spec.subaccount_ref.name} if spec.subaccount_ref else set()


SUBACCOUNT_REF = Reference(SUBACCOUNTS, subaccount_names)


def forbidden(message: str) -> Outcome:
    return Outcome(
        message, ready=c.Cond.false(c.UNAVAILABLE, message), synced=c.Cond.false(c.FORBIDDEN, message)
    )


def invalid(message: str) -> Outcome:
    return Outcome(
        message, ready=c.Cond.false(c.UNAVAILABLE, message), synced=c.Cond.false(c.INVALID_SPEC, message)
    )


# A subaccount's every change wakes the objects that name it: the timed look is only a safety net.
WAKE_ANYWAY = 300.0


def _why_unusable(ref: str, view: SubaccountView | None) -> Outcome:
    """Why the subaccount cannot hold children now, as the conditions say it."""
    if view is None:
        message = f"TwilioSubaccount {ref} does not exist in this namespace"
        return Outcome(
            message,
            ready=c.Cond.false(c.SUBACCOUNT_NOT_FOUND, message),
            synced=c.Cond.false(c.SUBACCOUNT_NOT_FOUND, message),
            retry=WAKE_ANYWAY,
        )
    if view.state == "closed":
        message = f"TwilioSubaccount {ref} ({view.sid}) is closed in Twilio, and everything in it with it"
        return Outcome(
            message,
            ready=c.Cond.false(c.SUBACCOUNT_CLOSED, message),
            synced=c.Cond.false(c.SUBACCOUNT_CLOSED, message),
        )
    if view.ready and view.state == "suspended" and not view.deleting:
        message = (
            f"TwilioSubaccount {ref} is Suspended: nothing in it can be managed until it is Active again"
        )
        return Outcome(
            message,
            ready=c.Cond.false(c.SUBACCOUNT_SUSPENDED, message),
            synced=c.Cond.false(c.SUBACCOUNT_SUSPENDED, message),
            retry=WAKE_ANYWAY,
        )
    what = "is being deleted" if view.deleting else "to be Ready"
    message = f"waiting for TwilioSubaccount {ref} {what}"
    return Outcome(
        message,
        ready=c.Cond.false(c.WAITING_FOR_SUBACCOUNT, message),
        synced=c.Cond.false(c.WAITING_FOR_SUBACCOUNT, message),
        # Also timed: a subaccount stuck before its first status would otherwise never be looked at again.
        retry=30.0,
    )


def _usable(view: SubaccountView | None) -> bool:
    return view is not None and view.usable


class ChildKind(ManagedKind[CS, CT, D], Generic[CS, CT, D]):
    """Base of the kinds that live inside a subaccount."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.gw = services.gateway
        self.settings = services.settings
        self.subaccounts: Directory[SubaccountView] = services.directory(SUBACCOUNTS)

    def adoption_refused(self, resource: Resource[CS, CT], sid: str) -> str | None:
        # Inside its own subaccount a namespace adopts what is already its own; on the parent account or a
        # raw account SID it would take what may be anyone's.
        if resource.spec.subaccount_ref is not None or self.settings.may_adopt(resource.namespace):
            return None
        return (
            f"adopting {sid} outside a subaccount of this namespace is not allowed in namespace "
            f"{resource.namespace} (TWILIO_OPERATOR_ADOPTION_NAMESPACES); nothing was changed in Twilio"
        )

    async def account(self, resource: Resource[CS, CT], journal: Journal) -> str:
        """The account SID the object lives in, waiting (in memory) for its subaccount to be usable. When that
        is no longer the account its Twilio object was made in, the old object goes first (its deletion
        policy applies there): a child never leaves a Twilio object behind in an account it left."""
        account = await self._resolve(resource)
        old = resource.status.account_sid
        if old and old != account:
            await self._leave(resource, old, account, journal)
        return account

    async def _leave(self, resource: Resource[CS, CT], old: str, new: str, journal: Journal) -> None:
        sid = resource.status.sid
        policy = resource.spec.deletion_policy or "Delete"
        if sid:
            await self.delete(resource, sid, policy)  # in the account status records: the old one
            done = "deleted" if policy == "Delete" else "left as it is (deletionPolicy Orphan)"
            events.normal(
                resource.body,
                "AccountChanged",
                f"{sid} is in {old}, no longer this object's account: {done}; a new one is made in {new}",
            )
        await journal.annotate(resource, {EXTERNAL_NAME: None, CREATE_SUCCEEDED: None})
        resource.status.sid = None
        resource.status.account_sid = None

    async def _resolve(self, resource: Resource[CS, CT]) -> str:
        spec = resource.spec
        if spec.subaccount_ref and spec.account_sid:
            raise invalid("set either subaccountRef or accountSid, not both")
        if spec.account_sid:
            if not self.settings.allow_raw_account_sid:
                raise forbidden("accountSid is refused: the operator runs without --allow-raw-account-sid")
            return spec.account_sid
        if spec.subaccount_ref is None:
            if not self.settings.allow_parent_account:
                raise forbidden(
                    "no subaccountRef: objects on the parent account are refused unless the operator runs "
                    "with --allow-parent-account"
                )
            return self.settings.credentials()[0]
        ref, namespace = spec.subaccount_ref.name, resource.namespace
        # Applied together with its subaccount, a child usually has it Ready within moments; longer waits
        # are said in status, and the subaccount's next change wakes the child (it refers to it by name).
        found = await self.subaccounts.wait_for(namespace, ref, _usable, QUIET_WAIT)
        if found is not None and found.usable and found.sid:
            return found.sid
        raise await self._not_usable(resource, ref, found)

    async def _not_usable(self, resource: Resource[CS, CT], ref: str, view: SubaccountView | None) -> Outcome:
        """Why the subaccount cannot hold children; for one whose object is gone, what Twilio says of the
        account this object was made in (closed with the object's deletion, or by someone in the console)."""
        account = resource.status.account_sid
        if view is None and account and await Accounts(self.gw).is_closed(account):
            view = SubaccountView(sid=account, ready=False, state="closed", deleting=False)
        return _why_unusable(ref, view)

    def account_at_deletion(self, resource: Resource[CS, CT]) -> str | None:
        """The account to delete in: from status, or, when a crash kept it out of status, from the spec."""
        if resource.status.account_sid:
            return resource.status.account_sid
        spec = resource.spec
        if spec.subaccount_ref:
            found = self.subaccounts.get(resource.namespace, spec.subaccount_ref.name)
            if found is None or not found.sid:
                # The directory is complete (kopf indexes are filled before any handler runs): the subaccount
                # is gone, so the object stays with this message until it is back or the finalizer is removed.
                raise kopf.TemporaryError(
                    f"TwilioSubaccount {spec.subaccount_ref.name} is unknown: cannot tell which account to "
                    "delete in",
                    delay=30,
                )
            return found.sid
        if spec.account_sid:
            return spec.account_sid if self.settings.allow_raw_account_sid else None
        return self.settings.credentials()[0] if self.settings.allow_parent_account else None

    async def delete_in(self, account: str, delete: Callable[[], Awaitable[None]]) -> None:
        """Delete something inside an account; a closed account has taken it along already."""
        try:
            await delete()
        except (AuthError, Terminal):
            if not await Accounts(self.gw).is_closed(account):
                raise
