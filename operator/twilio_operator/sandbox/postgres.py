"""A real PostgreSQL server for tests, benchmarks and the demo: Debian's binaries, a throwaway cluster.

``initdb`` into a fresh directory, ``postgres`` on a free loopback port with its socket in that directory,
password authentication over TCP (so the receiver's ``*_FILE`` password path is exercised). PostgreSQL
refuses to run as root; as root, the cluster belongs to the ``postgres`` user the Debian package creates.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .processes import free_port

USER = "receiver"
PASSWORD = "receiver-test-password"  # a throwaway cluster on loopback; the tests check it never leaks


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory (apt-get install postgresql), or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    return found[-1].parent if found else None


class PostgresServer:
    def __init__(self, base: Path, port: int | None = None) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server installed (Debian: apt-get install postgresql)")
        self.bin = bindir
        self.base = base
        self.data = base / "data"
        self.port = port or free_port()
        self.log_path = base / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.password_file = base / "password"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # setpriv execs the server itself (no process in between), so signals reach it directly.
            self._as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]

    def _chown(self, path: Path) -> None:
        if self._as:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self._chown(self.base)
        self.password_file.write_text(PASSWORD + "\n")
        self.password_file.chmod(0o644)
        subprocess.run(
            [
                *self._as,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--pwfile",
                str(self.password_file),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
        )

    def start(self, timeout: float = 30.0) -> None:
        if not self.data.exists():
            self.init()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                *self._as,
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.base),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_path.read_text()[-2000:]}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready after {timeout}s")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                str(self.base),
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-XAtc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, fast: bool = True) -> None:
        """Stop the server (``fast``: SIGINT, PostgreSQL's fast shutdown; else SIGKILL, a crash)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT if fast else signal.SIGKILL)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
