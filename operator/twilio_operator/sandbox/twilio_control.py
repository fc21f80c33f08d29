"""Clients of the emulators' test-control endpoints (`/__sandbox/...`)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any


class ControlClient:
    """JSON over `/__sandbox/` of one emulator."""

    # Statuses whose body is an answer, not a failure.
    ANSWERS: frozenset[int] = frozenset()

    def __init__(self, base_url: str, context: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        # The real API server's fault proxy serves its endpoints over TLS, with the sandbox's CA.
        self.context = context

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/__sandbox/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60, context=self.context) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            if error.code not in self.ANSWERS:
                raise
            text = error.read().decode()
        return json.loads(text) if text else None


class TwilioControl(ControlClient):
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

    def buy_number(self, account_sid: str, phone_number: str) -> str:
        """A number in the account, as if bought in the Console; returns its SID."""
        result: dict[str, Any] = self.call(
            "POST", f"accounts/{account_sid}/incoming-phone-numbers", {"phone_number": phone_number}
        )
        return str(result["sid"])
