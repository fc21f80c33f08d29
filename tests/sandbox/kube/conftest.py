"""Fixtures for the Kubernetes API emulator tests: raw HTTP, kubectl and kopf against a backend.

Every test that uses the `backend` fixture (through `http`, `kube`, `server`, `kubeconfig` or `kubectl`) runs
twice: against the emulator and against the real kube-apiserver (scripts/controlplane.sh; skipped with the
reason when it is not built). A test that needs the emulator's insides or its /__sandbox/ control endpoints
is marked `@pytest.mark.emulator_only("why")` and runs against the emulator alone.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from kube_backends import RealCluster

from twilio_operator.sandbox.controlplane import audit
from twilio_operator.sandbox.controlplane.binaries import find as find_control_plane
from twilio_operator.sandbox.controlplane.errors import ControlPlaneUnavailable
from twilio_operator.sandbox.kube import KubeEmulator, kubeconfig_yaml

T = TypeVar("T")
JsonObj = dict[str, Any]

WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
BACKENDS = ("emulator", "apiserver")
# How long garbage collection may take. The emulator's collector runs within milliseconds; the real one
# learns of a new CRD's resource only at its next discovery pass, every 30 seconds, and then waits for its
# informers to sync: on a busy machine that has taken more than two passes.
GC_LIMIT = 120.0


def widget_crd(
    *,
    group: str = "example.com",
    plural: str = "widgets",
    kind: str = "Widget",
    status: bool = True,
    scope: str = "Namespaced",
) -> JsonObj:
    version: JsonObj = {
        "name": "v1",
        "served": True,
        "storage": True,
        "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "description": "A Widget is a test resource.",
                "properties": {
                    "spec": {
                        "type": "object",
                        "description": "Desired state of the widget.",
                        "required": ["size"],
                        "properties": {
                            "size": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 10,
                                "description": "How big.",
                            },
                            "color": {
                                "type": "string",
                                "enum": ["red", "green", "blue"],
                                "default": "red",
                                "description": "Widget colour.",
                            },
                            "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]+$", "maxLength": 8},
                            "note": {"type": "string", "nullable": True},
                            "port": {"x-kubernetes-int-or-string": True},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "limits": {
                                "type": "object",
                                "properties": {"cpu": {"type": "integer", "default": 1}},
                            },
                            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    },
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": ["wd"] if plural == "widgets" else [],
                "categories": ["gadgets"],
            },
            "versions": [version],
        },
    }


def widget(name: str = "w1", size: int = 3, **extra: Any) -> JsonObj:
    body: JsonObj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, **extra.pop("metadata", {})},
        "spec": {"size": size, **extra.pop("spec", {})},
    }
    body.update(extra)
    return body


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None

    def fields(self) -> list[str]:
        causes = ((self.body or {}).get("details") or {}).get("causes") or []
        return [cause.get("field") for cause in causes]


class Http:
    """Raw HTTP against the backend; every call returns status, decoded body and headers."""

    def __init__(self, session: aiohttp.ClientSession, base: str, cluster: RealCluster | None = None) -> None:
        self.session = session
        self.base = base
        self.cluster = cluster
        self.backend = "emulator" if cluster is None else "apiserver"

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = dict(headers or {})
        if data is not None:
            all_headers["Content-Type"] = content_type
        async with self.session.request(
            method, self.base + path, data=data, params=params, headers=all_headers
        ) as r:
            text = await r.read()
            try:
                decoded = json.loads(text) if text else None
            except ValueError:
                # Plain text, or protobuf from a real API server.
                decoded = text.decode(errors="replace")
            return Reply(r.status, decoded, r.headers)

    async def get(self, path: str, **params: str) -> Reply:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: Any, **params: str) -> Reply:
        return await self.request("POST", path, body, params=params or None)

    async def put(self, path: str, body: Any, **params: str) -> Reply:
        return await self.request("PUT", path, body, params=params or None)

    async def merge(self, path: str, body: Any, **params: str) -> Reply:
        return await self.request(
            "PATCH", path, body, content_type="application/merge-patch+json", params=params or None
        )

    async def jsonpatch(self, path: str, ops: list[JsonObj], **params: str) -> Reply:
        return await self.request(
            "PATCH", path, ops, content_type="application/json-patch+json", params=params or None
        )

    async def apply(self, path: str, body: Any, **params: str) -> Reply:
        return await self.request(
            "PATCH",
            path,
            raw=json.dumps(body).encode(),
            content_type="application/apply-patch+yaml",
            params=params,
        )

    async def delete(self, path: str, body: Any = None, **params: str) -> Reply:
        return await self.request("DELETE", path, body, params=params or None)

    async def install_crd(self, crd: JsonObj) -> None:
        """Create the CRD, or replace the one of that name, and wait until it is Established."""
        if self.cluster is None:
            # The emulator establishes a CRD in the request that creates it.
            assert (await self.post(CRDS, crd)).status == 201
        else:
            await asyncio.to_thread(self.cluster.plane.install_crds, [crd])

    async def settle_gc(self) -> None:
        """The emulator's garbage collector has nothing pending. A real one cannot be asked: tests that
        expect something collected wait for it with `eventually`."""
        if self.backend == "emulator":
            reply = await self.request("POST", "/__sandbox/gc/settle")
            assert reply.status == 200 and reply.body["settled"] is True

    async def served(self, path: str, limit: float = 30.0) -> Reply:
        """GET `path` until it answers 200. The emulator serves a new CRD's discovery and OpenAPI in the
        request that creates it; kube-apiserver's controllers publish them moments later."""

        async def ok() -> Reply | None:
            reply = await self.get(path)
            return reply if reply.status == 200 else None

        return await eventually(ok, limit=limit)

    async def gone(self, path: str, limit: float = GC_LIMIT) -> None:
        async def absent() -> bool:
            return (await self.get(path)).status == 404

        await eventually(absent, limit=limit)

    async def watch(
        self,
        path: str,
        *,
        params: dict[str, str] | None = None,
        count: int | None = None,
        until: Callable[[JsonObj], bool] | None = None,
        limit: float = 5.0,
        during: Callable[[], Coroutine[Any, Any, Any]] | None = None,
    ) -> tuple[list[JsonObj], Any]:
        """Read watch events until `count` arrived, `until` matched, the server closed, or `limit` passed."""
        events: list[JsonObj] = []
        query = {"watch": "true", **(params or {})}
        async with self.session.get(self.base + path, params=query) as response:
            if response.status != 200:
                return [{"status": response.status, "body": await response.json()}], response.headers
            if during is not None:
                asyncio.get_running_loop().create_task(during())
            try:
                async with asyncio.timeout(limit):
                    async for line in response.content:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        events.append(event)
                        if count is not None and len(events) >= count:
                            break
                        if until is not None and until(event):
                            break
            except TimeoutError:
                pass
            return events, response.headers


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator_only(reason): runs against the emulator only (its insides or control endpoints)"
    )


# Fixtures that only the emulator has: a test taking one of them directly must say why it is emulator_only.
EMULATOR_ONLY_FIXTURES = {"emulator", "threaded"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("emulator_only")
        if only is not None and not only.args:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: emulator_only needs a reason")
        direct = EMULATOR_ONLY_FIXTURES & set(inspect.signature(metafunc.function).parameters)
        if direct and only is None:
            names = ", ".join(sorted(direct))
            raise pytest.UsageError(f"{metafunc.definition.nodeid} takes {names}: mark it emulator_only(why)")
        metafunc.parametrize("backend", ["emulator"] if only else list(BACKENDS), indirect=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say once why the real-API-server variants did not run, however quiet the run is."""
    try:
        find_control_plane()
    except ControlPlaneUnavailable as error:
        terminalreporter.write_line(f"kube suite: real-API-server variants skipped: {error}")


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """One real control plane for the whole session (it takes seconds to start), reset before each test."""
    try:
        find_control_plane()
    except ControlPlaneUnavailable as error:
        pytest.skip(f"real API server: {error}")
    cluster = RealCluster(tmp_path_factory.mktemp("controlplane") / "state")
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "apiserver":
        cluster: RealCluster = request.getfixturevalue("real_cluster")
        # `kube` tests start with the Widget CRD installed, the others with none: as a fresh emulator would.
        wants_widgets = "kube" in request.fixturenames
        cluster.reset(widget_crd() if wants_widgets else None)
    return name


@pytest.fixture
async def emulator(backend: str) -> AsyncIterator[KubeEmulator | None]:
    """A fresh emulator, or None on the real backend (a test that asks for it is emulator_only)."""
    if backend != "emulator":
        yield None
        return
    emu = KubeEmulator(bookmark_interval=0.2)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def http(emulator: KubeEmulator | None, request: pytest.FixtureRequest) -> AsyncIterator[Http]:
    if emulator is not None:
        async with aiohttp.ClientSession() as session:
            yield Http(session, emulator.url)
        return
    cluster: RealCluster = request.getfixturevalue("real_cluster")
    async with real_session(cluster) as session:
        yield Http(session, cluster.url, cluster)


def real_session(cluster: RealCluster) -> aiohttp.ClientSession:
    """A session that authenticates as the real cluster's admin and trusts its CA."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=cluster.plane.ssl_context()),
        headers={"Authorization": f"Bearer {cluster.plane.admin_token}"},
    )


@pytest.fixture
async def kube(emulator: KubeEmulator | None, http: Http) -> Http:
    """A cluster with the Widget CRD installed (the real one's reset installed it already)."""
    if emulator is not None:
        emulator.install_crd(widget_crd())
    return http


async def eventually(check: Callable[[], Coroutine[Any, Any, T | None]], limit: float = 5.0) -> T:
    deadline = time.monotonic() + limit
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {limit}s; last value {last!r}")


# --- a server for blocking clients (kubectl subprocesses, kopf's runner, the kubernetes client) ----------


class ThreadedEmulator:
    """The emulator on its own event loop in a thread."""

    backend = "emulator"

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kube-emulator", daemon=True)
        self.emulator: KubeEmulator | None = None
        self.url = ""

    def start(self) -> None:
        self._thread.start()

        async def boot() -> str:
            self.emulator = KubeEmulator(**self._kwargs)
            return await self.emulator.start()

        self.url = self.call(boot)

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]], limit: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(limit)

    def stop(self) -> None:
        if self.emulator is not None:
            emulator = self.emulator
            self.call(emulator.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def kubeconfig_yaml(self) -> str:
        return kubeconfig_yaml(self.url)

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        async def send() -> Any:
            async with (
                aiohttp.ClientSession() as session,
                session.request(method, self.url + "/__sandbox/" + path, json=body) as response,
            ):
                return await response.json()

        return asyncio.run(send())

    def settle_gc(self) -> None:
        assert self.control("POST", "gc/settle")["settled"] is True

    def status_of(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[JsonObj]:
        query = f"path_prefix={path_prefix}" + (f"&method={method}" if method else "")
        found: list[JsonObj] = self.control("GET", f"requests?{query}")["requests"]
        return found


class RealServer:
    """The session's real control plane, seen as the blocking tests see the threaded emulator."""

    backend = "apiserver"

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster
        self.url = cluster.url
        # The audit log spans the session; this test's requests are those logged from here on.
        log = cluster.plane.audit_log
        self.since = log.stat().st_size if log.exists() else 0

    def kubeconfig_yaml(self) -> str:
        return self.cluster.plane.kubeconfig()

    def session(self) -> aiohttp.ClientSession:
        return real_session(self.cluster)

    def settle_gc(self) -> None:
        """Nothing to ask: tests wait for what they expect collected."""

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[JsonObj]:
        log = self.cluster.plane.audit_log
        return audit.requests(log, method=method, path_prefix=path_prefix, since=self.since)

    def status_of(self, path: str) -> int:
        return self.cluster.plane.request("GET", path)[0]


Server = ThreadedEmulator | RealServer


@pytest.fixture
def threaded() -> Iterator[ThreadedEmulator]:
    """The emulator alone, for emulator_only tests that drive its control endpoints."""
    server = ThreadedEmulator(bookmark_interval=0.5)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(backend: str, request: pytest.FixtureRequest) -> Server:
    if backend == "emulator":
        threaded_emulator: ThreadedEmulator = request.getfixturevalue("threaded")
        return threaded_emulator
    return RealServer(request.getfixturevalue("real_cluster"))


def kubectl_binary() -> str:
    found = Path(sys.executable).parent / "kubectl"
    if found.exists():
        return str(found)
    which = shutil.which("kubectl")
    if which is None:
        pytest.skip("kubectl is not installed")
    return which


class Kubectl:
    def __init__(self, kubeconfig: Path, cache_dir: Path, backend: str = "emulator") -> None:
        self.binary = kubectl_binary()
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.backend = backend

    def command(self, *args: str) -> list[str]:
        return [self.binary, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]

    def run(
        self, *args: str, input: str | None = None, check: bool = True, limit: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=limit, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def json(self, *args: str) -> JsonObj:
        value: JsonObj = json.loads(self.run(*args, "-o", "json").stdout)
        return value

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


@pytest.fixture
def kubeconfig(server: Server, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(server.kubeconfig_yaml())
    return path


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path, backend: str) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kubectl-cache", backend)
