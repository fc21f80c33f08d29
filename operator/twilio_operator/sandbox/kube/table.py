"""Server-side `Table` output, which `kubectl get` asks for to print columns.

Custom resources get their CRD's additionalPrinterColumns; built-ins get the familiar columns of kubectl's
built-in printers. Clients that do not ask for a Table (kopf, `-o json`) never see one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import jsonpath
from .resources import ResourceType

JsonObj = dict[str, Any]

_NAME_DESCRIPTION = "Name must be unique within a namespace."
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created."
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    priority: int
    cell: Callable[[JsonObj], Any]
    format: str = ""

    def definition(self) -> JsonObj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


def requested_table(accept: str) -> str | None:
    """The Table version the client prefers (`v1`/`v1beta1`), or None when it prefers plain objects."""
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if media in ("*/*", "application/*"):
            return None
        if media != "application/json":
            continue
        options = dict(p.split("=", 1) for p in parameters if "=" in p)
        if not options.get("as"):
            return None
        if (
            options.get("as") == "Table"
            and options.get("g") == "meta.k8s.io"
            and options.get("v") in ("v1", "v1beta1")
        ):
            return options["v"]
    return None


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration, as in kubectl's AGE columns."""
    if seconds < -1:
        return "<invalid>"
    total = max(0, int(seconds))
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        return f"{minutes}m" if total % 60 == 0 else f"{minutes}m{total % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return f"{years}y" if days % 365 == 0 else f"{years}y{days % 365}d"
    return f"{years}y"


def age(stamp: Any) -> str | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _get(obj: JsonObj, *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def _name_column() -> Column:
    return Column("Name", "string", _NAME_DESCRIPTION, 0, lambda o: o["metadata"]["name"], "name")


def _age_column() -> Column:
    return Column("Age", "string", _AGE_DESCRIPTION, 0, lambda o: age(o["metadata"].get("creationTimestamp")))


def _count(value: Any) -> int:
    return len(value) if isinstance(value, (dict, list)) else 0


def _printer_column(spec: JsonObj) -> Column:
    try:
        steps = jsonpath.parse(str(spec.get("jsonPath", "")))
    except jsonpath.JsonPathError:
        steps = []
    kind = str(spec.get("type") or "string")

    def cell(obj: JsonObj) -> Any:
        found = jsonpath.evaluate(steps, obj) if steps else []
        if not found or found[0] is None:
            return None
        value = found[0]
        if kind == "date":
            return age(value)
        if kind == "string":
            return value if isinstance(value, str) else _render(value)
        return value

    return Column(
        str(spec.get("name", "")),
        "string" if kind == "date" else kind,
        str(spec.get("description") or ""),
        int(spec.get("priority") or 0),
        cell,
        str(spec.get("format") or ""),
    )


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _ingress_hosts(obj: JsonObj) -> str:
    hosts = [
        str(r["host"]) for r in _get(obj, "spec", "rules") or [] if isinstance(r, dict) and r.get("host")
    ]
    return ",".join(hosts) if hosts else "*"


def _ingress_address(obj: JsonObj) -> str:
    entries = _get(obj, "status", "loadBalancer", "ingress") or []
    return ",".join(str(e.get("ip") or e.get("hostname")) for e in entries if isinstance(e, dict))


def _event_object(obj: JsonObj) -> str:
    ref = obj.get("involvedObject") or obj.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _event_last_seen(obj: JsonObj) -> Any:
    stamp = (
        obj.get("lastTimestamp")
        or obj.get("deprecatedLastTimestamp")
        or obj.get("eventTime")
        or obj["metadata"].get("creationTimestamp")
    )
    return age(stamp)


def _service_ports(obj: JsonObj) -> str:
    ports = _get(obj, "spec", "ports") or []
    return (
        ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports if isinstance(p, dict))
        or "<none>"
    )


def _ready(obj: JsonObj) -> str:
    return f"{_get(obj, 'status', 'readyReplicas') or 0}/{_get(obj, 'spec', 'replicas') or 0}"


_BUILTIN: dict[tuple[str, str], list[Column]] = {
    ("", "namespaces"): [
        Column("Status", "string", "The status of the namespace", 0, lambda o: _get(o, "status", "phase")),
    ],
    ("", "secrets"): [
        Column("Type", "string", "The type of the secret", 0, lambda o: o.get("type")),
        Column("Data", "string", "The number of entries in the secret", 0, lambda o: _count(o.get("data"))),
    ],
    ("", "configmaps"): [
        Column(
            "Data", "string", "The number of entries in the config map", 0, lambda o: _count(o.get("data"))
        ),
    ],
    ("", "serviceaccounts"): [
        Column("Secrets", "string", "The number of secrets", 0, lambda o: _count(o.get("secrets"))),
    ],
    ("", "services"): [
        Column(
            "Type", "string", "The type of the service", 0, lambda o: _get(o, "spec", "type") or "ClusterIP"
        ),
        Column(
            "Cluster-IP", "string", "The cluster IP", 0, lambda o: _get(o, "spec", "clusterIP") or "<none>"
        ),
        Column("Port(s)", "string", "The ports of the service", 0, _service_ports),
    ],
    ("apps", "deployments"): [
        Column("Ready", "string", "Ready replicas", 0, _ready),
        Column(
            "Up-to-date", "string", "Updated replicas", 0, lambda o: _get(o, "status", "updatedReplicas") or 0
        ),
        Column(
            "Available",
            "string",
            "Available replicas",
            0,
            lambda o: _get(o, "status", "availableReplicas") or 0,
        ),
    ],
    ("networking.k8s.io", "ingresses"): [
        Column(
            "Class",
            "string",
            "The ingress class",
            0,
            lambda o: _get(o, "spec", "ingressClassName") or "<none>",
        ),
        Column("Hosts", "string", "The hosts the ingress serves", 0, _ingress_hosts),
        Column("Address", "string", "The load balancer address", 0, _ingress_address),
    ],
    ("coordination.k8s.io", "leases"): [
        Column(
            "Holder",
            "string",
            "The holder of the lease",
            0,
            lambda o: _get(o, "spec", "holderIdentity") or "",
        ),
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        Column(
            "Created At",
            "string",
            "When the CRD was created",
            0,
            lambda o: o["metadata"].get("creationTimestamp"),
        ),
    ],
}

_EVENT_COLUMNS = [
    Column("Last Seen", "string", "When the event was last seen", 0, _event_last_seen),
    Column("Type", "string", "The type of the event", 0, lambda o: o.get("type")),
    Column("Reason", "string", "Why the event happened", 0, lambda o: o.get("reason")),
    Column("Object", "string", "The object the event is about", 0, _event_object),
    Column("Message", "string", "A description of the event", 0, lambda o: o.get("message") or o.get("note")),
    Column("Name", "string", _NAME_DESCRIPTION, 1, lambda o: o["metadata"]["name"], "name"),
]


def columns(rt: ResourceType) -> list[Column]:
    if rt.plural == "events" and rt.group in ("", "events.k8s.io"):
        return _EVENT_COLUMNS
    if rt.custom:
        printer = [_printer_column(spec) for spec in rt.printer_columns] or [
            _printer_column({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
        ]
        return [_name_column(), *printer]
    if (rt.group, rt.plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return [_name_column(), *_BUILTIN[(rt.group, rt.plural)]]
    return [_name_column(), *_BUILTIN.get((rt.group, rt.plural), []), _age_column()]


def _row(cols: list[Column], obj: JsonObj, include: str, version: str) -> JsonObj:
    row: JsonObj = {"cells": [column.cell(obj) for column in cols]}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {}),
        }
    return row


def as_table(
    rt: ResourceType,
    objects: list[JsonObj],
    list_meta: JsonObj,
    *,
    version: str,
    include: str,
    with_columns: bool = True,
) -> JsonObj:
    cols = columns(rt)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": list_meta,
        "columnDefinitions": [c.definition() for c in cols] if with_columns else None,
        "rows": [_row(cols, obj, include, version) for obj in objects],
    }
