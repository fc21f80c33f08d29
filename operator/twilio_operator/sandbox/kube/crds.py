"""CustomResourceDefinitions: validation, defaulting, status (R1-R3), and the resource types they serve."""

from __future__ import annotations

import re
from typing import Any

from .errors import Cause, field_forbidden, field_invalid, field_not_supported, field_required
from .meta import NameRule, now_rfc3339
from .resources import ResourceType, Strategy
from .schema import pattern_compiles

JsonObj = dict[str, Any]

CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _versions(crd: JsonObj) -> list[JsonObj]:
    versions = (crd.get("spec") or {}).get("versions")
    return [v for v in versions if isinstance(v, dict)] if isinstance(versions, list) else []


def storage_version(crd: JsonObj) -> str | None:
    for version in _versions(crd):
        if version.get("storage") is True:
            name = version.get("name")
            return name if isinstance(name, str) else None
    return None


def apply_defaults(crd: JsonObj) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate(crd: JsonObj, old: JsonObj | None) -> list[Cause]:
    causes: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [field_required("spec")]
    group = spec.get("group")
    if not isinstance(group, str) or not group:
        causes.append(field_required("spec.group"))
    elif "." not in group:
        causes.append(field_invalid("spec.group", group, "should be a domain with at least one dot"))
    names = spec.get("names")
    plural = kind = None
    if not isinstance(names, dict):
        causes.append(field_required("spec.names"))
    else:
        plural, kind = names.get("plural"), names.get("kind")
        if not isinstance(plural, str) or not plural:
            causes.append(field_required("spec.names.plural"))
        elif not _LABEL.match(plural):
            causes.append(
                field_invalid("spec.names.plural", plural, "a lowercase RFC 1123 label is required")
            )
        if not isinstance(kind, str) or not kind:
            causes.append(field_required("spec.names.kind"))
        singular = names.get("singular")
        if isinstance(singular, str) and not _LABEL.match(singular):
            causes.append(
                field_invalid("spec.names.singular", singular, "a lowercase RFC 1123 label is required")
            )
        for index, short in enumerate(names.get("shortNames") or []):
            if not isinstance(short, str) or not _LABEL.match(short):
                causes.append(
                    field_invalid(
                        f"spec.names.shortNames[{index}]", short, "a lowercase RFC 1123 label is required"
                    )
                )
    if isinstance(plural, str) and isinstance(group, str):
        name = (crd.get("metadata") or {}).get("name")
        if name != f"{plural}.{group}":
            causes.append(field_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(field_not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    causes.extend(_validate_versions(spec))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("scope") != scope:
            causes.append(field_invalid("spec.scope", scope, "field is immutable"))
    return causes


def _validate_versions(spec: JsonObj) -> list[Cause]:
    causes: list[Cause] = []
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        return [field_required("spec.versions", "must have exactly one version marked as storage version")]
    seen: set[str] = set()
    storage = 0
    for index, version in enumerate(versions):
        path = f"spec.versions[{index}]"
        if not isinstance(version, dict):
            causes.append(field_invalid(path, version, "must be an object"))
            continue
        name = version.get("name")
        if not isinstance(name, str) or not _LABEL.match(name):
            causes.append(field_invalid(f"{path}.name", name, "a lowercase RFC 1123 label is required"))
        elif name in seen:
            causes.append(field_invalid(f"{path}.name", name, "must be unique"))
        else:
            seen.add(name)
        for flag in ("served", "storage"):
            if not isinstance(version.get(flag), bool):
                causes.append(field_required(f"{path}.{flag}"))
        if version.get("storage") is True:
            storage += 1
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        schema_path = f"{path}.schema.openAPIV3Schema"
        if not isinstance(schema, dict):
            causes.append(field_required(schema_path, "schemas are required"))
        else:
            if schema.get("type") != "object":
                causes.append(
                    field_invalid(f"{schema_path}.type", schema.get("type"), "must be object at the root")
                )
            causes.extend(_schema_problems(schema, schema_path))
            causes.extend(_metadata_problems(schema, schema_path))
    if storage != 1:
        causes.append(
            field_invalid("spec.versions", storage, "must have exactly one version marked as storage version")
        )
    return causes


def _metadata_problems(schema: dict[str, Any], path: str) -> list[Cause]:
    """The API server owns metadata's schema: a CRD may give its type, and restrict name and generateName."""
    metadata = (schema.get("properties") or {}).get("metadata")
    if not isinstance(metadata, dict):
        return []
    named = set(metadata.get("properties") or {})
    if set(metadata) - {"type", "properties"} or named - {"name", "generateName"}:
        return [
            field_forbidden(
                f"{path}.properties[metadata]",
                "must not specify anything other than name and generateName, but metadata is implicitly "
                "specified",
            )
        ]
    return []


def _schema_problems(schema: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(schema, dict):
        return causes
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and not pattern_compiles(pattern):
        causes.append(field_invalid(f"{path}.pattern", pattern, "must be a valid regular expression"))
    for key in ("properties", "patternProperties"):
        for name, sub in (schema.get(key) or {}).items():
            causes.extend(_schema_problems(sub, f"{path}.{key}[{name}]"))
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            causes.extend(_schema_problems(schema[key], f"{path}.{key}"))
    for key in ("allOf", "anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(key) or []):
            causes.extend(_schema_problems(sub, f"{path}.{key}[{index}]"))
    return causes


def _condition(ctype: str, reason: str, message: str, previous: list[Any]) -> JsonObj:
    before = next((c for c in previous if isinstance(c, dict) and c.get("type") == ctype), None)
    since = before.get("lastTransitionTime") if before and before.get("status") == "True" else None
    return {
        "type": ctype,
        "status": "True",
        "lastTransitionTime": since or now_rfc3339(),
        "reason": reason,
        "message": message,
    }


def compute_status(crd: JsonObj, old_status: JsonObj | None) -> JsonObj:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    previous = list((old_status or {}).get("conditions") or [])
    conditions = [
        _condition("NamesAccepted", "NoConflicts", "no conflicts found", previous),
        _condition("Established", "InitialNamesAccepted", "the initial names have been accepted", previous),
    ]
    conditions += [c for c in previous if isinstance(c, dict) and c.get("type") == "Terminating"]
    stored = list((old_status or {}).get("storedVersions") or [])
    current = storage_version(crd)
    if current and current not in stored:
        stored.append(current)
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": stored}


def terminating_status(status: JsonObj) -> JsonObj:
    conditions = [
        c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") != "Terminating"
    ]
    conditions.append(
        {
            "type": "Terminating",
            "status": "True",
            "lastTransitionTime": now_rfc3339(),
            "reason": "InstanceDeletionInProgress",
            "message": "CustomResource deletion is in progress",
        }
    )
    return {**status, "conditions": conditions}


class CRDStrategy(Strategy):
    def prepare_create(self, obj: JsonObj) -> None:
        apply_defaults(obj)
        meta = obj.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or [])
        if CRD_FINALIZER not in finalizers:
            finalizers.append(CRD_FINALIZER)
        meta["finalizers"] = finalizers
        obj["status"] = compute_status(obj, None)

    def prepare_update(self, new: JsonObj, old: JsonObj) -> None:
        apply_defaults(new)
        new["status"] = compute_status(new, old.get("status"))

    def validate(self, obj: JsonObj, old: JsonObj | None) -> list[Cause]:
        return validate(obj, old)


def resource_types(crd: JsonObj) -> list[ResourceType]:
    """One served resource type per served version; all share the storage version's stored objects."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    crd_name = (crd.get("metadata") or {}).get("name")
    stored = storage_version(crd) or ""
    types: list[ResourceType] = []
    for version in _versions(crd):
        if version.get("served") is not True:
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subresources = version.get("subresources") or {}
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                kind=names["kind"],
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                has_generation=True,
                custom=True,
                schema=schema if isinstance(schema, dict) else None,
                storage_version=stored,
                name_rule=NameRule.SUBDOMAIN,
                crd_name=crd_name,
                description=(schema or {}).get("description", "") if isinstance(schema, dict) else "",
                printer_columns=tuple(
                    c for c in version.get("additionalPrinterColumns") or [] if isinstance(c, dict)
                ),
            )
        )
    return types
