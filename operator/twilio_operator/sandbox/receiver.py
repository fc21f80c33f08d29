"""`twilio-operator receiver` as a real process against the sandbox, killable at any moment."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from .processes import BIN, SandboxProcess, free_port, wait_for


class ReceiverProcess:
    """The receiver for one namespace of the sandbox; each start logs to a file of its own."""

    def __init__(
        self,
        sandbox: SandboxProcess,
        log_dir: Path,
        namespace: str,
        database: str,
        extra_env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.log_dir = log_dir
        self.namespace = namespace
        self.database = database
        self.extra_env = extra_env or {}
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"receiver-{self.runs}.log"

    def environment(self) -> dict[str, str]:
        """The receiver's environment, which a command run beside it (as `kubectl exec` runs one in its pod)
        shares."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO")},
            "KUBECONFIG": str(self.sandbox.kubeconfig),
            "TWILIO_RECEIVER_LISTEN": f"127.0.0.1:{self.port}",
            "TWILIO_RECEIVER_DATABASE": self.database,
            "TWILIO_RECEIVER_NAMESPACE": self.namespace,
            "TWILIO_RECEIVER_API_BASE_URL": self.sandbox.twilio_url,
            "TWILIO_RECEIVER_LOG_LEVEL": "DEBUG",
            **self.extra_env,
        }

    def start(self) -> None:
        self.runs += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [str(BIN / "twilio-operator"), "receiver"],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env=self.environment(),
        )

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`twilio-operator receiver ARGS` beside the receiver, with its environment."""
        return subprocess.run(
            [str(BIN / "twilio-operator"), "receiver", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=self.environment(),
        )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        def check() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"receiver exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            return self.ready()

        wait_for(check, timeout, interval=0.1, what="receiver ready")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing said, like a node lost."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def all_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("receiver-*.log")))
