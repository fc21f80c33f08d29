"""Patch formats (P1-P3): JSON merge patch, JSON patch, and strategic merge patch for built-ins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .jsonutil import clone, json_equal

JsonObj = dict[str, Any]


class PatchError(ValueError):
    """The patch cannot be applied to this object (422)."""


class MalformedPatch(ValueError):
    """The patch document itself is not a valid patch (400)."""


# --- RFC 7386 ----------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Objects merge recursively, anything else (lists included) replaces, `null` deletes a key."""
    if not isinstance(patch, dict):
        return clone(patch)
    result: JsonObj = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = merge_patch(result.get(key), value)
        else:
            result[key] = clone(value)
    return result


# --- RFC 6902 ----------------------------------------------------------------------------------------


def _parse_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise MalformedPatch(f"path must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise MalformedPatch(f"invalid JSON pointer {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _index(token: str, length: int, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return length
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > length or (index == length and not allow_end):
        raise PatchError(f"array index {index} out of range")
    return index


def _parent(doc: Any, parts: list[str]) -> Any:
    current = doc
    for token in parts[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"path component {token!r} does not exist")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(token, len(current), allow_end=False)]
        else:
            raise PatchError(f"path component {token!r} does not exist")
    return current


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"path {'/'.join(parts)!r} does not exist")
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(token, len(parent), allow_end=False)]
    raise PatchError(f"path {'/'.join(parts)!r} does not exist")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(token, len(parent), allow_end=True), value)
    else:
        raise PatchError(f"cannot add to a scalar at {'/'.join(parts)!r}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"path {'/'.join(parts)!r} does not exist")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(token, len(parent), allow_end=False))
    raise PatchError(f"path {'/'.join(parts)!r} does not exist")


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch to a copy of `doc`."""
    if not isinstance(operations, list):
        raise MalformedPatch("a JSON patch must be a list of operations")
    result = clone(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise MalformedPatch("each JSON patch operation must be an object")
        op = operation.get("op")
        parts = _parse_pointer(operation.get("path"))
        if op in ("add", "replace", "test") and "value" not in operation:
            raise MalformedPatch(f"operation {op!r} needs a value")
        if op == "add":
            result = _add(result, parts, clone(operation["value"]))
        elif op == "remove":
            _remove(result, parts)
        elif op == "replace":
            _get(result, parts)
            if parts:
                _remove(result, parts)
            result = _add(result, parts, clone(operation["value"]))
        elif op == "test":
            if not json_equal(_get(result, parts), operation["value"]):
                raise PatchError(f"testing value {operation.get('path')} failed")
        elif op in ("move", "copy"):
            source = _parse_pointer(operation.get("from"))
            value = _get(result, source)
            if op == "move":
                if parts[: len(source)] == source and len(parts) > len(source):
                    raise PatchError("cannot move a value into one of its children")
                _remove(result, source)
            result = _add(result, parts, clone(value))
        else:
            # kube-apiserver decodes any operation name and rejects an unknown one when applying it: 422.
            raise PatchError(f"unknown JSON patch operation {op!r}")
    return result


# --- strategic merge patch -------------------------------------------------------------------------

# A merge-key table maps a dotted field path (list items are transparent) to the key that identifies
# list elements, or to PRIMITIVE_MERGE for scalar lists whose patch strategy is "merge" (finalizers).
PRIMITIVE_MERGE = "$primitive"
MergeKeys = Mapping[str, str]

_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


class _Delete:
    pass


_DELETE = _Delete()


def strategic_merge_patch(target: JsonObj, patch: Any, keys: MergeKeys) -> JsonObj:
    if not isinstance(patch, dict):
        raise MalformedPatch("a strategic merge patch must be an object")
    result = _smp_map(target, patch, keys, "")
    if isinstance(result, _Delete):
        raise PatchError("a strategic merge patch cannot delete the whole object")
    return result


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _strip(value: Any) -> Any:
    """Drop patch directives from a value that is inserted as a whole."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [
            _strip(item) for item in value if not (isinstance(item, dict) and item.get("$patch") == "delete")
        ]
    return value


def _smp_map(target: Any, patch: JsonObj, keys: MergeKeys, path: str) -> JsonObj | _Delete:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        replaced: JsonObj = _strip(patch)
        return replaced
    if directive not in (None, "merge"):
        raise MalformedPatch(f"unknown patch directive {directive!r}")
    result: JsonObj = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = _child(path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(result.get(key), value, keys, child)
            if isinstance(merged, _Delete):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            merge_key = keys.get(child)
            current = result.get(key)
            if merge_key is None or not isinstance(current, list):
                result[key] = _strip(value)
            elif merge_key == PRIMITIVE_MERGE:
                result[key] = current + [v for v in value if not any(json_equal(v, c) for c in current)]
            else:
                result[key] = _merge_keyed_list(current, value, merge_key, keys, child)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith(_DELETE_FROM):
            field = key[len(_DELETE_FROM) :]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if not any(json_equal(v, d) for d in value)]
        elif key.startswith(_SET_ORDER):
            field = key[len(_SET_ORDER) :]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = _reorder(result[field], value, keys.get(_child(path, field)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_keyed_list(
    current: list[Any], patch: list[Any], merge_key: str, keys: MergeKeys, path: str
) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]

    def key_of(item: Any) -> Any:
        return item.get(merge_key) if isinstance(item, dict) else None

    patched: list[Any] = []
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            patched.append(_strip(item))
            continue
        if item.get("$patch") == "delete":
            continue
        existing = next((c for c in current if key_of(c) == item[merge_key]), None)
        merged = _strip(item) if existing is None else _smp_map(existing, item, keys, path)
        if not isinstance(merged, _Delete):
            patched.append(merged)
    named = {item[merge_key] for item in patch if isinstance(item, dict) and merge_key in item}
    server_only = [item for item in current if key_of(item) not in named]
    return _merge_sorted(server_only, patched, [key_of(item) for item in current], key_of)


def _merge_sorted(
    server_only: list[Any], patched: list[Any], server_order: list[Any], key_of: Callable[[Any], Any]
) -> list[Any]:
    """kube's mergeSortedSlice: two lists interleaved by their items' places in the server's list; an item
    the server did not have goes before the server-only one it is compared with."""

    def place(item: Any) -> int:
        key = key_of(item)
        return server_order.index(key) if key is not None and key in server_order else -1

    result: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            result.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            result.append(patched[j])
            j += 1
        elif 0 <= place(server_only[i]) < place(patched[j]):
            result.append(server_only[i])
            i += 1
        else:
            result.append(patched[j])
            j += 1
    return result


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def identity(item: Any) -> Any:
        if merge_key and merge_key != PRIMITIVE_MERGE and isinstance(item, dict):
            return item.get(merge_key)
        return item

    wanted = [identity(entry) for entry in order]
    ranked = [item for w in wanted for item in items if identity(item) == w]
    rest = [item for item in items if identity(item) not in wanted]
    return ranked + rest
