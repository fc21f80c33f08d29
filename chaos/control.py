"""Clients of the emulators' test-control endpoints and of what Twilio and the cluster hold.

The Twilio side reuses the sandbox's `TwilioControl`; the Kubernetes side (faults on writes, dropped watch
streams, the request log, garbage-collection settling) is small enough to live here.
"""

from __future__ import annotations

import base64
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from twilio_operator.sandbox.twilio_control import ControlClient, TwilioControl
from twilio_operator.twilio.http import BaseUrlHttpClient

MANAGED_BY = "app.kubernetes.io/managed-by=twilio-operator"


class KubeControl(ControlClient):
    """`/__sandbox/` on the Kubernetes API emulator."""

    # gc/settle answers 504 when it did not settle; the body says so.
    ANSWERS = frozenset({504})

    def fault(self, **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "faults", spec)
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def requests(self, since: int = 0, **filters: str) -> tuple[list[dict[str, Any]], int]:
        query = "&".join([f"since={since}", *(f"{k}={v}" for k, v in filters.items())])
        result = self.call("GET", f"requests?{query}")
        return list(result["requests"]), int(result["next"])

    def next_seq(self) -> int:
        return self.requests(since=10**12)[1]

    def settle_gc(self, timeout: float = 30) -> bool:
        return bool(self.call("POST", f"gc/settle?timeout={timeout}")["settled"])


class TwilioSide(TwilioControl):
    """The Twilio emulator's control endpoints plus the official SDK, as a user of Twilio would hold it."""

    def __init__(self, base_url: str, parent_sid: str, parent_token: str) -> None:
        super().__init__(base_url)
        self.parent_sid = parent_sid
        self.parent_token = parent_token
        self.http = BaseUrlHttpClient(self.base_url)

    def client(
        self, username: str | None = None, password: str | None = None, account_sid: str | None = None
    ) -> Client:
        return Client(
            username or self.parent_sid,
            password or self.parent_token,
            account_sid=account_sid,
            http_client=self.http,
        )

    def subaccounts(self, friendly_name: str) -> list[dict[str, Any]]:
        return [a for a in self.state()["accounts"] if a.get("friendly_name") == friendly_name]

    def writes_since(self, seq: int) -> list[dict[str, Any]]:
        return [r for r in self.requests_since(seq) if r.get("write")]

    def authenticates(self, data: dict[str, str]) -> bool:
        """Use an ApiKey Secret the way a workload would (as `envFrom`); 403 means valid but restricted."""
        try:
            client = self.client(
                data["TWILIO_API_KEY"], data["TWILIO_API_SECRET"], account_sid=data["TWILIO_ACCOUNT_SID"]
            )
            client.messaging.v1.services.list(limit=1)
        except KeyError:
            return False
        except TwilioRestException as error:
            return bool(error.status == 403)
        except TwilioException as error:  # list pages raise this, with the response as second argument
            response = error.args[1] if len(error.args) > 1 else None
            return getattr(response, "status_code", None) == 403
        return True

    def auth_tokens(self) -> dict[str, str]:
        """Every subaccount's auth token (secret text the operator must never print), via the parent."""
        tokens = {self.parent_sid: self.parent_token}
        for account in self.state()["accounts"]:
            if account.get("owner") == self.parent_sid and account["status"] != "closed":
                fetched = self.client().api.v2010.accounts(account["sid"]).fetch()
                if fetched.auth_token:
                    tokens[account["sid"]] = str(fetched.auth_token)
        return tokens


def decode_secret(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def secret_values(secrets: list[dict[str, Any]]) -> set[str]:
    """The secret text in the operator's Secrets: key secrets and exported auth tokens."""
    found: set[str] = set()
    for secret in secrets:
        data = decode_secret(secret)
        for field in ("TWILIO_API_SECRET", "TWILIO_AUTH_TOKEN"):
            if data.get(field):
                found.add(data[field])
    return found


def lines_with_secrets(text: str, secrets: set[str]) -> list[str]:
    """Lines of `text` containing any of `secrets` (secrets shorter than 16 characters are not text)."""
    needles = [s for s in secrets if len(s) >= 16]
    if not needles:
        return []
    return [line for line in text.splitlines() if any(n in line for n in needles)]
