"""kopf 1.45 against the emulator: acceptance scenarios 2, 3, 5, 7 and 8 of k8s-api-behaviours.md §3.17."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import kubernetes
import pytest
import yaml
from conftest import GC_LIMIT, Kubectl, Server, ThreadedEmulator, widget_crd
from kopf.testing import KopfRunner

WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: {size}\n"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


class Calls:
    """What the operator's handlers did, recorded from kopf's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[tuple[Any, ...]] = []

    def add(self, *item: Any) -> None:
        with self._lock:
            self.items.append(item)

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [item for item in self.items if item[0] == kind]


def operator_registry(kubeconfig: Path, calls: Calls) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    client: Any = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    core: Any = kubernetes.client.CoreV1Api(client)

    @kopf.on.login(registry=registry)
    def login_fn(**kwargs: Any) -> Any:
        # A registry of our own has none of kopf's default login handlers.
        return kopf.login_via_client(**kwargs)

    @kopf.on.create("example.com", "v1", "widgets", registry=registry)
    def create_fn(spec: Any, name: str, namespace: str | None, body: Any, patch: Any, **_: Any) -> None:
        calls.add("create", name, spec["size"])
        secret: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}-secret"},
            "stringData": {"size": str(spec["size"])},
        }
        kopf.adopt(secret, owner=body)
        core.create_namespaced_secret(namespace, secret)
        patch.status["size"] = spec["size"]
        patch.status["phase"] = "Created"
        kopf.info(body, reason="SecretCreated", message=f"created {name}-secret")

    @kopf.on.update("example.com", "v1", "widgets", registry=registry)
    def update_fn(spec: Any, name: str, diff: Any, patch: Any, meta: Any, **_: Any) -> None:
        changes = [(op, tuple(field), old, new) for op, field, old, new in diff]
        calls.add("update", name, changes, meta["generation"])
        patch.status["size"] = spec["size"]
        patch.status["phase"] = "Updated"

    @kopf.on.delete("example.com", "v1", "widgets", registry=registry)
    def delete_fn(name: str, **_: Any) -> None:
        calls.add("delete", name)

    return registry


def operator_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.watching.reconnect_backoff = 0.1
    return settings


def wait_for(check: Callable[[], Any], limit: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


# KopfRunner runs kopf in a thread, where kopf always warns that it cannot install signal handlers.
_RUNNER_ARTEFACTS = ("OS signals are ignored: running not in the main thread.",)


class KopfLog(logging.Handler):
    """kopf's log records as they happen (KopfRunner only exposes its output once the operator exits)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in list(self.records)]

    def problems(self) -> list[str]:
        return [
            f"{record.levelname} {record.getMessage()}"
            for record in list(self.records)
            if record.levelno >= logging.WARNING
            and not any(a in record.getMessage() for a in _RUNNER_ARTEFACTS)
        ]


@pytest.fixture
def kopf_log() -> Iterator[KopfLog]:
    handler = KopfLog()
    logger = logging.getLogger("kopf")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def kopf_env(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # The kubernetes client resolved $KUBECONFIG when it was imported; kopf logs in through it.
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    yield kubeconfig


def run_operator(registry: kopf.OperatorRegistry) -> KopfRunner:
    return KopfRunner(
        ["run", "--standalone", "--verbose", "-n", "default"],
        registry=registry,
        settings=operator_settings(),
        timeout=30,
    )


def secret_of(kubectl: Kubectl) -> dict[str, Any] | None:
    result = kubectl.run("get", "secret", "w1-secret", "-o", "json", check=False)
    if result.returncode != 0:
        return None
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def install_widgets(server: Server, kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(widget_crd()))
    kubectl.run("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
    # Established is not yet served: kube-apiserver answers 429 while a new CRD's storage initialises,
    # which kopf would log as an error. Start the operator once a list succeeds.
    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    wait_for(lambda: server.status_of(widgets) == 200, what="the widgets storage serving")


def test_kopf_operator_lifecycle(server: Server, kubectl: Kubectl, kopf_env: Path, kopf_log: KopfLog) -> None:
    install_widgets(server, kubectl)
    calls = Calls()
    registry = operator_registry(kopf_env, calls)

    with run_operator(registry) as runner:
        # Scenario 2: apply, finalizer, create handler, child Secret with the owner's uid, persisted status.
        kubectl.run("apply", "-f", "-", input=WIDGET.format(size=3))
        wait_for(lambda: calls.of("create"), what="the create handler")
        widget = wait_for(
            lambda: (
                (w := kubectl.json("get", "widget", "w1")).get("status", {}).get("phase") == "Created" and w
            ),
            what="status written by the create handler",
        )
        assert FINALIZER in widget["metadata"]["finalizers"]
        assert widget["status"]["size"] == 3
        secret = wait_for(lambda: secret_of(kubectl), what="the child secret")
        owner = secret["metadata"]["ownerReferences"][0]
        assert owner["uid"] == widget["metadata"]["uid"]
        assert owner["kind"] == "Widget"
        assert base64.b64decode(secret["data"]["size"]) == b"3"
        finalizer_patch = server.requests("PATCH", "/apis/example.com")
        # The real API server's audit log has no bodies (Metadata level): the emulator's log shows the patch.
        assert server.backend != "emulator" or any(
            r["content_type"].startswith("application/json-patch+json")
            and any(
                op.get("op") == "test" and op.get("path") == "/metadata/resourceVersion"
                for op in r["body"] or []
            )
            for r in finalizer_patch
        ), "kopf adds its finalizer with a JSON patch guarded by a resourceVersion test"

        # Scenario 3: re-apply with a changed spec.
        kubectl.run("apply", "-f", "-", input=WIDGET.format(size=5))
        update = wait_for(lambda: calls.of("update"), what="the update handler")[0]
        assert ("change", ("spec", "size"), 3, 5) in update[2]
        assert update[3] == 2
        wait_for(
            lambda: kubectl.json("get", "widget", "w1").get("status", {}).get("size") == 5,
            what="status size 5",
        )
        assert kubectl.json("get", "widget", "w1")["metadata"]["generation"] == 2
    assert runner.exception is None
    assert runner.exit_code == 0
    assert kopf_log.problems() == []

    # Scenario 7: a restarted operator does not run the create handler again.
    with run_operator(registry) as runner:
        kubectl.run("apply", "-f", "-", input=WIDGET.format(size=6))
        wait_for(lambda: len(calls.of("update")) >= 2, what="the update handler after the restart")
        assert len(calls.of("create")) == 1

        # Scenario 8: compaction drops the watch streams; kopf gets 410, re-lists and keeps handling updates.
        # Only the emulator can be told to compact and drop watches; a real one just goes on serving.
        if isinstance(server, ThreadedEmulator):
            server.control("POST", "compact", {"drop_watches": True})
            wait_for(
                lambda: any("Restarting the watch-stream for widgets" in m for m in kopf_log.messages()),
                what="kopf restarting its watch on 410",
            )
        kubectl.run("apply", "-f", "-", input=WIDGET.format(size=7))
        wait_for(lambda: len(calls.of("update")) >= 3, what="the update handler after the compaction")
        assert calls.of("update")[-1][2] == [("change", ("spec", "size"), 6, 7)]

        # Scenario 5: delete blocks until kopf removes its finalizer; then the child Secret is collected.
        started = time.monotonic()
        deleted = kubectl.run("delete", "widget", "w1", "--timeout=30s")
        assert deleted.stdout.startswith('widget.example.com "w1" deleted')
        assert calls.of("delete") == [("delete", "w1")]
        assert time.monotonic() - started < 15
        assert kubectl.run("get", "widget", "w1", check=False).returncode != 0
        server.settle_gc()
        wait_for(lambda: secret_of(kubectl) is None, limit=GC_LIMIT, what="the child secret collected")
        events = kubectl.json("get", "events")["items"]
        posted = [e for e in events if e["reason"] == "SecretCreated"]
        assert posted and posted[0]["source"]["component"] == "kopf"
        assert posted[0]["involvedObject"]["name"] == "w1"
        assert posted[0]["message"] == "created w1-secret"
    assert runner.exception is None
    assert runner.exit_code == 0
    assert kopf_log.problems() == []
    assert server_errors(server) == 0


async def _send_all(
    server: Server, requests: list[tuple[str, str, Any, str]], parallel: int = 20
) -> list[int]:
    """Send (method, path, body, content type) requests with bounded concurrency; return the statuses."""
    limit = asyncio.Semaphore(parallel)

    async def one(
        session: aiohttp.ClientSession, method: str, path: str, body: Any, content_type: str
    ) -> int:
        data = json.dumps(body) if body is not None else None
        async with (
            limit,
            session.request(
                method, server.url + path, data=data, headers={"Content-Type": content_type}
            ) as response,
        ):
            await response.read()
            return response.status

    async with server.session() as session:
        return list(await asyncio.gather(*(one(session, *request) for request in requests)))


def send_all(server: Server, requests: list[tuple[str, str, Any, str]]) -> list[int]:
    return asyncio.run(_send_all(server, requests))


def server_errors(server: Server) -> int:
    """Requests the server answered with 500: from the emulator's counters or the real one's audit log."""
    if isinstance(server, ThreadedEmulator):
        return int(server.control("GET", "stats")["by_status"].get("500", 0))
    return sum(1 for r in server.requests() if r["status"] == 500)


def test_X3_kopf_load_200_widgets(
    server: Server, kubectl: Kubectl, kopf_env: Path, kopf_log: KopfLog
) -> None:
    count = 200
    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    merge = "application/merge-patch+json"
    install_widgets(server, kubectl)
    calls = Calls()
    with run_operator(operator_registry(kopf_env, calls)) as runner:
        creates = [
            (
                "POST",
                widgets,
                {
                    "apiVersion": "example.com/v1",
                    "kind": "Widget",
                    "metadata": {"name": f"w{i}"},
                    "spec": {"size": 3},
                },
                "application/json",
            )
            for i in range(count)
        ]
        assert send_all(server, creates) == [201] * count
        wait_for(lambda: len(calls.of("create")) >= count, limit=60, what="200 create handlers")

        updates = [("PATCH", f"{widgets}/w{i}", {"spec": {"size": 5}}, merge) for i in range(count)]
        annotations = [
            (
                "PATCH",
                f"{widgets}/w{i}",
                {"metadata": {"annotations": {"example.com/touched": str(n)}}},
                merge,
            )
            for n in range(2)
            for i in range(count)
        ]
        mixed = [request for pair in zip(updates, annotations[:count], strict=True) for request in pair]
        statuses = send_all(server, mixed + annotations[count:])
        assert set(statuses) == {200}
        wait_for(lambda: len(calls.of("update")) >= count, limit=60, what="200 update handlers")

        deletes = [("DELETE", f"{widgets}/w{i}", None, "application/json") for i in range(count)]
        assert set(send_all(server, deletes)) == {200}
        wait_for(lambda: len(calls.of("delete")) >= count, limit=60, what="200 delete handlers")
        wait_for(lambda: kubectl.json("get", "widgets")["items"] == [], limit=60, what="all widgets gone")
        server.settle_gc()
        wait_for(
            lambda: kubectl.json("get", "secrets")["items"] == [], limit=GC_LIMIT, what="secrets collected"
        )
    assert runner.exception is None
    assert len(calls.of("create")) == count
    assert kopf_log.problems() == []
    assert server_errors(server) == 0
