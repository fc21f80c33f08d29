"""The JSONPath subset CRD printer columns use: `.a.b`, `['k']`, `[0]`, `[*]`, `[?(@.x=="y")]`, `[?(@.x)]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_FILTER = re.compile(r"""^\?\(@((?:\.[\w\-/]+)+)\s*(?:(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([\w.\-]+)))?\)$""")


class JsonPathError(ValueError):
    pass


@dataclass(frozen=True)
class _Step:
    kind: str  # "field", "index", "all", "filter"
    key: str = ""
    index: int = 0
    path: tuple[str, ...] = ()
    op: str | None = None
    value: str | None = None


def parse(expression: str) -> list[_Step]:
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            i += 1
            start = i
            while i < len(text) and text[i] not in ".[":
                i += 1
            if i > start:
                steps.append(_Step("field", key=text[start:i]))
        elif char == "[":
            end = _closing(text, i)
            inner = text[i + 1 : end].strip()
            steps.append(_bracket(inner, expression))
            i = end + 1
        elif char == "$" and i == 0:
            i += 1
        else:
            raise JsonPathError(f"unexpected {char!r} in JSONPath {expression!r}")
    return steps


def _closing(text: str, start: int) -> int:
    depth = 0
    quote: str | None = None
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JsonPathError(f"unclosed '[' in JSONPath {text!r}")


def _bracket(inner: str, expression: str) -> _Step:
    if inner == "*":
        return _Step("all")
    if inner.lstrip("-").isdigit():
        return _Step("index", index=int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Step("field", key=inner[1:-1])
    match = _FILTER.match(inner)
    if match:
        path = tuple(part for part in match.group(1).split(".") if part)
        value = next((g for g in match.group(3, 4, 5) if g is not None), None)
        return _Step("filter", path=path, op=match.group(2), value=value)
    raise JsonPathError(f"unsupported JSONPath element [{inner}] in {expression!r}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(item: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    current = item
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return False, None
        current = current[key]
    return True, current


def evaluate(steps: list[_Step], data: Any) -> list[Any]:
    current = [data]
    for step in steps:
        found: list[Any] = []
        for item in current:
            if step.kind == "field":
                if isinstance(item, dict) and step.key in item:
                    found.append(item[step.key])
            elif step.kind == "index":
                if isinstance(item, list) and -len(item) <= step.index < len(item):
                    found.append(item[step.index])
            elif step.kind == "all":
                if isinstance(item, list):
                    found.extend(item)
                elif isinstance(item, dict):
                    found.extend(item.values())
            elif isinstance(item, list):
                for element in item:
                    present, value = _lookup(element, step.path)
                    if step.op is None:
                        if present:
                            found.append(element)
                    elif present and (_text(value) == step.value) == (step.op == "=="):
                        found.append(element)
        current = found
    return current
