"""Server-side apply, approximated (A1-A4): per-manager ownership of leaf fields; lists are atomic.

Only Apply managers are tracked. A field is a path of map keys; a list or a scalar ends the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError, Cause
from .jsonutil import clone, json_equal
from .meta import now_rfc3339

JsonObj = dict[str, Any]
FieldPath = tuple[str, ...]

_OWNED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")


def field_paths(config: JsonObj, subresource: str | None, has_status: bool) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    for key, value in config.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            if isinstance(value, dict):
                for meta_key in _OWNED_METADATA:
                    if meta_key in value:
                        _collect(value[meta_key], ("metadata", meta_key), paths)
            continue
        if has_status and (key == "status") != (subresource == "status"):
            continue
        _collect(value, (key,), paths)
    return paths


def _collect(value: Any, path: FieldPath, out: set[FieldPath]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _collect(item, (*path, key), out)
    else:
        out.add(path)


def encode(paths: set[FieldPath]) -> JsonObj:
    root: JsonObj = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def decode(fields: Any) -> set[FieldPath]:
    paths: set[FieldPath] = set()

    def walk(node: Any, path: FieldPath) -> None:
        children = {k: v for k, v in node.items() if k.startswith("f:")} if isinstance(node, dict) else {}
        if not children:
            if path:
                paths.add(path)
            return
        for key, child in children.items():
            walk(child, (*path, key[2:]))

    walk(fields, ())
    return paths


def _get(obj: Any, path: FieldPath) -> tuple[bool, Any]:
    current = obj
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return False, None
        current = current[key]
    return True, current


def _delete(obj: JsonObj, path: FieldPath) -> None:
    current: Any = obj
    for key in path[:-1]:
        if not isinstance(current, dict) or key not in current:
            return
        current = current[key]
    if isinstance(current, dict):
        current.pop(path[-1], None)


def _related(a: FieldPath, b: FieldPath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def deep_merge(target: JsonObj, config: JsonObj) -> None:
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = clone(value)


@dataclass
class ManagedEntry:
    manager: str
    subresource: str | None
    paths: set[FieldPath]
    raw: JsonObj


def parse_managed(managed: Any) -> list[ManagedEntry]:
    entries: list[ManagedEntry] = []
    for raw in managed if isinstance(managed, list) else []:
        if not isinstance(raw, dict) or not isinstance(raw.get("manager"), str):
            continue
        paths = decode(raw.get("fieldsV1")) if raw.get("operation") == "Apply" else set()
        entries.append(ManagedEntry(raw["manager"], raw.get("subresource"), paths, raw))
    return entries


def apply_config(
    current: JsonObj,
    config: JsonObj,
    *,
    manager: str,
    force: bool,
    subresource: str | None,
    has_status: bool,
    api_version: str,
) -> tuple[JsonObj, list[JsonObj]]:
    """Merge `config` into a copy of `current`; return it with the new managedFields list."""
    applied = field_paths(config, subresource, has_status)
    entries = parse_managed(current.get("metadata", {}).get("managedFields"))
    mine = next(
        (
            e
            for e in entries
            if e.manager == manager and e.subresource == subresource and e.raw.get("operation") == "Apply"
        ),
        None,
    )
    others = [
        e
        for e in entries
        if e is not mine and e.raw.get("operation") == "Apply" and e.subresource == subresource
    ]

    conflicts: list[tuple[str, FieldPath]] = []
    for other in others:
        for owned in other.paths:
            for path in applied:
                if not _related(owned, path):
                    continue
                longer = owned if len(owned) >= len(path) else path
                in_config, wanted = _get(config, longer)
                in_current, actual = _get(current, longer)
                if in_config != in_current or not json_equal(wanted, actual):
                    conflicts.append((other.manager, longer))
    if conflicts and not force:
        causes = [
            Cause("FieldManagerConflict", f'conflict with "{who}"', "." + ".".join(path))
            for who, path in conflicts
        ]
        listing = "\n".join(f'conflict with "{who}": .{".".join(path)}' for who, path in conflicts)
        raise ApiError(
            409,
            f"Apply failed with {len(conflicts)} conflict(s): {listing}",
            reason="Conflict",
            causes=causes,
        )
    if force:
        for other in others:
            other.paths = {owned for owned in other.paths if not any(_related(owned, p) for p in applied)}

    result: JsonObj = clone(current)
    previously = mine.paths if mine is not None else set()
    for path in previously - applied:
        if not any(_related(path, owned) for other in others for owned in other.paths):
            _delete(result, path)
    for key, value in config.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = result.setdefault("metadata", {})
            for meta_key in ("name", "namespace", "resourceVersion", *_OWNED_METADATA):
                if meta_key in value:
                    if isinstance(value[meta_key], dict) and isinstance(meta.get(meta_key), dict):
                        deep_merge(meta[meta_key], value[meta_key])
                    else:
                        meta[meta_key] = clone(value[meta_key])
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            deep_merge(result[key], value)
        else:
            result[key] = clone(value)

    managed: list[JsonObj] = []
    for entry in entries:
        if entry is mine:
            continue
        if entry in others:
            if not entry.paths:
                continue
            if entry.paths != decode(entry.raw.get("fieldsV1")):
                entry.raw = {**entry.raw, "fieldsV1": encode(entry.paths), "time": now_rfc3339()}
        managed.append(entry.raw)
    if mine is not None and mine.paths == applied and mine.raw.get("apiVersion") == api_version:
        managed.append(mine.raw)
    elif applied:
        entry_json: JsonObj = {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": api_version,
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(applied),
        }
        if subresource:
            entry_json["subresource"] = subresource
        managed.append(entry_json)
    return result, managed
