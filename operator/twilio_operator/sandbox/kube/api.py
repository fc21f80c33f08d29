"""The API verbs: create, get, list, update, patch, apply and delete, with kube-apiserver's write rules.

Requests arrive here already routed to a resource type; objects leave in that type's version. Everything is
synchronous: the store is only touched from the event loop, so a request's read-check-write cannot interleave
with another request's.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import apply as ssa
from . import crds
from .builtins import FIELD_ALIASES, PROTECTED_NAMESPACES
from .cel import validate_rules
from .errors import (
    ApiError,
    Cause,
    already_exists,
    bad_request,
    conflict,
    expired,
    field_invalid,
    field_required,
    invalid,
    method_not_allowed,
    not_found,
    unsupported_media_type,
)
from .jsonutil import clone, clone_obj, loads_tracking_duplicates, same_object
from .meta import (
    NameRule,
    name_errors,
    new_uid,
    now_rfc3339,
    random_suffix,
    validate_metadata,
)
from .patch import PRIMITIVE_MERGE, MalformedPatch, PatchError, json_patch, merge_patch, strategic_merge_patch
from .resources import GroupResource, Registry, ResourceType
from .schema import apply_defaults, prune_object, validate_object
from .selectors import FieldSelector, LabelSelector, SelectorError, default_field_value
from .store import Store

JsonObj = dict[str, Any]

NAMESPACES = GroupResource("", "namespaces")
CRDS = GroupResource("apiextensions.k8s.io", "customresourcedefinitions")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

_SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_COMMON_MERGE_KEYS = {"metadata.ownerReferences": "uid", "metadata.finalizers": PRIMITIVE_MERGE}
_SNAPSHOT_LIMIT = 256


def field_value(obj: JsonObj, field: str) -> str | None:
    return default_field_value(obj, FIELD_ALIASES.get(field, field))


@dataclass
class WriteOptions:
    field_validation: str = "Warn"  # Strict, Warn, Ignore (R6)
    field_manager: str | None = None
    force: bool = False


@dataclass
class DeleteOptions:
    propagation: str | None = None
    orphan_dependents: bool | None = None
    uid: str | None = None
    resource_version: str | None = None


@dataclass
class Result:
    code: int
    body: JsonObj
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Snapshot:
    gr: GroupResource
    rv: int
    items: list[JsonObj]


def status_success(rt: ResourceType, obj: JsonObj) -> JsonObj:
    meta = obj["metadata"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": meta["name"], "group": rt.group, "kind": rt.plural, "uid": meta["uid"]},
    }


def parse_body(raw: bytes, content_type: str, *, track_duplicates: bool) -> tuple[Any, list[str]]:
    """Decode a POST/PUT body (JSON or YAML); protobuf and CBOR are refused (415, §4)."""
    media = content_type.partition(";")[0].strip().lower()
    if media in ("", "application/json", "*/*"):
        try:
            if track_duplicates:
                return loads_tracking_duplicates(raw)
            return json.loads(raw), []
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"error decoding JSON body: {exc}") from exc
    if media in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            return yaml.safe_load(raw), []
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML body: {exc}") from exc
    raise unsupported_media_type(media)


class Api:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._snapshot_seq = 0
        store.listeners.append(self._on_change)

    # --- registry upkeep ---------------------------------------------------------------------------

    def _on_change(self, gr: GroupResource, old: JsonObj | None, new: JsonObj | None) -> None:
        if gr != CRDS:
            return
        name = (new or old or {}).get("metadata", {}).get("name")
        if not isinstance(name, str):
            return
        removed = self.registry.remove_crd(name)
        if new is not None:
            for rt in crds.resource_types(new):
                self.registry.add(rt)
        else:
            for rt in removed:
                if self.registry.storage_type(rt.gr) is None:
                    self.store.hub.close_resource(rt.gr)

    # --- helpers -----------------------------------------------------------------------------------

    def present(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        return rt.strategy.from_storage(obj, rt)

    def _require_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                name=namespace,
                kind="namespaces",
            )

    def _existing(self, rt: ResourceType, namespace: str | None, name: str) -> JsonObj:
        obj = self.store.get(rt.gr, namespace or "", name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return obj

    @staticmethod
    def _check_type_meta(rt: ResourceType, body: JsonObj) -> None:
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version not in (None, "") and api_version != rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match "
                f"the expected API version ({rt.api_version})"
            )
        if kind not in (None, "") and kind != rt.kind:
            # The body decodes (the group/version match); the kind is then a field that fails validation.
            meta = body.get("metadata")
            name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
            raise invalid(str(kind), rt.group, name, [field_invalid("kind", kind, f"must be {rt.kind}")])

    @staticmethod
    def _metadata_of(body: JsonObj) -> JsonObj:
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        return meta

    @staticmethod
    def _field_problems(
        options: WriteOptions, unknown: list[str], duplicates: list[str], *, patching: bool = False
    ) -> list[str]:
        if options.field_validation == "Ignore":
            return []
        problems = [f'unknown field "{path}"' for path in unknown] + [
            f'duplicate field "{path}"' for path in duplicates
        ]
        if problems and options.field_validation == "Strict":
            message = "strict decoding error: " + ", ".join(problems)
            if patching:
                # A body fails to decode (400); a patch applies, and its result fails as the field `patch`.
                raise ApiError(
                    422, message, reason="Invalid", causes=[Cause("FieldValueInvalid", message, "patch")]
                )
            raise ApiError(400, message, reason="BadRequest")
        return problems

    def _crd_terminating(self, rt: ResourceType) -> bool:
        if rt.crd_name is None:
            return False
        crd = self.store.get(CRDS, "", rt.crd_name)
        return crd is not None and bool(crd["metadata"].get("deletionTimestamp"))

    # --- reads -------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> JsonObj:
        return self.present(rt, self._existing(rt, namespace, name))

    def selectors(self, rt: ResourceType, params: dict[str, str]) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = LabelSelector.parse(params.get("labelSelector"))
            fields = FieldSelector.parse(params.get("fieldSelector"), rt.supported_field_labels())
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc
        return labels, fields

    def matching(
        self, rt: ResourceType, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> list[JsonObj]:
        name = fields.single_name()
        if name is not None and (namespace is not None or not rt.namespaced):
            found = self.store.get(rt.gr, namespace or "", name)
            candidates = [found] if found is not None else []
        else:
            candidates = self.store.sorted_items(rt.gr, namespace)
        result = []
        for obj in candidates:
            if not labels.empty and not labels.matches(obj):
                continue
            if not fields.empty:
                target = self.present(rt, obj) if rt.converts else obj
                if not fields.matches(target, field_value):
                    continue
            result.append(obj)
        return result

    def list_objects(self, rt: ResourceType, namespace: str | None, params: dict[str, str]) -> JsonObj:
        labels, fields = self.selectors(rt, params)
        limit = 0
        if params.get("limit"):
            try:
                limit = int(params["limit"])
            except ValueError as exc:
                raise bad_request(f"invalid limit {params['limit']!r}") from exc
            # kube-apiserver reads a negative limit as none at all.
            limit = max(limit, 0)
        match = params.get("resourceVersionMatch")
        if match:
            if match not in ("NotOlderThan", "Exact"):
                raise invalid(
                    "ListOptions",
                    "meta.k8s.io",
                    "",
                    [field_invalid("resourceVersionMatch", match, "unsupported")],
                )
            if not params.get("resourceVersion"):
                raise invalid(
                    "ListOptions",
                    "meta.k8s.io",
                    "",
                    [
                        field_required(
                            "resourceVersion",
                            "resourceVersionMatch is forbidden unless resourceVersion is provided",
                        )
                    ],
                )
            if match == "Exact" and params["resourceVersion"] != str(self.store.rv):
                raise expired(f"too old resource version: {params['resourceVersion']} ({self.store.rv})")
        token = params.get("continue")
        if token:
            items, rv, offset = self._resume(rt, token)
        else:
            items, rv, offset = self.matching(rt, namespace, labels, fields), self.store.rv, 0
        page = items[offset : offset + limit] if limit else items[offset:]
        list_meta: JsonObj = {"resourceVersion": str(rv)}
        remaining = len(items) - offset - len(page)
        if limit and remaining > 0:
            list_meta["continue"] = self._remember(rt, items, rv, offset + len(page))
            list_meta["remainingItemCount"] = remaining
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": list_meta,
            "items": [self._list_item(rt, obj) for obj in page],
        }

    def _list_item(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        """An item as a list shows it: a built-in's typed list leaves out each item's kind and apiVersion
        (they are the list's); a custom resource's unstructured list keeps them."""
        item = self.present(rt, obj)
        if rt.custom:
            return item
        return {key: value for key, value in item.items() if key not in ("kind", "apiVersion")}

    def _remember(self, rt: ResourceType, items: list[JsonObj], rv: int, offset: int) -> str:
        self._snapshot_seq += 1
        key = str(self._snapshot_seq)
        self._snapshots[key] = _Snapshot(rt.gr, rv, items)
        while len(self._snapshots) > _SNAPSHOT_LIMIT:
            self._snapshots.popitem(last=False)
        raw = json.dumps({"id": key, "rv": rv, "start": offset}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _resume(self, rt: ResourceType, token: str) -> tuple[list[JsonObj], int, int]:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            key, rv, offset = str(decoded["id"]), int(decoded["rv"]), int(decoded["start"])
        except (ValueError, KeyError, TypeError) as exc:
            raise bad_request(f"invalid continue token: {exc}") from exc
        snapshot = self._snapshots.get(key)
        if snapshot is None or snapshot.gr != rt.gr or rv < self.store.log.horizon(rt.gr):
            raise expired("The provided continue parameter is too old to display a consistent list result.")
        return snapshot.items, snapshot.rv, offset

    def forget_snapshots(self) -> None:
        self._snapshots.clear()

    # --- create ------------------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        options: WriteOptions,
        duplicates: list[str] | None = None,
        managed: list[JsonObj] | None = None,
    ) -> Result:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        self._check_type_meta(rt, body)
        meta = self._metadata_of(body)
        obj: JsonObj = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta}
        obj.update((key, value) for key, value in body.items() if key not in obj)
        if rt.namespaced:
            if namespace is None:
                raise method_not_allowed(f"create of {rt.plural} needs a namespace in the URL")
            body_namespace = meta.get("namespace")
            if body_namespace not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        name = meta.get("name")
        if not name:
            prefix = meta.get("generateName")
            if not prefix or not isinstance(prefix, str):
                raise invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [field_required("metadata.name", "name or generateName is required")],
                )
            name = self._generate_name(rt, namespace, prefix)
            meta["name"] = name
        if not isinstance(name, str):
            raise bad_request("metadata.name must be a string")
        problems = name_errors(name, rt.name_rule)
        if problems:
            raise invalid(
                rt.kind, rt.group, name, [field_invalid("metadata.name", name, p) for p in problems]
            )
        if rt.namespaced and namespace is not None:
            self._require_namespace(namespace)
        if self._crd_terminating(rt):
            raise ApiError(
                403,
                f'{rt.plural}.{rt.group} "{name}" is forbidden: '
                "create not allowed while custom resource definition is terminating",
                name=name,
                group=rt.group,
                kind=rt.plural,
            )
        for key in (*_SYSTEM_METADATA, "resourceVersion", "selfLink", "managedFields"):
            meta.pop(key, None)
        if managed:
            meta["managedFields"] = managed
        if rt.has_status:
            # With a status subresource, status belongs to controllers and starts empty (PrepareForCreate).
            obj.pop("status", None)

        rt.strategy.decode(obj)
        unknown = prune_object(obj, rt.schema)
        apply_defaults(obj, rt.schema)
        warnings = self._field_problems(options, unknown, duplicates or [])
        causes = validate_object(obj, rt.schema)
        causes += validate_rules(obj, None, rt.schema, causes)
        causes += validate_metadata(meta, deleting_before=False, old_finalizers=None)
        if not causes:
            rt.strategy.prepare_create(obj)
            causes += rt.strategy.validate(obj, None)
        if causes:
            raise invalid(rt.kind, rt.group, name, causes)

        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        if rt.has_generation:
            meta["generation"] = 1
        if self.store.get(rt.gr, namespace or "", name) is not None:
            raise already_exists(rt.plural, rt.group, name)
        stored = self.store.put(rt.gr, rt.strategy.to_storage(obj, rt), None)
        return Result(201, self.present(rt, stored), warnings)

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        base = prefix[: 63 - 5] if rt.name_rule is not NameRule.SUBDOMAIN else prefix[: 253 - 5]
        for _ in range(16):
            candidate = base + random_suffix()
            if self.store.get(rt.gr, namespace or "", candidate) is None:
                return candidate
        raise ApiError(409, f"could not generate a unique name from {prefix!r}", reason="AlreadyExists")

    # --- update ------------------------------------------------------------------------------------

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        options: WriteOptions,
        subresource: str | None,
        duplicates: list[str],
    ) -> Result:
        old = self._existing(rt, namespace, name)
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        meta = self._metadata_of(body)
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        return self._update(
            rt, namespace, name, old, body, options, subresource, duplicates, require_rv=rt.custom
        )

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        options: WriteOptions,
        subresource: str | None,
    ) -> Result:
        media = content_type.partition(";")[0].strip().lower()
        if media == APPLY_PATCH:
            return self.apply(rt, namespace, name, raw, options, subresource)
        if media not in (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH):
            raise unsupported_media_type(media)
        if media == STRATEGIC_PATCH and rt.custom:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}",
            )
        old = self._existing(rt, namespace, name)
        try:
            body, duplicates = loads_tracking_duplicates(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"error decoding patch: {exc}") from exc
        current = self.present(rt, old)
        try:
            if media == JSON_PATCH:
                patched = json_patch(current, body)
                duplicates = []
            elif media == MERGE_PATCH:
                if not isinstance(body, dict):
                    raise bad_request("a merge patch must be a JSON object")
                patched = merge_patch(clone_obj(current), body)
            else:
                keys = {**_COMMON_MERGE_KEYS, **rt.merge_keys}
                patched = strategic_merge_patch(clone_obj(current), body, keys)
        except MalformedPatch as exc:
            raise bad_request(str(exc)) from exc
        except PatchError as exc:
            raise invalid(rt.kind, rt.group, name, [Cause("FieldValueInvalid", str(exc), "")]) from exc
        if not isinstance(patched, dict):
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [Cause("FieldValueInvalid", "the patched object is not an object", "")],
            )
        return self._update(
            rt,
            namespace,
            name,
            old,
            patched,
            options,
            subresource,
            duplicates,
            require_rv=False,
            patching=True,
        )

    def apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        raw: bytes,
        options: WriteOptions,
        subresource: str | None,
    ) -> Result:
        if not options.field_manager:
            raise invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [field_required("fieldManager", "is required for apply patch")],
            )
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(config, dict):
            raise bad_request("an apply patch must be an object")
        if not config.get("apiVersion") or not config.get("kind"):
            raise bad_request("apiVersion and kind must be set in an apply patch")
        self._check_type_meta(rt, config)
        meta = self._metadata_of(config)
        if meta.get("name") not in (None, "", name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        old = self.store.get(rt.gr, namespace or "", name)
        if old is None:
            if subresource:
                raise not_found(rt.plural, rt.group, name)
            paths = ssa.field_paths(config, None, rt.has_status)
            entry: JsonObj = {
                "manager": options.field_manager,
                "operation": "Apply",
                "apiVersion": rt.api_version,
                "time": now_rfc3339(),
                "fieldsType": "FieldsV1",
                "fieldsV1": ssa.encode(paths),
            }
            return self.create(rt, namespace, clone_obj(config), options, managed=[entry])
        merged, managed = ssa.apply_config(
            self.present(rt, old),
            config,
            manager=options.field_manager,
            force=options.force,
            subresource=subresource,
            has_status=rt.has_status,
            api_version=rt.api_version,
        )
        return self._update(
            rt,
            namespace,
            name,
            old,
            merged,
            options,
            subresource,
            [],
            require_rv=False,
            managed=managed,
            patching=True,
        )

    def _update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        old: JsonObj,
        new: JsonObj,
        options: WriteOptions,
        subresource: str | None,
        duplicates: list[str],
        *,
        require_rv: bool,
        managed: list[JsonObj] | None = None,
        patching: bool = False,
    ) -> Result:
        self._check_type_meta(rt, new)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        meta = self._metadata_of(new)
        old_meta = old["metadata"]
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        rv = meta.get("resourceVersion")
        if rv in (None, ""):
            if require_rv:
                raise invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [field_invalid("metadata.resourceVersion", "", "must be specified for an update")],
                )
        elif str(rv) != old_meta["resourceVersion"]:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        current = self.present(rt, old)
        if subresource == "status":
            # A status write keeps everything else, metadata included (kube-apiserver status strategy).
            status = new.get("status")
            new = clone_obj(current)
            meta = new["metadata"]
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rt.has_status:
            if "status" in current:
                new["status"] = clone(current["status"])
            else:
                new.pop("status", None)
        # An update may leave these out (they are kept) but not change them (kube-apiserver BeforeUpdate);
        # creationTimestamp and the rest of the system fields are reset silently.
        changed = [
            field_invalid(f"metadata.{key}", meta[key], "field is immutable")
            for key in ("uid", "deletionTimestamp")
            if meta.get(key) and meta.get(key) != old_meta.get(key)
        ]
        if changed:
            raise invalid(rt.kind, rt.group, name, changed)
        for key in _SYSTEM_METADATA:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if managed is not None:
            if managed:
                meta["managedFields"] = managed
            else:
                meta.pop("managedFields", None)
        elif "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]
        else:
            meta.pop("managedFields", None)
        meta.pop("selfLink", None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

        rt.strategy.decode(new)
        unknown = prune_object(new, rt.schema)
        apply_defaults(new, rt.schema)
        warnings = self._field_problems(options, unknown, duplicates, patching=patching)
        causes = validate_object(new, rt.schema)
        causes += validate_rules(new, current, rt.schema, causes)
        causes += validate_metadata(
            meta,
            deleting_before=bool(old_meta.get("deletionTimestamp")),
            old_finalizers=old_meta.get("finalizers") or [],
        )
        if not causes:
            if subresource != "status":
                rt.strategy.prepare_update(new, current)
            causes += rt.strategy.validate(new, current)
        if causes:
            raise invalid(rt.kind, rt.group, name, causes)
        if rt.has_generation and _spec_changed(new, current, rt.has_status):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        stored = rt.strategy.to_storage(new, rt)
        if same_object(stored, old):
            return Result(200, self.present(rt, old), warnings)
        return Result(200, self.present(rt, self.commit(rt.gr, stored, old)), warnings)

    def commit(self, gr: GroupResource, new: JsonObj, old: JsonObj) -> JsonObj:
        """Write an update; when it drops the last finalizer of a deleting object, the object goes (F4)
        in that same write: one DELETED event, carrying the last stored state, and no MODIFIED."""
        meta = new["metadata"]
        # A namespace also waits for its spec finalizer, which the namespace lifecycle releases (N2).
        spec_finalizers = gr == NAMESPACES and (new.get("spec") or {}).get("finalizers")
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not spec_finalizers:
            return self.store.remove(gr, old)
        return self.store.put(gr, new, old)

    # --- delete ------------------------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str | None, name: str, options: DeleteOptions) -> Result:
        obj = self._existing(rt, namespace, name)
        meta = obj["metadata"]
        if options.uid is not None and options.uid != meta["uid"]:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {options.uid}, UID in object meta: {meta['uid']}",
            )
        if options.resource_version is not None and options.resource_version != meta["resourceVersion"]:
            raise conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {options.resource_version}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        if rt.gr == NAMESPACES and name in PROTECTED_NAMESPACES:
            raise ApiError(
                403,
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                name=name,
                kind="namespaces",
            )
        policy = options.propagation
        if policy is None and options.orphan_dependents is not None:
            policy = "Orphan" if options.orphan_dependents else "Background"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                [field_invalid("propagationPolicy", policy, "must be Orphan, Background or Foreground")],
            )
        code, final = self.delete_object(rt, obj, policy)
        if code == 0:
            return Result(200, status_success(rt, final))
        if options.orphan_dependents is False and options.propagation is None:
            code = 202
        return Result(code, self.present(rt, final))

    def delete_object(self, rt: ResourceType, obj: JsonObj, policy: str | None) -> tuple[int, JsonObj]:
        """Delete now, or mark as deleting when finalizers remain. Returns (0, last state) when gone."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return 200, obj
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground":
            finalizers = [f for f in finalizers if f != "orphan"]
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
        elif policy == "Orphan":
            finalizers = [f for f in finalizers if f != "foregroundDeletion"]
            if "orphan" not in finalizers:
                finalizers.append("orphan")
        is_namespace = rt.gr == NAMESPACES
        if not finalizers and not is_namespace:
            return 0, self.store.remove(rt.gr, obj)
        marked = clone_obj(obj)
        marked_meta = marked["metadata"]
        marked_meta["deletionTimestamp"] = now_rfc3339()
        marked_meta["deletionGracePeriodSeconds"] = 0
        if finalizers:
            marked_meta["finalizers"] = finalizers
        if rt.has_generation and int(marked_meta.get("generation") or 0) > 0:
            marked_meta["generation"] = int(marked_meta["generation"]) + 1
        if is_namespace:
            marked["status"] = {**(marked.get("status") or {}), "phase": "Terminating"}
        if rt.gr == CRDS:
            marked["status"] = crds.terminating_status(marked.get("status") or {})
        return 200, self.store.put(rt.gr, marked, obj)

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, params: dict[str, str], options: DeleteOptions
    ) -> JsonObj:
        labels, fields = self.selectors(rt, params)
        for obj in self.matching(rt, namespace, labels, fields):
            self.delete_object(rt, obj, options.propagation)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": [],
        }


def _spec_changed(new: JsonObj, old: JsonObj, has_status: bool) -> bool:
    skip = {"metadata", "status", "apiVersion", "kind"} if has_status else {"metadata", "apiVersion", "kind"}
    keys = (set(new) | set(old)) - skip
    return any(not same_object(new.get(key), old.get(key)) for key in keys)
