"""The real kubectl 1.37 against the emulator (§1.2): apply, get, describe, explain, patch, delete."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import yaml
from conftest import Kubectl, Server, widget_crd

WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
"""


def setup_widgets(kubectl: Kubectl) -> None:
    out = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(widget_crd()))
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" in out.stdout
    kubectl.run("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")


def wait_for(check: Callable[[], Any], limit: float = 10.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {limit}s")


class LineReader:
    """Collects a long-running process's stdout lines in the background."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        while not any(text in line for line in self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not printed; saw {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue


def test_kubectl_version_and_api_resources(kubectl: Kubectl) -> None:
    version = kubectl.run("version", "-o", "json")
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"].startswith("v1.37")
    assert "skew" not in version.stderr.lower()
    setup_widgets(kubectl)
    resources = kubectl.run("api-resources")
    assert resources.stderr == ""
    line = next(row for row in resources.stdout.splitlines() if row.startswith("widgets"))
    assert line.split()[:5] == ["widgets", "wd", "example.com/v1", "true", "Widget"]
    assert "namespaces" in resources.stdout
    assert "ingresses" in resources.stdout


def test_kubectl_apply_get_describe_explain(kubectl: Kubectl, server: Server) -> None:
    setup_widgets(kubectl)
    applied = kubectl.run("apply", "-f", "-", input=WIDGET)
    assert applied.stdout.strip() == "widget.example.com/w1 created"
    assert applied.stderr == ""
    as_yaml = yaml.safe_load(kubectl.run("get", "widget", "w1", "-o", "yaml").stdout)
    assert as_yaml["spec"] == {"size": 3, "color": "red"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in as_yaml["metadata"]["annotations"]
    as_json = kubectl.json("get", "wd", "w1")
    assert as_json["metadata"]["uid"] == as_yaml["metadata"]["uid"]
    listing = kubectl.json("get", "widgets")
    assert listing["kind"] == "List" and len(listing["items"]) == 1
    assert kubectl.run("get", "gadgets", "-o", "name").stdout.strip() == "widget.example.com/w1"
    unchanged = kubectl.run("apply", "-f", "-", input=WIDGET)
    assert unchanged.stdout.strip() == "widget.example.com/w1 unchanged"
    changed = kubectl.run("apply", "-f", "-", input=WIDGET.replace("size: 3", "size: 5"))
    assert changed.stdout.strip() == "widget.example.com/w1 configured"
    assert kubectl.json("get", "widget", "w1")["metadata"]["generation"] == 2

    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "w1.created"},
        "involvedObject": {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "name": "w1",
            "namespace": "default",
            "uid": as_yaml["metadata"]["uid"],
        },
        "reason": "Created",
        "message": "Widget w1 is ready",
        "type": "Normal",
        "source": {"component": "widget-operator"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }
    kubectl.run("apply", "-f", "-", input=json.dumps(event))
    described = kubectl.run("describe", "widget", "w1")
    assert "Name:" in described.stdout and "w1" in described.stdout
    assert "Size:" in described.stdout
    assert "Widget w1 is ready" in described.stdout
    events = kubectl.json("get", "events")
    assert [e["reason"] for e in events["items"]] == ["Created"]
    printed_events = kubectl.run("get", "events").stdout.splitlines()
    assert printed_events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert printed_events[1].split()[1:] == ["Normal", "Created", "widget/w1", "Widget", "w1", "is", "ready"]
    table = kubectl.run("get", "widgets").stdout.splitlines()
    assert [row.split() for row in table] == [["NAME", "SIZE"], ["w1", "5"]]
    wide = kubectl.run("get", "gadgets", "-A", "--show-labels").stdout.splitlines()
    assert wide[0].split() == ["NAMESPACE", "NAME", "SIZE", "LABELS"]

    explained = kubectl.run("explain", "widgets.spec")
    assert "KIND:       Widget" in explained.stdout
    assert "size\t<integer> -required-" in explained.stdout
    assert "enum: red, green, blue" in explained.stdout
    assert "Desired state of the widget." in explained.stdout
    explained_field = kubectl.run("explain", "widgets.spec.color")
    assert "Widget colour." in explained_field.stdout

    requests = server.requests("POST", "/apis/example.com")
    assert requests[0]["query"].get("fieldValidation") == "Strict"


def test_kubectl_validation_errors(kubectl: Kubectl) -> None:
    setup_widgets(kubectl)
    invalid = kubectl.run("apply", "-f", "-", input=WIDGET.replace("size: 3", "size: 30"), check=False)
    assert invalid.returncode != 0
    assert "spec.size" in invalid.stderr
    assert "is invalid" in invalid.stderr
    unknown = kubectl.run("apply", "-f", "-", input=WIDGET + "  bogus: true\n", check=False)
    assert unknown.returncode != 0
    assert 'unknown field "spec.bogus"' in unknown.stderr
    lenient = kubectl.run("apply", "--validate=false", "-f", "-", input=WIDGET + "  bogus: true\n")
    assert "created" in lenient.stdout
    assert "bogus" not in kubectl.json("get", "widget", "w1")["spec"]
    duplicate = kubectl.run("create", "-f", "-", input=WIDGET, check=False)
    assert duplicate.returncode != 0
    assert "AlreadyExists" in duplicate.stderr
    server_dry = kubectl.run(
        "apply", "--dry-run=server", "-f", "-", input=WIDGET.replace("w1", "w9"), check=False
    )
    # The emulator refuses server-side dry runs; kube-apiserver runs them. Neither creates anything.
    assert (server_dry.returncode != 0) == (kubectl.backend == "emulator")
    assert kubectl.run("get", "widget", "w9", check=False).returncode != 0


def test_kubectl_patch_replace_label_annotate(kubectl: Kubectl) -> None:
    setup_widgets(kubectl)
    kubectl.run("apply", "-f", "-", input=WIDGET)
    kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":4}}')
    kubectl.run(
        "patch", "widget", "w1", "--type=json", "-p", '[{"op":"replace","path":"/spec/color","value":"blue"}]'
    )
    kubectl.run(
        "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}'
    )
    current = kubectl.json("get", "widget", "w1")
    assert current["spec"] == {"size": 4, "color": "blue"}
    assert current["status"] == {"phase": "Ready"}
    strategic = kubectl.run("patch", "widget", "w1", "-p", '{"spec":{"size":5}}', check=False)
    assert strategic.returncode != 0
    assert (
        "UnsupportedMediaType" in strategic.stderr
        or "unknown format" in strategic.stderr
        or "415" in strategic.stderr
    )

    current["spec"]["size"] = 7
    replaced = kubectl.run("replace", "-f", "-", input=json.dumps(current))
    assert replaced.stdout.strip() == "widget.example.com/w1 replaced"
    kubectl.run("label", "widget", "w1", "team=blue")
    kubectl.run("annotate", "widget", "w1", "note=hello")
    final = kubectl.json("get", "widget", "w1")
    assert final["spec"]["size"] == 7
    assert final["metadata"]["labels"] == {"team": "blue"}
    assert final["metadata"]["annotations"]["note"] == "hello"
    assert final["status"] == {"phase": "Ready"}
    assert (
        kubectl.run("get", "widgets", "-l", "team=blue", "-o", "name").stdout.strip()
        == "widget.example.com/w1"
    )
    ssa = kubectl.run("apply", "--server-side", "-f", "-", input=WIDGET.replace("w1", "w2"))
    assert "serverside-applied" in ssa.stdout


def test_kubectl_delete_waits_for_finalizers(kubectl: Kubectl) -> None:
    setup_widgets(kubectl)
    kubectl.run("apply", "-f", "-", input=WIDGET)
    plain = kubectl.run("delete", "widget", "w1", "--wait=true", "--timeout=20s")
    assert plain.stdout.startswith('widget.example.com "w1" deleted')
    assert kubectl.run("get", "widget", "w1", check=False).returncode != 0

    held = WIDGET.replace("  name: w1\n", "  name: w1\n  finalizers: [example.com/hold]\n")
    kubectl.run("apply", "-f", "-", input=held)
    deleting = kubectl.popen("delete", "widget", "w1", "--timeout=30s")
    wait_for(lambda: kubectl.json("get", "widget", "w1")["metadata"].get("deletionTimestamp"))
    time.sleep(0.3)
    assert deleting.poll() is None, "kubectl delete returned while the finalizer was still present"
    kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    stdout, stderr = deleting.communicate(timeout=30)
    assert deleting.returncode == 0, stderr
    assert 'widget.example.com "w1" deleted' in stdout
    assert kubectl.run("get", "widget", "w1", check=False).returncode != 0


def test_kubectl_watch_streams_changes(kubectl: Kubectl) -> None:
    setup_widgets(kubectl)
    proc = kubectl.popen("get", "widgets", "-w")
    try:
        reader = LineReader(proc)
        time.sleep(0.5)
        kubectl.run("apply", "-f", "-", input=WIDGET)
        reader.wait_for("w1")
        kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":9}}')
        reader.wait_for("9")
        assert reader.seen[0].split() == ["NAME", "SIZE"]
        assert [line.split() for line in reader.seen[1:3]] == [["w1", "3"], ["w1", "9"]]
        waiter = kubectl.popen("wait", "--for=delete", "widget/w1", "--timeout=20s")
        kubectl.run("delete", "widget", "w1", "--wait=false")
        assert waiter.wait(20) == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_kubectl_builtins_secret_ingress_deployment(kubectl: Kubectl) -> None:
    manifests = """\
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: team-a
stringData:
  TWILIO_API_SECRET: hunter2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  region: us1
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: hooks
  namespace: team-a
spec:
  rules:
  - host: hooks.example.com
    http:
      paths:
      - path: /twilio
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1
        env:
        - {name: A, value: "1"}
      - name: sidecar
        image: busybox
"""
    first = kubectl.run("apply", "-f", "-", input=manifests)
    assert first.stderr == ""
    for line in (
        "namespace/team-a created",
        "secret/creds created",
        "ingress.networking.k8s.io/hooks created",
        "deployment.apps/web created",
        "configmap/settings created",
    ):
        assert line in first.stdout
    secret = kubectl.json("get", "secret", "creds", "-n", "team-a")
    assert secret["data"] == {"TWILIO_API_SECRET": "aHVudGVyMg=="}
    assert "stringData" not in secret
    assert secret["type"] == "Opaque"
    second = kubectl.run(
        "apply", "-f", "-", input=manifests.replace("nginx:1", "nginx:2").replace("/twilio", "/sms")
    )
    assert "deployment.apps/web configured" in second.stdout
    assert "ingress.networking.k8s.io/hooks configured" in second.stdout
    containers = kubectl.json("get", "deploy", "web", "-n", "team-a")["spec"]["template"]["spec"][
        "containers"
    ]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:2"), ("sidecar", "busybox")]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}]
    ingress = kubectl.json("get", "ingress", "hooks", "-n", "team-a")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/sms"
    listing = kubectl.json("get", "ingresses", "-A")
    assert [i["metadata"]["name"] for i in listing["items"]] == ["hooks"]
    kubectl.run("label", "ingress", "hooks", "-n", "team-a", "tier=edge")
    assert kubectl.json("get", "ing", "hooks", "-n", "team-a")["metadata"]["labels"] == {"tier": "edge"}

    namespaces = kubectl.json("get", "namespaces")
    assert "team-a" in [n["metadata"]["name"] for n in namespaces["items"]]
    rendered = kubectl.run(
        "create",
        "configmap",
        "generated",
        "-n",
        "team-a",
        "--from-literal=k=v",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    kubectl.run("apply", "-f", "-", input=rendered.stdout)
    assert kubectl.json("get", "cm", "generated", "-n", "team-a")["data"] == {"k": "v"}


def test_kubectl_delete_namespace_cascades(kubectl: Kubectl) -> None:
    setup_widgets(kubectl)
    kubectl.run("create", "namespace", "doomed", "--dry-run=client", "-o", "yaml")
    kubectl.run("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n")
    kubectl.run("apply", "-n", "doomed", "-f", "-", input=WIDGET)
    kubectl.run(
        "apply",
        "-n",
        "doomed",
        "-f",
        "-",
        input="apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: b\n",
    )
    deleted = kubectl.run("delete", "namespace", "doomed", "--timeout=30s")
    assert deleted.stdout.startswith('namespace "doomed" deleted')
    assert kubectl.run("get", "namespace", "doomed", check=False).returncode != 0
    assert kubectl.json("get", "widgets", "-A")["items"] == []
    assert kubectl.json("get", "secrets", "-A")["items"] == []


def test_kubectl_cascade_foreground_and_orphan(kubectl: Kubectl) -> None:
    setup_widgets(kubectl)
    for name in ("fg", "orph"):
        kubectl.run("apply", "-f", "-", input=WIDGET.replace("w1", name))
        uid = kubectl.json("get", "widget", name)["metadata"]["uid"]
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"{name}-child",
                "ownerReferences": [
                    {
                        "apiVersion": "example.com/v1",
                        "kind": "Widget",
                        "name": name,
                        "uid": uid,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
        }
        kubectl.run("apply", "-f", "-", input=json.dumps(child))
    # The real garbage collector learns of a new CRD at its next discovery pass, up to 30 s later.
    kubectl.run("delete", "widget", "fg", "--cascade=foreground", "--timeout=90s", limit=120)
    assert kubectl.run("get", "cm", "fg-child", check=False).returncode != 0
    kubectl.run("delete", "widget", "orph", "--cascade=orphan", "--timeout=90s", limit=120)
    orphan = kubectl.json("get", "cm", "orph-child")
    assert "ownerReferences" not in orphan["metadata"]


def test_kubectl_imperative_create_uses_protobuf_and_is_refused(kubectl: Kubectl) -> None:
    result = kubectl.run("create", "secret", "generic", "s", "--from-literal=a=b", check=False)
    if result.returncode == 0:
        # Newer kubectl builds may send JSON; then the secret must really exist.
        assert kubectl.json("get", "secret", "s")["data"] == {"a": "Yg=="}
    else:
        assert (
            "415" in result.stderr
            or "UnsupportedMediaType" in result.stderr
            or "unknown format" in result.stderr
        )
