"""TwilioSubaccount plugged into the generic reconcile, and what its children need to know of it."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import GROUP, VERSION, metrics
from ..api.kinds import SUBACCOUNT
from ..api.subaccount import TwilioSubaccountSpec, TwilioSubaccountStatus
from ..kube import events
from ..kube.secrets import SecretConflict, write_owned
from ..twilio.accounts import TWILIO_STATE, Accounts, DesiredAccount
from ..twilio.errors import NotFound
from ..twilio.observed import Observed
from ..twilio.services import Services as MessagingServices
from . import conditions as c
from .entry import KindEntry, Services
from .indexes import Followed, Reference, referrers
from .model import CREATE_PENDING, EXTERNAL_NAME, Journal, ManagedKind, Outcome, Resource
from .usage import Findings, SubaccountUsage
from .webhooks import INGRESSES

SUSPEND_POLICIES = {"Suspend": "suspended", "Close": "closed"}

Subaccount = Resource[TwilioSubaccountSpec, TwilioSubaccountStatus]


@dataclass(frozen=True)
class SubaccountView:
    """What keys and services need to know of the subaccount they name."""

    sid: str | None
    ready: bool
    state: str | None  # as Twilio reports it: active, suspended or closed
    deleting: bool
    default_service: str | None = None  # the default Messaging Service Twilio made with it

    @property
    def usable(self) -> bool:
        """Children can be managed in it now: Twilio refuses a suspended or closed account's credentials."""
        return self.ready and bool(self.sid) and self.state == "active" and not self.deleting


def view(body: Mapping[str, Any]) -> SubaccountView:
    status = body.get("status") or {}
    return SubaccountView(
        sid=status.get("sid"),
        ready=c.is_true(status, c.READY),
        state=status.get("state"),
        deleting=bool((body.get("metadata") or {}).get("deletionTimestamp")),
        default_service=status.get("defaultMessagingServiceSid"),
    )


SUBACCOUNTS = Followed(GROUP, VERSION, SUBACCOUNT.plural, view)


def ingress_names(spec: TwilioSubaccountSpec) -> set[str]:
    """Names of the Ingresses the usage callback and the archives' webhook are resolved from."""
    hooks = [
        spec.usage_callback,
        spec.archives.messages.webhook if spec.archives and spec.archives.messages else None,
    ]
    return {hook.ingress_ref.name for hook in hooks if hook is not None and hook.ingress_ref is not None}


def figures(body: Mapping[str, Any], gone: bool) -> None:
    """The subaccount's usage gauges, from its status as the watch delivers it."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    status = body.get("status") or {}
    usage = status.get("usage")
    if gone or not isinstance(usage, dict):
        metrics.SUBACCOUNT_USAGE.observe(namespace, name, None)
        return
    fired: dict[str, float] = {}
    for alert in status.get("usageAlerts") or []:
        moment = _timestamp(alert.get("dateFired"))
        if moment is not None:
            fired[str(alert.get("name"))] = moment
    counts = {
        category: int(usage.get(field) or 0)
        for field, category in (
            ("smsOutbound", "sms-outbound"),
            ("smsInbound", "sms-inbound"),
            ("mmsOutbound", "mms-outbound"),
            ("mmsInbound", "mms-inbound"),
        )
    }
    try:
        spend = float(usage.get("totalPrice") or 0)
    except ValueError:
        spend = 0.0
    metrics.SUBACCOUNT_USAGE.observe(
        namespace, name, metrics.SubaccountFigures(counts, spend, str(usage.get("priceUnit") or ""), fired)
    )


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class SubaccountKind(ManagedKind[TwilioSubaccountSpec, TwilioSubaccountStatus, DesiredAccount]):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.gw = services.gateway
        self.kube = services.kube
        self.accounts = Accounts(self.gw)
        self.usage = SubaccountUsage(self.gw, services.settings, services.directory(INGRESSES))

    def _recorded(self, resource: Subaccount) -> set[str]:
        """The accounts the keys and services that name this object record in their status. Only the
        operator writes status, so this is proof of which subaccount the name stood for in this namespace."""
        found = referrers(self.services.kind_indexes, SUBACCOUNT.plural, resource.namespace, resource.name)
        return {r.account for r in found if r.account}

    def adoption_refused(self, resource: Subaccount, sid: str) -> str | None:
        if self.services.settings.may_adopt(resource.namespace) or sid in self._recorded(resource):
            return None
        return (
            f"adopting the existing subaccount {sid} is not allowed in namespace {resource.namespace}: the "
            "operator's installer grants it per namespace (TWILIO_OPERATOR_ADOPTION_NAMESPACES); nothing was "
            "changed in Twilio"
        )

    async def desired(self, resource: Subaccount, journal: Journal) -> DesiredAccount:
        await self._take_back(resource, journal)
        return DesiredAccount(
            friendly_name=resource.friendly_name, status=TWILIO_STATE[resource.spec.state or "Active"]
        )

    async def _take_back(self, resource: Subaccount, journal: Journal) -> None:
        """A subaccount object made again under a name whose keys and services still record the account it
        stood for (it was deleted with deletionPolicy Orphan) takes that account back instead of making a
        second one, unless the account is closed."""
        annotations = resource.annotations
        if annotations.get(EXTERNAL_NAME) or annotations.get(CREATE_PENDING) or resource.status.sid:
            return
        recorded = self._recorded(resource)
        if len(recorded) != 1:
            return  # never recorded, or ambiguous: a new subaccount is made
        (account,) = recorded
        try:
            observed = await self.accounts.observe(account)
        except NotFound:
            return
        if observed.data["status"] == "closed":
            return
        await journal.record(resource, account, created=False)
        events.normal(resource.body, "Adopted", f"took back {account}, which its keys and services record")

    def external(self, desired: DesiredAccount) -> Accounts:
        return self.accounts

    def check(self, resource: Subaccount, observed: Observed) -> Outcome | None:
        if observed.data["status"] == "closed":
            message = f"{observed.sid} is closed in Twilio and can never be reopened"
            return Outcome(
                message,
                ready=c.Cond.false(c.UNAVAILABLE, message),
                synced=c.Cond.false(c.SUBACCOUNT_CLOSED, message),
                status=self._status(
                    observed, None, self._kept(resource), resource.status.default_messaging_service_sid
                ),
            )
        return None

    def deadline(self, status: TwilioSubaccountStatus) -> datetime.datetime | None:
        """When this month's usage is due again. Only while passes succeed: a closed account's pass stops
        before the usage read, and a failing one retries on its own backoff (a deadline already past would
        otherwise bring a pass with every status write)."""
        synced = any(cond.type == c.SYNCED and cond.status == "True" for cond in status.conditions)
        if status.state == "closed" or not synced:
            return None
        return self.usage.deadline(status)

    @staticmethod
    def _kept(resource: Subaccount) -> Findings:
        """The usage fields as they are (a pass that does not get to the usage steps keeps them)."""
        status = resource.status
        return Findings(status.usage, status.usage_as_of, status.usage_alerts, status.archives)

    @staticmethod
    def _status(
        observed: Observed, exported: str | None, found: Findings, default_service: str | None
    ) -> TwilioSubaccountStatus:
        return TwilioSubaccountStatus(
            state=observed.data["status"],
            friendly_name=observed.data["friendly_name"],
            owner_account_sid=observed.data["owner_account_sid"],
            credentials_secret_name=exported,
            default_messaging_service_sid=default_service,
            usage=found.usage,
            usage_as_of=found.usage_as_of,
            usage_alerts=found.alerts,
            archives=found.archives,
        )

    async def _default_service(self, resource: Subaccount, observed: Observed) -> str | None:
        """The default Messaging Service's SID: looked up once (with the subaccount's own credentials, as
        Messaging v1 needs), then kept in status. Twilio refuses a suspended account's credentials."""
        known = resource.status.default_messaging_service_sid
        if known or observed.data["status"] != "active":
            return known
        return await MessagingServices(self.gw, observed.sid).default_sid()

    async def publish(
        self,
        resource: Subaccount,
        desired: DesiredAccount,
        observed: Observed,
        created: bool,
        journal: Journal,
    ) -> tuple[Observed, TwilioSubaccountStatus]:
        token = observed.secrets.get("auth_token")
        if token:
            # Children (keys, services) authenticate as the subaccount with this token; memory only.
            self.gw.remember_token(observed.sid, token)
        default = await self._default_service(resource, observed)
        ref = resource.spec.credentials_secret_ref
        exported = ref.name if ref is not None and token else None
        if ref is not None and token:
            await self._export(resource, observed, ref.name, token, default)
        found = await self.usage.run(resource, observed.sid, observed.data["status"])
        status = self._status(observed, exported, found, default)
        if found.problems:
            reason = found.problems[0][0]
            message = "; ".join(text for _, text in found.problems)
            raise Outcome(
                message, ready=c.Cond.true(c.AVAILABLE), synced=c.Cond.false(reason, message), status=status
            )
        return observed, status

    async def _export(
        self, resource: Subaccount, observed: Observed, secret: str, token: str, default: str | None
    ) -> None:
        """The subaccount's credentials in the Secret spec.credentialsSecretRef names."""
        try:
            await write_owned(
                self.kube,
                resource.namespace,
                secret,
                {"TWILIO_ACCOUNT_SID": observed.sid, "TWILIO_AUTH_TOKEN": token},
                resource.body,
                labels={"twilio.operator.dev/subaccount": resource.name},
            )
        except SecretConflict as conflict:
            raise Outcome(
                str(conflict),
                ready=c.Cond.true(c.AVAILABLE),
                synced=c.Cond.false(c.SECRET_CONFLICT, str(conflict)),
                status=self._status(observed, None, self._kept(resource), default),
            ) from None

    async def delete(self, resource: Subaccount, sid: str, policy: str) -> None:
        target = SUSPEND_POLICIES.get(policy)
        if target is None:
            return
        observed = await self.accounts.observe(sid)
        if observed.data["status"] in (target, "closed"):
            return
        await self.accounts.set(sid, status=target)
        self.gw.forget_token(sid)
        # Suspending or closing a subaccount found by name alone is too drastic: an interrupted create's
        # leftovers are left for a person (delete_orphans does nothing).


ENTRY = KindEntry(
    kind=SUBACCOUNT,
    plug=SubaccountKind,
    default_deletion_policy="Orphan",
    acting_deletion_policies=frozenset(SUSPEND_POLICIES),
    references=(Reference(INGRESSES, ingress_names),),
    owns_secrets=True,
    followed=SUBACCOUNTS,
    watched=figures,
)
