"""MessagingService plugged into the generic reconcile: settings, webhooks from Ingresses, the sender pool."""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

from pydantic import BaseModel

from ..api.messagingservice import MessagingServiceSpec
from ..kube import events
from ..kube.ingress import IngressDirectory, IngressProblem, resolve
from ..settings import Settings
from ..twilio.errors import NotFound, Terminal
from ..twilio.gateway import TwilioGateway
from ..twilio.services import SETTING_DEFAULTS, DesiredSenders, DesiredService, Services
from . import conditions as c
from .child import ChildKind, parse_spec
from .model import Journal, Observed, Outcome, Resource
from .references import SubaccountDirectory

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


def ingress_names(spec: dict[str, Any]) -> set[str]:
    """Names of the Ingresses a spec's webhooks reference."""
    webhooks = spec.get("webhooks") or {}
    return {
        str(hook["ingressRef"]["name"])
        for hook in webhooks.values()
        if isinstance(hook, dict)
        and isinstance(hook.get("ingressRef"), dict)
        and hook["ingressRef"].get("name")
    }


class MessagingServiceKind(ChildKind):
    def __init__(
        self,
        gateway: TwilioGateway,
        settings: Settings,
        directory: SubaccountDirectory,
        ingresses: IngressDirectory,
    ) -> None:
        super().__init__(gateway, settings, directory)
        self.ingresses = ingresses

    def _spec(self, resource: Resource) -> MessagingServiceSpec:
        return parse_spec(MessagingServiceSpec, resource)

    def _webhooks(self, resource: Resource, spec: MessagingServiceSpec) -> tuple[dict[str, Any], list[str]]:
        """Declared webhook fields (URLs resolved) and the URLs that are not HTTPS."""
        values: dict[str, Any] = {}
        insecure: list[str] = []
        for name, (url_field, method_field) in WEBHOOKS.items():
            hook: BaseModel | None = getattr(spec.webhooks, name) if spec.webhooks else None
            if hook is None:
                continue
            ref = getattr(hook, "ingress_ref", None)
            if ref is not None:
                try:
                    resolved = resolve(
                        self.ingresses.get(resource.namespace, ref.name), ref.name, ref.path, ref.host
                    )
                except IngressProblem as problem:
                    raise Outcome(
                        problem.message,
                        ready=c.Cond.false(problem.reason, problem.message),
                        synced=c.Cond.false(problem.reason, problem.message),
                    ) from None
                values[url_field] = resolved.url
                if not resolved.secure:
                    insecure.append(resolved.url)
            else:
                values[url_field] = getattr(hook, "url", None) or ""
            method = getattr(hook, "method", None)
            if method_field and method:
                values[method_field] = method
        return values, insecure

    async def desired(self, resource: Resource, journal: Journal) -> DesiredService:
        spec = self._spec(resource)
        webhooks, _insecure = self._webhooks(resource, spec)
        account = await self.account(resource, journal)
        declared = {name: getattr(spec, name) for name in SETTINGS if getattr(spec, name) is not None}
        declared.update(webhooks)
        previously = set(resource.status.get("managedFields") or [])
        removed = {
            name: SETTING_DEFAULTS[name] for name in previously - declared.keys() if name in SETTING_DEFAULTS
        }
        senders = spec.senders
        return DesiredService(
            account_sid=account,
            friendly_name=spec.friendly_name or resource.default_friendly_name,
            settings={**removed, **declared},
            senders=DesiredSenders(
                phone_numbers=frozenset(senders.phone_numbers)
                if senders and senders.phone_numbers is not None
                else None,
                short_codes=frozenset(senders.short_codes)
                if senders and senders.short_codes is not None
                else None,
                alpha_senders=frozenset(senders.alpha_senders)
                if senders and senders.alpha_senders is not None
                else None,
            ),
        )

    def external(self, desired: DesiredService) -> Services:
        return Services(self.gw, desired.account_sid)

    def account_of(self, desired: DesiredService) -> str:
        return desired.account_sid

    async def publish(
        self, resource: Resource, desired: DesiredService, observed: Observed, created: bool, journal: Journal
    ) -> Observed:
        spec = self._spec(resource)
        _webhooks, insecure = self._webhooks(resource, spec)
        services = self.external(desired)
        resolved = {
            k: observed.data.get(k) for k in ("inbound_request_url", "fallback_url", "status_callback")
        }
        previous = resource.status.get("webhooks") or {}
        for url in insecure:
            if url not in previous.values():
                events.warning(
                    resource.body,
                    "InsecureWebhook",
                    f"{url} is not HTTPS: the Ingress has no TLS for its host",
                )
        declared = {name: getattr(desired.senders, name) for name in SENDER_KINDS}
        kinds = {name for name, want in declared.items() if want is not None}
        problems: list[tuple[str, str]] = []
        pool: dict[str, dict[str, str]] = {}
        if kinds:
            # A service created in this pass has an empty pool: no need to ask.
            pool = {kind: {} for kind in kinds} if created else await services.pool(observed.sid, kinds)
            changes = await self._converge_senders(services, observed.sid, declared, pool, problems)
            drift = not created and resource.status.get("observedGeneration") == resource.generation
            if changes and drift:
                events.drift_corrected(resource.body, "sender pool: " + ", ".join(changes))
            elif changes and not created:
                # A new service has its Created event; its senders show in its status.
                events.normal(resource.body, "SendersUpdated", ", ".join(changes))
        observed.data["status"] = {
            "accountSid": desired.account_sid,
            "webhooks": {
                "inboundRequestUrl": resolved["inbound_request_url"],
                "fallbackUrl": resolved["fallback_url"],
                "statusCallback": resolved["status_callback"],
            },
            "senders": {
                "phoneNumbers": sorted(pool.get("phone_numbers", {})),
                "shortCodes": sorted(pool.get("short_codes", {})),
                "alphaSenders": sorted(pool.get("alpha_senders", {})),
            },
            "managedFields": sorted(_declared(spec, desired)),
        }
        if problems:
            reason = problems[0][0]
            message = "; ".join(text for _, text in problems)
            raise Outcome(message, ready=c.Cond.true(c.AVAILABLE), synced=c.Cond.false(reason, message))
        return observed

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
                    reason = SENDER_ERRORS.get(error.code or 0, "TwilioRejected")
                    problems.append((reason, f"{value}: {error.message}"))
                    continue
                current[value] = value
                changes.append(f"added {value}")
            for value in sorted(current.keys() - targets):
                await services.remove_sender(sid, kind, current[value])
                del current[value]
                changes.append(f"removed {value}")
        return changes

    def status(self, observed: Observed) -> dict[str, Any]:
        result: dict[str, Any] = observed.data.get("status") or {}
        return result

    def deadline(self, status: dict[str, Any]) -> datetime.datetime | None:
        return None

    @staticmethod
    def deletion_policy(spec: dict[str, Any]) -> str:
        return str(spec.get("deletionPolicy") or "Delete")

    @staticmethod
    def finalizer_needed(spec: dict[str, Any]) -> bool:
        return MessagingServiceKind.deletion_policy(spec) == "Delete"

    async def delete(self, resource: Resource, sid: str, policy: str) -> None:
        account = self.account_at_deletion(resource)
        if policy != "Delete" or not account:
            return
        await self.delete_in(account, functools.partial(Services(self.gw, account).delete, sid))

    async def delete_orphans(self, resource: Resource, since: datetime.datetime) -> None:
        account = self.account_at_deletion(resource)
        if self.deletion_policy(resource.spec) != "Delete" or not account:
            return
        services = Services(self.gw, account)
        name = str(resource.spec.get("friendlyName") or resource.default_friendly_name)
        probe = DesiredService(account, name, {}, DesiredSenders(None, None, None))

        async def remove() -> None:
            for orphan in await services.find(probe, since):
                await services.delete(orphan.sid)

        await self.delete_in(account, remove)


def _declared(spec: MessagingServiceSpec, desired: DesiredService) -> set[str]:
    """The settings the spec declares now (removed ones were reset this pass and are no longer managed)."""
    names = {name for name in SETTINGS if getattr(spec, name) is not None}
    for name, (url_field, method_field) in WEBHOOKS.items():
        hook = getattr(spec.webhooks, name) if spec.webhooks else None
        if hook is not None:
            names.add(url_field)
            if method_field and getattr(hook, "method", None):
                names.add(method_field)
    return names & desired.settings.keys()
