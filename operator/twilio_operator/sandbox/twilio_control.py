"""Client of the Twilio emulator's test-control endpoints (`/__sandbox/...`)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class TwilioControl:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/__sandbox/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "state")
        return result

    def requests_since(self, seq: int = 0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", f"requests?since={seq}")["requests"]
        return result

    def last_seq(self) -> int:
        result: int = self.call("GET", "requests?since=999999999999")["next"]
        return result

    def violations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "violations")
        return result

    def fault(self, **spec: Any) -> Any:
        return self.call("POST", "faults", spec)

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")
