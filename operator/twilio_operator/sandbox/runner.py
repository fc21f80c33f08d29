"""`twilio-operator sandbox`: both emulators in one process, the project's CRDs installed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ..api.crd import all_crds
from .kube import KubeEmulator, kubeconfig_yaml
from .twilio import TwilioEmulator


@dataclass
class Sandbox:
    kube: KubeEmulator
    twilio: TwilioEmulator

    def env(self) -> dict[str, str]:
        """What `twilio-operator run` needs besides KUBECONFIG."""
        return {
            "TWILIO_ACCOUNT_SID": self.twilio.parent_sid,
            "TWILIO_AUTH_TOKEN": self.twilio.parent_token,
            "TWILIO_API_BASE_URL": self.twilio.url,
        }

    def write_state(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "kubeconfig").write_text(kubeconfig_yaml(self.kube.url))
        lines = [f"export {key}={value}" for key, value in self.env().items()]
        env_file = state_dir / "twilio.env"
        env_file.write_text("\n".join(lines) + "\n")
        # It holds the emulated parent's auth token: readable by its owner only, as a real one would be.
        env_file.chmod(0o600)


@contextlib.asynccontextmanager
async def running(
    kube_port: int = 0, twilio_port: int = 0, host: str = "127.0.0.1", **twilio_options: float | int
) -> AsyncIterator[Sandbox]:
    kube = KubeEmulator()
    twilio = TwilioEmulator(**twilio_options)  # type: ignore[arg-type]
    await kube.start(host, kube_port)
    await twilio.start(host, twilio_port)
    for crd in all_crds():
        kube.install_crd(crd)
    try:
        yield Sandbox(kube=kube, twilio=twilio)
    finally:
        await twilio.stop()
        await kube.stop()


async def serve_forever(state_dir: Path | None, kube_port: int, twilio_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(kube_port, twilio_port) as sandbox:
        if state_dir is not None:
            sandbox.write_state(state_dir)
        print(f"kubernetes: {sandbox.kube.url}", flush=True)
        print(f"twilio:     {sandbox.twilio.url}  (parent {sandbox.twilio.parent_sid})", flush=True)
        if state_dir is not None:
            print(
                f"use:        export KUBECONFIG={state_dir / 'kubeconfig'}; . {state_dir / 'twilio.env'}",
                flush=True,
            )
        print("ready", flush=True)
        await stop.wait()
