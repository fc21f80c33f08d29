"""PhoneNumber plugged into the generic reconcile: a number placed in a subaccount, its name and its webhooks.

Placing a number is the generic reconcile's create (journaled, so a crash between Twilio's answer and the
record is recovered by finding the number where it was going); a number already managed that is in another
account is a field to converge (`account_sid`), moved by the same exchange. A number is taken only from the
parent account or a subaccount declared in the same namespace: anywhere else it is reported (NumberInUse) and
left alone. Buying one is opt-in twice (spec.purchase and the operator's flag) and journaled the same way, so
at most one number is bought per object.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import GROUP, VERSION
from ..api.kinds import PHONE_NUMBER
from ..api.phonenumber import PhoneNumberSpec, PhoneNumberStatus, ResolvedNumberWebhooks
from ..api.webhooks import Webhook
from ..kube import events
from ..kube.ingress import IngressView
from ..twilio.numbers import SETTING_DEFAULTS, DesiredNumber, DesiredPurchase, Numbers
from ..twilio.observed import Observed
from . import conditions as c
from .child import SUBACCOUNT_REF, ChildKind, forbidden, invalid
from .entry import KindEntry, Services
from .indexes import Directory, Followed, Reference
from .model import EXTERNAL_NAME, Journal, Outcome, Resource
from .webhooks import INGRESSES, resolve_all, warn_insecure

NUMBER_IN_USE = "NumberInUse"
NUMBER_NOT_FOUND = "NumberNotFound"
# A number not found anywhere may be bought or ported in later: looked for again this often.
NOT_FOUND_RETRY = 120.0
# spec.webhooks.<name> → (URL field, method field), Twilio's names.
WEBHOOKS = {
    "sms": ("sms_url", "sms_method"),
    "sms_fallback": ("sms_fallback_url", "sms_fallback_method"),
    "voice": ("voice_url", "voice_method"),
    "voice_fallback": ("voice_fallback_url", "voice_fallback_method"),
    "status_callback": ("status_callback", "status_callback_method"),
}

Number = Resource[PhoneNumberSpec, PhoneNumberStatus]


@dataclass(frozen=True)
class PhoneNumberView:
    """What Messaging Services listing a number need to know of its PhoneNumber object."""

    sid: str | None
    phone_number: str | None
    account: str | None
    ready: bool


def view(body: Mapping[str, Any]) -> PhoneNumberView:
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    return PhoneNumberView(
        sid=status.get("sid"),
        phone_number=status.get("phoneNumber") or spec.get("phoneNumber"),
        account=status.get("accountSid"),
        ready=c.is_true(status, c.READY),
    )


def aliases(seen: PhoneNumberView) -> Iterable[str]:
    """A Messaging Service names its senders by E.164 number or PN SID, not by object name."""
    return {name for name in (seen.phone_number, seen.sid) if name}


# Followed by MessagingServices: a number arriving in their account wakes those that list it.
PHONE_NUMBERS = Followed(GROUP, VERSION, PHONE_NUMBER.plural, view, aliases)


def ingress_names(spec: PhoneNumberSpec) -> set[str]:
    return {hook.ingress_ref.name for hook in _hooks(spec).values() if hook.ingress_ref is not None}


def _hooks(spec: PhoneNumberSpec) -> dict[str, Webhook]:
    if spec.webhooks is None:
        return {}
    hooks = {name: getattr(spec.webhooks, name) for name in WEBHOOKS}
    return {name: hook for name, hook in hooks.items() if hook is not None}


class PhoneNumberKind(ChildKind[PhoneNumberSpec, PhoneNumberStatus, DesiredNumber]):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.ingresses: Directory[IngressView] = services.directory(INGRESSES)

    async def account(self, resource: Number, journal: Journal) -> str:
        # A number whose account changes is moved by the exchange (a field to converge), never released or
        # returned first: ChildKind's leave-then-make would apply the deletion policy on the way.
        return await self._resolve(resource)

    def _mine(self, namespace: str) -> set[str]:
        """Accounts a number may be taken from: the parent and the subaccounts declared in this namespace."""
        found = {v.sid for v in self.subaccounts.views(namespace) if v.sid and v.state != "closed"}
        return {self.settings.credentials()[0], *found}

    def _others(self, namespace: str) -> set[str]:
        """Subaccounts of other namespaces: a number there is someone else's, looked at only to say so."""
        return {v.sid for v in self.subaccounts.views() if v.sid} - self._mine(namespace)

    def _webhooks(self, resource: Number) -> tuple[dict[str, Any], dict[str, str]]:
        return resolve_all(self.ingresses, resource.namespace, _hooks(resource.spec), WEBHOOKS)

    async def desired(self, resource: Number, journal: Journal) -> DesiredNumber:
        spec = resource.spec
        named = resource.annotations.get(EXTERNAL_NAME) or resource.status.sid
        if spec.phone_number and spec.purchase:
            raise invalid("set phoneNumber or purchase, not both")
        if not (named or spec.phone_number or spec.purchase):
            raise invalid(f"set phoneNumber or purchase, or adopt a number by SID with {EXTERNAL_NAME}")
        if spec.purchase and not named and not self.settings.allow_purchase:
            raise forbidden(
                "purchase refused: buying numbers costs money and the operator runs without "
                "TWILIO_OPERATOR_ALLOW_PURCHASE; nothing was bought"
            )
        webhooks, _insecure = self._webhooks(resource)
        account = await self.account(resource, journal)
        previously = set(resource.status.managed_fields or [])
        removed = {
            name: SETTING_DEFAULTS[name] for name in previously - webhooks.keys() if name in SETTING_DEFAULTS
        }
        mine = self._mine(resource.namespace)
        others = self._others(resource.namespace)
        desired = DesiredNumber(
            account_sid=account,
            phone_number=spec.phone_number,
            friendly_name=resource.friendly_name,
            settings={**removed, **webhooks},
            purchase=_purchase(spec),
            elsewhere=tuple(sorted(mine - {account})) + tuple(sorted(others)),
        )
        if spec.phone_number and not named:
            found = await self._find(desired, mine, others)
            desired = dataclasses.replace(desired, found=found)
        return desired

    async def _find(self, desired: DesiredNumber, mine: set[str], others: set[str]) -> Observed:
        """The number before it is placed: in the parent (where numbers are usually bought), in its account
        already, or in another subaccount of this namespace."""
        number = str(desired.phone_number)
        numbers = Numbers(self.gw, desired)
        parent = self.settings.credentials()[0]
        first = (parent, desired.account_sid, *sorted(mine - {parent, desired.account_sid}))
        found = await numbers.locate(number, tuple(dict.fromkeys(first)))
        if found is not None:
            return found
        if await numbers.locate(number, tuple(sorted(others))) is not None:
            raise _in_use(number)
        message = f"{number} is neither in the parent account nor in a subaccount of this namespace"
        raise Outcome(
            message,
            ready=c.Cond.false(NUMBER_NOT_FOUND, message),
            synced=c.Cond.false(NUMBER_NOT_FOUND, message),
            retry=NOT_FOUND_RETRY,
        )

    def external(self, desired: DesiredNumber) -> Numbers:
        return Numbers(self.gw, desired)

    def check(self, resource: Number, observed: Observed) -> Outcome | None:
        held = str(observed.data["account_sid"])
        allowed = self._mine(resource.namespace) | {resource.status.account_sid, resource.spec.account_sid}
        if held in allowed:
            return None
        return _in_use(str(observed.data["phone_number"]))

    async def publish(
        self, resource: Number, desired: DesiredNumber, observed: Observed, created: bool, journal: Journal
    ) -> tuple[Observed, PhoneNumberStatus]:
        _webhooks, insecure = self._webhooks(resource)
        shown = resource.status.webhooks.model_dump().values() if resource.status.webhooks else ()
        warn_insecure(resource, insecure, shown)
        number = observed.data["phone_number"]
        if created and desired.purchase is not None:
            events.normal(
                resource.body, "Purchased", f"bought {number} ({observed.sid}) in {desired.account_sid}"
            )
        elif created and desired.found and desired.found.data["account_sid"] != desired.account_sid:
            losing = desired.found.data["account_sid"]
            events.normal(resource.body, "Moved", f"moved {number} from {losing} into {desired.account_sid}")
        # Bought for this object: by this pass, or by one a crash interrupted (found again by its name).
        purchased = resource.status.purchased or desired.purchase is not None
        data = observed.data
        return observed, PhoneNumberStatus(
            account_sid=data["account_sid"],
            phone_number=number,
            friendly_name=data["friendly_name"],
            purchased=purchased or None,
            webhooks=ResolvedNumberWebhooks(
                sms_url=data.get("sms_url"),
                sms_fallback_url=data.get("sms_fallback_url"),
                voice_url=data.get("voice_url"),
                voice_fallback_url=data.get("voice_fallback_url"),
                status_callback=data.get("status_callback"),
            ),
            managed_fields=sorted(_declared(resource.spec) & desired.settings.keys()),
        )

    # --- deletion ----------------------------------------------------------------------------------

    async def _apply_policy(self, numbers: Numbers, sid: str, account: str, policy: str) -> None:
        parent = self.settings.credentials()[0]
        if policy == "Release":
            await numbers.release(sid, account)
        elif policy == "ReturnToParent" and account != parent:
            await numbers.move(sid, account, parent)

    async def delete(self, resource: Number, sid: str, policy: str) -> None:
        account = self.account_at_deletion(resource)
        if policy == "Retain" or not account:
            return
        if not resource.status.account_sid and not resource.made_here:
            # Never placed by this object nor reported as held (an adoption refused, say, as another
            # tenant's): not its number to return or release.
            return
        numbers = Numbers(self.gw, DesiredNumber(account, None, resource.friendly_name, {}))

        async def act() -> None:
            # Only where this object placed it: a number someone moved elsewhere since is not followed.
            await self._apply_policy(numbers, sid, account, policy)

        await self.delete_in(account, act)

    async def delete_orphans(self, resource: Number, since: datetime.datetime) -> None:
        account = self.account_at_deletion(resource)
        policy = resource.spec.deletion_policy or "ReturnToParent"
        if policy == "Retain" or not account:
            return
        probe = DesiredNumber(
            account, resource.spec.phone_number, resource.friendly_name, {}, purchase=_purchase(resource.spec)
        )
        numbers = Numbers(self.gw, probe)

        async def act() -> None:
            for found in await numbers.find(probe, since):
                await self._apply_policy(numbers, found.sid, account, policy)

        await self.delete_in(account, act)


def _in_use(number: str) -> Outcome:
    message = f"{number} is held by an account this namespace does not declare: it is left where it is"
    return Outcome(
        message, ready=c.Cond.false(NUMBER_IN_USE, message), synced=c.Cond.false(NUMBER_IN_USE, message)
    )


def _purchase(spec: PhoneNumberSpec) -> DesiredPurchase | None:
    wanted = spec.purchase
    if wanted is None:
        return None
    return DesiredPurchase(
        country=wanted.country or "US",
        type=wanted.type or "Local",
        area_code=wanted.area_code,
        contains=wanted.contains,
        capabilities=tuple(sorted(set(wanted.capabilities or ()))),
    )


def _declared(spec: PhoneNumberSpec) -> set[str]:
    names: set[str] = set()
    for name, hook in _hooks(spec).items():
        url_field, method_field = WEBHOOKS[name]
        names.add(url_field)
        if hook.method:
            names.add(method_field)
    return names


ENTRY = KindEntry(
    kind=PHONE_NUMBER,
    plug=PhoneNumberKind,
    default_deletion_policy="ReturnToParent",
    acting_deletion_policies=frozenset({"ReturnToParent", "Release"}),
    references=(SUBACCOUNT_REF, Reference(INGRESSES, ingress_names)),
    followed=PHONE_NUMBERS,
)
