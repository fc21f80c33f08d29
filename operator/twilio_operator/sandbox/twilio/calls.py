"""What a route handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .auth import Principal
from .contract import Operation
from .errors import invalid_parameter
from .state import Account, TwilioState

MAX_FRIENDLY_NAME = 64
PAGING_PARAMETERS = frozenset({"PageSize", "Page", "PageToken"})


@dataclass(frozen=True)
class Call:
    """A request that passed authentication, authorization and the contract check."""

    op: Operation
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    query_pairs: Sequence[tuple[str, str]]
    form: Mapping[str, str]
    principal: Principal
    # The account the call acts on (the path's account for 2010 sub-resources, else the credential's).
    account: Account
    state: TwilioState
    # Scheme and host for absolute URLs of this product, e.g. https://messaging.twilio.com.
    public_base: str
    # The form as sent, repeated fields included (Event Streams' Types), where `form` keeps the last value.
    form_pairs: Sequence[tuple[str, str]] = ()

    @property
    def filters(self) -> list[tuple[str, str]]:
        """The list filters the caller sent, echoed into page URIs as real Twilio does."""
        return [(k, v) for k, v in self.query_pairs if k not in PAGING_PARAMETERS]


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] | None = None


Handler = Callable[[Call], Reply]


def friendly_name(call: Call, *, required: bool = False) -> str | None:
    name = call.form.get("FriendlyName")
    if name is None:
        return None
    if required and name == "":
        raise invalid_parameter("Missing required parameter FriendlyName in the post body")
    if len(name) > MAX_FRIENDLY_NAME:
        raise invalid_parameter(f"FriendlyName must be at most {MAX_FRIENDLY_NAME} characters long")
    return name
