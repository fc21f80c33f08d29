"""OpenAPI v3 documents (R8): enough for `kubectl apply` with server-side validation and `kubectl explain`.

kubectl checks that the PATCH operation of a kind declares the `fieldValidation` query parameter before it
sends `fieldValidation=Strict`; `kubectl explain` finds the kind through `x-kubernetes-group-version-kind`
on a path operation and on a component schema.

Built-in PATCH operations do not list the strategic-merge content type on purpose: kubectl then computes
strategic merge patches from its compiled-in types, which carry the real patch merge keys, instead of from
these deliberately shallow built-in schemas.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .jsonutil import clone, dumps
from .resources import Registry, ResourceType

JsonObj = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{META}.ObjectMeta"
LIST_META = f"{META}.ListMeta"
STATUS = f"{META}.Status"
PATCH = f"{META}.Patch"
DELETE_OPTIONS = f"{META}.DeleteOptions"
OWNER_REFERENCE = f"{META}.OwnerReference"
WATCH_EVENT = f"{META}.WatchEvent"

_BUILTIN_PREFIX = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "networking.k8s.io": "io.k8s.api.networking",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "events.k8s.io": "io.k8s.api.events",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
}


def _ref(name: str) -> JsonObj:
    return {"$ref": f"#/components/schemas/{name}"}


def schema_name(rt: ResourceType) -> str:
    if rt.crd_name is None and rt.group in _BUILTIN_PREFIX:
        prefix = _BUILTIN_PREFIX[rt.group]
    else:
        prefix = ".".join(reversed(rt.group.split(".")))
    return f"{prefix}.{rt.version}.{rt.kind}"


def _string(description: str) -> JsonObj:
    return {"type": "string", "description": description}


def _common_schemas() -> JsonObj:
    string_map = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    return {
        OBJECT_META: {
            "type": "object",
            "description": "ObjectMeta is metadata that all persisted resources must have, "
            "which includes all objects users must create.",
            "properties": {
                "name": _string("Name must be unique within a namespace."),
                "generateName": _string("An optional prefix used by the server to generate a unique name."),
                "namespace": _string("The namespace the object belongs to."),
                "uid": _string("The unique in time and space value for this object, set by the server."),
                "resourceVersion": _string(
                    "An opaque value that represents the internal version of this object."
                ),
                "generation": {
                    "type": "integer",
                    "format": "int64",
                    "description": "A sequence number "
                    "representing a specific generation of the desired state.",
                },
                "creationTimestamp": {**_string("When this object was created."), "format": "date-time"},
                "deletionTimestamp": {**_string("When this object will be deleted."), "format": "date-time"},
                "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
                "labels": {
                    **string_map,
                    "description": "Map of string keys and values used to organize objects.",
                },
                "annotations": {
                    **string_map,
                    "description": "Unstructured key value map set by external tools.",
                },
                "finalizers": {
                    "type": "array",
                    "items": {"type": "string", "default": ""},
                    "description": "Must be empty before the object is deleted from the registry.",
                    "x-kubernetes-list-type": "set",
                    "x-kubernetes-patch-strategy": "merge",
                },
                "ownerReferences": {
                    "type": "array",
                    "items": {"allOf": [_ref(OWNER_REFERENCE)], "default": {}},
                    "description": "Objects depended on by this object.",
                    "x-kubernetes-list-map-keys": ["uid"],
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-patch-merge-key": "uid",
                    "x-kubernetes-patch-strategy": "merge",
                },
                "managedFields": {"type": "array", "items": {"type": "object"}},
            },
        },
        OWNER_REFERENCE: {
            "type": "object",
            "required": ["apiVersion", "kind", "name", "uid"],
            "description": "Identifies an owning object.",
            "properties": {
                "apiVersion": _string("API version of the referent."),
                "kind": _string("Kind of the referent."),
                "name": _string("Name of the referent."),
                "uid": _string("UID of the referent."),
                "controller": {
                    "type": "boolean",
                    "description": "If true, this reference points to the managing controller.",
                },
                "blockOwnerDeletion": {
                    "type": "boolean",
                    "description": "If true, the owner cannot be deleted "
                    "from the key-value store until this reference is removed.",
                },
            },
        },
        LIST_META: {
            "type": "object",
            "description": "ListMeta describes metadata that synthetic resources must have.",
            "properties": {
                "resourceVersion": _string("Identifies the server's internal version of this list."),
                "continue": _string("Set when more results are available."),
                "remainingItemCount": {"type": "integer", "format": "int64"},
            },
        },
        STATUS: {
            "type": "object",
            "description": "Status is a return value for calls that don't return other objects.",
            "properties": {
                "apiVersion": _string("APIVersion of this representation."),
                "kind": _string("Kind of this representation."),
                "code": {"type": "integer", "format": "int32"},
                "message": _string("A human-readable description of the status of this operation."),
                "reason": _string(
                    "A machine-readable description of why this operation is in the Failure status."
                ),
                "status": _string('Status of the operation. One of: "Success" or "Failure".'),
                "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "metadata": {"allOf": [_ref(LIST_META)], "default": {}},
            },
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}],
        },
        PATCH: {
            "type": "object",
            "description": "Patch is provided to give a concrete name and type to the "
            "Kubernetes PATCH request body.",
        },
        DELETE_OPTIONS: {
            "type": "object",
            "description": "DeleteOptions may be provided when deleting an API object.",
            "properties": {
                "apiVersion": _string("APIVersion of this representation."),
                "kind": _string("Kind of this representation."),
                "propagationPolicy": _string("Whether and how garbage collection will be performed."),
                "orphanDependents": {"type": "boolean"},
                "gracePeriodSeconds": {"type": "integer", "format": "int64"},
                "dryRun": {"type": "array", "items": {"type": "string"}},
                "preconditions": {
                    "type": "object",
                    "properties": {
                        "uid": _string("Target UID."),
                        "resourceVersion": _string("Target resourceVersion."),
                    },
                },
            },
        },
        WATCH_EVENT: {
            "type": "object",
            "required": ["type", "object"],
            "properties": {"type": {"type": "string"}, "object": {"type": "object"}},
        },
    }


def _gvk(rt: ResourceType, kind: str | None = None) -> JsonObj:
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def _component(rt: ResourceType) -> JsonObj:
    schema: JsonObj = clone(rt.schema) if isinstance(rt.schema, dict) else {"type": "object"}
    properties: JsonObj = dict(schema.get("properties") or {})
    properties["apiVersion"] = {
        **_string("APIVersion defines the versioned schema of this representation of an object."),
        **{k: v for k, v in (properties.get("apiVersion") or {}).items() if k != "nullable"},
    }
    properties["kind"] = {
        **_string("Kind is a string value representing the REST resource this object represents."),
        **{k: v for k, v in (properties.get("kind") or {}).items() if k != "nullable"},
    }
    properties["metadata"] = {
        "allOf": [_ref(OBJECT_META)],
        "default": {},
        "description": "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }
    schema["properties"] = properties
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _list_component(rt: ResourceType) -> JsonObj:
    return {
        "type": "object",
        "required": ["items"],
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "properties": {
            "apiVersion": _string(
                "APIVersion defines the versioned schema of this representation of an object."
            ),
            "items": {
                "type": "array",
                "items": _ref(schema_name(rt)),
                "description": f"List of {rt.plural}.",
            },
            "kind": _string("Kind is a string value representing the REST resource this object represents."),
            "metadata": {"allOf": [_ref(LIST_META)], "default": {}},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)],
    }


def _query(name: str, description: str, kind: str = "string") -> JsonObj:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _query(
    "fieldManager", "A name associated with the actor or entity that is making these changes."
)
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "Instructs the server on how to handle objects in the request containing unknown or duplicate fields. "
    "Valid values are: Ignore, Warn (default), Strict.",
)
_FORCE = _query("force", 'Force is going to "force" Apply requests.', "boolean")
_PRETTY = _query("pretty", "If 'true', then the output is pretty printed.")
_LIST_PARAMS = [
    _query("allowWatchBookmarks", 'Request watch events with type "BOOKMARK".', "boolean"),
    _query("continue", "The continue option should be set when retrieving more results from the server."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _query("limit", "The maximum number of responses to return for a list call.", "integer"),
    _query("resourceVersion", "Constrains which resource versions the request may be served from."),
    _query("resourceVersionMatch", "Determines how resourceVersion is applied to list calls."),
    _query(
        "sendInitialEvents",
        "Requests the initial state of the collection as synthetic watch events.",
        "boolean",
    ),
    _query("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    _query("watch", "Watch for changes to the described resources.", "boolean"),
]


def _path_param(name: str, description: str) -> JsonObj:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _content(ref: str, *media: str) -> JsonObj:
    return {m: {"schema": _ref(ref)} for m in media}


def _operation(
    rt: ResourceType,
    action: str,
    operation_id: str,
    description: str,
    response: str,
    parameters: list[JsonObj],
    body: JsonObj | None = None,
    codes: tuple[str, ...] = ("200",),
) -> JsonObj:
    op: JsonObj = {
        "tags": [f"{rt.group or 'core'}_{rt.version}"],
        "description": description,
        "operationId": operation_id,
        "parameters": parameters,
        "responses": {
            code: {"description": "OK", "content": _content(response, "application/json", "application/yaml")}
            for code in codes
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if body is not None:
        op["requestBody"] = {"content": body, "required": True}
    return op


def _paths(rt: ResourceType) -> JsonObj:
    prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    name = schema_name(rt)
    list_name = f"{name}List"
    suffix = (
        "".join(part.capitalize() for part in f"{rt.group}_{rt.version}".replace(".", "_").split("_"))
        + rt.kind
    )
    ns_params = [_path_param("namespace", "object name and auth scope, such as for teams and projects")]
    collection = (
        f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    )
    item = f"{collection}/{{name}}"
    write = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    patch_body = _content(PATCH, *patch_types)
    paths: JsonObj = {
        collection: {
            "get": _operation(
                rt,
                "list",
                f"list{suffix}",
                f"list or watch objects of kind {rt.kind}",
                list_name,
                _LIST_PARAMS,
            ),
            "post": _operation(
                rt,
                "post",
                f"create{suffix}",
                f"create a {rt.kind}",
                name,
                write,
                _content(name, "application/json", "application/yaml"),
                ("200", "201", "202"),
            ),
            "delete": _operation(
                rt,
                "deletecollection",
                f"deletecollection{suffix}",
                f"delete collection of {rt.kind}",
                STATUS,
                _LIST_PARAMS,
            ),
            "parameters": [*(ns_params if rt.namespaced else []), _PRETTY],
        },
        item: {
            "get": _operation(rt, "get", f"read{suffix}", f"read the specified {rt.kind}", name, []),
            "put": _operation(
                rt,
                "put",
                f"replace{suffix}",
                f"replace the specified {rt.kind}",
                name,
                write,
                _content(name, "application/json", "application/yaml"),
                ("200", "201"),
            ),
            "patch": _operation(
                rt,
                "patch",
                f"patch{suffix}",
                f"partially update the specified {rt.kind}",
                name,
                [*write, _FORCE],
                patch_body,
                ("200", "201"),
            ),
            "delete": _operation(
                rt,
                "delete",
                f"delete{suffix}",
                f"delete a {rt.kind}",
                STATUS,
                [
                    _DRY_RUN,
                    _query("propagationPolicy", "Whether and how garbage collection will be performed."),
                ],
                _content(DELETE_OPTIONS, "application/json"),
                ("200", "202"),
            ),
            "parameters": [
                _path_param("name", f"name of the {rt.kind}"),
                *(ns_params if rt.namespaced else []),
                _PRETTY,
            ],
        },
    }
    if rt.namespaced:
        paths[f"{prefix}/{rt.plural}"] = {
            "get": _operation(
                rt,
                "list",
                f"list{suffix}ForAllNamespaces",
                f"list or watch objects of kind {rt.kind}",
                list_name,
                _LIST_PARAMS,
            ),
            "parameters": [_PRETTY],
        }
    if rt.has_status:
        paths[f"{item}/status"] = {
            "get": _operation(
                rt, "get", f"read{suffix}Status", f"read status of the specified {rt.kind}", name, []
            ),
            "put": _operation(
                rt,
                "put",
                f"replace{suffix}Status",
                f"replace status of the specified {rt.kind}",
                name,
                write,
                _content(name, "application/json", "application/yaml"),
                ("200", "201"),
            ),
            "patch": _operation(
                rt,
                "patch",
                f"patch{suffix}Status",
                f"partially update status of the specified {rt.kind}",
                name,
                [*write, _FORCE],
                patch_body,
                ("200", "201"),
            ),
            "parameters": [
                _path_param("name", f"name of the {rt.kind}"),
                *(ns_params if rt.namespaced else []),
                _PRETTY,
            ],
        }
    return paths


def group_version_document(registry: Registry, group: str, version: str) -> JsonObj | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    schemas = _common_schemas()
    paths: JsonObj = {}
    for rt in types:
        schemas[schema_name(rt)] = _component(rt)
        schemas[f"{schema_name(rt)}List"] = _list_component(rt)
        paths.update(_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


class OpenAPIDocuments:
    """Renders and caches documents; the cache follows the registry's generation (CRD changes)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._generation = -1
        self._documents: dict[str, tuple[bytes, str]] = {}

    def _refresh(self) -> None:
        if self._generation == self._registry.generation:
            return
        self._documents = {}
        for group, versions in self._registry.group_versions():
            for version in versions:
                document = group_version_document(self._registry, group, version)
                if document is not None:
                    body = dumps(document)
                    self._documents[gv_key(group, version)] = (body, hashlib.sha512(body).hexdigest().upper())
        self._generation = self._registry.generation

    def root(self) -> JsonObj:
        self._refresh()
        return {
            "paths": {
                key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
                for key, (_, digest) in self._documents.items()
            }
        }

    def document(self, key: str) -> tuple[bytes, str] | None:
        self._refresh()
        return self._documents.get(key)
