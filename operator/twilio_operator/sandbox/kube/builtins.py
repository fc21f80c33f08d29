"""Built-in resource types (D5) and their per-kind rules (K1-K3, N1).

Built-ins get shallow schemas: the top-level fields of each kind are declared (so typos there are pruned and
reported like for custom resources) while everything below `spec` is preserved as sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .crds import CRDStrategy
from .errors import Cause, bad_request, field_forbidden, field_invalid, field_required
from .meta import NameRule, qualified_name_errors
from .patch import PRIMITIVE_MERGE
from .resources import GroupResource, ResourceType, Strategy

JsonObj = dict[str, Any]

PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_SECRET_BYTES = 1024 * 1024


def _string(description: str = "") -> JsonObj:
    schema: JsonObj = {"type": "string", "nullable": True}
    if description:
        schema["description"] = description
    return schema


def _preserved(description: str = "") -> JsonObj:
    schema: JsonObj = {"type": "object", "nullable": True, "x-kubernetes-preserve-unknown-fields": True}
    if description:
        schema["description"] = description
    return schema


def _root(description: str, **properties: JsonObj) -> JsonObj:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": _string(
                "APIVersion defines the versioned schema of this representation of an object."
            ),
            "kind": _string("Kind is a string value representing the REST resource this object represents."),
            "metadata": {"type": "object"},
            **properties,
        },
    }


_STRING_MAP: JsonObj = {"type": "object", "nullable": True, "additionalProperties": {"type": "string"}}
_BYTES_MAP: JsonObj = {
    "type": "object",
    "nullable": True,
    "additionalProperties": {"type": "string", "format": "byte"},
}

_COMMON_MERGE_KEYS = {"metadata.ownerReferences": "uid", "metadata.finalizers": PRIMITIVE_MERGE}


def _pod_template_keys(prefix: str) -> dict[str, str]:
    pod = f"{prefix}.spec"
    keys = {
        f"{prefix}.metadata.finalizers": PRIMITIVE_MERGE,
        f"{prefix}.metadata.ownerReferences": "uid",
        f"{pod}.volumes": "name",
        f"{pod}.imagePullSecrets": "name",
        f"{pod}.hostAliases": "ip",
        f"{pod}.topologySpreadConstraints": "topologyKey",
        f"{pod}.resourceClaims": "name",
        f"{pod}.schedulingGates": "name",
    }
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        base = f"{pod}.{containers}"
        keys[base] = "name"
        keys[f"{base}.ports"] = "containerPort"
        keys[f"{base}.env"] = "name"
        keys[f"{base}.volumeMounts"] = "mountPath"
        keys[f"{base}.volumeDevices"] = "devicePath"
    return keys


# --- strategies --------------------------------------------------------------------------------------


def _config_key_causes(data: Any, field: str) -> list[Cause]:
    causes: list[Cause] = []
    if isinstance(data, dict):
        for key in data:
            if len(key) > 253 or not _CONFIG_KEY.match(key):
                causes.append(
                    field_invalid(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    )
                )
    return causes


def _decode_bytes(kind: str, values: Any) -> None:
    """A []byte field holds base64; anything else fails to decode before validation (400, not 422)."""
    for value in (values or {}).values() if isinstance(values, dict) else ():
        if not isinstance(value, str):
            continue
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data'
            ) from exc


class SecretStrategy(Strategy):
    """`stringData` folds into base64 `data` (K1); `type` defaults to Opaque and is immutable (K2)."""

    def decode(self, obj: JsonObj) -> None:
        _decode_bytes("Secret", obj.get("data"))

    def prepare_create(self, obj: JsonObj) -> None:
        self._fold(obj)
        if not obj.get("type"):
            obj["type"] = "Opaque"

    def prepare_update(self, new: JsonObj, old: JsonObj) -> None:
        self._fold(new)
        if not new.get("type"):
            new["type"] = old.get("type") or "Opaque"

    @staticmethod
    def _fold(obj: JsonObj) -> None:
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = dict(obj.get("data") or {})
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = base64.b64encode(value.encode()).decode()
            obj["data"] = data

    def validate(self, obj: JsonObj, old: JsonObj | None) -> list[Cause]:
        causes = _config_key_causes(obj.get("data"), "data")
        data = obj.get("data") or {}
        size = sum(len(v) * 3 // 4 for v in data.values() if isinstance(v, str))
        if size > _MAX_SECRET_BYTES:
            causes.append(
                Cause(
                    "FieldValueTooLong", f"Too long: may not be more than {_MAX_SECRET_BYTES} bytes", "data"
                )
            )
        secret_type = obj.get("type")
        required = {
            "kubernetes.io/tls": ("tls.crt", "tls.key"),
            "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
            "kubernetes.io/ssh-auth": ("ssh-privatekey",),
        }.get(str(secret_type), ())
        for key in required:
            if key not in data:
                causes.append(field_required(f"data[{key}]"))
        if old is not None:
            if secret_type != old.get("type"):
                causes.append(field_invalid("type", secret_type, "field is immutable"))
            causes.extend(_immutable_data_causes(obj, old, ("data",)))
        return causes


class ConfigMapStrategy(Strategy):
    def decode(self, obj: JsonObj) -> None:
        _decode_bytes("ConfigMap", obj.get("binaryData"))

    def validate(self, obj: JsonObj, old: JsonObj | None) -> list[Cause]:
        causes = _config_key_causes(obj.get("data"), "data") + _config_key_causes(
            obj.get("binaryData"), "binaryData"
        )
        overlap = set(obj.get("data") or {}) & set(obj.get("binaryData") or {})
        for key in sorted(overlap):
            causes.append(field_invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        if old is not None:
            causes.extend(_immutable_data_causes(obj, old, ("data", "binaryData")))
        return causes


def _immutable_data_causes(obj: JsonObj, old: JsonObj, fields: tuple[str, ...]) -> list[Cause]:
    if not old.get("immutable"):
        return []
    causes: list[Cause] = []
    if obj.get("immutable") is not True:
        causes.append(field_forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            causes.append(field_forbidden(field, "field is immutable when `immutable` is set"))
    return causes


class NamespaceStrategy(Strategy):
    """Namespaces carry the `kubernetes` spec finalizer that the namespace lifecycle (N2) releases."""

    def prepare_create(self, obj: JsonObj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        self._label(obj)

    def prepare_update(self, new: JsonObj, old: JsonObj) -> None:
        # spec.finalizers only changes through the lifecycle, as with the real /finalize subresource.
        if "spec" in old:
            new["spec"] = old["spec"]
        else:
            new.pop("spec", None)
        self._label(new)

    @staticmethod
    def _label(obj: JsonObj) -> None:
        meta = obj.setdefault("metadata", {})
        labels = meta.get("labels")
        labels = dict(labels) if isinstance(labels, dict) else {}
        labels[NAMESPACE_NAME_LABEL] = meta.get("name", "")
        meta["labels"] = labels


class CoreEventStrategy(Strategy):
    """A core/v1 Event with an eventTime is a new-style event: it names who reported it and what they did
    (kube-apiserver ValidateEventCreate), as kopf's and client-go's recorders do."""

    def validate(self, obj: JsonObj, old: JsonObj | None) -> list[Cause]:
        if not obj.get("eventTime"):
            return []
        causes = []
        for required in ("reportingComponent", "reportingInstance", "action"):
            if not obj.get(required):
                causes.append(field_required(required))
        component = obj.get("reportingComponent")
        if isinstance(component, str) and component:
            causes += [
                field_invalid("reportingComponent", component, p) for p in qualified_name_errors(component)
            ]
        return causes


_EVENT_RENAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_EVENT_RENAMES_BACK = {v: k for k, v in _EVENT_RENAMES.items()}


class EventsV1Strategy(Strategy):
    """events.k8s.io/v1 Events are the core/v1 Events seen through renamed fields; they are stored once."""

    def to_storage(self, obj: JsonObj, rt: ResourceType) -> JsonObj:
        converted = {_EVENT_RENAMES_BACK.get(key, key): value for key, value in obj.items()}
        converted["apiVersion"] = "v1"
        return converted

    def from_storage(self, obj: JsonObj, rt: ResourceType) -> JsonObj:
        converted = {_EVENT_RENAMES.get(key, key): value for key, value in obj.items()}
        converted["apiVersion"] = rt.api_version
        return converted


# --- the table ---------------------------------------------------------------------------------------

_CORE_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
_V1_EVENT_FIELDS = frozenset(
    {
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "type",
    }
)
FIELD_ALIASES = {"source": "source.component"}


def builtin_types() -> list[ResourceType]:
    event_core_props = {
        "action": _string(),
        "count": {"type": "integer", "nullable": True},
        "eventTime": _string(),
        "firstTimestamp": _string(),
        "involvedObject": _preserved("The object that this event is about."),
        "lastTimestamp": _string(),
        "message": _string("A human-readable description of the status of this operation."),
        "reason": _string(),
        "related": _preserved(),
        "reportingComponent": _string(),
        "reportingInstance": _string(),
        "series": _preserved(),
        "source": _preserved(),
        "type": _string(),
    }
    event_v1_props = {_EVENT_RENAMES.get(key, key): value for key, value in event_core_props.items()}
    spec_status = {"spec": _preserved("Desired state."), "status": _preserved("Observed state.")}
    return [
        ResourceType(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            False,
            short_names=("ns",),
            has_status=True,
            strategy=NamespaceStrategy(),
            name_rule=NameRule.LABEL,
            field_labels=frozenset({"status.phase"}),
            schema=_root(
                "Namespace provides a scope for Names.",
                spec={
                    "type": "object",
                    "nullable": True,
                    "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}},
                },
                status=_preserved(),
            ),
        ),
        ResourceType(
            "",
            "v1",
            "secrets",
            "secret",
            "Secret",
            True,
            strategy=SecretStrategy(),
            field_labels=frozenset({"type"}),
            schema=_root(
                "Secret holds secret data of a certain type.",
                data=_BYTES_MAP,
                stringData=_STRING_MAP,
                type=_string(),
                immutable={"type": "boolean", "nullable": True},
            ),
        ),
        ResourceType(
            "",
            "v1",
            "configmaps",
            "configmap",
            "ConfigMap",
            True,
            short_names=("cm",),
            strategy=ConfigMapStrategy(),
            schema=_root(
                "ConfigMap holds configuration data for pods to consume.",
                data=_STRING_MAP,
                binaryData=_BYTES_MAP,
                immutable={"type": "boolean", "nullable": True},
            ),
        ),
        ResourceType(
            "",
            "v1",
            "events",
            "event",
            "Event",
            True,
            short_names=("ev",),
            strategy=CoreEventStrategy(),
            field_labels=_CORE_EVENT_FIELDS,
            schema=_root("Event is a report of an event somewhere in the cluster.", **event_core_props),
        ),
        ResourceType(
            "",
            "v1",
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            True,
            short_names=("sa",),
            merge_keys={**_COMMON_MERGE_KEYS, "secrets": "name", "imagePullSecrets": "name"},
            schema=_root(
                "ServiceAccount binds together a name, a principal and a set of secrets.",
                secrets={"type": "array", "nullable": True, "items": _preserved()},
                imagePullSecrets={"type": "array", "nullable": True, "items": _preserved()},
                automountServiceAccountToken={"type": "boolean", "nullable": True},
            ),
        ),
        ResourceType(
            "",
            "v1",
            "services",
            "service",
            "Service",
            True,
            short_names=("svc",),
            categories=("all",),
            has_status=True,
            # Service names are DNS-1123 labels since Kubernetes 1.34 (RelaxedServiceNameValidation).
            name_rule=NameRule.LABEL,
            merge_keys={**_COMMON_MERGE_KEYS, "spec.ports": "port"},
            schema=_root("Service is a named abstraction of software service.", **spec_status),
        ),
        ResourceType(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            True,
            short_names=("deploy",),
            categories=("all",),
            has_status=True,
            has_generation=True,
            merge_keys={
                **_COMMON_MERGE_KEYS,
                **_pod_template_keys("spec.template"),
                "status.conditions": "type",
            },
            schema=_root("Deployment enables declarative updates for Pods and ReplicaSets.", **spec_status),
        ),
        ResourceType(
            "networking.k8s.io",
            "v1",
            "ingresses",
            "ingress",
            "Ingress",
            True,
            short_names=("ing",),
            has_status=True,
            has_generation=True,
            schema=_root(
                "Ingress is a collection of rules that allow inbound connections to reach the endpoints "
                "defined by a backend.",
                **spec_status,
            ),
        ),
        ResourceType(
            "coordination.k8s.io",
            "v1",
            "leases",
            "lease",
            "Lease",
            True,
            schema=_root("Lease defines a lease concept.", spec=_preserved()),
        ),
        ResourceType(
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            True,
            short_names=("ev",),
            strategy=EventsV1Strategy(),
            field_labels=_V1_EVENT_FIELDS,
            storage_gr=GroupResource("", "events"),
            converts=True,
            schema=_root("Event is a report of an event somewhere in the cluster.", **event_v1_props),
        ),
        ResourceType(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            has_status=True,
            has_generation=True,
            strategy=CRDStrategy(),
            schema=_root(
                "CustomResourceDefinition represents a resource that should be exposed on the API server.",
                **spec_status,
            ),
        ),
    ]
