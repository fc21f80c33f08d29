"""ApiKey plugged into the generic reconcile: the one-time secret, rotation, recovery from a lost Secret."""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Any

from ..api.apikey import ApiKeySpec
from ..kube import events
from ..kube.client import KubeClient
from ..kube.secrets import SecretConflict, decode, read_owned, write_owned
from ..settings import Settings
from ..twilio.gateway import TwilioGateway
from ..twilio.keys import DesiredKey, Keys
from . import conditions as c
from .child import ChildKind, parse_spec
from .model import (
    CREATE_PENDING,
    CREATE_SUCCEEDED,
    EXTERNAL_NAME,
    PREFIX,
    Journal,
    Observed,
    Outcome,
    Resource,
)
from .references import SubaccountDirectory, invalid

ROTATE_REQUESTED_AT = PREFIX + "rotate-requested-at"
SECRET_DIGEST = PREFIX + "secret-sha256"
DEFAULT_GRACE = datetime.timedelta(hours=1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> datetime.timedelta:
    """90s, 15m, 12h, 30d, 1h30m (the CRD's pattern guarantees the shape)."""
    return datetime.timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhd])", text)))


def digest(secret: str) -> str:
    # Lets the operator notice an edited Secret without keeping the secret anywhere else.
    return hashlib.sha256(secret.encode()).hexdigest()


def rfc3339(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class ApiKeyKind(ChildKind):
    def __init__(
        self, gateway: TwilioGateway, kube: KubeClient, settings: Settings, directory: SubaccountDirectory
    ) -> None:
        super().__init__(gateway, settings, directory)
        self.kube = kube

    def _spec(self, resource: Resource) -> ApiKeySpec:
        return parse_spec(ApiKeySpec, resource)

    async def desired(self, resource: Resource, journal: Journal) -> DesiredKey:
        spec = self._spec(resource)
        if resource.annotations.get(EXTERNAL_NAME) and not resource.annotations.get(CREATE_SUCCEEDED):
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
                synced=c.Cond.false("SecretConflict", str(conflict)),
            ) from None
        return DesiredKey(
            account_sid=account,
            friendly_name=spec.friendly_name or resource.default_friendly_name,
            type=key_type,
            policy=tuple(sorted(spec.policy.allow)) if spec.policy else None,
            secret_name=secret_name,
            secret=secret,
        )

    def external(self, desired: DesiredKey) -> Keys:
        return Keys(self.gw, desired.account_sid, desired.type)

    def account_of(self, desired: DesiredKey) -> str:
        return desired.account_sid

    # --- the Secret --------------------------------------------------------------------------------

    async def _write_secret(self, resource: Resource, desired: DesiredKey, key: Observed) -> None:
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
    def _secret_holds(desired: DesiredKey, sid: str) -> bool:
        if desired.secret is None:
            return False
        data = decode(desired.secret)
        annotations = desired.secret.get("metadata", {}).get("annotations") or {}
        return (
            data.get("TWILIO_API_KEY") == sid
            and data.get("TWILIO_ACCOUNT_SID") == desired.account_sid
            and bool(data.get("TWILIO_API_SECRET"))
            and annotations.get(SECRET_DIGEST) == digest(data.get("TWILIO_API_SECRET", ""))
        )

    async def _replace(
        self, resource: Resource, desired: DesiredKey, keys: Keys, journal: Journal
    ) -> Observed:
        """Create a new key and store it; the caller decides what happens to the old one."""
        await journal.annotate(resource, {CREATE_PENDING: c.now_rfc3339()})
        new = await keys.create(desired)
        await journal.record(resource, new.sid, created=True)
        await self._write_secret(resource, desired, new)
        return new

    # --- after the key converged -------------------------------------------------------------------

    async def publish(
        self, resource: Resource, desired: DesiredKey, observed: Observed, created: bool, journal: Journal
    ) -> Observed:
        spec = self._spec(resource)
        keys = self.external(desired)
        status = resource.status
        rotation = dict(status.get("rotation") or {})
        now = datetime.datetime.now(datetime.UTC)
        previous: str | None = rotation.get("previousSid")
        expires = parse(rotation.get("previousExpiresAt"))
        grace = (
            duration(spec.rotation.grace_period)
            if spec.rotation and spec.rotation.grace_period
            else DEFAULT_GRACE
        )
        requested = resource.annotations.get(ROTATE_REQUESTED_AT)
        rotated = created

        current = rotation.get("currentSid")
        if (
            not created
            and current
            and current != observed.sid
            and not self._secret_holds(desired, observed.sid)
        ) and self._secret_holds(desired, current):
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
            await self._write_secret(resource, desired, observed)
        elif finished:
            pass
        elif not self._secret_holds(desired, observed.sid):
            # A key the status never reported as current never had its secret stored: replacing it is
            # finishing its creation, not recovering a lost Secret.
            stored = rotation.get("currentSid") == observed.sid
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
            for sid in {lost, stale, previous} - {None}:
                if sid and sid.startswith("SK"):
                    await keys.delete(sid)
            observed = await self._replace(resource, desired, keys, journal)
            previous, expires, rotated = None, None, True
            if stored:
                resource.logger.warning("Secret %s lost key %s: replaced it", desired.secret_name, lost)
                events.warning(resource.body, "SecretLost", f"replaced key {lost} with {observed.sid}")
        else:
            policy_changed = desired.type == "Restricted" and observed.data.get("policy") != desired.policy
            spec_changed = status.get("observedGeneration") != resource.generation
            type_changed = status.get("type") not in (None, desired.type)
            due = parse(rotation.get("nextRotationTime"))
            why = next(
                (
                    text
                    for text, applies in (
                        ("the key type changed", type_changed),
                        ("the policy changed", policy_changed and spec_changed),
                        (
                            f"{ROTATE_REQUESTED_AT} is {requested}",
                            requested is not None and requested != rotation.get("handledRotateRequest"),
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
        if rotated:
            rotation["lastRotationTime"] = rfc3339(now)
        every = duration(spec.rotation.every) if spec.rotation else None
        last = parse(rotation.get("lastRotationTime")) or now
        rotation.update(
            {
                "currentSid": observed.sid,
                "previousSid": previous,
                "previousExpiresAt": rfc3339(expires) if expires else None,
                "nextRotationTime": rfc3339(last + every) if every else None,
                "handledRotateRequest": requested or rotation.get("handledRotateRequest"),
            }
        )
        observed.data.update(
            {
                "rotation": rotation,
                "account_sid": desired.account_sid,
                "secret_name": desired.secret_name,
                "type": desired.type,
            }
        )
        return observed

    def status(self, observed: Observed) -> dict[str, Any]:
        return {
            "secretName": observed.data.get("secret_name"),
            "accountSid": observed.data.get("account_sid"),
            "type": observed.data.get("type"),
            "rotation": observed.data.get("rotation"),
        }

    def deadline(self, status: dict[str, Any]) -> datetime.datetime | None:
        rotation = status.get("rotation") or {}
        moments = [parse(rotation.get("previousExpiresAt")), parse(rotation.get("nextRotationTime"))]
        present = [m for m in moments if m is not None]
        return min(present) if present else None

    # --- deletion ----------------------------------------------------------------------------------

    @staticmethod
    def deletion_policy(spec: dict[str, Any]) -> str:
        return str(spec.get("deletionPolicy") or "Delete")

    @staticmethod
    def finalizer_needed(spec: dict[str, Any]) -> bool:
        return ApiKeyKind.deletion_policy(spec) == "Delete"

    async def delete(self, resource: Resource, sid: str, policy: str) -> None:
        account = self.account_at_deletion(resource)
        if policy != "Delete" or not account:
            return
        status = resource.status
        keys = Keys(self.gw, account, str(status.get("type") or "Standard"))
        previous = (status.get("rotation") or {}).get("previousSid")

        async def revoke() -> None:
            for key in (sid, previous):
                if key:
                    await keys.delete(key)

        await self.delete_in(account, revoke)

    async def delete_orphans(self, resource: Resource, since: datetime.datetime) -> None:
        account = self.account_at_deletion(resource)
        if self.deletion_policy(resource.spec) != "Delete" or not account:
            return
        keys = Keys(self.gw, account, "Standard")
        name = str(resource.spec.get("friendlyName") or resource.default_friendly_name)
        probe = DesiredKey(account, name, "Standard", None, "")

        async def revoke() -> None:
            for orphan in await keys.find(probe, since):
                await keys.delete(orphan.sid)

        await self.delete_in(account, revoke)
