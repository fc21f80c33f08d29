"""`twilio-operator demo`: the sandbox, the operator, the examples applied, both sides shown; then the
receiver, messages sent and their delivery page."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import demo_delivery, demo_usage
from .kubectl import Kubectl
from .processes import OperatorProcess, SandboxProcess, wait_for
from .receiver import ReceiverProcess
from .twilio_control import TwilioControl


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _settled(obj: dict[str, Any]) -> bool:
    conds = _conditions(obj)
    return conds.get("Ready", {}).get("status") == "True" and conds.get("Synced", {}).get("status") == "True"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def _kube_rows(objects: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["NAMESPACE", "KIND", "NAME", "READY", "SYNCED", "SID"]]
    for obj in objects:
        conds = _conditions(obj)
        ready, synced = conds.get("Ready", {}), conds.get("Synced", {})
        rows.append(
            [
                obj["metadata"]["namespace"],
                obj["kind"],
                obj["metadata"]["name"],
                f"{ready.get('status', '-')} ({ready.get('reason', '')})",
                f"{synced.get('status', '-')} ({synced.get('reason', '')})",
                str((obj.get("status") or {}).get("sid", "")),
            ]
        )
    return rows


def _twilio_rows(state: dict[str, Any]) -> list[list[str]]:
    rows = [["TWILIO OBJECT", "SID", "FRIENDLY NAME", "STATUS / ACCOUNT"]]
    for account in state.get("accounts", []):
        rows.append(
            ["account", account["sid"], str(account.get("friendly_name")), str(account.get("status"))]
        )
    for key in state.get("keys", []):
        rows.append(["api key", key["sid"], str(key.get("friendly_name")), str(key.get("account"))])
    for number in state.get("incoming_phone_numbers", []):
        rows.append(
            ["phone number", number["sid"], str(number.get("phone_number")), str(number.get("account"))]
        )
    for sink in state.get("sinks", []):
        rows.append(["event sink", sink["sid"], str(sink.get("description")), str(sink.get("account"))])
    for subscription in state.get("subscriptions", []):
        rows.append(
            [
                "subscription",
                subscription["sid"],
                str(subscription.get("description")),
                str(subscription.get("account")),
            ]
        )
    for service in state.get("services", []):
        rows.append(
            [
                "messaging service",
                service["sid"],
                str(service.get("friendly_name")),
                str(service.get("account")),
            ]
        )
    return rows


# Numbers the sandbox's parent account holds before the examples are applied.
DEMO_NUMBERS = ("+14155550100",)


def main(examples: Path, timeout: float, wait: bool | None = None) -> int:
    """Run the demo; with ``wait`` (default: when stdin is a terminal) keep it up until Enter or Ctrl-C."""
    with tempfile.TemporaryDirectory(prefix="twilio-operator-demo-") as tmp:
        workdir = Path(tmp)
        sandbox = SandboxProcess(workdir / "sandbox")
        operator = OperatorProcess(
            sandbox, workdir, {"TWILIO_OPERATOR_USAGE_INTERVAL": demo_usage.USAGE_INTERVAL}
        )
        receiver: ReceiverProcess | None = None
        try:
            print("starting the sandbox (Kubernetes API and Twilio API emulators)...")
            sandbox.start()
            print(f"  kubernetes {sandbox.kube_url}, twilio {sandbox.twilio_url}")
            print("starting the operator...")
            operator.start()
            kubectl = Kubectl(sandbox.kubeconfig, workdir / "kubectl-cache")
            control = TwilioControl(sandbox.twilio_url)
            for number in DEMO_NUMBERS:
                # What the parent account already holds before the operator is installed (bought in the
                # Console); examples/quickstart's PhoneNumber moves it into the subaccount.
                bought = control.buy_number(sandbox.env["TWILIO_ACCOUNT_SID"], number)
                print(f"the parent account holds {number} ({bought})")
            print(f"applying {examples}/ with kubectl...")
            print(kubectl.run("apply", "-f", str(examples)).stdout.rstrip())

            def listed() -> list[dict[str, Any]]:
                items: list[dict[str, Any]] = json.loads(
                    kubectl.run("get", "twilio", "-A", "-o", "json").stdout
                )["items"]
                return items

            print(f"waiting up to {timeout:.0f}s for every object to be Ready and Synced...")
            try:
                wait_for(
                    lambda: (items := listed()) and all(_settled(o) for o in items), timeout, interval=0.5
                )
            except AssertionError:
                print("\n" + _table(_kube_rows(listed())))
                print(
                    "\ndemo failed: not every object became Ready; the operator's log ends with:",
                    file=sys.stderr,
                )
                print(operator.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
                return 1
            print("\nKubernetes:\n" + _table(_kube_rows(listed())))
            print("\nTwilio:\n" + _table(_twilio_rows(control.state())))
            print("\nWebhook URLs resolved from Ingresses:")
            for obj in listed():
                status = obj.get("status") or {}
                hooks = dict(status.get("webhooks") or {})
                if obj["kind"] == "EventStream" and (status.get("destination") or {}).get("url"):
                    hooks["sink"] = status["destination"]["url"]
                for name, url in sorted(hooks.items()):
                    if url:
                        print(f"  {obj['kind']} {obj['metadata']['name']} {name}: {url}")
            for obj in listed():
                status = obj.get("status") or {}
                if obj["kind"] == "PhoneNumber":
                    print(
                        f"\nPhoneNumber {obj['metadata']['name']}: {status.get('phoneNumber')} "
                        f"({status.get('sid')}) moved from the parent into subaccount "
                        f"{status.get('accountSid')}"
                    )
            secrets = kubectl.run(
                "get", "secrets", "-A", "-l", "app.kubernetes.io/managed-by=twilio-operator", "-o", "name"
            ).stdout.split()
            if secrets:
                print("\nSecrets written by the operator (values not shown): " + ", ".join(secrets))
            if any(o["kind"] == "MessagingService" for o in listed()):
                receiver, traffic, namespace = demo_delivery.run(sandbox, kubectl, workdir, listed())
                demo_usage.run(kubectl, traffic, listed(), namespace, receiver.url)
            print("\ndemo succeeded")
            if receiver is not None and (sys.stdin.isatty() if wait is None else wait):
                with contextlib.suppress(KeyboardInterrupt, EOFError):
                    input(f"\nthe delivery page is at {receiver.url}/ - press Enter to stop the demo ")
            return 0
        except (AssertionError, RuntimeError, OSError) as error:
            print(f"demo failed: {error}", file=sys.stderr)
            return 1
        finally:
            if receiver is not None:
                receiver.stop()
            operator.stop()
            sandbox.stop()
