"""Twilio's two list-page shapes and its page tokens.

2010 pages put relative ``*_page_uri`` fields next to the records and nothing else at the top level (the SDK
takes the one unknown key as the record list). v1 pages (messaging, iam) put absolute ``*_page_url`` fields in
``meta``; the SDK follows ``meta.next_page_url`` verbatim.

A page token is ``PA``/``PB`` + the SID of the record the next/previous page starts after/before, like real
Twilio's ``PASK…`` tokens. Records are in creation order and SIDs keep their order after deletion, so a
token stays a valid cursor while records come and go.
"""

from __future__ import annotations

import bisect
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import invalid_parameter

DEFAULT_PAGE_SIZE = 50
_TOKEN_RE = re.compile(r"^P([AB])((?:AC|SK|MG|PN|SC|AI|SM|UT)[0-9a-f]{32})$")

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page_size: int
    page: int
    token: str | None


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    request: PageRequest
    start: int
    next_token: str | None
    previous_token: str | None


def page_request(query: Mapping[str, str]) -> PageRequest:
    """Paging parameters; their types and ranges were already enforced by the contract check."""
    size = int(query.get("PageSize", DEFAULT_PAGE_SIZE))
    if size > 1000:
        # Unreachable through the contract check, which answers 20007 itself; kept for direct callers.
        raise invalid_parameter("Page size too large, max 1000", code=20007)
    return PageRequest(page_size=size, page=int(query.get("Page", 0)), token=query.get("PageToken"))


def paginate(
    items: Sequence[T],
    sid_of: Callable[[T], str],
    order_of: Callable[[str], int | None],
    request: PageRequest,
    render: Callable[[T], dict[str, Any]],
    newest_first: bool = False,
) -> Page:
    """Select the page of ``items``, ordered by creation (``newest_first``: as Twilio lists messages), that
    the request asks for."""
    sign = -1 if newest_first else 1
    keyed = sorted(((sign * (order_of(sid_of(item)) or 0), item) for item in items), key=lambda pair: pair[0])
    orders = [order for order, _ in keyed]
    ordered = [item for _, item in keyed]
    size = request.page_size
    if request.token is not None:
        found = _TOKEN_RE.match(request.token)
        cursor = order_of(found.group(2)) if found else None
        if found is None or cursor is None:
            raise invalid_parameter(f"Invalid PageToken {request.token!r}", code=21481)
        cursor *= sign
        if found.group(1) == "A":
            begin = bisect.bisect_right(orders, cursor)
        else:
            begin = max(0, bisect.bisect_left(orders, cursor) - size)
    else:
        begin = request.page * size
    chosen = ordered[begin : begin + size]
    next_token = f"PA{sid_of(chosen[-1])}" if chosen and begin + size < len(ordered) else None
    previous_token = f"PB{sid_of(chosen[0])}" if chosen and begin > 0 else None
    return Page(
        records=[render(item) for item in chosen],
        request=request,
        start=request.page * size,
        next_token=next_token,
        previous_token=previous_token,
    )


def _query(filters: Sequence[tuple[str, str]], size: int, page: int, token: str | None) -> str:
    params = [*filters, ("PageSize", str(size)), ("Page", str(page))]
    if token is not None:
        params.append(("PageToken", token))
    return urllib.parse.urlencode(params)


def page_2010(key: str, page: Page, path: str, filters: Sequence[tuple[str, str]]) -> dict[str, Any]:
    req = page.request
    size = req.page_size
    body: dict[str, Any] = {
        "first_page_uri": f"{path}?{_query(filters, size, 0, None)}",
        "end": page.start + max(len(page.records) - 1, 0),
        "previous_page_uri": None,
        "uri": f"{path}?{_query(filters, size, req.page, req.token)}",
        "page_size": size,
        "start": page.start,
        "next_page_uri": None,
        "page": req.page,
    }
    if page.next_token is not None:
        body["next_page_uri"] = f"{path}?{_query(filters, size, req.page + 1, page.next_token)}"
    if page.previous_token is not None:
        previous = max(req.page - 1, 0)
        body["previous_page_uri"] = f"{path}?{_query(filters, size, previous, page.previous_token)}"
    body[key] = page.records
    return body


def page_v1(key: str, page: Page, base: str, path: str, filters: Sequence[tuple[str, str]]) -> dict[str, Any]:
    req = page.request
    size = req.page_size
    url = f"{base}{path}"
    meta: dict[str, Any] = {
        "page": req.page,
        "page_size": size,
        "first_page_url": f"{url}?{_query(filters, size, 0, None)}",
        "previous_page_url": None,
        "url": f"{url}?{_query(filters, size, req.page, req.token)}",
        "next_page_url": None,
        "key": key,
    }
    if page.next_token is not None:
        meta["next_page_url"] = f"{url}?{_query(filters, size, req.page + 1, page.next_token)}"
    if page.previous_token is not None:
        meta["previous_page_url"] = (
            f"{url}?{_query(filters, size, max(req.page - 1, 0), page.previous_token)}"
        )
    return {key: page.records, "meta": meta}
