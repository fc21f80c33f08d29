"""JSON value helpers: copying, strict equality, parsing with duplicate-key detection."""

from __future__ import annotations

import json
from typing import Any

JsonObj = dict[str, Any]


def clone(value: Any) -> Any:
    """Deep-copy a JSON value; much faster than `copy.deepcopy` for plain dicts and lists."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def clone_obj(obj: JsonObj) -> JsonObj:
    copied: JsonObj = clone(obj)
    return copied


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: unlike Python's `==`, `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(json_equal(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, (dict, list)):
        return False
    return bool(a == b)


def same_object(a: Any, b: Any) -> bool:
    """Fast path first: `==` rejects nearly every real difference at C speed."""
    return bool(a == b) and json_equal(a, b)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class DuplicateFieldError(ValueError):
    pass


def loads_tracking_duplicates(data: bytes | str) -> tuple[Any, list[str]]:
    """Parse JSON and report duplicated object keys as dotted field paths (for fieldValidation)."""
    duplicates_by_id: dict[int, list[str]] = {}

    def hook(pairs: list[tuple[str, Any]]) -> JsonObj:
        result: JsonObj = {}
        seen_twice: list[str] = []
        for key, value in pairs:
            if key in result:
                seen_twice.append(key)
            result[key] = value
        if seen_twice:
            duplicates_by_id[id(result)] = seen_twice
        return result

    value = json.loads(data, object_pairs_hook=hook)
    if not duplicates_by_id:
        return value, []
    paths: list[str] = []
    _collect_duplicate_paths(value, "", duplicates_by_id, paths)
    return value, paths


def _collect_duplicate_paths(value: Any, path: str, found: dict[int, list[str]], out: list[str]) -> None:
    if isinstance(value, dict):
        for key in found.get(id(value), []):
            out.append(f"{path}.{key}" if path else key)
        for key, item in value.items():
            _collect_duplicate_paths(item, f"{path}.{key}" if path else key, found, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _collect_duplicate_paths(item, f"{path}[{index}]", found, out)


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    current = obj
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def metadata(obj: JsonObj) -> JsonObj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta
