"""MessagingService plugged into the generic reconcile: settings, webhooks from Ingresses, the sender pool."""

from __future__ import annotations

import re
from typing import Any

from ..api.kinds import MESSAGING_SERVICE
from ..api.messagingservice import (
    MessagingServiceSpec,
    MessagingServiceStatus,
    ResolvedWebhooks,
    SenderStatus,
    StatusCallback,
)
from ..api.webhooks import Webhook
from ..kube import events
from ..kube.ingress import IngressView
from ..twilio.errors import NotFound, Terminal
from ..twilio.observed import Observed
from ..twilio.services import SETTING_DEFAULTS, DesiredSenders, DesiredService, Services
from . import conditions as c
from .child import SUBACCOUNT_REF, ChildKind
from .entry import KindEntry
from .entry import Services as Shared
from .indexes import Directory, Reference
from .model import Journal, Outcome, Resource
from .webhooks import INGRESSES, resolve_url, warn_insecure

SETTINGS = (
    "usecase",
    "sticky_sender",
    "mms_converter",
    "smart_encoding",
    "scan_message_content",
    "fallback_to_long_code",
    "area_code_geomatch",
    "validity_period",
    "synchronous_validation",
    "use_inbound_webhook_on_number",
)
# spec.webhooks.<name> → (URL field, method field or None)
WEBHOOKS = {
    "inbound_request": ("inbound_request_url", "inbound_method"),
    "fallback": ("fallback_url", "fallback_method"),
    "status_callback": ("status_callback", None),
}
SENDER_KINDS = ("phone_numbers", "short_codes", "alpha_senders")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Twilio's answer when adding a sender, and the reason reported for it.
SENDER_ERRORS = {
    21712: "SenderInUse",
    21714: "SenderPoolFull",
    20404: "SenderNotFound",
    21421: "SenderNotFound",
}

Service = Resource[MessagingServiceSpec, MessagingServiceStatus]


def _hooks(spec: MessagingServiceSpec) -> dict[str, Webhook | StatusCallback]:
    """The declared webhooks by spec name."""
    if spec.webhooks is None:
        return {}
    hooks = {name: getattr(spec.webhooks, name) for name in WEBHOOKS}
    return {name: hook for name, hook in hooks.items() if hook is not None}


def ingress_names(spec: MessagingServiceSpec) -> set[str]:
    """Names of the Ingresses a spec's webhooks reference."""
    return {hook.ingress_ref.name for hook in _hooks(spec).values() if hook.ingress_ref is not None}


class MessagingServiceKind(ChildKind[MessagingServiceSpec, MessagingServiceStatus, DesiredService]):
    def __init__(self, services: Shared) -> None:
        super().__init__(services)
        self.ingresses: Directory[IngressView] = services.directory(INGRESSES)

    def _webhooks(self, resource: Service) -> tuple[dict[str, Any], dict[str, str]]:
        """Declared webhook fields (URLs resolved), and the URLs that are not HTTPS with why."""
        values: dict[str, Any] = {}
        insecure: dict[str, str] = {}
        for name, hook in _hooks(resource.spec).items():
            url_field, method_field = WEBHOOKS[name]
            url, why = resolve_url(self.ingresses, resource.namespace, hook.url, hook.ingress_ref)
            values[url_field] = url
            if why is not None:
                insecure[url] = why
            method = getattr(hook, "method", None)
            if method_field and method:
                values[method_field] = method
        return values, insecure

    async def desired(self, resource: Service, journal: Journal) -> DesiredService:
        spec = resource.spec
        webhooks, _insecure = self._webhooks(resource)
        account = await self.account(resource, journal)
        declared = {name: getattr(spec, name) for name in SETTINGS if getattr(spec, name) is not None}
        declared.update(webhooks)
        previously = set(resource.status.managed_fields or [])
        removed = {
            name: SETTING_DEFAULTS[name] for name in previously - declared.keys() if name in SETTING_DEFAULTS
        }
        senders = spec.senders

        def pool(name: str) -> frozenset[str] | None:
            entries = getattr(senders, name) if senders else None
            return frozenset(entries) if entries is not None else None

        return DesiredService(
            account_sid=account,
            friendly_name=resource.friendly_name,
            settings={**removed, **declared},
            senders=DesiredSenders(
                phone_numbers=pool("phone_numbers"),
                short_codes=pool("short_codes"),
                alpha_senders=pool("alpha_senders"),
            ),
        )

    def external(self, desired: DesiredService) -> Services:
        return Services(self.gw, desired.account_sid)

    async def publish(
        self, resource: Service, desired: DesiredService, observed: Observed, created: bool, journal: Journal
    ) -> tuple[Observed, MessagingServiceStatus]:
        _webhooks, insecure = self._webhooks(resource)
        services = self.external(desired)
        previous = resource.status.webhooks.model_dump().values() if resource.status.webhooks else ()
        warn_insecure(resource, insecure, previous)
        declared = {name: getattr(desired.senders, name) for name in SENDER_KINDS}
        kinds = {name for name, want in declared.items() if want is not None}
        problems: list[tuple[str, str]] = []
        pool: dict[str, dict[str, str]] = {}
        if kinds:
            # A service created in this pass has an empty pool: no need to ask.
            pool = {kind: {} for kind in kinds} if created else await services.pool(observed.sid, kinds)
            changes = await self._converge_senders(services, observed.sid, declared, pool, problems)
            drift = not created and "senders" not in resource.changed
            if changes and drift:
                events.drift_corrected(resource.body, "sender pool: " + ", ".join(changes))
            elif changes and not created:
                # A new service has its Created event; its senders show in its status.
                events.normal(resource.body, "SendersUpdated", ", ".join(changes))
        status = MessagingServiceStatus(
            account_sid=desired.account_sid,
            webhooks=ResolvedWebhooks(
                inbound_request_url=observed.data.get("inbound_request_url"),
                fallback_url=observed.data.get("fallback_url"),
                status_callback=observed.data.get("status_callback"),
            ),
            senders=SenderStatus(
                phone_numbers=sorted(pool.get("phone_numbers", {})),
                short_codes=sorted(pool.get("short_codes", {})),
                alpha_senders=sorted(pool.get("alpha_senders", {})),
            ),
            managed_fields=sorted(_declared(resource.spec, desired)),
        )
        if problems:
            reason = problems[0][0]
            message = "; ".join(text for _, text in problems)
            raise Outcome(
                message, ready=c.Cond.true(c.AVAILABLE), synced=c.Cond.false(reason, message), status=status
            )
        return observed, status

    async def _converge_senders(
        self,
        services: Services,
        sid: str,
        declared: dict[str, frozenset[str] | None],
        pool: dict[str, dict[str, str]],
        problems: list[tuple[str, str]],
    ) -> list[str]:
        """Add what is missing, remove what is undeclared; a problem names its sender, the rest goes on."""
        changes: list[str] = []
        for kind in SENDER_KINDS:
            wanted = declared[kind]
            if wanted is None:
                continue
            targets: set[str] = set()
            for entry in sorted(wanted):
                if kind == "phone_numbers" and E164.match(entry):
                    number = await services.number_sid(entry)
                    if number is None:
                        problems.append(("SenderNotFound", f"{entry} is not a phone number of the account"))
                        continue
                    targets.add(number)
                else:
                    targets.add(entry)
            current = pool.setdefault(kind, {})
            for value in sorted(targets - current.keys()):
                try:
                    await services.add_sender(sid, kind, value)
                except (Terminal, NotFound) as error:
                    reason = SENDER_ERRORS.get(error.code or 0, c.TWILIO_REJECTED)
                    problems.append((reason, f"{value}: {error.message}"))
                    continue
                current[value] = value
                changes.append(f"added {value}")
            for value in sorted(current.keys() - targets):
                await services.remove_sender(sid, kind, current[value])
                del current[value]
                changes.append(f"removed {value}")
        return changes

    async def delete(self, resource: Service, sid: str, policy: str) -> None:
        account = self.account_at_deletion(resource)
        if policy != "Delete" or not account:
            return
        services = Services(self.gw, account)

        async def remove() -> None:
            await services.delete(sid)

        await self.delete_in(account, remove)

    async def delete_orphans(self, resource: Service, since: Any) -> None:
        account = self.account_at_deletion(resource)
        if resource.spec.deletion_policy == "Orphan" or not account:
            return
        services = Services(self.gw, account)
        probe = DesiredService(account, resource.friendly_name, {}, DesiredSenders(None, None, None))

        async def remove() -> None:
            for orphan in await services.find(probe, since):
                await services.delete(orphan.sid)

        await self.delete_in(account, remove)


def _declared(spec: MessagingServiceSpec, desired: DesiredService) -> set[str]:
    """The settings the spec declares now (removed ones were reset this pass and are no longer managed)."""
    names = {name for name in SETTINGS if getattr(spec, name) is not None}
    for name, hook in _hooks(spec).items():
        url_field, method_field = WEBHOOKS[name]
        names.add(url_field)
        if method_field and getattr(hook, "method", None):
            names.add(method_field)
    return names & desired.settings.keys()


ENTRY = KindEntry(
    kind=MESSAGING_SERVICE,
    plug=MessagingServiceKind,
    default_deletion_policy="Delete",
    acting_deletion_policies=frozenset({"Delete"}),
    references=(SUBACCOUNT_REF, Reference(INGRESSES, ingress_names)),
)
