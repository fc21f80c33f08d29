"""Test-control state: the request log (X2), fault injection, bearer tokens and counters; routed under
/__sandbox/."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ApiError, bad_request

JsonObj = dict[str, Any]

DEFAULT_LOG_LIMIT = 200_000
MAX_LOGGED_BODY = 64 * 1024
# Bodies are the bulk of the log's memory; past this budget the oldest ones are dropped (entries stay).
DEFAULT_BODY_BUDGET = 128 * 1024 * 1024


@dataclass(slots=True)
class RequestRecord:
    seq: int
    time: float
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    user_agent: str
    status: int | None = None
    raw_body: bytes | None = None
    body_truncated: bool = False
    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    def parsed_body(self) -> Any:
        # Parsed only when a test asks, so logging a request stays O(1).
        if not self.raw_body:
            return None
        try:
            if "yaml" in self.content_type:
                return yaml.safe_load(self.raw_body)
            return json.loads(self.raw_body)
        except (ValueError, yaml.YAMLError):
            return None

    def to_json(self) -> JsonObj:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "content_type": self.content_type,
            "user_agent": self.user_agent,
            "status": self.status,
            "body": self.parsed_body(),
            "body_truncated": self.body_truncated,
            "verb": self.verb,
            "resource": self.resource,
            "namespace": self.namespace,
            "name": self.name,
            "subresource": self.subresource,
        }


class RequestLog:
    def __init__(self, limit: int = DEFAULT_LOG_LIMIT, body_budget: int = DEFAULT_BODY_BUDGET) -> None:
        self._entries: deque[RequestRecord] = deque(maxlen=limit)
        self._with_body: deque[RequestRecord] = deque()
        self._body_bytes = 0
        self._body_budget = body_budget
        self._next = 1
        self.by_method: Counter[str] = Counter()
        self.by_verb: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.by_resource: Counter[str] = Counter()

    def start(
        self, method: str, path: str, query: dict[str, str], content_type: str, user_agent: str
    ) -> RequestRecord:
        record = RequestRecord(self._next, time.time(), method, path, query, content_type, user_agent)
        self._next += 1
        self._entries.append(record)
        self.by_method[method] += 1
        return record

    def attach_body(self, record: RequestRecord, raw: bytes) -> None:
        if len(raw) > MAX_LOGGED_BODY:
            record.body_truncated = True
            return
        if not raw:
            return
        record.raw_body = raw
        self._with_body.append(record)
        self._body_bytes += len(raw)
        while self._body_bytes > self._body_budget and self._with_body:
            oldest = self._with_body.popleft()
            if oldest.raw_body is not None:
                self._body_bytes -= len(oldest.raw_body)
                oldest.raw_body = None
                oldest.body_truncated = True

    def finish(self, record: RequestRecord, status: int) -> None:
        if record.status is not None:
            return
        record.status = status
        self.by_status[status] += 1
        if record.verb:
            self.by_verb[record.verb] += 1
        if record.resource:
            self.by_resource[record.resource] += 1

    @property
    def next_seq(self) -> int:
        return self._next

    def query(
        self,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        since: int = 0,
        user_agent_contains: str | None = None,
        verb: str | None = None,
        limit: int | None = None,
    ) -> list[RequestRecord]:
        found: list[RequestRecord] = []
        # Walk back from the newest entry: queries are nearly always about recent requests.
        for record in reversed(self._entries):
            if record.seq < since:
                break
            if method and record.method != method.upper():
                continue
            if path_prefix and not record.path.startswith(path_prefix):
                continue
            if user_agent_contains and user_agent_contains not in record.user_agent:
                continue
            if verb and record.verb != verb:
                continue
            found.append(record)
        found.reverse()
        return found[:limit] if limit is not None else found

    def clear(self) -> None:
        self._entries.clear()
        self._with_body.clear()
        self._body_bytes = 0
        self.by_method.clear()
        self.by_verb.clear()
        self.by_status.clear()
        self.by_resource.clear()


@dataclass
class Fault:
    id: int
    method: str | None
    path_regex: re.Pattern[str] | None
    status: int
    remaining: int | None
    probability: float | None
    seed: int | None
    drop_watch: bool
    rng: random.Random = field(repr=False, default_factory=random.Random)
    hits: int = 0

    def to_json(self) -> JsonObj:
        return {
            "id": self.id,
            "method": self.method,
            "path_regex": self.path_regex.pattern if self.path_regex else None,
            "status": self.status,
            "times": self.remaining,
            "probability": self.probability,
            "seed": self.seed,
            "drop_watch": self.drop_watch,
            "hits": self.hits,
        }

    def targets(self, method: str, path_qs: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path_regex is None or self.path_regex.search(path_qs) is not None


class FaultInjector:
    """Registered faults; `active` is False when none are, so requests skip matching entirely."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1

    @property
    def active(self) -> bool:
        return bool(self._faults)

    def add(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise bad_request("a fault must be a JSON object")
        method = spec.get("method")
        if method is not None and not isinstance(method, str):
            raise bad_request("method must be a string or null")
        pattern = spec.get("path_regex")
        try:
            compiled = re.compile(pattern) if pattern else None
        except (re.error, TypeError) as exc:
            raise bad_request(f"invalid path_regex: {exc}") from exc
        drop_watch = bool(spec.get("drop_watch", False))
        status = spec.get("status", 500)
        if not drop_watch and (not isinstance(status, int) or not 400 <= status <= 599):
            raise bad_request("status must be an HTTP error code (400-599)")
        # Missing `times` means once; an explicit null means until cleared.
        times = spec.get("times", 1)
        if times is not None and (not isinstance(times, int) or times < 1):
            raise bad_request("times must be a positive integer or null")
        probability = spec.get("probability")
        if probability is not None and (
            not isinstance(probability, (int, float)) or not 0 <= probability <= 1
        ):
            raise bad_request("probability must be between 0 and 1")
        seed = spec.get("seed")
        fault = Fault(
            id=self._next_id,
            method=method.upper() if method else None,
            path_regex=compiled,
            status=int(status) if isinstance(status, int) else 500,
            remaining=times,
            probability=float(probability) if probability is not None else None,
            seed=seed if isinstance(seed, int) else None,
            drop_watch=drop_watch,
            rng=random.Random(seed),
        )
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def all(self) -> list[Fault]:
        return list(self._faults)

    def match(self, method: str, path_qs: str, is_watch: bool) -> Fault | None:
        for fault in self._faults:
            if fault.drop_watch and not is_watch:
                continue
            if not fault.targets(method, path_qs):
                continue
            if fault.probability is not None and fault.rng.random() >= fault.probability:
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None


def fault_error(fault: Fault) -> ApiError:
    retry_after = 1 if fault.status == 429 else None
    return ApiError(fault.status, f"injected fault #{fault.id}", retry_after=retry_after)


class BearerTokens:
    """The bearer tokens the emulator accepts.

    Until a test registers one, every token is let in. From then on a request that presents a token must
    present a registered one that was not revoked, or it gets 401 (as an expired bound service-account token
    does on kube-apiserver, whatever anonymous access allows); a request without credentials is anonymous
    and let in (kubectl sends no token over plain HTTP). A watch already open keeps streaming, as on
    kube-apiserver.
    """

    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.revoked: set[str] = set()

    def admits(self, authorization: str | None) -> bool:
        if not authorization or (not self.accepted and not self.revoked):
            return True
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and token in self.accepted and token not in self.revoked

    def change(self, accept: list[str], revoke: list[str]) -> None:
        self.accepted.update(accept)
        self.revoked.update(revoke)
        self.accepted.difference_update(revoke)

    def clear(self) -> None:
        self.accepted.clear()
        self.revoked.clear()
