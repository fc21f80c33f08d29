"""Generate CustomResourceDefinitions from the pydantic models, which are the source of truth."""

from __future__ import annotations

from typing import Any

import yaml

from .. import GROUP, VERSION
from .kinds import CATEGORY, KINDS, Kind, PrinterColumn

# Keywords pydantic emits that a structural schema does not want (additionalProperties only as a boolean:
# as a schema it types a map's values, which structural schemas allow).
_DROP = {"title", "default", "$defs"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Turn pydantic's JSON Schema into an inlined, structural OpenAPI v3 schema."""
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    if "anyOf" in node:
        # Optional[X] is anyOf [X, null]: the field is simply not required.
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            merged = {**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}
            return _structural(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (key == "additionalProperties" and isinstance(value, bool)):
            continue
        if key == "properties":
            out[key] = {name: _structural(prop, defs) for name, prop in value.items()}
        elif key == "const":
            out["enum"] = [value]
        elif key == "items":
            # json_schema_extra may have put a richer items schema next to the generated one.
            out[key] = _structural({**value, **node.get("items", {})}, defs)
        else:
            out[key] = _structural(value, defs)
    if "properties" in out:
        out["type"] = "object"
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def model_schema(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True)
    schema: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    if model.__doc__ and "description" not in schema:
        schema["description"] = model.__doc__.strip()
    return schema


def _condition_list(schema: dict[str, Any]) -> None:
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]


def _columns(kind: Kind) -> list[dict[str, Any]]:
    columns = (
        PrinterColumn("SID", ".status.sid", description="SID of the Twilio object."),
        PrinterColumn(
            "READY", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition."
        ),
        PrinterColumn(
            "SYNCED", '.status.conditions[?(@.type=="Synced")].status', description="Synced condition."
        ),
        *kind.extra_columns,
        PrinterColumn("AGE", ".metadata.creationTimestamp", type="date", description="Age."),
    )
    return [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            "description": c.description,
            **({"priority": c.priority} if c.priority else {}),
        }
        for c in columns
    ]


def crd_for(kind: Kind) -> dict[str, Any]:
    status = model_schema(kind.status)
    _condition_list(status)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {
                "app.kubernetes.io/name": "twilio-operator",
                "app.kubernetes.io/part-of": "twilio-operator",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": [kind.short_name],
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _columns(kind),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string", "description": "API version of the object."},
                                "kind": {"type": "string", "description": "Kind of the object."},
                                "metadata": {"type": "object", "description": "Standard object metadata."},
                                "spec": model_schema(kind.spec),
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd_for(kind) for kind in KINDS]


def crd_filename(kind: Kind) -> str:
    return f"{kind.crd_name}.yaml"


def render(crd: dict[str, Any]) -> str:
    return yaml.safe_dump(crd, sort_keys=False, width=120)
