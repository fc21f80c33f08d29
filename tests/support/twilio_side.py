"""What Twilio holds, seen through the official SDK and the emulator's control endpoints."""

from __future__ import annotations

from typing import Any

from twilio.rest import Client

from twilio_operator.sandbox.twilio_control import TwilioControl
from twilio_operator.twilio.http import BaseUrlHttpClient


class TwilioSide(TwilioControl):
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

    def writes_since(self, seq: int) -> list[dict[str, Any]]:
        return [r for r in self.requests_since(seq) if r.get("write")]

    def subaccounts(self, friendly_name: str) -> list[dict[str, Any]]:
        return [a for a in self.state()["accounts"] if a.get("friendly_name") == friendly_name]
