"""The OpenAPI contract: spec files, routing by the spec, request violations, the response checker."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from twilio_operator.sandbox.twilio.contract import (
    HOSTS,
    SPEC_DIR,
    SPEC_FILES,
    ResponseChecker,
    host_spec,
)
from twilio_operator.sandbox.twilio.formats import iso8601, rfc2822
from twilio_operator.sandbox.twilio.server import HANDLERS
from twilio_operator.sandbox.twilio_oai.make_subset import make_subset

from .conftest import Api

SOURCE = (SPEC_DIR / "SOURCE.md").read_text()


@pytest.mark.parametrize("name", sorted(SPEC_FILES.values()))
def test_spec_files_are_valid_and_match_source_md(name: str) -> None:
    data = (SPEC_DIR / name).read_bytes()
    row = next(line for line in SOURCE.splitlines() if line.startswith(f"| `{name}`"))
    assert hashlib.sha256(data).hexdigest() in row
    assert f"| {len(data)} |" in row
    validate(json.loads(data))


def test_source_md_names_the_package_and_full_specs() -> None:
    assert "`@twilio-alpha/mcp@0.7.0`" in SOURCE
    assert "475b69553e34e797af05d34679cdad3bc3b8b4b8b92e6ac044fa6ebc255bf052" in SOURCE


def test_api_subset_carries_the_number_lookups() -> None:
    operations = set(host_spec("api").operations)
    assert {
        "ListIncomingPhoneNumber",
        "FetchIncomingPhoneNumber",
        "ListShortCode",
        "FetchShortCode",
    } <= operations
    # Buying, updating (the exchange too) and releasing numbers are served, as the PhoneNumber kind needs.
    assert {
        "CreateIncomingPhoneNumber",
        "UpdateIncomingPhoneNumber",
        "DeleteIncomingPhoneNumber",
    } <= operations


@pytest.mark.parametrize("host", HOSTS)
def test_every_spec_operation_has_a_handler_and_no_handler_lacks_one(host: str) -> None:
    spec_ops = set(host_spec(host).operations)  # type: ignore[arg-type]
    handled = {op for (h, op) in HANDLERS if h == host}
    assert spec_ops == handled


def test_make_subset_keeps_listed_operations_and_referenced_schemas() -> None:
    full: dict[str, Any] = {
        "info": {"title": "t", "version": "1"},
        "openapi": "3.0.1",
        "servers": [{"url": "https://x"}],
        "tags": [],
        "security": [],
        "paths": {
            "/a": {
                "description": "d",
                "get": {
                    "responses": {
                        "200": {
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}
                        }
                    }
                },
                "post": {
                    "responses": {
                        "200": {
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/C"}}}
                        }
                    }
                },
            },
            "/b": {"get": {"responses": {}}},
        },
        "components": {
            "securitySchemes": {},
            "schemas": {
                "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"type": "string"},
                "C": {"type": "string"},
                "Unused": {"type": "string"},
            },
        },
    }
    subset = make_subset(full, {"/a": ("get",)}, ("Unused",))
    assert list(subset["paths"]) == ["/a"]
    assert set(subset["paths"]["/a"]) == {"description", "get"}
    assert list(subset["components"]["schemas"]) == ["A", "B", "Unused"]
    with pytest.raises(KeyError):
        make_subset(full, {"/b": ("post",)}, ())


async def test_unknown_paths_and_methods_are_recorded_violations(api: Api) -> None:
    unknown = await api.call("GET", "api", "/2010-04-01/Accounts/AC00/Calls/Nope.json", api.parent)
    assert (unknown.status, unknown.code) == (404, 20404)
    wrong_method = await api.call("PUT", "messaging", "/v1/Services", api.parent)
    assert (wrong_method.status, wrong_method.code) == (405, 20004)
    wrong_host = await api.call("GET", "messaging", "/v1/Keys", api.parent)
    assert wrong_host.status == 404
    nowhere = await api.call("GET", "127.0.0.1", "/nothing", api.parent)
    assert nowhere.status == 404
    assert len(api.violations()) == 4


async def test_request_violations_name_the_parameter(api: Api) -> None:
    sub = await api.subaccount()
    cases = [
        ("GET", "api", "/2010-04-01/Accounts/ACnotasid.json", None, "Sid"),
        ("GET", "api", f"/2010-04-01/Accounts/{sub['sid']}/Keys/SK123.json", None, "Sid"),
        ("GET", "messaging", "/v1/Services/MG12", None, "Sid"),
        ("GET", "api", "/2010-04-01/Accounts.json?Status=gone", None, "Status"),
        (
            "POST",
            "messaging",
            f"/v1/Services/MG{'a' * 32}/PhoneNumbers",
            {"PhoneNumberSid": "PN1"},
            "PhoneNumberSid",
        ),
        ("POST", "iam", "/v1/Keys", {"AccountSid": "AC1"}, "AccountSid"),
        ("GET", "api", "/2010-04-01/Accounts.json?PageSize=many", None, "PageSize"),
    ]
    for method, host, path, data, parameter in cases:
        answer = await api.call(method, host, path, api.parent, data=data)
        assert (answer.status, answer.code) == (400, 20001), path
        assert parameter in answer.body["message"], answer.body
    assert [v["problems"][0]["parameter"] for v in api.violations()] == [c[4] for c in cases]


async def test_repeated_violations_are_each_recorded(api: Api) -> None:
    for _ in range(3):
        answer = await api.call("GET", "messaging", "/v1/Services", api.parent, params={"PageSize": "x"})
        assert answer.status == 400
    assert len(api.violations()) == 3
    for _ in range(3):
        assert (await api.call("GET", "messaging", "/v1/Services", api.parent)).status == 200
    assert len(api.violations()) == 3


async def test_non_form_bodies_are_violations(api: Api) -> None:
    as_json = await api.call(
        "POST",
        "messaging",
        "/v1/Services",
        api.parent,
        data=None,
        headers={"Content-Type": "application/json"},
    )
    assert as_json.status == 400  # empty JSON-typed body: FriendlyName missing
    async with api.session.post(
        f"{api.emulator.url}/v1/Services",
        json={"FriendlyName": "x"},
        headers={"Host": "messaging.twilio.com", "Authorization": api.parent.header()},
    ) as response:
        body = await response.json()
    assert (response.status, body["code"]) == (400, 20001)
    assert "form" in body["message"]
    async with api.session.post(
        f"{api.emulator.url}/v1/Services",
        data=b"FriendlyName=\xff",
        headers={
            "Host": "messaging.twilio.com",
            "Authorization": api.parent.header(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ) as response:
        assert response.status == 400
    assert len(api.violations()) == 3


def test_response_checker_catches_what_breaks_the_spec() -> None:
    checker = ResponseChecker()
    api_spec = host_spec("api")
    fetch = api_spec.operations["FetchAccount"]
    good = {
        "sid": "AC" + "a" * 32,
        "owner_account_sid": "AC" + "a" * 32,
        "friendly_name": "x",
        "status": "active",
        "type": "Full",
        "auth_token": None,
        "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
        "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
    }
    assert checker.check(fetch, 200, good) == []
    assert checker.check(fetch, 200, {**good, "status": None})
    assert checker.check(fetch, 200, {**good, "date_created": "2015-07-30T20:00:00Z"})
    assert checker.check(fetch, 200, {k: v for k, v in good.items() if k != "sid"})
    assert checker.check(fetch, 201, good)
    listing = api_spec.operations["ListAccount"]
    page = {
        "accounts": [good],
        "first_page_uri": "/2010-04-01/Accounts.json?PageSize=50&Page=0",
        "next_page_uri": None,
        "previous_page_uri": None,
        "uri": "/2010-04-01/Accounts.json?PageSize=50&Page=0",
        "page": 0,
        "page_size": 50,
        "start": 0,
        "end": 0,
    }
    assert checker.check(listing, 200, page) == []
    assert checker.check(listing, 200, {**page, "total": 1})
    services = host_spec("messaging").operations["ListService"]
    relative_meta = {
        "services": [],
        "meta": {
            "page": 0,
            "page_size": 50,
            "first_page_url": "/v1/Services",
            "previous_page_url": None,
            "url": "/v1/Services",
            "next_page_url": None,
            "key": "services",
        },
    }
    assert checker.check(services, 200, relative_meta)
    assert (
        checker.check(services, 400, {"code": 20001, "message": "m", "more_info": "u", "status": 400}) == []
    )
    assert checker.check(services, 400, {"message": "m"})


def test_date_formats() -> None:
    moment = datetime(2015, 7, 30, 20, 0, 0, tzinfo=UTC)
    assert rfc2822(moment) == "Thu, 30 Jul 2015 20:00:00 +0000"
    assert parsedate_to_datetime(rfc2822(moment)) == moment
    assert iso8601(moment) == "2015-07-30T20:00:00Z"


def test_spec_dir_is_package_data_of_the_operator() -> None:
    packaged = Path(str(importlib.resources.files("twilio_operator"))) / "sandbox" / "twilio_oai"
    assert packaged.resolve() == SPEC_DIR
    assert all(re.fullmatch(r"twilio_\w+\.subset\.json", name) for name in SPEC_FILES.values())


def test_requests_alike_but_for_free_text_share_one_verdict_and_others_do_not() -> None:
    spec = host_spec("messaging")
    op, _ = spec.match("POST", "/v1/Services")
    assert "FriendlyName" in op.free_text and "InboundMethod" not in op.free_text

    def verdict(*form: tuple[str, str]) -> list[str]:
        body = "&".join(f"{k}={v}" for k, v in form).encode()
        content = "application/x-www-form-urlencoded"
        return [
            v.message for v in spec.validate(op, "/v1/Services", [], list(form), body, content, "Basic x")
        ]

    assert verdict(("FriendlyName", "a")) == []
    cached = len(spec._verdicts)
    assert verdict(("FriendlyName", "another name")) == []
    assert len(spec._verdicts) == cached, "a new name is validated again"
    assert verdict(("FriendlyName", "b"), ("InboundMethod", "GET")) == []
    # A value that breaks the spec is not answered from the verdict of one that didn't.
    assert verdict(("FriendlyName", "c"), ("InboundMethod", "PUT")) != []
    assert verdict(("FriendlyName", "d"), ("InboundRequestUrl", "not a url")) != []
    assert verdict(("FriendlyName", "e"), ("InboundRequestUrl", "https://example.com/x")) == []
