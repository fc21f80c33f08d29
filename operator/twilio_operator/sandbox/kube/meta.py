"""Object metadata rules: names (C4, C5), labels, annotations (C8), owner references, timestamps."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from .errors import (
    Cause,
    field_forbidden,
    field_invalid,
    field_required,
    field_too_long,
    field_type_invalid,
)

JsonObj = dict[str, Any]

MAX_ANNOTATIONS_BYTES = 262144

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Same alphabet as apimachinery's utilrand: no vowels (no accidental words), no confusable characters.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

STANDARD_METADATA_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


class NameRule(Enum):
    SUBDOMAIN = "subdomain"
    LABEL = "label"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(length))


def name_errors(name: str, rule: NameRule) -> list[str]:
    if rule is NameRule.LABEL:
        if len(name) > 63:
            return ["must be no more than 63 characters"]
        if not _DNS1123_LABEL.match(name):
            return [
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character"
            ]
        return []
    if len(name) > 253:
        return ["must be no more than 253 characters"]
    if not _DNS1123_SUBDOMAIN.match(name):
        return [
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        ]
    return []


def qualified_name_errors(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    errors: list[str] = []
    if slash:
        if not prefix:
            errors.append("prefix part must be non-empty")
        elif len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            errors.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errors.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return errors


def label_value_errors(value: str) -> list[str]:
    if len(value) > 63:
        return ["must be no more than 63 characters"]
    if not _LABEL_VALUE.match(value):
        return [
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        ]
    return []


def validate_metadata(
    meta: JsonObj, *, deleting_before: bool, old_finalizers: list[str] | None
) -> list[Cause]:
    """Validate the user-writable parts of ObjectMeta (labels, annotations, finalizers, ownerReferences)."""
    causes: list[Cause] = []
    labels = meta.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            causes.append(field_type_invalid("metadata.labels", labels, "must be a map of strings"))
        else:
            for key, value in labels.items():
                for problem in qualified_name_errors(key):
                    causes.append(field_invalid("metadata.labels", key, problem))
                if not isinstance(value, str):
                    causes.append(field_type_invalid(f"metadata.labels[{key}]", value, "must be a string"))
                else:
                    for problem in label_value_errors(value):
                        # kube-apiserver names the map, not the key, for a bad value too.
                        causes.append(field_invalid("metadata.labels", value, problem))
    annotations = meta.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            causes.append(field_type_invalid("metadata.annotations", annotations, "must be a map of strings"))
        else:
            total = 0
            for key, value in annotations.items():
                for problem in qualified_name_errors(key.lower()):
                    causes.append(field_invalid("metadata.annotations", key, problem))
                if not isinstance(value, str):
                    causes.append(
                        field_type_invalid(f"metadata.annotations[{key}]", value, "must be a string")
                    )
                    continue
                total += len(key.encode()) + len(value.encode())
            if total > MAX_ANNOTATIONS_BYTES:
                causes.append(field_too_long("metadata.annotations", MAX_ANNOTATIONS_BYTES))
    finalizers = meta.get("finalizers")
    if finalizers is not None:
        if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
            causes.append(field_type_invalid("metadata.finalizers", finalizers, "must be a list of strings"))
        elif deleting_before:
            added = [f for f in finalizers if f not in (old_finalizers or [])]
            if added:
                causes.append(
                    field_forbidden(
                        "metadata.finalizers", "no new finalizers can be added if the object is being deleted"
                    )
                )
    owners = meta.get("ownerReferences")
    if owners is not None:
        if not isinstance(owners, list):
            causes.append(field_type_invalid("metadata.ownerReferences", owners, "must be a list"))
        else:
            controllers = 0
            for index, ref in enumerate(owners):
                path = f"metadata.ownerReferences[{index}]"
                if not isinstance(ref, dict):
                    causes.append(field_type_invalid(path, ref, "must be an object"))
                    continue
                for key in ("apiVersion", "kind", "name", "uid"):
                    if not isinstance(ref.get(key), str) or not ref.get(key):
                        causes.append(field_required(f"{path}.{key}"))
                if ref.get("controller") is True:
                    controllers += 1
            if controllers > 1:
                causes.append(
                    field_invalid(
                        "metadata.ownerReferences",
                        owners,
                        "Only one reference can have Controller set to true",
                    )
                )
    return causes
