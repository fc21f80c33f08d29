"""The demo's second half: messages sent through the example's Messaging Service, their fate on the page.

The receiver runs for the example's namespace (SQLite in the demo's temporary directory); the emulator's route
table plays the Ingress controller, so the callbacks Twilio addresses to the Ingress host reach it, signed
over that public URL. A few callbacks are dropped, duplicated or reordered, as happens with real Twilio; the
receiver repairs what was lost, and the page's numbers end up equal to what the emulator decided.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from .kubectl import Kubectl
from .processes import SandboxProcess, wait_for
from .receiver import ReceiverProcess
from .traffic import Traffic

MESSAGES = 40
OUTCOMES = ("delivered", "undelivered", "failed")


def _secret(kubectl: Kubectl, name: str, namespace: str) -> dict[str, str]:
    found = kubectl.get("secret", name, namespace)
    if found is None:
        raise RuntimeError(f"Secret {namespace}/{name} not found")
    return {k: base64.b64decode(v).decode() for k, v in found["data"].items()}


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _page_numbers(receiver: ReceiverProcess) -> Counter[str]:
    counts: Counter[str] = Counter()
    for group in _get(f"{receiver.url}/api/summary")["groups"]:
        hour = group["windows"]["hour"]
        for field in ("sent", *OUTCOMES):
            counts[field] += hour[field]
    return counts


def run(
    sandbox: SandboxProcess, kubectl: Kubectl, workdir: Path, objects: list[dict[str, Any]]
) -> tuple[ReceiverProcess, Traffic, str]:
    """Start the receiver, send the messages, wait until the page matches; return the running receiver, the
    traffic client and the namespace."""
    service = next(
        o for o in objects if o["kind"] == "MessagingService" and (o.get("status") or {}).get("sid")
    )
    namespace = service["metadata"]["namespace"]
    callback = service["status"]["webhooks"]["statusCallback"]
    host = urllib.parse.urlsplit(callback).hostname or ""
    key = next(o for o in objects if o["kind"] == "ApiKey" and o["metadata"]["namespace"] == namespace)
    receiver = ReceiverProcess(
        sandbox,
        workdir / "receiver",
        namespace,
        f"sqlite:///{workdir}/receiver.db",
        # Repair quickly in the demo: a message non-terminal for five seconds is fetched from Twilio.
        extra_env={"TWILIO_RECEIVER_REPAIR_AGE": "5", "TWILIO_RECEIVER_REPAIR_INTERVAL": "1"},
    )
    print(f"\nstarting the receiver for namespace {namespace}...")
    receiver.start()
    receiver.wait_ready()
    traffic = Traffic(sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"])
    # The sandbox's stand-in Ingress controller: the Ingress host's callbacks go to the local receiver.
    traffic.route(host, receiver.url)
    traffic.configure(
        message_time_scale=0.3,
        callback_drop_rate=0.05,
        callback_duplicate_rate=0.05,
        callback_reorder_rate=0.05,
    )
    wait_for(
        lambda: "twilio_receiver_credentials_accounts 0.0" not in _text(f"{receiver.url}/metrics"),
        30,
        what="the receiver to read the subaccount's credentials Secret",
    )
    credentials = _secret(kubectl, key["spec"].get("secretName") or key["metadata"]["name"], namespace)
    account = credentials["TWILIO_ACCOUNT_SID"]
    print(f"sending {MESSAGES} messages with the {key['metadata']['name']} API key through {callback} ...")
    for index in range(MESSAGES):
        traffic.send_as(
            account,
            (credentials["TWILIO_API_KEY"], credentials["TWILIO_API_SECRET"]),
            service["status"]["sid"],
            f"+1415555{3000 + index:04d}",
        )
    wait_for(traffic.settled, 60, interval=0.5, what="every message to reach its final status")
    truth = Counter(m["final_status"] for m in traffic.messages(account)["messages"])
    expected = Counter({"sent": MESSAGES, **{k: truth[k] for k in OUTCOMES}})
    try:
        wait_for(lambda: _page_numbers(receiver) == expected, 60, interval=1, what="the page to match Twilio")
    except AssertionError:
        print(
            f"the page shows {dict(_page_numbers(receiver))}, Twilio says {dict(expected)}", file=sys.stderr
        )
        raise
    lost = sum(
        1 for m in traffic.messages(account)["messages"] for cb in m["callbacks"] if cb["fault"] == "dropped"
    )
    print(
        f"Twilio's truth: {truth['delivered']} delivered, {truth['undelivered']} undelivered, "
        f"{truth['failed']} failed; {lost} callbacks were lost on the way, and the receiver fetched those."
    )
    print(f"the page shows the same numbers: {receiver.url}/  (API: {receiver.url}/api/summary)")
    return receiver, traffic, namespace


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())
