"""What ApiKey and MessagingService share: they live inside a subaccount they reference."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

import kopf
from pydantic import BaseModel, ValidationError

from ..settings import Settings
from ..twilio.accounts import Accounts
from ..twilio.errors import AuthError, Terminal
from ..twilio.gateway import TwilioGateway
from . import conditions as c
from .model import Journal, Outcome, Resource
from .references import SubaccountDirectory, resolve_account

M = TypeVar("M", bound=BaseModel)


def parse_spec(model: type[M], resource: Resource) -> M:
    """The spec as the model reads it; the CRD schema makes a failure rare, and it is reported, not raised."""
    try:
        return model.model_validate(resource.spec)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = f"spec.{where}: {first['msg']}"
        raise Outcome(
            message, ready=c.Cond.false(c.UNAVAILABLE, message), synced=c.Cond.false(c.INVALID_SPEC, message)
        ) from None


class ChildKind:
    def __init__(self, gateway: TwilioGateway, settings: Settings, directory: SubaccountDirectory) -> None:
        self.gw = gateway
        self.settings = settings
        self.directory = directory

    async def account(self, resource: Resource, journal: Journal) -> str:
        """The account SID the object lives in, waiting (in memory) for its subaccount to be Ready."""
        return await resolve_account(
            resource.namespace,
            resource.spec,
            self.settings,
            self.directory,
            self.settings.dependency_wait,
            functools.partial(journal.announce, resource),
        )

    def account_at_deletion(self, resource: Resource) -> str | None:
        """The account to delete in: from status, or, when a crash kept it out of status, from the spec."""
        account = resource.status.get("accountSid")
        if account:
            return str(account)
        ref = (resource.spec.get("subaccountRef") or {}).get("name")
        if ref:
            entry = self.directory.get(resource.namespace, str(ref))
            if entry is None or not entry.sid:
                # Right after a restart the subaccount may not have been seen yet; if it is gone for good,
                # the object stays with this message until it is back or the finalizer is removed.
                raise kopf.TemporaryError(
                    f"TwilioSubaccount {ref} is unknown: cannot tell which account to delete in", delay=5
                )
            return entry.sid
        raw = resource.spec.get("accountSid")
        if raw:
            return str(raw) if self.settings.allow_raw_account_sid else None
        return self.settings.credentials()[0] if self.settings.allow_parent_account else None

    async def delete_in(self, account: str, delete: Callable[[], Awaitable[None]]) -> None:
        """Delete something inside an account; a closed account has taken it along already."""
        try:
            await delete()
        except (AuthError, Terminal):
            if not await Accounts(self.gw).is_closed(account):
                raise
