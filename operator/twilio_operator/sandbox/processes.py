"""Start the sandbox and the operator as real processes, as a user would."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

import yaml

T = TypeVar("T")
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    check: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until check() returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last value: {last!r}")


class SandboxProcess:
    """`twilio-operator sandbox --state-dir DIR` in the background; `kube` picks the API server (default:
    the CLI's choice, $TWILIO_SANDBOX_KUBE or the emulator)."""

    def __init__(self, state_dir: Path, kube: str | None = None) -> None:
        self.state_dir = state_dir
        self.kube = kube
        self.log_path = state_dir / "sandbox.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log: IO[bytes] = self.log_path.open("wb")
        kube = ["--kube", self.kube] if self.kube else []
        self.proc = subprocess.Popen(
            [str(BIN / "twilio-operator"), "sandbox", "--state-dir", str(self.state_dir), *kube],
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, which holds a real control plane's programs too: stop() can end them all.
            start_new_session=True,
        )
        # A real control plane takes seconds to start where the emulator takes a fraction of one.
        wait_for(lambda: b"ready" in self.log_path.read_bytes() or self._died(), 120, what="sandbox ready")
        self._died(raise_=True)
        for line in (self.state_dir / "twilio.env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value
        self.env["KUBECONFIG"] = str(self.kubeconfig)

    def _died(self, raise_: bool = False) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            if raise_:
                raise RuntimeError(f"sandbox exited: {self.log_path.read_text()[-2000:]}")
            return True
        return False

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def kube_context(self) -> ssl.SSLContext | None:
        """Trust for the Kubernetes side's certificate (the kubeconfig's CA); None over plain HTTP."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        if "certificate-authority-data" not in cluster:
            return None
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode("ascii")
        return ssl.create_default_context(cadata=ca)

    @property
    def twilio_url(self) -> str:
        return self.env["TWILIO_API_BASE_URL"]

    @property
    def kube_url(self) -> str:
        for line in self.kubeconfig.read_text().splitlines():
            if "server:" in line:
                return line.split("server:", 1)[1].strip()
        raise RuntimeError("no server in kubeconfig")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc is not None:
            # Whatever the sandbox left of its group (a control plane it could not stop) goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


class OperatorProcess:
    """`twilio-operator run` against the sandbox; killable at any moment."""

    def __init__(
        self, sandbox: SandboxProcess, log_dir: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.sandbox = sandbox
        self.log_dir = log_dir
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.runs}.log"

    def start(self, *args: str) -> None:
        self.runs += 1
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO")},
            **self.sandbox.env,
            "TWILIO_OPERATOR_LOG_LEVEL": "DEBUG",
            **self.extra_env,
        }
        self.proc = subprocess.Popen(
            [str(BIN / "twilio-operator"), "run", *args],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last words, like a node dying."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def all_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log")))
