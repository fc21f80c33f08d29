"""What ApiKey and MessagingService share: they live inside a subaccount they reference."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

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

    async def delete_in(self, account: str, delete: Callable[[], Awaitable[None]]) -> None:
        """Delete something inside an account; a closed account has taken it along already."""
        try:
            await delete()
        except (AuthError, Terminal):
            if not await Accounts(self.gw).is_closed(account):
                raise
