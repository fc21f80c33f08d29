"""`twilio-operator sandbox`: the Twilio emulator and a Kubernetes API server in one foreground process, the
project's CRDs installed. The API server is the emulator (default, in process) or, with `--kube apiserver`,
a real control plane built by scripts/controlplane.sh (child processes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..api.crd import all_crds
from .kube import KubeEmulator, kubeconfig_yaml
from .twilio import TwilioEmulator

KubeBackend = Literal["emulator", "apiserver"]
KUBE_BACKENDS: tuple[KubeBackend, ...] = ("emulator", "apiserver")
KUBE_ENV = "TWILIO_SANDBOX_KUBE"


def kube_backend(choice: str | None) -> KubeBackend:
    """The --kube option, else $TWILIO_SANDBOX_KUBE, else the emulator (which needs no Go)."""
    value = choice or os.environ.get(KUBE_ENV) or "emulator"
    if value not in KUBE_BACKENDS:
        raise ValueError(f"{KUBE_ENV} / --kube must be one of {', '.join(KUBE_BACKENDS)}, not {value!r}")
    return value


@dataclass
class Sandbox:
    kube_url: str
    kubeconfig: str
    twilio: TwilioEmulator
    # Lines worth printing at start beyond the URLs (where the real API server keeps its audit log).
    notes: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """What `twilio-operator run` needs besides KUBECONFIG."""
        return {
            "TWILIO_ACCOUNT_SID": self.twilio.parent_sid,
            "TWILIO_AUTH_TOKEN": self.twilio.parent_token,
            "TWILIO_API_BASE_URL": self.twilio.url,
        }

    def write_state(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        kubeconfig = state_dir / "kubeconfig"
        kubeconfig.write_text(self.kubeconfig)
        # The real API server's kubeconfig carries an admin token.
        kubeconfig.chmod(0o600)
        lines = [f"export {key}={value}" for key, value in self.env().items()]
        env_file = state_dir / "twilio.env"
        env_file.write_text("\n".join(lines) + "\n")
        # It holds the emulated parent's auth token: readable by its owner only, as a real one would be.
        env_file.chmod(0o600)


@contextlib.asynccontextmanager
async def _emulated_kube(host: str, port: int) -> AsyncIterator[tuple[str, str, list[str]]]:
    kube = KubeEmulator()
    await kube.start(host, port)
    for crd in all_crds():
        kube.install_crd(crd)
    try:
        yield kube.url, kubeconfig_yaml(kube.url), []
    finally:
        await kube.stop()


@contextlib.asynccontextmanager
async def _real_kube(port: int, state_dir: Path | None) -> AsyncIterator[tuple[str, str, list[str]]]:
    # Imported here: the emulator path never needs `cryptography` or the control plane's programs.
    from .controlplane.cluster import ControlPlane
    from .controlplane.proxy import FaultProxy

    with contextlib.ExitStack() as stack:
        if state_dir is None:
            state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twilio-sandbox-")))
        plane = ControlPlane(state_dir / "controlplane")
        await asyncio.to_thread(plane.start)
        proxy = FaultProxy(
            plane.url, plane.ssl_context(), plane.serving_ssl_context(), plane.admin_token, port=port
        )
        try:
            await asyncio.to_thread(plane.install_crds, all_crds())
            await proxy.start()
            admin = plane.state_dir / "admin.kubeconfig"
            admin.write_text(plane.kubeconfig())
            admin.chmod(0o600)
            notes = [
                f"direct:     {plane.url} (kube-apiserver itself; {admin})",
                f"audit log:  {plane.audit_log}",
                f"logs:       {plane.state_dir}/*.log",
            ]
            # Clients go through the proxy, which adds the emulator's /__sandbox/ faults and request log.
            yield proxy.url, plane.kubeconfig(server=proxy.url), notes
        finally:
            await proxy.stop()
            await asyncio.to_thread(plane.stop)


@contextlib.asynccontextmanager
async def running(
    kube_port: int = 0,
    twilio_port: int = 0,
    host: str = "127.0.0.1",
    *,
    kube: KubeBackend = "emulator",
    state_dir: Path | None = None,
    **twilio_options: float | int,
) -> AsyncIterator[Sandbox]:
    twilio = TwilioEmulator(**twilio_options)  # type: ignore[arg-type]
    kube_side = _emulated_kube(host, kube_port) if kube == "emulator" else _real_kube(kube_port, state_dir)
    async with kube_side as (url, kubeconfig, notes):
        await twilio.start(host, twilio_port)
        try:
            yield Sandbox(kube_url=url, kubeconfig=kubeconfig, twilio=twilio, notes=notes)
        finally:
            await twilio.stop()


async def serve_forever(
    state_dir: Path | None, kube_port: int, twilio_port: int, kube: KubeBackend = "emulator"
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(kube_port, twilio_port, kube=kube, state_dir=state_dir) as sandbox:
        if state_dir is not None:
            sandbox.write_state(state_dir)
        print(f"kubernetes: {sandbox.kube_url}  ({kube})", flush=True)
        print(f"twilio:     {sandbox.twilio.url}  (parent {sandbox.twilio.parent_sid})", flush=True)
        for note in sandbox.notes:
            print(note, flush=True)
        if state_dir is not None:
            print(
                f"use:        export KUBECONFIG={state_dir / 'kubeconfig'}; . {state_dir / 'twilio.env'}",
                flush=True,
            )
        print("ready", flush=True)
        await stop.wait()
