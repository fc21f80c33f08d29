"""ApiKey plugged into the generic reconcile: the one-time secret, rotation, recovery from a lost Secret."""

from __future__ import annotations

import contextlib
import datetime
import hashlib

from ..api.apikey import ApiKeySpec, ApiKeyStatus, KeyRotationStatus
from ..api.kinds import API_KEY
from ..clock import now_rfc3339, parse_duration, parse_time, rfc3339, utcnow
from ..kube import events
from ..kube.secrets import SecretConflict, decode, read_owned, write_owned
from ..twilio.keys import DesiredKey, Keys
from ..twilio.observed import Observed
from . import conditions as c
from .child import SUBACCOUNT_REF, ChildKind, invalid
from .entry import KindEntry, Services
from .locks import Locks
from .model import CREATE_PENDING, CREATE_SUCCEEDED, EXTERNAL_NAME, PREFIX, Journal, Outcome, Resource

ROTATE_REQUESTED_AT = PREFIX + "rotate-requested-at"
SECRET_DIGEST = PREFIX + "secret-sha256"
DEFAULT_GRACE = datetime.timedelta(hours=1)

Key = Resource[ApiKeySpec, ApiKeyStatus]


def digest(secret: str) -> str:
    # Lets the operator notice an edited Secret without keeping the secret anywhere else.
    return hashlib.sha256(secret.encode()).hexdigest()


def _spec_duration(text: str | None, default: datetime.timedelta) -> datetime.timedelta:
    # The CRD's pattern guarantees the shape.
    return parse_duration(text) or default


class ApiKeyKind(ChildKind[ApiKeySpec, ApiKeyStatus, DesiredKey]):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.kube = services.kube
        # One pass at a time per Secret name: two keys naming one Secret, applied together, would otherwise
        # both find it free, both make a key, and one could not store its secret.
        self._secret_names = Locks()

    def hold(self, resource: Key) -> contextlib.AbstractAsyncContextManager[None]:
        return self._secret_names.hold(f"{resource.namespace}/{resource.spec.secret_name or resource.name}")

    async def desired(self, resource: Key, journal: Journal) -> DesiredKey:
        spec = resource.spec
        named = resource.annotations.get(EXTERNAL_NAME)
        if named and named != resource.status.sid and not resource.made_here:
            message = (
                "an existing API key cannot be adopted: Twilio never shows its secret again; remove the "
                f"{EXTERNAL_NAME} annotation to create a new key"
            )
            raise Outcome(
                message,
                ready=c.Cond.false(c.UNAVAILABLE, message),
                synced=c.Cond.false(c.CANNOT_ADOPT, message),
            )
        key_type = spec.type or "Standard"
        if key_type == "Restricted" and spec.policy is None:
            raise invalid("spec.policy.allow is required for a Restricted key")
        if key_type == "Standard" and spec.policy is not None:
            raise invalid("spec.policy applies to Restricted keys only")
        account = await self.account(resource, journal)
        secret_name = spec.secret_name or resource.name
        try:
            # Before any Twilio call: a key whose secret cannot be stored must never be created.
            secret = await read_owned(self.kube, resource.namespace, secret_name, resource.body)
        except SecretConflict as conflict:
            raise Outcome(
                str(conflict),
                ready=c.Cond.false(c.UNAVAILABLE, str(conflict)),
                synced=c.Cond.false(c.SECRET_CONFLICT, str(conflict)),
            ) from None
        return DesiredKey(
            account_sid=account,
            friendly_name=resource.friendly_name,
            type=key_type,
            policy=tuple(sorted(spec.policy.allow)) if spec.policy else None,
            secret_name=secret_name,
            secret=secret,
        )

    def external(self, desired: DesiredKey) -> Keys:
        return Keys(self.gw, desired.account_sid, desired.type)

    # --- the Secret --------------------------------------------------------------------------------

    async def _write_secret(self, resource: Key, desired: DesiredKey, key: Observed) -> None:
        secret = key.secrets["secret"]
        await write_owned(
            self.kube,
            resource.namespace,
            desired.secret_name,
            {
                "TWILIO_ACCOUNT_SID": desired.account_sid,
                "TWILIO_API_KEY": key.sid,
                "TWILIO_API_SECRET": secret,
            },
            resource.body,
            labels={"twilio.operator.dev/apikey": resource.name},
            annotations={SECRET_DIGEST: digest(secret)},
            absent=desired.secret is None,
        )

    @staticmethod
    def _secret_holds(desired: DesiredKey, sid: str | None) -> bool:
        if desired.secret is None or sid is None:
            return False
        data = decode(desired.secret)
        annotations = desired.secret.get("metadata", {}).get("annotations") or {}
        return (
            data.get("TWILIO_API_KEY") == sid
            and data.get("TWILIO_ACCOUNT_SID") == desired.account_sid
            and bool(data.get("TWILIO_API_SECRET"))
            and annotations.get(SECRET_DIGEST) == digest(data.get("TWILIO_API_SECRET", ""))
        )

    async def _store(
        self, resource: Key, desired: DesiredKey, keys: Keys, key: Observed, journal: Journal
    ) -> None:
        """Write a new key's secret; a key whose secret cannot be stored (the Secret became someone else's)
        is revoked at once and forgotten, never left alive."""
        try:
            await self._write_secret(resource, desired, key)
        except SecretConflict as conflict:
            await keys.delete(key.sid)
            await journal.annotate(resource, {EXTERNAL_NAME: None, CREATE_SUCCEEDED: None})
            message = f"{conflict}; key {key.sid} was revoked at once"
            raise Outcome(
                message,
                ready=c.Cond.false(c.UNAVAILABLE, message),
                synced=c.Cond.false(c.SECRET_CONFLICT, message),
            ) from None

    async def _replace(self, resource: Key, desired: DesiredKey, keys: Keys, journal: Journal) -> Observed:
        """Create a new key and store it; the caller decides what happens to the old one."""
        await journal.annotate(resource, {CREATE_PENDING: now_rfc3339()})
        new = await keys.create(desired)
        await journal.record(resource, new.sid, created=True)
        await self._store(resource, desired, keys, new, journal)
        return new

    # --- after the key converged -------------------------------------------------------------------

    async def publish(
        self, resource: Key, desired: DesiredKey, observed: Observed, created: bool, journal: Journal
    ) -> tuple[Observed, ApiKeyStatus]:
        spec, status = resource.spec, resource.status
        keys = self.external(desired)
        rotation = status.rotation or KeyRotationStatus()
        now = utcnow()
        previous = rotation.previous_sid
        expires = parse_time(rotation.previous_expires_at)
        grace = _spec_duration(spec.rotation.grace_period if spec.rotation else None, DEFAULT_GRACE)
        requested = resource.annotations.get(ROTATE_REQUESTED_AT)
        rotated = created

        current = rotation.current_sid
        if (
            not created
            and current
            and current != observed.sid
            and not self._secret_holds(desired, observed.sid)
            and self._secret_holds(desired, current)
        ):
            # A replacement was interrupted before its secret was stored: the Secret still holds the
            # current key, which workloads use. Revoke the unstored one and carry on from the current.
            await keys.delete(observed.sid)
            observed = await keys.observe(current)
            await journal.record(resource, current, created=False)

        # A replacement whose secret was stored but whose status never was: it is done, record it so.
        finished = bool(
            not created and current and current != observed.sid and self._secret_holds(desired, observed.sid)
        )
        if finished:
            if previous and previous != current:
                await keys.delete(previous)
            previous, expires, rotated = current, now + grace, True

        if created:
            await self._store(resource, desired, keys, observed, journal)
        elif finished:
            pass
        elif not self._secret_holds(desired, observed.sid):
            # A key the status never reported as current never had its secret stored: replacing it is
            # finishing its creation, not recovering a lost Secret.
            stored = current == observed.sid
            if stored and (spec.on_secret_loss or "Recreate") == "Fail":
                message = f"Secret {desired.secret_name} no longer holds key {observed.sid}"
                raise Outcome(
                    message,
                    ready=c.Cond.false(c.UNAVAILABLE, message),
                    synced=c.Cond.false("SecretLost", message + "; onSecretLoss is Fail"),
                )
            lost = observed.sid
            stale = decode(desired.secret).get("TWILIO_API_KEY") if desired.secret else None
            # Revoke first: these secrets are gone, and a replacement that fails to be stored in turn must not
            # leave them behind.
            for sid in sorted({s for s in (lost, stale, previous) if s}):
                if sid.startswith("SK"):
                    await keys.delete(sid)
            observed = await self._replace(resource, desired, keys, journal)
            previous, expires, rotated = None, None, True
            if stored:
                resource.logger.warning("Secret %s lost key %s: replaced it", desired.secret_name, lost)
                events.warning(resource.body, "SecretLost", f"replaced key {lost} with {observed.sid}")
        else:
            policy_changed = desired.type == "Restricted" and observed.data.get("policy") != desired.policy
            type_changed = status.type not in (None, desired.type)
            due = parse_time(rotation.next_rotation_time)
            why = next(
                (
                    text
                    for text, applies in (
                        ("the key type changed", type_changed),
                        ("the policy changed", policy_changed and "policy" in resource.changed),
                        (
                            f"{ROTATE_REQUESTED_AT} is {requested}",
                            requested is not None and requested != rotation.handled_rotate_request,
                        ),
                        (
                            "the rotation schedule is due",
                            spec.rotation is not None and due is not None and now >= due,
                        ),
                    )
                    if applies
                ),
                None,
            )
            if why is not None:
                old = observed.sid
                observed = await self._replace(resource, desired, keys, journal)
                if previous and previous != old:
                    await keys.delete(previous)  # a rotation inside a grace period retires the oldest at once
                previous, expires, rotated = old, now + grace, True
                events.normal(resource.body, "Rotated", f"replaced key {old} with {observed.sid}: {why}")
            elif policy_changed:
                observed = await keys.set_policy(observed.sid, desired.policy)
                events.drift_corrected(resource.body, "restored the key's policy")

        if previous and expires and now >= expires:
            await keys.delete(previous)
            previous, expires = None, None
        last_rotation = rfc3339(now) if rotated else rotation.last_rotation_time
        every = parse_duration(spec.rotation.every) if spec.rotation else None
        last = parse_time(last_rotation) or now
        return observed, ApiKeyStatus(
            secret_name=desired.secret_name,
            account_sid=desired.account_sid,
            type=desired.type,
            rotation=KeyRotationStatus(
                current_sid=observed.sid,
                previous_sid=previous,
                previous_expires_at=rfc3339(expires) if expires else None,
                last_rotation_time=last_rotation,
                next_rotation_time=rfc3339(last + every) if every else None,
                handled_rotate_request=requested or rotation.handled_rotate_request,
            ),
        )

    def retained(self, status: ApiKeyStatus) -> set[str]:
        previous = status.rotation.previous_sid if status.rotation else None
        return {previous} if previous else set()

    def deadline(self, status: ApiKeyStatus) -> datetime.datetime | None:
        rotation = status.rotation or KeyRotationStatus()
        moments = [parse_time(rotation.previous_expires_at), parse_time(rotation.next_rotation_time)]
        present = [m for m in moments if m is not None]
        return min(present) if present else None

    # --- deletion ----------------------------------------------------------------------------------

    async def delete(self, resource: Key, sid: str, policy: str) -> None:
        account = self.account_at_deletion(resource)
        if policy != "Delete" or not account:
            return
        status = resource.status
        keys = Keys(self.gw, account, status.type or "Standard")
        previous = status.rotation.previous_sid if status.rotation else None

        async def revoke() -> None:
            for key in (sid, previous):
                if key:
                    await keys.delete(key)

        await self.delete_in(account, revoke)

    async def delete_orphans(self, resource: Key, since: datetime.datetime) -> None:
        account = self.account_at_deletion(resource)
        if resource.spec.deletion_policy == "Orphan" or not account:
            return
        keys = Keys(self.gw, account, "Standard")
        probe = DesiredKey(account, resource.friendly_name, "Standard", None, "")

        async def revoke() -> None:
            for orphan in await keys.find(probe, since):
                await keys.delete(orphan.sid)

        await self.delete_in(account, revoke)


ENTRY = KindEntry(
    kind=API_KEY,
    plug=ApiKeyKind,
    default_deletion_policy="Delete",
    acting_deletion_policies=frozenset({"Delete"}),
    references=(SUBACCOUNT_REF,),
    owns_secrets=True,
)
