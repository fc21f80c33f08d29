"""The catalogue of kinds: names, printer columns and the models behind each.

`KINDS` is what the API serves (the CRDs are generated from it); reconcile/registry.py says how each is run,
and a test holds the two lists to the same kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import GROUP, VERSION
from .apikey import ApiKeySpec, ApiKeyStatus
from .common import ManagedSpec, ManagedStatus
from .eventstream import EventStreamSpec, EventStreamStatus
from .messagingservice import MessagingServiceSpec, MessagingServiceStatus
from .phonenumber import PhoneNumberSpec, PhoneNumberStatus
from .subaccount import TwilioSubaccountSpec, TwilioSubaccountStatus

CATEGORY = "twilio"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    short_name: str
    description: str
    spec: type[ManagedSpec]
    status: type[ManagedStatus]
    extra_columns: tuple[PrinterColumn, ...] = field(default=())

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{VERSION}"

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION


SUBACCOUNT = Kind(
    kind="TwilioSubaccount",
    plural="twiliosubaccounts",
    singular="twiliosubaccount",
    short_name="tsub",
    description="A Twilio subaccount of the operator's parent account.",
    spec=TwilioSubaccountSpec,
    status=TwilioSubaccountStatus,
    extra_columns=(
        PrinterColumn("STATE", ".status.state", description="Status Twilio reports."),
        PrinterColumn(
            "MESSAGES", ".status.usage.messages", type="integer", description="Messages this month."
        ),
        PrinterColumn("SPEND", ".status.usage.spend", description="What this month has cost."),
    ),
)
API_KEY = Kind(
    kind="ApiKey",
    plural="apikeys",
    singular="apikey",
    short_name="tkey",
    description="A Twilio API key; its one-time secret is stored in a Kubernetes Secret.",
    spec=ApiKeySpec,
    status=ApiKeyStatus,
    extra_columns=(PrinterColumn("SECRET", ".status.secretName", description="Secret holding the key."),),
)
MESSAGING_SERVICE = Kind(
    kind="MessagingService",
    plural="messagingservices",
    singular="messagingservice",
    short_name="tms",
    description="A Twilio Messaging Service with its sender pool and webhooks.",
    spec=MessagingServiceSpec,
    status=MessagingServiceStatus,
)

EVENT_STREAM = Kind(
    kind="EventStream",
    plural="eventstreams",
    singular="eventstream",
    short_name="tes",
    description="A Twilio Event Streams sink (webhook or Kinesis) and its subscription, in a subaccount.",
    spec=EventStreamSpec,
    status=EventStreamStatus,
    extra_columns=(
        PrinterColumn("SINK", ".status.sinkStatus", description="Sink status Twilio reports."),
        PrinterColumn("SUBSCRIPTION", ".status.subscriptionSid", priority=1, description="Subscription SID."),
    ),
)
PHONE_NUMBER = Kind(
    kind="PhoneNumber",
    plural="phonenumbers",
    singular="phonenumber",
    short_name="tpn",
    description="A Twilio phone number placed in a subaccount, with its own webhooks.",
    spec=PhoneNumberSpec,
    status=PhoneNumberStatus,
    extra_columns=(
        PrinterColumn("NUMBER", ".status.phoneNumber", description="The number."),
        PrinterColumn("ACCOUNT", ".status.accountSid", priority=1, description="Account holding it."),
    ),
)

KINDS: tuple[Kind, ...] = (SUBACCOUNT, API_KEY, MESSAGING_SERVICE, EVENT_STREAM, PHONE_NUMBER)
