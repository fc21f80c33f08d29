"""What a route handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .auth import Principal
from .contract import Operation
from .errors import invalid_parameter
from .paging import page_request, page_v1, paginate
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
T = TypeVar("T")


def page_v1_reply(
    call: Call,
    key: str,
    items: Iterable[T],
    sid_of: Callable[[T], str],
    render: Callable[[T], dict[str, Any]],
    order: Callable[[str], int | None] | None = None,
) -> Reply:
    """A page of a v1 list (Messaging, Event Streams, ...) as the request asked for it."""
    page = paginate(list(items), sid_of, order or call.state.order_of, page_request(call.query), render)
    return Reply(200, page_v1(key, page, call.public_base, call.path, call.filters))


def friendly_name(call: Call, *, required: bool = False) -> str | None:
    name = call.form.get("FriendlyName")
    if name is None:
        return None
    if required and name == "":
        raise invalid_parameter("Missing required parameter FriendlyName in the post body")
    if len(name) > MAX_FRIENDLY_NAME:
        raise invalid_parameter(f"FriendlyName must be at most {MAX_FRIENDLY_NAME} characters long")
    return name
