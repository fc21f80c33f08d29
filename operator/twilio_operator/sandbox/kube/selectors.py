"""Label selectors (L3) and field selectors (L4)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from .meta import label_value_errors, qualified_name_errors

JsonObj = dict[str, Any]


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...]

    def matches(self, labels: dict[str, Any]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


_SPECIAL = set(" \t,()=!<>")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t":
            i += 1
        elif text.startswith("==", i) or text.startswith("!=", i):
            tokens.append(text[i : i + 2])
            i += 2
        elif char in ",()=!<>":
            tokens.append(char)
            i += 1
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIAL:
                i += 1
            tokens.append(text[start:i])
    return tokens


class LabelSelector:
    """Parsed `labelSelector`; commas mean AND."""

    def __init__(self, requirements: list[_Requirement]) -> None:
        self._requirements = requirements

    @property
    def empty(self) -> bool:
        return not self._requirements

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text or not text.strip():
            return cls([])
        tokens = _tokenize(text)
        requirements: list[_Requirement] = []
        pos = 0

        def take() -> str:
            nonlocal pos
            if pos >= len(tokens):
                raise SelectorError(f"unexpected end of label selector {text!r}")
            token = tokens[pos]
            pos += 1
            return token

        def peek() -> str | None:
            return tokens[pos] if pos < len(tokens) else None

        def check_key(key: str) -> str:
            if not key or key in _SPECIAL or key in ("==", "!="):
                raise SelectorError(f"invalid label key {key!r}")
            problems = qualified_name_errors(key)
            if problems:
                raise SelectorError(f"invalid label key {key!r}: {problems[0]}")
            return key

        def check_value(value: str) -> str:
            problems = label_value_errors(value)
            if problems:
                raise SelectorError(f"invalid label value {value!r}: {problems[0]}")
            return value

        while True:
            token = take()
            if token == "!":
                requirements.append(_Requirement(check_key(take()), "!", ()))
            else:
                key = check_key(token)
                nxt = peek()
                if nxt is None or nxt == ",":
                    requirements.append(_Requirement(key, "exists", ()))
                elif nxt in ("=", "==", "!="):
                    pos += 1
                    value = peek()
                    if value is None or value == ",":
                        value = ""
                    else:
                        pos += 1
                    if value in _SPECIAL or value == "==":
                        raise SelectorError(f"invalid value in label selector {text!r}")
                    requirements.append(
                        _Requirement(key, "!=" if nxt == "!=" else "=", (check_value(value),))
                    )
                elif nxt in ("in", "notin"):
                    pos += 1
                    if take() != "(":
                        raise SelectorError(f"expected '(' in label selector {text!r}")
                    values: list[str] = []
                    while True:
                        item = take()
                        if item == ")":
                            break
                        if item == ",":
                            continue
                        values.append(check_value(item))
                    requirements.append(_Requirement(key, nxt, tuple(values)))
                elif nxt in (">", "<"):
                    pos += 1
                    bound = take()
                    if not bound.lstrip("-").isdigit():
                        raise SelectorError(f"invalid integer in label selector {text!r}")
                    requirements.append(_Requirement(key, "gt" if nxt == ">" else "lt", (bound,)))
                else:
                    raise SelectorError(f"unexpected {nxt!r} in label selector {text!r}")
            nxt = peek()
            if nxt is None:
                break
            if take() != ",":
                raise SelectorError(f"expected ',' in label selector {text!r}")
        return cls(requirements)

    def matches(self, obj: JsonObj) -> bool:
        if not self._requirements:
            return True
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req.matches(labels) for req in self._requirements)


FieldGetter = Callable[[JsonObj, str], str | None]


def default_field_value(obj: JsonObj, field: str) -> str | None:
    current: Any = obj
    for part in field.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


class FieldSelector:
    """Parsed `fieldSelector`: `field=value`, `field==value`, `field!=value`, comma-separated."""

    def __init__(self, terms: list[tuple[str, bool, str]]) -> None:
        self._terms = terms

    @property
    def empty(self) -> bool:
        return not self._terms

    @property
    def terms(self) -> list[tuple[str, bool, str]]:
        return self._terms

    @classmethod
    def parse(cls, text: str | None, supported: Collection[str]) -> FieldSelector:
        if not text or not text.strip():
            return cls([])
        terms: list[tuple[str, bool, str]] = []
        for raw in _split_unescaped(text, ","):
            part = raw.strip()
            if not part:
                continue
            field, equal, value = _term(part)
            if field not in supported:
                raise SelectorError(f"field label not supported: {field}")
            terms.append((field, equal, value))
        return cls(terms)

    def single_name(self) -> str | None:
        for field, equal, value in self._terms:
            if field == "metadata.name" and equal:
                return value
        return None

    def matches(self, obj: JsonObj, getter: FieldGetter = default_field_value) -> bool:
        for field, equal, value in self._terms:
            actual = getter(obj, field)
            if (actual == value) != equal:
                return False
        return True


def _term(part: str) -> tuple[str, bool, str]:
    for op, equal in (("!=", False), ("==", True), ("=", True)):
        index = _find_unescaped(part, op)
        if index >= 0:
            return part[:index].strip(), equal, _unescape(part[index + len(op) :])
    raise SelectorError(f"invalid selector: '{part}'; can't understand '{part}'")


def _find_unescaped(text: str, needle: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(needle, i):
            return i
        i += 1
    return -1


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
