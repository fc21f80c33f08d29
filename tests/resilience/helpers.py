"""Helpers the resilience tests share (the end-to-end helpers, plus what crash tests need)."""

from __future__ import annotations

from typing import Any

from chaos.control import KubeControl, TwilioSide

from tests.e2e.helpers import conditions, manifest, ready, reason
from tests.e2e.helpers import secret_data as read_secret
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import wait_for

__all__ = [
    "SEEN_SECRETS",
    "conditions",
    "keys_named",
    "manifest",
    "ready",
    "reason",
    "secret_data",
    "services_named",
    "subaccount",
    "wait_for",
]


# Every secret a resilience test has read, rotated-out ones included: the last test scans all output for them.
SEEN_SECRETS: set[str] = set()


def secret_data(kubectl: Kubectl, name: str, namespace: str) -> dict[str, str] | None:
    data = read_secret(kubectl, name, namespace)
    for field in ("TWILIO_API_SECRET", "TWILIO_AUTH_TOKEN"):
        if data and data.get(field):
            SEEN_SECRETS.add(data[field])
    return data


def subaccount(kubectl: Kubectl, namespace: str, name: str = "sub", **spec: Any) -> str:
    """A Ready TwilioSubaccount; returns its SID."""
    kubectl.apply(manifest("TwilioSubaccount", name, **spec), namespace)
    return str(ready(kubectl, "twiliosubaccount", name, namespace, timeout=60)["status"]["sid"])


def keys_named(twilio: TwilioSide, friendly_name: str) -> list[str]:
    return sorted(k["sid"] for k in twilio.state()["keys"] if k["friendly_name"] == friendly_name)


def services_named(twilio: TwilioSide, friendly_name: str) -> list[str]:
    return sorted(s["sid"] for s in twilio.state()["services"] if s["friendly_name"] == friendly_name)


def kube_writes(kube: KubeControl, since: int, method: str, path_suffix: str) -> list[dict[str, Any]]:
    """Requests to the Kubernetes emulator since `since` with this method whose path ends so."""
    found, _ = kube.requests(since, method=method)
    return [r for r in found if r["path"].endswith(path_suffix)]


def annotate(kubectl: Kubectl, kind: str, name: str, namespace: str, **annotations: str) -> None:
    pairs = [f"twilio.operator.dev/{k.replace('_', '-')}={v}" for k, v in annotations.items()]
    kubectl.run("annotate", "--overwrite", kind, name, "-n", namespace, *pairs)


def tracebacks(log: str) -> list[tuple[str, str]]:
    """Each traceback in an operator log: (the log line that introduced it, its final exception line)."""
    found: list[tuple[str, str]] = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        intro = lines[i - 1] if i else ""
        final = next(
            (
                candidate
                for candidate in lines[i + 1 :]
                if candidate and not candidate.startswith((" ", "\t", "Traceback", "The above", "During"))
            ),
            "",
        )
        found.append((intro, final))
    return found
