"""API errors and the `Status` bodies that carry them (E1, E2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JsonObj = dict[str, Any]

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True)
class Cause:
    """One entry of `details.causes`: a field path and kube-style reason (`FieldValueInvalid`, ...)."""

    reason: str
    message: str
    field: str

    def to_json(self) -> JsonObj:
        return {"reason": self.reason, "message": self.message, "field": self.field}


class ApiError(Exception):
    """An error the API answers with a `Status` body instead of an object."""

    # A path no API group serves: kube-apiserver's fallback handler answers in plain text, not a Status.
    plain_text = False

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        uid: str | None = None,
        causes: list[Cause] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = causes or []
        self.retry_after = retry_after

    def status(self) -> JsonObj:
        details: JsonObj = {}
        if self.name is not None:
            details["name"] = self.name
        # kube-apiserver leaves an empty group out (omitempty): the core group never shows as "".
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.uid is not None:
            details["uid"] = self.uid
        if self.causes:
            details["causes"] = [cause.to_json() for cause in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        body: JsonObj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body


def no_page() -> ApiError:
    error = ApiError(404, "404 page not found")
    error.plain_text = True
    return error


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(resource: str, group: str, name: str) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(404, f'{qualified} "{name}" not found', name=name, group=group, kind=resource)


def already_exists(resource: str, group: str, name: str) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        f'{qualified} "{name}" already exists',
        reason="AlreadyExists",
        name=name,
        group=group,
        kind=resource,
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
        reason="Conflict",
        name=name,
        group=group,
        kind=resource,
    )


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    qualified = f"{kind}.{group}" if group else kind
    summary = "; ".join(f"{c.field}: {c.message}" if c.field else c.message for c in causes)
    return ApiError(
        422,
        f'{qualified} "{name}" is invalid: [{summary}]'
        if len(causes) > 1
        else f'{qualified} "{name}" is invalid: {summary}',
        name=name,
        group=group,
        kind=kind,
        causes=causes,
    )


def expired(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml (got {content_type!r})",
    )


def field_invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_render(value)}: {detail}", field)


def field_required(field: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", f"Required value{': ' + detail if detail else ''}", field)


def field_forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", field)


def field_not_supported(field: str, value: Any, supported: list[Any]) -> Cause:
    options = ", ".join(_render(option) for option in supported)
    return Cause(
        "FieldValueNotSupported", f"Unsupported value: {_render(value)}: supported values: {options}", field
    )


def field_type_invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueTypeInvalid", f"Invalid value: {_render(value)}: {detail}", field)


def field_too_long(field: str, limit: int) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: may not be more than {limit} bytes", field)


def field_duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {_render(value)}", field)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return str(value)
