"""Throughput of the receiver: signed, unique status callbacks per second, to SQLite and to PostgreSQL.

For each store it starts the sandbox's Kubernetes emulator (for the credentials Secret), a real PostgreSQL
server when needed, and the real `twilio-operator receiver` process; then one load generator (this process,
aiohttp, ``--concurrency`` connections, closed loop) posts pre-signed callbacks for ``--seconds`` seconds:
each message gets `sent` then `delivered`, and one callback in fifty is posted twice, as Twilio does, to
exercise deduplication. The same generator then drives a bare aiohttp handler that answers 200 without
work (the floor), in a process of its own. Afterwards it reads the database: every callback answered 2xx
must be there (``acked_lost``) and none twice (``duplicates_stored``). Writes ``bench/receiver.json``.

A benchmark, not a test: it prints figures and never fails on a timing.

    make bench-receiver            # or: .venv/bin/python bench/receiver.py [--seconds 60] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil  # type: ignore[import-untyped]
from revision import revision

from twilio_operator.receiver import signature
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.postgres import PASSWORD, PostgresServer
from twilio_operator.sandbox.processes import SandboxProcess, free_port, wait_for
from twilio_operator.sandbox.receiver import ReceiverProcess
from twilio_operator.sandbox.traffic import Tenant, credentials_secret

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "receiver.json"
ACCOUNT = "AC" + "5" * 32
TOKEN = "b" * 32
SERVICE = "MG" + "6" * 32
NAMESPACE = "bench"
DUPLICATE_EVERY = 50
# The floor runs on the receiver's event loop (uvloop where installed), so the comparison is like for like.
FLOOR_SERVER = """
import asyncio
import sys
from aiohttp import web
from twilio_operator.receiver.cli import run
async def ok(request):
    await request.read()
    return web.Response(status=200)
app = web.Application()
app.router.add_post("/twilio/status", ok)
async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    await asyncio.Event().wait()
run(main())
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Load:
    """Pre-signed requests, so the generator spends its CPU on sending, not on HMACs."""

    url: str
    bodies: list[bytes]
    signatures: list[str]
    keys: list[tuple[str, str]]  # (MessageSid, MessageStatus) of each request
    next_index: int = 0

    @classmethod
    def build(cls, url: str, count: int) -> Load:
        bodies, signatures, keys = [], [], []
        for index in range(count):
            message = "SM" + uuid.uuid4().hex
            for status in ("sent", "delivered"):
                params = {
                    "AccountSid": ACCOUNT,
                    "MessagingServiceSid": SERVICE,
                    "MessageSid": message,
                    "SmsSid": message,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "To": f"+1415555{index % 10000:04d}",
                    "From": "+14155550100",
                    "ApiVersion": "2010-04-01",
                }
                bodies.append(urllib.parse.urlencode(params).encode())
                signatures.append(signature.compute(TOKEN, url, params.items()))
                keys.append((message, status))
                if len(keys) % DUPLICATE_EVERY == 0:  # Twilio's occasional duplicate
                    bodies.append(bodies[-1])
                    signatures.append(signatures[-1])
                    keys.append(keys[-1])
        return cls(url, bodies, signatures, keys)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    acked: set[tuple[str, str]] = field(default_factory=set)
    acked_requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0


async def drive(target: str, load: Load, seconds: float, concurrency: int) -> Result:
    """Closed loop: ``concurrency`` keep-alive connections, each posting the next request as soon as the
    previous one is answered.

    HTTP/1.1 is written and read by hand over asyncio streams, requests prepared in advance: an HTTP client
    library would spend more CPU per request than the servers measured, on the same two cores.
    """
    result = Result()
    parts = urllib.parse.urlsplit(target)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
    )
    deadline = time.monotonic() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline and load.next_index < len(load.bodies):
                index = load.next_index
                load.next_index += 1
                body = load.bodies[index]
                signed = (
                    f"X-Twilio-Signature: {load.signatures[index]}\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                request = (head + signed).encode() + body
                started = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                result.latencies.append(time.perf_counter() - started)
                status = int(status_line.split(b" ", 2)[1]) if status_line else 0
                if 200 <= status < 300:
                    result.acked.add(load.keys[index])
                    result.acked_requests += 1
                else:
                    result.errors[str(status)] = result.errors.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError) as error:
            result.errors[type(error).__name__] = result.errors.get(type(error).__name__, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.elapsed = time.monotonic() - started
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def cpu_seconds(pids: list[int], children: bool = True) -> float:
    """CPU time used so far by these processes and, with ``children``, theirs (PostgreSQL's backends)."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for one in [process, *(process.children(recursive=True) if children else [])]:
                times = one.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def stored_keys(store: str, database: str) -> list[tuple[str, str]]:
    query = "SELECT message_sid, status FROM events WHERE source = 'callback'"
    if store == "sqlite":
        with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
            return [(row[0], row[1]) for row in db.execute(query)]
    conn = await asyncpg.connect(database, password=PASSWORD)
    try:
        return [(row[0], row[1]) for row in await conn.fetch(query)]
    finally:
        await conn.close()


def floor(load: Load, seconds: float, concurrency: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(port)], cwd=tmp)
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/twilio/status"), 30, what="floor server")
            load.next_index = 0
            return asyncio.run(drive(f"http://127.0.0.1:{port}/twilio/status", load, seconds, concurrency))
        finally:
            proc.terminate()
            proc.wait(10)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=2).close()
        return True
    except OSError:
        return False


def run_store(store: str, work: Path, seconds: float, concurrency: int) -> dict[str, Any]:
    sandbox = SandboxProcess(work / "sandbox")
    postgres: PostgresServer | None = None
    receiver: ReceiverProcess | None = None
    try:
        sandbox.start()
        kubectl = Kubectl(sandbox.kubeconfig, work / "kubectl-cache")
        kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")
        kubectl.apply(credentials_secret("bench", NAMESPACE, "bench", Tenant(ACCOUNT, TOKEN, SERVICE, "+1")))
        if store == "sqlite":
            database = f"sqlite:///{work}/receiver.db"
            env: dict[str, str] = {}
        else:
            postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="bench-postgres-")))
            postgres.start()
            database = postgres.create_database("receiver")
            env = {"TWILIO_RECEIVER_DATABASE_PASSWORD_FILE": str(postgres.password_file)}
        receiver = ReceiverProcess(
            sandbox,
            work / "logs",
            NAMESPACE,
            database,
            extra_env={
                **env,
                "TWILIO_RECEIVER_LOG_LEVEL": "WARNING",
                "TWILIO_RECEIVER_REPAIR_INTERVAL": "3600",
            },
        )
        receiver.start()
        receiver.wait_ready()
        url = f"{receiver.url}/twilio/status"
        wait_for(lambda: _credentials_known(receiver), 30, what="credentials")
        # Enough requests for the run at well above the target rate.
        load = Load.build(url, int(seconds * 4000 / 2))
        log(f"{store}: {len(load.bodies):,} signed callbacks ready; driving the receiver for {seconds:.0f}s")
        assert receiver.proc is not None
        watched = {"receiver": [receiver.proc.pid], "generator": [os.getpid()]}
        if postgres is not None and postgres.proc is not None:
            watched["postgresql"] = [postgres.proc.pid]
        # This process's children are the sandbox, the receiver and PostgreSQL: the generator is itself alone.
        before = {name: cpu_seconds(pids, name != "generator") for name, pids in watched.items()}
        with PeakRss(receiver.proc.pid) as rss:
            measured = asyncio.run(drive(url, load, seconds, concurrency))
        cpu = {
            name: round(cpu_seconds(pids, name != "generator") - before[name], 1)
            for name, pids in watched.items()
        }
        stored = asyncio.run(stored_keys(store, database))
        log(f"{store}: driving the floor (bare aiohttp handler) for {seconds:.0f}s")
        bare = floor(load, seconds, concurrency)
    finally:
        if receiver is not None:
            receiver.stop()
        if postgres is not None:
            postgres.remove()
        sandbox.stop()
    unique_acked = measured.acked
    stored_set = set(stored)
    rate = len(measured.latencies) / measured.elapsed
    floor_rate = len(bare.latencies) / bare.elapsed
    return {
        "store": store,
        "seconds": round(measured.elapsed, 1),
        "concurrency": concurrency,
        "requests": len(measured.latencies),
        "callbacks_per_second": round(rate, 1),
        "unique_callbacks_per_second": round(len(unique_acked) / measured.elapsed, 1),
        "p50_ms": round(percentile(measured.latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(measured.latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(measured.latencies) * 1000, 2),
        "floor_callbacks_per_second": round(floor_rate, 1),
        "floor_p50_ms": round(percentile(bare.latencies, 0.5) * 1000, 2),
        "floor_p99_ms": round(percentile(bare.latencies, 0.99) * 1000, 2),
        "ratio_to_floor": round(floor_rate / rate, 2),
        "acked": len(unique_acked),
        "acked_lost": len(unique_acked - stored_set),
        "duplicates_stored": len(stored) - len(stored_set),
        "errors": measured.errors,
        "rss_mib": round(rss.peak / 2**20, 1),
        # CPU-seconds each process used during the measured run (two cores: 2 x seconds available).
        "cpu_seconds": cpu,
    }


def _credentials_known(receiver: ReceiverProcess) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"{receiver.url}/metrics", timeout=5) as response:
        return "twilio_receiver_credentials_accounts 1.0" in response.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp:
        for store in args.stores.split(","):
            figures = run_store(store, Path(tmp) / store, args.seconds, args.concurrency)
            figures.update(
                {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "receiver_revision": revision(),
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
            runs.append(figures)
            log(json.dumps(figures))
    args.out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    header = ("store", "cb/s", "p50 ms", "p99 ms", "floor/s", "ratio", "lost", "dups", "MiB")
    print("\n{:<11} {:>8} {:>7} {:>7} {:>8} {:>6} {:>5} {:>5} {:>6}".format(*header))
    for r in runs:
        print(
            f"{r['store']:<11} {r['callbacks_per_second']:>8,.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['floor_callbacks_per_second']:>8,.0f} {r['ratio_to_floor']:>6.2f} {r['acked_lost']:>5} "
            f"{r['duplicates_stored']:>5} {r['rss_mib']:>6.1f}"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
