"""The demo's last step: the subaccount's spend this month, a usage alert that fired, and the tree.

The operator reads each subaccount's usage on its own interval (5 s in the demo, 15 min by default); the
messages the demo sent reach the example's `monthly-volume` threshold, Twilio fires the trigger, and the
operator posts a Warning Event `UsageAlert` on the TwilioSubaccount.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from typing import Any

from .kubectl import Kubectl
from .processes import BIN, wait_for
from .traffic import Traffic

# The demo reads usage this often, to show it within seconds of the messages.
USAGE_INTERVAL = "5"


def _events(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    selector = f"involvedObject.name={name},reason=UsageAlert"
    listed = kubectl.run("get", "events", "-n", namespace, "--field-selector", selector, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(listed)["items"]
    return items


def run(
    kubectl: Kubectl, traffic: Traffic, objects: list[dict[str, Any]], namespace: str, receiver_url: str
) -> None:
    subaccount = next(
        o for o in objects if o["kind"] == "TwilioSubaccount" and o["metadata"]["namespace"] == namespace
    )
    name, account = subaccount["metadata"]["name"], subaccount["status"]["sid"]
    sent = sum(1 for m in traffic.messages(account)["messages"] if m["final_status"] != "failed")
    print(f"\nwaiting for {name}'s usage this month ({sent} messages sent) and its usage alerts...")

    def counted() -> dict[str, Any] | None:
        found = kubectl.get("twiliosubaccount", name, namespace) or {}
        usage = (found.get("status") or {}).get("usage") or {}
        return found if usage.get("smsOutbound") == sent else None

    wait_for(counted, 60, interval=0.5, what=f"status.usage of {name} to count {sent} messages")
    print(kubectl.run("get", "twiliosubaccount", name, "-n", namespace).stdout.rstrip())
    fired = wait_for(lambda: _events(kubectl, namespace, name), 60, interval=0.5, what="a UsageAlert Event")
    for event in fired:
        print(f"Event {event['type']} {event['reason']} on twiliosubaccount/{name}: {event['message']}")

    def recorded() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{receiver_url}/api/usage-alerts", timeout=10) as response:
            alerts: list[dict[str, Any]] = json.loads(response.read())["usageAlerts"]
            return alerts

    for alert in wait_for(recorded, 30, interval=0.5, what="the receiver to record the usage alert"):
        print(
            f"the receiver recorded Twilio's signed callback: {alert['alert']} of {alert['subaccount']}, "
            f"{alert['usageCategory']} {alert['triggerBy']} {alert['currentValue']:g} "
            f"(threshold {alert['triggerValue']:g}) ({receiver_url}/api/usage-alerts)"
        )
    print(f"\n$ twilio-operator tree -n {namespace}")
    drawn = subprocess.run(
        [str(BIN / "twilio-operator"), "tree", "-n", namespace, "--kubeconfig", str(kubectl.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "KUBECTL": str(BIN / "kubectl")},
    )
    print(drawn.stdout.rstrip())
