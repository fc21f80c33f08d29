"""Resolving `subaccountRef` (and the guarded alternatives) to the account a child object lives in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..settings import Settings
from . import conditions as c
from .model import Outcome


@dataclass(frozen=True)
class SubaccountEntry:
    sid: str | None
    ready: bool
    suspended: bool = False

    @property
    def usable(self) -> bool:
        """Whether children can be managed in it now: Twilio refuses a suspended account's credentials."""
        return self.ready and bool(self.sid) and not self.suspended


class SubaccountDirectory:
    """What the operator knows of every TwilioSubaccount, fed by the watch stream, with waiters per name.

    Children wait in memory for their subaccount to become Ready instead of polling the API server.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], SubaccountEntry] = {}
        self._changed: dict[tuple[str, str], asyncio.Event] = {}

    def observe(self, namespace: str, name: str, body: dict[str, Any] | None) -> bool:
        """Record a watch event; True when the subaccount was suspended or resumed by it."""
        key = (namespace, name)
        before = self._entries.get(key)
        if body is None:
            self._entries.pop(key, None)
        else:
            status = body.get("status") or {}
            ready = c.is_true(status, c.READY) and not body.get("metadata", {}).get("deletionTimestamp")
            suspended = status.get("state") == "suspended"
            self._entries[key] = SubaccountEntry(sid=status.get("sid"), ready=ready, suspended=suspended)
        event = self._changed.pop(key, None)
        if event is not None:
            event.set()
        after = self._entries.get(key)
        return before is not None and after is not None and before.suspended != after.suspended

    def get(self, namespace: str, name: str) -> SubaccountEntry | None:
        return self._entries.get((namespace, name))

    async def wait_usable(self, namespace: str, name: str, seconds: float) -> SubaccountEntry | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            entry = self.get(namespace, name)
            if entry is not None and entry.usable:
                return entry
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            event = self._changed.setdefault((namespace, name), asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return None


def forbidden(message: str) -> Outcome:
    return Outcome(
        message, ready=c.Cond.false(c.UNAVAILABLE, message), synced=c.Cond.false(c.FORBIDDEN, message)
    )


def invalid(message: str) -> Outcome:
    return Outcome(
        message, ready=c.Cond.false(c.UNAVAILABLE, message), synced=c.Cond.false(c.INVALID_SPEC, message)
    )


# Seconds a child waits for its subaccount before its status says it is waiting.
QUIET_WAIT = 2.0


async def resolve_account(
    namespace: str,
    spec: dict[str, Any],
    settings: Settings,
    directory: SubaccountDirectory,
    wait: float,
    announce: Callable[[Outcome], Awaitable[None]],
) -> str:
    """The account SID a child belongs to, or an Outcome saying why there is none (yet)."""
    ref = (spec.get("subaccountRef") or {}).get("name")
    raw = spec.get("accountSid")
    if ref and raw:
        raise invalid("set either subaccountRef or accountSid, not both")
    if raw:
        if not settings.allow_raw_account_sid:
            raise forbidden("accountSid is refused: the operator runs without --allow-raw-account-sid")
        return str(raw)
    if not ref:
        if not settings.allow_parent_account:
            raise forbidden(
                "no subaccountRef: objects on the parent account are refused unless the operator runs with "
                "--allow-parent-account"
            )
        return settings.credentials()[0]
    entry = directory.get(namespace, ref)
    if entry is not None and entry.usable and entry.sid:
        return entry.sid
    quiet = 0.0
    if not (entry is not None and entry.ready and entry.suspended):
        # Applied together with its subaccount, a child usually has it Ready within moments: saying that
        # it waits would cost every child a status write for a state nobody gets to see.
        quiet = min(wait, QUIET_WAIT)
        entry = await directory.wait_usable(namespace, ref, quiet)
        if entry is not None and entry.sid:
            return entry.sid
        entry = directory.get(namespace, ref)
    if entry is not None and entry.ready and entry.suspended:
        message = (
            f"TwilioSubaccount {ref} is Suspended: nothing in it can be managed until it is Active again"
        )
        waiting = Outcome(
            message,
            ready=c.Cond.false(c.SUBACCOUNT_SUSPENDED, message),
            synced=c.Cond.false(c.SUBACCOUNT_SUSPENDED, message),
            retry=30.0,
        )
    else:
        message = f"waiting for TwilioSubaccount {ref} to be Ready"
        waiting = Outcome(
            message,
            ready=c.Cond.false(c.WAITING_FOR_SUBACCOUNT, message),
            synced=c.Cond.false(c.RECONCILE_ERROR, message),
            retry=5.0,
        )
    # Say so now, then wait in memory: the subaccount usually becomes Ready (or Active) within seconds.
    await announce(waiting)
    entry = await directory.wait_usable(namespace, ref, wait - quiet)
    if entry is None or not entry.sid:
        raise waiting
    return entry.sid


@dataclass(frozen=True)
class Claim:
    uid: str
    created: bool  # this object created the Twilio object (rather than adopting it by annotation)
    since: str  # the object's creationTimestamp: the older adopter wins


class ClaimRegistry:
    """Which objects name which Twilio SID, so no two objects (in any namespace) manage the same one."""

    def __init__(self) -> None:
        self._by_sid: dict[str, dict[str, Claim]] = {}
        self._by_uid: dict[str, str] = {}

    def observe(self, uid: str, sid: str | None, created: bool, since: str) -> None:
        old = self._by_uid.pop(uid, None)
        if old is not None:
            self._by_sid.get(old, {}).pop(uid, None)
        if sid:
            self._by_uid[uid] = sid
            self._by_sid.setdefault(sid, {})[uid] = Claim(uid, created, since)

    def owner(self, sid: str, claimant: Claim) -> str:
        """The uid entitled to manage `sid`, counting `claimant` too."""
        claims = {**self._by_sid.get(sid, {}), claimant.uid: claimant}
        return min(claims.values(), key=lambda c: (not c.created, c.since, c.uid)).uid
