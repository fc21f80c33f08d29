"""Fixtures for the Kubernetes API emulator tests: in-process and threaded emulators, raw HTTP, kubectl."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from twilio_operator.sandbox.kube import KubeEmulator, kubeconfig_yaml

T = TypeVar("T")
JsonObj = dict[str, Any]

WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


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
    """Raw HTTP against the emulator; every call returns status, decoded body and headers."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

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
                decoded = text.decode()
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


@pytest.fixture
async def emulator() -> AsyncIterator[KubeEmulator]:
    emu = KubeEmulator(bookmark_interval=0.2)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def http(emulator: KubeEmulator) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, emulator.url)


@pytest.fixture
async def kube(emulator: KubeEmulator, http: Http) -> Http:
    """An emulator with the Widget CRD installed."""
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


# --- an emulator in its own thread, for blocking clients (kubectl subprocesses, kopf's runner) -------


class ThreadedEmulator:
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

    def control(self, method: str, path: str, body: Any = None) -> Any:
        async def send() -> Any:
            async with (
                aiohttp.ClientSession() as session,
                session.request(method, self.url + "/__sandbox/" + path, json=body) as response,
            ):
                return await response.json()

        return asyncio.run(send())


@pytest.fixture
def threaded() -> Iterator[ThreadedEmulator]:
    server = ThreadedEmulator(bookmark_interval=0.5)
    server.start()
    yield server
    server.stop()


def kubectl_binary() -> str:
    found = Path(sys.executable).parent / "kubectl"
    if found.exists():
        return str(found)
    which = shutil.which("kubectl")
    if which is None:
        pytest.skip("kubectl is not installed")
    return which


class Kubectl:
    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.binary = kubectl_binary()
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir

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
def kubeconfig(threaded: ThreadedEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_yaml(threaded.url))
    return path


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kubectl-cache")
