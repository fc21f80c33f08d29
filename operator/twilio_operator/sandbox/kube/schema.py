"""Structural-schema handling for custom resources (R4, R5): prune, default, validate.

The order matches kube-apiserver: unknown fields are pruned first (and reported, for fieldValidation),
then defaults fill missing fields and replace nulls in non-nullable fields, then the result is validated.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import uuid
from datetime import date, datetime
from typing import Any

from .errors import (
    Cause,
    field_duplicate,
    field_invalid,
    field_not_supported,
    field_required,
    field_type_invalid,
)
from .jsonutil import clone, json_equal
from .meta import STANDARD_METADATA_FIELDS

JsonObj = dict[str, Any]

ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def pattern_compiles(pattern: str) -> bool:
    return _compile(pattern) is not None


# --- pruning ---------------------------------------------------------------------------------------


def prune_object(obj: JsonObj, schema: JsonObj | None) -> list[str]:
    """Drop fields the schema does not declare; returns their paths (for Strict/Warn field validation)."""
    unknown: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        _prune_metadata(meta, "metadata", unknown)
    if schema is None:
        return unknown
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    properties: JsonObj = schema.get("properties") or {}
    for key in list(obj):
        if key in ROOT_FIELDS:
            continue
        if key in properties:
            _prune(obj[key], properties[key], key, unknown)
        elif not preserve:
            del obj[key]
            unknown.append(key)
    return unknown


def _prune_metadata(meta: JsonObj, path: str, unknown: list[str]) -> None:
    for key in list(meta):
        if key not in STANDARD_METADATA_FIELDS:
            del meta[key]
            unknown.append(_join(path, key))


def _prune(value: Any, schema: JsonObj, path: str, unknown: list[str]) -> None:
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            meta = value.get("metadata")
            if isinstance(meta, dict):
                _prune_metadata(meta, _join(path, "metadata"), unknown)
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        properties: JsonObj = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        for key in list(value):
            if key in properties:
                _prune(value[key], properties[key], _join(path, key), unknown)
            elif isinstance(additional, dict):
                _prune(value[key], additional, f"{path}[{key}]", unknown)
            elif additional is True or preserve or (embedded and key in ROOT_FIELDS):
                continue
            else:
                del value[key]
                unknown.append(_join(path, key))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _prune(item, items, f"{path}[{index}]", unknown)


# --- defaulting ------------------------------------------------------------------------------------


def apply_defaults(obj: JsonObj, schema: JsonObj | None) -> None:
    if schema is None:
        return
    properties: JsonObj = schema.get("properties") or {}
    for key, sub in properties.items():
        if key in ROOT_FIELDS:
            continue
        _default_property(obj, key, sub)


def _default_property(container: JsonObj, key: str, schema: JsonObj) -> None:
    if key not in container or (container[key] is None and not schema.get("nullable")):
        if "default" in schema:
            container[key] = clone(schema["default"])
        elif key in container:
            del container[key]
    if key in container:
        _default(container[key], schema)


def _default(value: Any, schema: JsonObj) -> None:
    if isinstance(value, dict):
        properties: JsonObj = schema.get("properties") or {}
        for key, sub in properties.items():
            _default_property(value, key, sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for item in value.values():
                _default(item, additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                _default(item, items)


# --- validation ------------------------------------------------------------------------------------


def validate_object(obj: JsonObj, schema: JsonObj | None) -> list[Cause]:
    if schema is None:
        return []
    causes: list[Cause] = []
    properties: JsonObj = schema.get("properties") or {}
    for key, sub in properties.items():
        if key == "metadata":
            _validate_metadata(obj.get("metadata") or {}, sub, causes)
        elif key in obj:
            validate_value(obj[key], sub, key, causes)
    for key in schema.get("required") or []:
        if key not in obj:
            causes.append(field_required(key))
    return causes


def _validate_metadata(meta: JsonObj, schema: JsonObj, causes: list[Cause]) -> None:
    # Only name and generateName may be constrained by a CRD schema.
    properties: JsonObj = schema.get("properties") or {}
    for key in ("name", "generateName"):
        if key in properties and isinstance(meta.get(key), str):
            validate_value(meta[key], properties[key], f"metadata.{key}", causes)


_TYPE_NAMES = {"object", "array", "string", "integer", "number", "boolean"}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_matches(value: Any, expected: str) -> bool:
    actual = _type_of(value)
    if actual == expected:
        return True
    if expected == "number" and actual == "integer":
        return True
    return expected == "integer" and actual == "number" and float(value).is_integer()


def validate_value(value: Any, schema: JsonObj, path: str, causes: list[Cause]) -> None:
    if value is None:
        if schema.get("nullable") or (
            not schema.get("type") and not schema.get("x-kubernetes-int-or-string")
        ):
            return
        causes.append(
            field_type_invalid(path, "null", f'{path} in body must be of type {schema.get("type")}: "null"')
        )
        return
    if schema.get("x-kubernetes-int-or-string") and _type_of(value) not in ("integer", "string"):
        causes.append(
            field_type_invalid(path, _type_of(value), f"{path} in body must be of type integer or string")
        )
        return
    expected = schema.get("type")
    if isinstance(expected, str) and expected in _TYPE_NAMES and not _type_matches(value, expected):
        causes.append(
            field_type_invalid(
                path, _type_of(value), f'{path} in body must be of type {expected}: "{_type_of(value)}"'
            )
        )
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(json_equal(value, option) for option in enum):
        causes.append(field_not_supported(path, value, enum))
    if isinstance(value, str):
        _validate_string(value, schema, path, causes)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, path, causes)
    elif isinstance(value, list):
        _validate_array(value, schema, path, causes)
    elif isinstance(value, dict):
        _validate_map(value, schema, path, causes)
    _validate_combinators(value, schema, path, causes)


def _validate_string(value: str, schema: JsonObj, path: str, causes: list[Cause]) -> None:
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and len(value) > max_length:
        causes.append(Cause("FieldValueTooLong", f"Too long: may not be more than {max_length} bytes", path))
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        causes.append(
            field_invalid(path, value, f"{path} in body should be at least {min_length} chars long")
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        compiled = _compile(pattern)
        if compiled is not None and not compiled.search(value):
            causes.append(field_invalid(path, value, f"{path} in body should match '{pattern}'"))
    fmt = schema.get("format")
    if isinstance(fmt, str) and not _format_ok(value, fmt):
        causes.append(field_invalid(path, value, f'{path} in body must be of type {fmt}: "{value}"'))


def _format_ok(value: str, fmt: str) -> bool:
    try:
        if fmt == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif fmt == "date":
            date.fromisoformat(value)
        elif fmt == "byte":
            base64.b64decode(value, validate=True)
        elif fmt == "uuid":
            uuid.UUID(value)
        elif fmt == "ipv4":
            ipaddress.IPv4Address(value)
        elif fmt == "ipv6":
            ipaddress.IPv6Address(value)
        elif fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
    except (ValueError, binascii.Error):
        return False
    return True


def _validate_number(value: float, schema: JsonObj, path: str, causes: list[Cause]) -> None:
    minimum = schema.get("minimum")
    if isinstance(minimum, (int, float)):
        if schema.get("exclusiveMinimum") is True and value <= minimum:
            causes.append(field_invalid(path, value, f"{path} in body should be greater than {minimum}"))
        elif value < minimum:
            causes.append(
                field_invalid(path, value, f"{path} in body should be greater than or equal to {minimum}")
            )
    maximum = schema.get("maximum")
    if isinstance(maximum, (int, float)):
        if schema.get("exclusiveMaximum") is True and value >= maximum:
            causes.append(field_invalid(path, value, f"{path} in body should be less than {maximum}"))
        elif value > maximum:
            causes.append(
                field_invalid(path, value, f"{path} in body should be less than or equal to {maximum}")
            )
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0 and (value / multiple) % 1 != 0:
        causes.append(field_invalid(path, value, f"{path} in body should be a multiple of {multiple}"))
    fmt = schema.get("format")
    if fmt == "int32" and not -(2**31) <= value < 2**31:
        causes.append(field_invalid(path, value, f"{path} in body must be of type int32"))
    elif fmt == "int64" and not -(2**63) <= value < 2**63:
        causes.append(field_invalid(path, value, f"{path} in body must be of type int64"))


def _validate_array(value: list[Any], schema: JsonObj, path: str, causes: list[Cause]) -> None:
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        causes.append(
            Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {max_items} items", path)
        )
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        causes.append(
            field_invalid(path, len(value), f"{path} in body should have at least {min_items} items")
        )
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        for index, item in enumerate(value):
            if any(json_equal(item, earlier) for earlier in value[:index]):
                causes.append(field_duplicate(f"{path}[{index}]", item))
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[tuple[Any, ...]] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key = tuple(item.get(k) for k in keys)
            if key in seen:
                causes.append(field_duplicate(f"{path}[{index}]", dict(zip(keys, key, strict=True))))
            seen.append(key)
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            validate_value(item, items, f"{path}[{index}]", causes)


def _validate_map(value: JsonObj, schema: JsonObj, path: str, causes: list[Cause]) -> None:
    for key in schema.get("required") or []:
        if key not in value:
            causes.append(field_required(_join(path, key)))
    max_props = schema.get("maxProperties")
    if isinstance(max_props, int) and len(value) > max_props:
        causes.append(
            Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {max_props} items", path)
        )
    min_props = schema.get("minProperties")
    if isinstance(min_props, int) and len(value) < min_props:
        causes.append(
            field_invalid(path, len(value), f"{path} in body should have at least {min_props} properties")
        )
    properties: JsonObj = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            validate_value(item, properties[key], _join(path, key), causes)
        elif isinstance(additional, dict):
            validate_value(item, additional, f"{path}[{key}]", causes)


def _validate_combinators(value: Any, schema: JsonObj, path: str, causes: list[Cause]) -> None:
    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict):
            validate_value(value, sub, path, causes)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of and not any(_passes(value, sub, path) for sub in any_of):
        causes.append(field_invalid(path, value, f"{path} in body must validate at least one schema (anyOf)"))
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of:
        passing = sum(1 for sub in one_of if _passes(value, sub, path))
        if passing != 1:
            causes.append(
                field_invalid(path, value, f"{path} in body must validate one and only one schema (oneOf)")
            )
    negated = schema.get("not")
    if isinstance(negated, dict) and _passes(value, negated, path):
        causes.append(field_invalid(path, value, f"{path} in body must not validate the schema (not)"))


def _passes(value: Any, schema: Any, path: str) -> bool:
    if not isinstance(schema, dict):
        return True
    trial: list[Cause] = []
    validate_value(value, schema, path, trial)
    return not trial


def process(obj: JsonObj, schema: JsonObj | None) -> tuple[list[str], list[Cause]]:
    """Prune, default and validate `obj` in place; return (unknown field paths, validation causes)."""
    unknown = prune_object(obj, schema)
    apply_defaults(obj, schema)
    return unknown, validate_object(obj, schema)
