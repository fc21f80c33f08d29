"""Twilio's official OpenAPI spec as the emulator's contract: routing, request validation, response checks.

The spec files (``sandbox/twilio_oai/``, see SOURCE.md there) decide which paths and operations exist, so a
request the real API would not recognise cannot succeed here either. Every request is validated with
openapi-core; a few checks run first on the raw form values because openapi-core casts leniently
(``StickySender=yes`` becomes ``True``) and reports cast errors without naming the parameter, while Twilio and
Prism reject both and Twilio's message names the parameter.

Responses are checked only when asked (the emulator's own tests do), with a format checker that knows
Twilio's ``date-time-rfc-2822`` and with ``required`` lists for the fields the operator relies on, which
the specs leave optional.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import FormatChecker
from openapi_core import Config, OpenAPI
from openapi_core.casting.schemas import oas30_types_caster
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_core.validation.schemas import oas30_write_schema_validators_factory
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_core.validation.schemas.validators import SchemaValidator
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from werkzeug.datastructures import Headers, ImmutableMultiDict

Host = Literal["api", "messaging", "iam", "events", "bulkexports"]
HOSTS: tuple[Host, ...] = ("api", "messaging", "iam", "events", "bulkexports")
HOSTNAMES: Mapping[Host, str] = {
    "api": "api.twilio.com",
    "messaging": "messaging.twilio.com",
    "iam": "iam.twilio.com",
    "events": "events.twilio.com",
    "bulkexports": "bulkexports.twilio.com",
}
SPEC_DIR = Path(__file__).resolve().parent.parent / "twilio_oai"
SPEC_FILES: Mapping[Host, str] = {
    "api": "twilio_api_v2010.subset.json",
    "messaging": "twilio_messaging_v1.subset.json",
    "iam": "twilio_iam_v1.subset.json",
    "events": "twilio_events_v1.subset.json",
    "bulkexports": "twilio_bulkexports_v1.subset.json",
}
# openapi-core matches requests against `servers`; the emulator answers on any address, so the specs'
# https://api.twilio.com etc. are replaced by one fixed URL that every validated request claims to use.
_SERVER = "http://twilio-emulator"
_SCHEMA_REF = "#/components/schemas/"
VERDICT_CACHE_SIZE = 4096
_INTEGER_RE = re.compile(r"^-?[0-9]+$")
_REQUIRED_RE = re.compile(r"'([^']+)' is a required property")

# Twilio answers some spec violations with a specific code rather than the generic 20001:
# (operationId or "*", parameter, failed keyword) -> code.
_CODES: Mapping[tuple[str, str, str], int] = {
    ("UpdateAccount", "Status", "enum"): 21475,
    ("*", "PageSize", "maximum"): 20007,
}

# Fields the operator relies on, required in responses although the specs make every field optional.
REQUIRED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "api.v2010.account": ("sid", "status", "owner_account_sid", "friendly_name", "date_created", "type"),
    "api.v2010.account.new_key": ("sid", "secret", "friendly_name", "date_created"),
    "api.v2010.account.key": ("sid", "friendly_name", "date_created"),
    "api.v2010.account.incoming_phone_number": ("sid", "account_sid", "phone_number", "capabilities"),
    "api.v2010.account.short_code": ("sid", "account_sid", "short_code"),
    "iam.v1.new_key": ("sid", "secret", "friendly_name", "date_created", "policy"),
    "iam.v1.key": ("sid", "friendly_name", "date_created", "policy"),
    "iam.v1.get_keys": ("sid", "friendly_name", "date_created"),
    "messaging.v1.service": (
        "sid",
        "account_sid",
        "friendly_name",
        "inbound_request_url",
        "inbound_method",
        "fallback_url",
        "fallback_method",
        "status_callback",
        "sticky_sender",
        "mms_converter",
        "smart_encoding",
        "scan_message_content",
        "fallback_to_long_code",
        "area_code_geomatch",
        "validity_period",
        "synchronous_validation",
        "usecase",
        "use_inbound_webhook_on_number",
        "url",
        "links",
        "date_created",
    ),
    "messaging.v1.service.phone_number": ("sid", "account_sid", "service_sid", "phone_number", "url"),
    "messaging.v1.service.short_code": ("sid", "account_sid", "service_sid", "short_code", "url"),
    "messaging.v1.service.alpha_sender": ("sid", "account_sid", "service_sid", "alpha_sender", "url"),
    "twilio.service_error_response": ("code", "message", "more_info", "status"),
}
# The SDK finds a 2010 page's records as the one top-level key outside this set, so nothing else may appear.
PAGE_2010_KEYS = frozenset(
    {"first_page_uri", "next_page_uri", "previous_page_uri", "uri", "page", "page_size", "start", "end"}
)
PAGE_V1_META_KEYS = frozenset(
    {"page", "page_size", "first_page_url", "previous_page_url", "url", "next_page_url", "key"}
)


# Twilio's own `format` names. openapi-core refuses to unmarshal a value whose format it does not know, yet
# they are documentation hints: a PhoneNumber filter takes partial numbers and `*` wildcards, for example.
# Request values of these formats are accepted as they are; the emulator's handlers check what matters.
TWILIO_FORMATS = (
    "phone-number",
    "http-method",
    "date-time-rfc-2822",
    "uri-map",
    "phone-number-capabilities",
    "currency",
    "iso-country-code",
)


def _any_value(value: Any) -> bool:
    return True


def _unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Violation:
    """One way a request breaks the spec, phrased as Twilio phrases parameter errors."""

    parameter: str | None
    location: str
    message: str
    code: int = 20001

    def as_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "location": self.location, "message": self.message}


@dataclass(frozen=True)
class Operation:
    host: Host
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    query: Mapping[str, tuple[Mapping[str, Any], bool]]
    body: Mapping[str, Any] | None
    responses: Mapping[str, Mapping[str, Any] | None]
    # Twilio's list operations answer with one page; the records sit under this key.
    list_key: str | None = None
    # Form fields any string is valid for: their values cannot change a request's verdict.
    free_text: frozenset[str] = frozenset()

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "DELETE")


class RouteNotFound(Exception):
    pass


class MethodNotAllowed(Exception):
    pass


@dataclass
class _Route:
    template: str
    pattern: re.Pattern[str]
    operations: dict[str, Operation] = field(default_factory=dict)


def load_document(host: Host) -> dict[str, Any]:
    """A fresh copy of the spec file the emulator uses for ``host``."""
    with (SPEC_DIR / SPEC_FILES[host]).open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def _resolve(node: Any, schemas: Mapping[str, Any], overlay: bool) -> Any:
    """Inline every ``$ref`` (the subsets have no recursive schemas); optionally add REQUIRED_FIELDS."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            name = ref[len(_SCHEMA_REF) :]
            resolved = _resolve(schemas[name], schemas, overlay)
            if overlay and name in REQUIRED_FIELDS:
                resolved = {**resolved, "required": list(REQUIRED_FIELDS[name])}
            # Siblings of $ref (e.g. "type" next to it in IAM's KeyType) are kept alongside.
            siblings = {k: _resolve(v, schemas, overlay) for k, v in node.items() if k != "$ref"}
            return {**resolved, **siblings}
        return {k: _resolve(v, schemas, overlay) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(item, schemas, overlay) for item in node]
    return node


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{([A-Za-z]+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


class _CachingValidatorsFactory(SchemaValidatorsFactory):
    """Builds each schema's validator once instead of on every request.

    openapi-core re-creates a jsonschema validator (deep-copying its format checker) for every form field
    of every request; the schema location identifies the validator, so caching it cuts request validation
    from ~7 ms to ~2 ms for a Messaging Service create, without changing what is validated.
    """

    def __init__(self) -> None:
        base = oas30_write_schema_validators_factory
        super().__init__(base.schema_validator_cls, base.format_checker)
        self._cache: dict[tuple[Any, ...], SchemaValidator] = {}

    def create(self, spec: Any, schema: Any, *args: Any, **kwargs: Any) -> SchemaValidator:
        key = (tuple(schema.parts), repr(args), repr(sorted(kwargs.items())))
        validator = self._cache.get(key)
        if validator is None:
            validator = super().create(spec, schema, *args, **kwargs)
            self._cache[key] = validator
        return validator


@dataclass
class _CoreRequest:
    """The request shape openapi-core validates (its ``Request`` protocol)."""

    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters
    host_url: str = _SERVER


class HostSpec:
    """One spec file: its operations, a router over them and an openapi-core validator."""

    def __init__(self, host: Host) -> None:
        self.host = host
        document = load_document(host)
        schemas = document["components"]["schemas"]
        self.operations: dict[str, Operation] = {}
        self._routes: list[_Route] = []
        for template, item in document["paths"].items():
            route = _Route(template, _template_pattern(template))
            for method in ("get", "post", "delete"):
                if method in item:
                    op = self._operation(template, route.pattern, method, item[method], schemas)
                    route.operations[op.method] = op
                    self.operations[op.operation_id] = op
            self._routes.append(route)

        core_document = copy.deepcopy(document)
        core_document["servers"] = [{"url": _SERVER}]
        for item in core_document["paths"].values():
            item.pop("servers", None)
        self._verdicts: OrderedDict[tuple[Any, ...], tuple[Violation, ...]] = OrderedDict()
        factory = _CachingValidatorsFactory()
        self._openapi = OpenAPI.from_dict(
            core_document,
            config=Config(
                schema_validators_factory=factory,
                schema_casters_factory=SchemaCastersFactory(factory, oas30_types_caster),
                extra_format_validators=dict.fromkeys(TWILIO_FORMATS, _any_value),
                extra_format_unmarshallers=dict.fromkeys(TWILIO_FORMATS, _unchanged),
            ),
        )

    def _operation(
        self,
        template: str,
        pattern: re.Pattern[str],
        method: str,
        spec: Mapping[str, Any],
        schemas: Mapping[str, Any],
    ) -> Operation:
        query = {
            p["name"]: (_resolve(p["schema"], schemas, overlay=False), bool(p.get("required")))
            for p in spec.get("parameters", [])
            if p["in"] == "query"
        }
        body = None
        content = spec.get("requestBody", {}).get("content", {})
        if "application/x-www-form-urlencoded" in content:
            body = _resolve(content["application/x-www-form-urlencoded"]["schema"], schemas, overlay=False)
        responses: dict[str, Mapping[str, Any] | None] = {}
        list_key = None
        for status, response in spec.get("responses", {}).items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            responses[status] = _resolve(schema, schemas, overlay=True) if schema is not None else None
            if schema is not None and status == "200" and method == "get":
                arrays = [k for k, v in schema.get("properties", {}).items() if v.get("type") == "array"]
                list_key = arrays[0] if len(arrays) == 1 else None
        return Operation(
            host=self.host,
            operation_id=spec["operationId"],
            method=method.upper(),
            template=template,
            pattern=pattern,
            query=query,
            body=body,
            responses=responses,
            list_key=list_key,
            free_text=frozenset(
                name for name, schema in ((body or {}).get("properties") or {}).items() if _free_text(schema)
            ),
        )

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            op = route.operations.get(method)
            if op is None:
                raise MethodNotAllowed(sorted(route.operations))
            return op, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
        raise RouteNotFound(path)

    def validate(
        self,
        op: Operation,
        path: str,
        query: Sequence[tuple[str, str]],
        form: Sequence[tuple[str, str]],
        body: bytes,
        content_type: str,
        authorization: str,
    ) -> list[Violation]:
        """Every way the request breaks the spec; empty when it conforms."""
        # The verdict depends only on these inputs (of the credentials, only on the scheme being there; of
        # the form, not on the values of free-text fields), so requests alike in all of them, such as an
        # operator's periodic re-reads or the creates of many keys in one account, are validated once.
        shape = tuple((name, None if name in op.free_text else value) for name, value in form)
        key = (
            op.operation_id,
            path,
            tuple(query),
            bool(body),
            shape,
            content_type,
            authorization.partition(" ")[0],
        )
        cached = self._verdicts.get(key)
        if cached is not None:
            self._verdicts.move_to_end(key)
            return list(cached)
        violations = self._validate(op, path, query, form, body, content_type, authorization)
        self._verdicts[key] = tuple(violations)
        if len(self._verdicts) > VERDICT_CACHE_SIZE:
            self._verdicts.popitem(last=False)
        return violations

    def _validate(
        self,
        op: Operation,
        path: str,
        query: Sequence[tuple[str, str]],
        form: Sequence[tuple[str, str]],
        body: bytes,
        content_type: str,
        authorization: str,
    ) -> list[Violation]:
        violations = _precheck(op, query, form, body, content_type)
        if violations:
            return violations
        request = _CoreRequest(
            path=path,
            method=op.method.lower(),
            body=body or None,
            content_type=content_type,
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(query)),
                header=Headers({"Authorization": authorization}),
                cookie=ImmutableMultiDict(),
                path={},
            ),
        )
        result = self._openapi.unmarshal_request(request)
        return [violation for error in result.errors for violation in _from_core_error(op, error)]


# Schema keywords that say nothing about which strings are valid.
_DESCRIPTIVE = frozenset({"type", "description", "title", "example", "examples", "deprecated", "x-twilio"})


def _free_text(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "string" and set(schema) <= _DESCRIPTIVE


def _precheck(
    op: Operation,
    query: Sequence[tuple[str, str]],
    form: Sequence[tuple[str, str]],
    body: bytes,
    content_type: str,
) -> list[Violation]:
    violations: list[Violation] = []
    for name, raw in query:
        declared = op.query.get(name)
        if declared is not None:
            violations.extend(_check_value(op, name, "query", declared[0], raw))
    for name, (_, required) in op.query.items():
        if required and not any(key == name for key, _ in query):
            violations.append(
                Violation(name, "query", f"Missing required parameter {name} in the query string")
            )
    if not body:
        form_schema = op.body
    elif op.body is None:
        return [*violations, Violation(None, "body", f"{op.operation_id} takes no request body")]
    elif content_type.partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return [
            *violations,
            Violation(None, "body", f"Content-Type {content_type!r} not supported; send form-encoded data"),
        ]
    else:
        form_schema = op.body
    if form_schema is None:
        return violations
    properties: Mapping[str, Any] = form_schema.get("properties", {})
    for name, raw in form:
        if name in properties:
            violations.extend(_check_value(op, name, "body", properties[name], raw))
    present = {name for name, _ in form}
    for name in form_schema.get("required", []):
        if name not in present:
            violations.append(Violation(name, "body", f"Missing required parameter {name} in the post body"))
    return violations


def _code(op: Operation, name: str, keyword: str) -> int:
    return _CODES.get((op.operation_id, name, keyword)) or _CODES.get(("*", name, keyword)) or 20001


def _check_value(
    op: Operation, name: str, location: str, schema: Mapping[str, Any], raw: str
) -> list[Violation]:
    kind = schema.get("type")
    if kind == "boolean" and raw not in ("true", "false"):
        return [Violation(name, location, f"Invalid parameter {name}: {raw!r} is not true or false")]
    if kind == "integer":
        if not _INTEGER_RE.match(raw):
            return [Violation(name, location, f"Invalid parameter {name}: {raw!r} is not an integer")]
        value = int(raw)
        if "maximum" in schema and value > schema["maximum"]:
            message = f"Invalid parameter {name}: {value} is greater than the maximum of {schema['maximum']}"
            return [Violation(name, location, message, _code(op, name, "maximum"))]
        if "minimum" in schema and value < schema["minimum"]:
            message = f"Invalid parameter {name}: {value} is less than the minimum of {schema['minimum']}"
            return [Violation(name, location, message, _code(op, name, "minimum"))]
    if "enum" in schema and raw not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        message = f"Invalid parameter {name}: {raw!r} is not one of {allowed}"
        return [Violation(name, location, message, _code(op, name, "enum"))]
    # "" is how Twilio clients clear a URL field (the SDK drops None), so it is not a URI violation here.
    if schema.get("format") == "uri" and raw != "" and not is_absolute_uri(raw):
        return [Violation(name, location, f"Invalid parameter {name}: {raw!r} is not a valid URL")]
    return []


def _from_core_error(op: Operation, error: Exception) -> Iterable[Violation]:
    if isinstance(error, SecurityValidationError):
        yield Violation(
            None, "header", "Missing HTTP Basic credentials (the spec's accountSid_authToken scheme)"
        )
        return
    name: str | None = getattr(error, "name", None)
    location: str = getattr(error, "location", None) or "body"
    schema_errors = getattr(error.__cause__, "schema_errors", None) or ()
    if not schema_errors:
        where = f" {name}" if name else ""
        yield Violation(name, location, f"Invalid parameter{where}: {error}")
        return
    for schema_error in schema_errors:
        parameter = name
        if parameter is None and schema_error.path:
            parameter = str(schema_error.path[0])
        if schema_error.validator == "required":
            found = _REQUIRED_RE.search(schema_error.message)
            parameter = found.group(1) if found else parameter
            yield Violation(parameter, location, f"Missing required parameter {parameter} in the post body")
        else:
            message = f"Invalid parameter {parameter}: {schema_error.message}"
            yield Violation(
                parameter, location, message, _code(op, parameter or "", str(schema_error.validator))
            )


def is_absolute_uri(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return (
        bool(parts.scheme)
        and bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme))
        and (bool(parts.netloc) or bool(parts.path))
        and " " not in value
    )


@cache
def host_spec(host: Host) -> HostSpec:
    """The parsed spec of ``host``; parsing takes a second, so each process does it once."""
    return HostSpec(host)


# -- response checks --------------------------------------------------------------------------------------


def _is_rfc2822(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.match(
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$", value
    ):
        return False
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_uri_reference(value: object) -> bool:
    # 2010 pages carry relative URIs under `format: uri`, as real Twilio sends them.
    return not isinstance(value, str) or (
        " " not in value and (value.startswith("/") or is_absolute_uri(value))
    )


def _is_http_method(value: object) -> bool:
    return not isinstance(value, str) or value in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")


def _is_phone_number(value: object) -> bool:
    return not isinstance(value, str) or bool(re.match(r"^\+[1-9][0-9]{1,14}$", value))


def response_format_checker() -> FormatChecker:
    checker = FormatChecker([])
    for name, check in oas30_format_checker.checkers.items():
        checker.checkers[name] = check
    checker.checks("date-time-rfc-2822")(_is_rfc2822)
    checker.checks("uri")(_is_uri_reference)
    checker.checks("http-method")(_is_http_method)
    checker.checks("phone-number")(_is_phone_number)
    return checker


class ResponseChecker:
    """Checks emulator responses against the spec's response schemas (used by the emulator's tests)."""

    def __init__(self) -> None:
        self._checker = response_format_checker()
        iam = load_document("iam")
        error_schema = _resolve(
            {"$ref": _SCHEMA_REF + "twilio.service_error_response"},
            iam["components"]["schemas"],
            overlay=True,
        )
        self._error_validator = OAS30Validator(error_schema, format_checker=self._checker)
        self._validators: dict[tuple[str, str, str], OAS30Validator] = {}

    def check(self, op: Operation, status: int, body: Any) -> list[str]:
        if status >= 400:
            return [f"error body: {e.message}" for e in self._error_validator.iter_errors(body)]
        if str(status) not in op.responses:
            return [f"status {status} is not a documented response of {op.operation_id}"]
        schema = op.responses[str(status)]
        if schema is None:
            return [] if body is None else [f"{op.operation_id} {status} must have an empty body"]
        key = (op.host, op.operation_id, str(status))
        validator = self._validators.get(key)
        if validator is None:
            validator = OAS30Validator(schema, format_checker=self._checker)
            self._validators[key] = validator
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)
        ]
        if op.list_key is not None and isinstance(body, Mapping):
            problems.extend(self._check_page(op, body))
        return problems

    def _check_page(self, op: Operation, body: Mapping[str, Any]) -> list[str]:
        if op.host == "api":
            extra = set(body) - PAGE_2010_KEYS - {op.list_key}
            missing = PAGE_2010_KEYS - set(body)
            return [f"2010 page: unexpected top-level keys {sorted(extra)}"] * bool(extra) + [
                f"2010 page: missing keys {sorted(missing)}"
            ] * bool(missing)
        meta = body.get("meta", {})
        problems = [f"v1 page: meta keys {sorted(meta)}"] * (set(meta) != PAGE_V1_META_KEYS)
        for name in ("first_page_url", "url", "next_page_url", "previous_page_url"):
            value = meta.get(name)
            if value is not None and not str(value).startswith(("https://", "http://")):
                problems.append(f"v1 page: meta.{name} must be absolute, got {value!r}")
        return problems
