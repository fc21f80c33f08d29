"""Message traffic on the sandbox's Twilio emulator: tenants, services, sends and Twilio's truth.

Used by the demo, the receiver's end-to-end and chaos tests: it talks to the emulator as a customer's
application would (the 2010 and v1 APIs with real credentials) and reads the emulator's record of every
message's fate and callbacks through the control endpoints.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .twilio_control import TwilioControl


@dataclass(frozen=True)
class Tenant:
    """A subaccount with its credentials, a Messaging Service and the number in its pool."""

    account_sid: str
    auth_token: str
    service_sid: str
    number: str


class Traffic:
    def __init__(self, twilio_url: str, parent_sid: str, parent_token: str) -> None:
        self.base = twilio_url.rstrip("/")
        self.parent = (parent_sid, parent_token)
        self.control = TwilioControl(twilio_url)

    def _call(
        self, path: str, creds: tuple[str, str], data: dict[str, str] | list[tuple[str, str]] | None = None
    ) -> Any:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        auth = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        request = urllib.request.Request(
            self.base + path,
            data=body,
            method="POST" if body is not None else "GET",
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"{path}: {error.code} {error.read().decode(errors='replace')[:300]}"
            ) from error

    def tenant(self, name: str, status_callback: str, number: str) -> Tenant:
        """A subaccount, a Messaging Service reporting to ``status_callback`` and a number in its pool."""
        account = self._call("/2010-04-01/Accounts.json", self.parent, {"FriendlyName": name})
        creds = (account["sid"], account["auth_token"])
        service = self._call(
            "/messaging/v1/Services", creds, {"FriendlyName": name, "StatusCallback": status_callback}
        )
        bought = self.control.call(
            "POST", f"accounts/{account['sid']}/incoming-phone-numbers", {"phone_number": number}
        )
        self._call(
            f"/messaging/v1/Services/{service['sid']}/PhoneNumbers", creds, {"PhoneNumberSid": bought["sid"]}
        )
        return Tenant(account["sid"], account["auth_token"], service["sid"], number)

    def send(self, tenant: Tenant, to: str, body: str = "Your code is 123456") -> str:
        return self.send_as(
            tenant.account_sid, (tenant.account_sid, tenant.auth_token), tenant.service_sid, to, body
        )

    def send_as(
        self,
        account_sid: str,
        creds: tuple[str, str],
        service_sid: str,
        to: str,
        body: str = "Your code is 123456",
    ) -> str:
        """Send through a Messaging Service with any credentials of the account (auth token or API key)."""
        message = self._call(
            f"/2010-04-01/Accounts/{account_sid}/Messages.json",
            creds,
            {"To": to, "MessagingServiceSid": service_sid, "Body": body},
        )
        sid: str = message["sid"]
        return sid

    def enable_archives(self, tenant: Tenant, webhook_url: str) -> None:
        """Messages exports (BulkExports) on for the tenant's account, notifying ``webhook_url``."""
        self._call(
            "/bulkexports/v1/Exports/Messages/Configuration",
            (tenant.account_sid, tenant.auth_token),
            {"Enabled": "true", "WebhookUrl": webhook_url, "WebhookMethod": "POST"},
        )

    def stream(self, tenant: Tenant, url: str, types: list[str]) -> str:
        """An Event Streams webhook sink in the tenant's account, at ``url``, subscribed to ``types``; the
        subscription's SID."""
        creds = (tenant.account_sid, tenant.auth_token)
        configuration = {"destination": url, "method": "POST", "batch_events": True}
        sink = self._call(
            "/events/v1/Sinks",
            creds,
            {"Description": "events", "SinkType": "webhook", "SinkConfiguration": json.dumps(configuration)},
        )
        fields = [("Description", "events"), ("SinkSid", sink["sid"])]
        fields += [("Types", json.dumps({"type": name})) for name in types]
        subscription = self._call("/events/v1/Subscriptions", creds, fields)
        sid: str = subscription["sid"]
        return sid

    def archive_day(self, tenant: Tenant, day: str) -> int:
        """Make the day's archive of the tenant's messages ready, as Twilio does once the day is over (the
        export's webhook is posted); return the file's size."""
        ready = self.control.call(
            "POST", f"accounts/{tenant.account_sid}/exports/Messages/days", {"day": day}
        )
        size: int = ready["size"]
        return size

    def route(self, host: str, target: str) -> None:
        """Callbacks to ``https://host/...`` reach ``target`` (the sandbox's stand-in Ingress controller)."""
        self.control.call("POST", "routes", {"host": host, "target": target})

    def configure(self, **settings: float) -> None:
        self.control.call("POST", "config", settings)

    def messages(self, account_sid: str | None = None) -> dict[str, Any]:
        """Every message's truth and callbacks (of one account, if given), and how many callbacks (of all
        accounts) are still on their way."""
        result: dict[str, Any] = self.control.call("GET", "messages")
        if account_sid is not None:
            result["messages"] = [m for m in result["messages"] if m["account_sid"] == account_sid]
        return result

    def settled(self) -> bool:
        state = self.messages()
        return all(m["settled"] for m in state["messages"]) and state["callbacks_in_flight"] == 0


def credentials_secret(name: str, namespace: str, subaccount: str, tenant: Tenant) -> str:
    """The Secret the operator writes for ``TwilioSubaccount.spec.credentialsSecretRef`` (as a manifest)."""
    data = {
        "TWILIO_ACCOUNT_SID": base64.b64encode(tenant.account_sid.encode()).decode(),
        "TWILIO_AUTH_TOKEN": base64.b64encode(tenant.auth_token.encode()).decode(),
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "twilio-operator",
                    "twilio.operator.dev/subaccount": subaccount,
                },
            },
            "type": "Opaque",
            "data": data,
        }
    )
