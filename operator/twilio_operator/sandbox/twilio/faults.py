"""Injected faults: the ways the real Twilio API misbehaves that an operator must survive.

Kinds:

* ``latency``: wait ``latency`` seconds, then serve the request normally.
* ``status``: answer ``status`` (429/5xx, Twilio's error body, optional ``Retry-After``) without processing.
* ``hang``: never answer; the client's timeout is the only way out. Nothing is processed.
* ``commit_then_hang``: process the request (the write happens and is logged), then never answer, as when
  a connection drops after Twilio committed a create. Lets a test kill the operator at the worst moment.

A fault matches a request when every criterion it sets matches (operationId, method, path regex); the first
registered match wins. ``times`` limits how often it fires, ``probability`` (with its own seeded RNG) makes it
intermittent.
"""

from __future__ import annotations

import enum
import itertools
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import INJECTABLE


class FaultKind(enum.StrEnum):
    LATENCY = "latency"
    STATUS = "status"
    HANG = "hang"
    COMMIT_THEN_HANG = "commit_then_hang"


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    id: int
    kind: FaultKind
    operation: str | None = None
    method: str | None = None
    path_regex: re.Pattern[str] | None = None
    status: int = 503
    retry_after: float | None = None
    latency: float = 0.0
    times: int | None = None
    probability: float | None = None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def matches(self, operation: str, method: str, path: str) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.path_regex is not None and not self.path_regex.search(path):
            return False
        return self.probability is None or self.rng.random() < self.probability

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "operation": self.operation,
            "method": self.method,
            "path_regex": self.path_regex.pattern if self.path_regex else None,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "times": self.times,
            "probability": self.probability,
            "fired": self.fired,
        }


class FaultRegistry:
    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._seed = seed

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, spec: Mapping[str, Any]) -> Fault:
        try:
            kind = FaultKind(str(spec.get("kind")))
        except ValueError as error:
            raise FaultSpecError(f"kind must be one of {[k.value for k in FaultKind]}") from error
        status = int(spec.get("status") or 503)
        if kind is FaultKind.STATUS and status not in INJECTABLE:
            raise FaultSpecError(f"status must be one of {sorted(INJECTABLE)}")
        probability = spec.get("probability")
        if probability is not None and not 0 <= float(probability) <= 1:
            raise FaultSpecError("probability must be between 0 and 1")
        times = spec.get("times")
        if times is not None and int(times) < 1:
            raise FaultSpecError("times must be at least 1")
        fault_id = next(self._ids)
        seed = spec.get("seed")
        method = spec.get("method")
        path_regex = spec.get("path_regex")
        try:
            compiled = re.compile(path_regex) if path_regex else None
        except re.error as error:
            raise FaultSpecError(f"path_regex: {error}") from error
        fault = Fault(
            id=fault_id,
            kind=kind,
            operation=spec.get("operation"),
            method=method.upper() if method else None,
            path_regex=compiled,
            status=status,
            retry_after=float(spec["retry_after"]) if spec.get("retry_after") is not None else None,
            latency=float(spec.get("latency") or 0.0),
            times=int(times) if times is not None else None,
            probability=float(probability) if probability is not None else None,
            rng=random.Random(int(seed) if seed is not None else self._seed + fault_id),
        )
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def list(self) -> list[Fault]:
        return list(self._faults)

    def match(self, operation: str, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any; counts it as fired and retires spent faults."""
        for fault in self._faults:
            if fault.matches(operation, method, path):
                fault.fired += 1
                if fault.times is not None and fault.fired >= fault.times:
                    self._faults.remove(fault)
                return fault
        return None
