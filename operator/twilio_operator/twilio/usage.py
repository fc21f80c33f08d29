"""External clients for a subaccount's usage: this month's Usage Records, Usage Triggers, message archives.

Usage Records and Triggers are 2010 resources, read and written with the parent credentials on the
subaccount's path (one poller for every subaccount). BulkExports is a v1 product and acts as whoever
authenticated, so its configuration is read and written with the subaccount's own credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from . import shapes
from .errors import UnexpectedResponse
from .gateway import TwilioGateway

# The categories the status reports, by status field; `totalprice` carries the month's whole cost.
MESSAGE_CATEGORIES = {
    "sms_outbound": "sms-outbound",
    "sms_inbound": "sms-inbound",
    "mms_outbound": "mms-outbound",
    "mms_inbound": "mms-inbound",
}
TOTAL = ("sms", "mms")
RESOURCE_TYPE = "Messages"


@dataclass(frozen=True)
class MonthUsage:
    counts: dict[str, int]  # by usage category
    total_price: Decimal
    price_unit: str
    as_of: str | None


@dataclass(frozen=True)
class Trigger:
    sid: str
    friendly_name: str
    usage_category: str
    trigger_by: str
    trigger_value: Decimal
    recurring: str  # "" for a trigger that fires once
    callback_url: str
    callback_method: str
    current_value: str | None
    date_fired: str | None


@dataclass(frozen=True)
class DesiredTrigger:
    friendly_name: str
    usage_category: str
    trigger_by: str
    trigger_value: Decimal
    recurring: str
    callback_url: str
    callback_method: str

    def same_threshold(self, trigger: Trigger) -> bool:
        """Whether `trigger` watches what this one does: Twilio cannot change any of it in place."""
        return (
            trigger.usage_category == self.usage_category
            and trigger.trigger_by == self.trigger_by
            and trigger.trigger_value == self.trigger_value
            and trigger.recurring == self.recurring
        )

    def same_callback(self, trigger: Trigger) -> bool:
        return (trigger.callback_url, trigger.callback_method) == (self.callback_url, self.callback_method)


@dataclass(frozen=True)
class ArchiveConfiguration:
    enabled: bool
    webhook_url: str
    webhook_method: str


def _number(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        raise UnexpectedResponse(f"Twilio answered with a {what} that is not a number") from None


def _trigger(item: Any) -> Trigger:
    sid = shapes.sid(item, "UT", "usage trigger")
    shapes.required(item, "usage trigger", ("usage_category", "trigger_by", "trigger_value", "callback_url"))
    fired = item.date_fired
    return Trigger(
        sid=sid,
        friendly_name=str(item.friendly_name or ""),
        usage_category=str(item.usage_category),
        trigger_by=str(item.trigger_by),
        trigger_value=_number(item.trigger_value, "usage trigger value"),
        recurring=str(item.recurring or ""),
        callback_url=str(item.callback_url),
        callback_method=str(item.callback_method or "POST"),
        current_value=None if item.current_value is None else str(item.current_value),
        date_fired=fired.isoformat() if hasattr(fired, "isoformat") else (str(fired) if fired else None),
    )


class Usage:
    """This month's usage and the usage triggers of one subaccount."""

    def __init__(self, gateway: TwilioGateway, account_sid: str) -> None:
        self.gw = gateway
        self.account = account_sid

    def _api(self) -> Any:
        return self.gw.parent().api.v2010.accounts(self.account).usage

    async def this_month(self) -> MonthUsage:
        """One call: every category of this month, for the subaccount alone."""
        records = await self.gw.call(
            self.account,
            "ListUsageRecordThisMonth",
            lambda: self._api().records.this_month.list_async(
                include_subaccounts=False, page_size=1000, limit=1000
            ),
        )
        counts: dict[str, int] = {}
        total, unit, as_of = Decimal(0), "USD", None
        for record in records:
            category = str(getattr(record, "category", "") or "")
            if category == "totalprice":
                total = _number(record.price, "usage price")
                unit = str(record.price_unit or unit).upper()
                as_of = str(record.as_of) if record.as_of else as_of
            elif category:
                counts[category] = int(_number(record.count, "usage count"))
        return MonthUsage(counts=counts, total_price=total, price_unit=unit, as_of=as_of)

    async def triggers(self) -> list[Trigger]:
        found = await self.gw.call(
            self.account, "ListUsageTrigger", lambda: self._api().triggers.list_async(page_size=1000)
        )
        return [_trigger(item) for item in found]

    async def create_trigger(self, desired: DesiredTrigger) -> Trigger:
        extra = {"recurring": desired.recurring} if desired.recurring else {}
        made = await self.gw.call(
            self.account,
            "CreateUsageTrigger",
            lambda: self._api().triggers.create_async(
                callback_url=desired.callback_url,
                callback_method=desired.callback_method,
                trigger_value=str(desired.trigger_value),
                usage_category=desired.usage_category,
                trigger_by=desired.trigger_by,
                friendly_name=desired.friendly_name,
                **extra,
            ),
            idempotent=False,
        )
        return _trigger(made)

    async def update_trigger(self, sid: str, desired: DesiredTrigger) -> Trigger:
        """What Twilio can change in place: the callback and the name."""
        made = await self.gw.call(
            self.account,
            "UpdateUsageTrigger",
            lambda: (
                self._api()
                .triggers(sid)
                .update_async(
                    callback_url=desired.callback_url,
                    callback_method=desired.callback_method,
                    friendly_name=desired.friendly_name,
                )
            ),
        )
        return _trigger(made)

    async def delete_trigger(self, sid: str) -> None:
        await self.gw.call(
            self.account, "DeleteUsageTrigger", lambda: self._api().triggers(sid).delete_async()
        )


class Archives:
    """The subaccount's message-archive (BulkExports) configuration, with its own credentials."""

    def __init__(self, gateway: TwilioGateway, account_sid: str) -> None:
        self.gw = gateway
        self.account = account_sid

    async def _configuration(self) -> Any:
        client = await self.gw.account_client(self.account)
        return client.bulkexports.v1.export_configuration(RESOURCE_TYPE)

    async def fetch(self) -> ArchiveConfiguration:
        api = await self._configuration()
        found = await self.gw.call(self.account, "FetchExportConfiguration", api.fetch_async)
        return _configuration(found)

    async def update(self, desired: ArchiveConfiguration) -> ArchiveConfiguration:
        api = await self._configuration()
        # An empty WebhookUrl clears it (the SDK drops None).
        made = await self.gw.call(
            self.account,
            "UpdateExportConfiguration",
            lambda: api.update_async(
                enabled=desired.enabled,
                webhook_url=desired.webhook_url,
                webhook_method=desired.webhook_method,
            ),
        )
        return _configuration(made)


def _configuration(found: Any) -> ArchiveConfiguration:
    if not isinstance(getattr(found, "enabled", None), bool):
        raise UnexpectedResponse("Twilio answered with an export configuration without `enabled`")
    return ArchiveConfiguration(
        enabled=found.enabled,
        webhook_url=str(found.webhook_url or ""),
        webhook_method=str(found.webhook_method or "POST"),
    )
