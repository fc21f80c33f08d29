"""A subaccount's usage in its status, its usage alerts as Twilio Usage Triggers, its message archives.

Run by the subaccount's pass once the account has converged. Twilio is read only when something is due:
this month's usage on its own interval (TWILIO_OPERATOR_USAGE_INTERVAL, one call per subaccount), the
triggers and the archive configuration when the spec (or an Ingress their URLs come from) asks for something
they were not made for, and with the usage, to see which triggers fired and what changed outside the operator.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ..api.subaccount import (
    ArchivesStatus,
    MessageArchiveStatus,
    TwilioSubaccountSpec,
    TwilioSubaccountStatus,
    UsageAlert,
    UsageAlertStatus,
    UsageStatus,
)
from ..api.webhooks import Webhook
from ..clock import now_rfc3339, parse_time, utcnow
from ..kube import events
from ..kube.ingress import IngressView
from ..settings import Settings
from ..twilio.gateway import TwilioGateway
from ..twilio.usage import (
    MESSAGE_CATEGORIES,
    TOTAL,
    ArchiveConfiguration,
    Archives,
    DesiredTrigger,
    MonthUsage,
    Trigger,
    Usage,
)
from .indexes import Directory
from .model import RECONCILE_REQUESTED_AT, Outcome, Resource, digest
from .webhooks import resolve_url

# The friendly name of a trigger the operator manages: this prefix and the alert's name. Triggers named
# otherwise (made in the Console, by another tool) are left alone.
TRIGGER_PREFIX = "twilio-operator/"
USAGE_CALLBACK_MISSING = "UsageCallbackMissing"

Subaccount = Resource[TwilioSubaccountSpec, TwilioSubaccountStatus]


@dataclass
class Findings:
    """What the usage steps found: status fields, and problems that leave Synced false."""

    usage: UsageStatus | None
    usage_as_of: str | None
    alerts: list[UsageAlertStatus] | None
    archives: ArchivesStatus | None
    problems: list[tuple[str, str]] = field(default_factory=list)


def callback_url(base: str, alert: str) -> str:
    """The alert's callback: the usage callback with the alert's name, so the receiver can tell them apart."""
    return f"{base}{'&' if '?' in base else '?'}alert={alert}"


def usage_status(month: MonthUsage) -> UsageStatus:
    counts = month.counts
    # Shown to the cent; the total keeps Twilio's precision (a segment costs fractions of a cent).
    shown = month.total_price.quantize(Decimal("0.01"))
    return UsageStatus(
        messages=sum(counts.get(category, 0) for category in TOTAL),
        **{name: counts.get(category, 0) for name, category in MESSAGE_CATEGORIES.items()},
        total_price=str(month.total_price.normalize() if month.total_price else Decimal(0)),
        price_unit=month.price_unit,
        spend=f"{shown} {month.price_unit}",
        fetched_at=now_rfc3339(),
    )


def _same(have: ArchiveConfiguration, want: ArchiveConfiguration) -> bool:
    """The method matters only with a URL to call."""
    if (have.enabled, have.webhook_url) != (want.enabled, want.webhook_url):
        return False
    return not want.webhook_url or have.webhook_method == want.webhook_method


def _fired_message(alert: UsageAlert, trigger: Trigger) -> str:
    by = alert.trigger_by or "usage"
    every = f", {alert.recurring}" if alert.recurring else ""
    return (
        f"usage alert {alert.name} fired: {alert.category} {by} is {trigger.current_value} "
        f"(threshold {alert.value}{every})"
    )


class SubaccountUsage:
    """The usage steps of every subaccount; one per operator process."""

    def __init__(self, gateway: TwilioGateway, settings: Settings, ingresses: Directory[IngressView]) -> None:
        self.gw = gateway
        self.settings = settings
        self.ingresses = ingresses

    def deadline(self, status: TwilioSubaccountStatus) -> datetime.datetime | None:
        """When this month's usage is next due (the drift timer wakes the object then)."""
        fetched = parse_time(status.usage.fetched_at) if status.usage else None
        if fetched is None:
            return None
        return fetched + datetime.timedelta(seconds=self.settings.usage_interval)

    def _due(self, resource: Subaccount) -> bool:
        status = resource.status
        requested = resource.annotations.get(RECONCILE_REQUESTED_AT)
        if requested and requested != status.last_handled_reconcile_at:
            return True
        deadline = self.deadline(status)
        return deadline is None or deadline <= utcnow()

    async def run(self, resource: Subaccount, sid: str, state: str) -> Findings:
        status = resource.status
        findings = Findings(status.usage, status.usage_as_of, status.usage_alerts, status.archives)
        if state == "closed":
            return findings
        due = self._due(resource)
        if due:
            month = await Usage(self.gw, sid).this_month()
            findings.usage, findings.usage_as_of = usage_status(month), month.as_of
        if state != "active":
            # Twilio refuses a suspended account's own credentials, and its triggers cannot change.
            return findings
        await self._alerts(resource, sid, due, findings)
        await self._archives(resource, sid, due, findings)
        return findings

    # --- usage alerts ---------------------------------------------------------------------------------

    def _callback(self, resource: Subaccount, hook: Webhook, findings: Findings) -> str | None:
        try:
            url, _insecure = resolve_url(self.ingresses, resource.namespace, hook.url, hook.ingress_ref)
        except Outcome as outcome:
            if outcome.synced is not None:
                findings.problems.append((outcome.synced.reason, outcome.synced.message or ""))
            return None
        return url

    def _desired_triggers(self, resource: Subaccount, findings: Findings) -> dict[str, DesiredTrigger] | None:
        """The triggers the spec wants by alert name; None when they cannot be known (no callback URL)."""
        spec = resource.spec
        alerts = spec.usage_alerts or []
        if not alerts:
            return {}
        if spec.usage_callback is None:
            findings.problems.append(
                (
                    USAGE_CALLBACK_MISSING,
                    "usageAlerts need usageCallback (the receiver's /twilio/usage): Twilio posts there when "
                    "an alert fires; no trigger was made",
                )
            )
            return None
        base = self._callback(resource, spec.usage_callback, findings)
        if base is None:
            return None
        return {
            alert.name: DesiredTrigger(
                friendly_name=TRIGGER_PREFIX + alert.name,
                usage_category=alert.category,
                trigger_by=alert.trigger_by or "usage",
                trigger_value=Decimal(alert.value),
                recurring=alert.recurring or "",
                callback_url=callback_url(base, alert.name),
                callback_method=spec.usage_callback.method or "POST",
            )
            for alert in alerts
        }

    async def _alerts(self, resource: Subaccount, sid: str, due: bool, findings: Findings) -> None:
        wanted = self._desired_triggers(resource, findings)
        if wanted is None:
            return
        applied = {a.name: a.applied for a in resource.status.usage_alerts or []}
        digests = {name: digest({k: str(v) for k, v in vars(want).items()}) for name, want in wanted.items()}
        if applied == digests and (not due or not wanted):
            return  # as applied; and with no alerts, nothing of the operator's is there to watch
        usage = Usage(self.gw, sid)
        ours: dict[str, list[Trigger]] = {}
        for trigger in await usage.triggers():
            if trigger.friendly_name.startswith(TRIGGER_PREFIX):
                ours.setdefault(trigger.friendly_name.removeprefix(TRIGGER_PREFIX), []).append(trigger)
        changes: list[str] = []
        drifted: list[str] = []
        statuses: list[UsageAlertStatus] = []
        for alert in resource.spec.usage_alerts or []:
            want = wanted[alert.name]
            # What was applied last time is what the spec still wants: a change is someone else's.
            told = changes if applied.get(alert.name) != digests[alert.name] else drifted
            kept = await self._converge_trigger(usage, want, ours.pop(alert.name, []))
            if kept is None:
                trigger = await usage.create_trigger(want)
                told.append(f"created {alert.name}")
            elif not want.same_callback(kept):
                trigger = await usage.update_trigger(kept.sid, want)
                told.append(f"updated {alert.name}'s callback")
            else:
                trigger = kept
            statuses.append(self._alert_status(resource, alert, trigger, digests[alert.name]))
        for name, leftovers in sorted(ours.items()):
            for leftover in leftovers:
                await usage.delete_trigger(leftover.sid)
            changes.append(f"deleted {name}")
        if changes:
            events.normal(resource.body, "UsageAlertsUpdated", ", ".join(changes))
        if drifted:
            events.drift_corrected(resource.body, "usage triggers: " + ", ".join(drifted))
        findings.alerts = statuses or None

    @staticmethod
    async def _converge_trigger(
        usage: Usage, want: DesiredTrigger, found: Sequence[Trigger]
    ) -> Trigger | None:
        """Keep the first trigger that watches what the alert says; delete the rest (Twilio cannot change a
        threshold in place, and an interrupted create may have made two). Deleting comes before the create
        that replaces them: a pass interrupted in between creates next time."""
        keep = next((t for t in found if want.same_threshold(t)), None)
        for trigger in found:
            if trigger is not keep:
                await usage.delete_trigger(trigger.sid)
        return keep

    @staticmethod
    def _alert_status(
        resource: Subaccount, alert: UsageAlert, trigger: Trigger, applied: str
    ) -> UsageAlertStatus:
        before = next((a for a in resource.status.usage_alerts or [] if a.name == alert.name), None)
        fired = trigger.date_fired
        if fired and before is not None and before.sid == trigger.sid and before.date_fired != fired:
            events.warning(resource.body, "UsageAlert", _fired_message(alert, trigger))
        return UsageAlertStatus(
            name=alert.name,
            sid=trigger.sid,
            current_value=trigger.current_value,
            date_fired=fired,
            applied=applied,
        )

    # --- message archives -----------------------------------------------------------------------------

    async def _archives(self, resource: Subaccount, sid: str, due: bool, findings: Findings) -> None:
        declared = resource.spec.archives.messages if resource.spec.archives else None
        shown = resource.status.archives.messages if resource.status.archives else None
        if declared is None and shown is None:
            return  # never managed: left as Twilio has it
        want = ArchiveConfiguration(enabled=False, webhook_url="", webhook_method="POST")
        if declared is not None:
            url = ""
            if declared.webhook is not None:
                resolved = self._callback(resource, declared.webhook, findings)
                if resolved is None:
                    return
                url = resolved
            method = declared.webhook.method if declared.webhook and declared.webhook.method else "POST"
            want = ArchiveConfiguration(enabled=declared.enabled, webhook_url=url, webhook_method=method)
        current = MessageArchiveStatus(enabled=want.enabled, webhook_url=want.webhook_url or None)
        if not due and shown == current:
            return
        archives = Archives(self.gw, sid)
        have = await archives.fetch()
        if not _same(have, want):
            await archives.update(want)
            if shown == current:
                events.drift_corrected(resource.body, "message archives: configuration changed in Twilio")
            else:
                state = "enabled" if want.enabled else "disabled"
                events.normal(resource.body, "ArchivesUpdated", f"message archives {state}")
        # Once no longer declared and turned off in Twilio, they are no longer the operator's.
        findings.archives = ArchivesStatus(messages=current) if declared is not None else None
