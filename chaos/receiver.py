"""The receiver phase of `make chaos`: callbacks under load while the receiver is SIGKILLed and PostgreSQL
restarts, then what must hold.

A fresh sandbox, a real PostgreSQL server and the real receiver process; tenants send messages through the
Twilio emulator (whose callbacks are also dropped, duplicated and reordered, seeded) at a steady pace. The
receiver is killed `kills` times at seeded moments and started again after a short outage; PostgreSQL is
restarted once in the middle. Twilio's one retry and the receiver's repair pass must cover all of it:

- every callback that got a 2xx is stored, exactly once;
- every message's stored status is the emulator's truth;
- nothing is stored that the emulator did not send (no unsigned request got in);
- no auth token or database password appears in any of the receiver's logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.postgres import PASSWORD, PostgresServer
from twilio_operator.sandbox.processes import BIN, SandboxProcess, wait_for
from twilio_operator.sandbox.receiver import ReceiverProcess
from twilio_operator.sandbox.traffic import Tenant, Traffic, credentials_secret

ROOT = Path(__file__).resolve().parent.parent
HOST = "hooks.chaos.example.com"
NAMESPACE = "chaos-receiver"


@dataclass
class ReceiverChaosConfig:
    seed: int = 1
    kills: int = 8
    tenants: int = 3
    # Messages per second, all tenants together, while the storm lasts.
    rate: float = 20.0
    # Seconds the receiver runs between kills, and is down after one, drawn uniformly.
    uptime: tuple[float, float] = (1.0, 4.0)
    downtime: tuple[float, float] = (0.2, 1.5)
    converge_timeout: float = 180.0
    fuzz: bool = True
    verbose: bool = True


@dataclass
class Tally:
    kills: int = 0
    postgres_restarts: int = 0
    sent: int = 0
    events: list[str] = field(default_factory=list)


class Sender:
    """Sends messages at a steady pace from a thread until stopped."""

    def __init__(self, traffic: Traffic, tenants: list[Tenant], rate: float, rng: random.Random) -> None:
        self.traffic, self.tenants, self.rate, self.rng = traffic, tenants, rate, rng
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            tenant = self.rng.choice(self.tenants)
            self.traffic.send(tenant, f"+1415555{self.rng.randrange(10000):04d}")
            self.sent += 1
            self._stop.wait(1.0 / self.rate)

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


async def _stored(url: str) -> tuple[dict[tuple[str, str], int], dict[str, tuple[str, int | None, bool]]]:
    conn = await asyncpg.connect(url, password=PASSWORD)
    try:
        rows = await conn.fetch(
            "SELECT message_sid, status, COUNT(*) AS n FROM events WHERE source = 'callback' "
            "GROUP BY message_sid, status"
        )
        messages = await conn.fetch("SELECT sid, status, error_code, repaired FROM messages")
    finally:
        await conn.close()
    return (
        {(r["message_sid"], r["status"]): r["n"] for r in rows},
        {m["sid"]: (m["status"], m["error_code"], bool(m["repaired"])) for m in messages},
    )


def _matches(truth: list[dict[str, Any]], stored: dict[str, tuple[str, int | None, bool]]) -> list[str]:
    return [
        m["sid"]
        for m in truth
        if stored.get(m["sid"], ("", None, False))[:2] != (m["final_status"], m["final_error_code"])
    ]


def run_fuzz(workdir: Path) -> tuple[int, int]:
    report = workdir / "receiver-fuzz.json"
    done = subprocess.run(
        [str(BIN / "pytest"), "tests/resilience/test_fuzz_receiver.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, "CHAOS_RECEIVER_FUZZ_REPORT": str(report)},
        capture_output=True,
        text=True,
        check=False,
    )
    examples = int(json.loads(report.read_text())["examples"]) if report.exists() else 0
    return examples, 0 if done.returncode == 0 else 1


def receiver_chaos(config: ReceiverChaosConfig, workdir: Path) -> dict[str, Any]:
    rng = random.Random(config.seed)
    tally = Tally()
    started = time.monotonic()

    def say(text: str) -> None:
        tally.events.append(f"{time.monotonic() - started:6.1f}s {text}")
        if config.verbose:
            print(f"[receiver chaos {time.monotonic() - started:6.1f}s] {text}", flush=True)

    sandbox = SandboxProcess(workdir / "sandbox")
    postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="chaos-postgres-")))
    receiver: ReceiverProcess | None = None
    try:
        sandbox.start()
        postgres.start()
        database = postgres.create_database("receiver")
        kubectl = Kubectl(sandbox.kubeconfig, workdir / "kubectl-cache")
        kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")
        receiver = ReceiverProcess(
            sandbox,
            workdir / "receiver-logs",
            NAMESPACE,
            database,
            extra_env={
                "TWILIO_RECEIVER_DATABASE_PASSWORD_FILE": str(postgres.password_file),
                "TWILIO_RECEIVER_REPAIR_AGE": "2",
                "TWILIO_RECEIVER_REPAIR_INTERVAL": "0.5",
            },
        )
        traffic = Traffic(
            sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"]
        )
        traffic.configure(
            message_time_scale=0.2,
            callback_drop_rate=0.05,
            callback_duplicate_rate=0.05,
            callback_reorder_rate=0.05,
        )
        traffic.route(HOST, receiver.url)
        tenants = [
            traffic.tenant(f"tenant-{i}", f"https://{HOST}/twilio/status", f"+1415555{7000 + i:04d}")
            for i in range(config.tenants)
        ]
        for index, tenant in enumerate(tenants):
            kubectl.apply(credentials_secret(f"tenant-{index}", NAMESPACE, f"tenant-{index}", tenant))
        receiver.start()
        receiver.wait_ready()
        say(f"{len(tenants)} tenants, receiver on PostgreSQL; {config.kills} kills and a PostgreSQL restart")
        restart_at = config.kills // 2
        with Sender(traffic, tenants, config.rate, random.Random(config.seed + 1)) as sender:
            for kill in range(config.kills):
                time.sleep(rng.uniform(*config.uptime))
                receiver.kill()
                tally.kills += 1
                down = rng.uniform(*config.downtime)
                say(f"SIGKILL {tally.kills} ({sender.sent} messages sent so far); down {down:.1f}s")
                time.sleep(down)
                receiver.start()
                receiver.wait_ready(60)
                if kill == restart_at:
                    # Under load, with the receiver's connections open: its commits fail until it reconnects.
                    time.sleep(rng.uniform(*config.uptime))
                    postgres.restart()
                    tally.postgres_restarts += 1
                    say("PostgreSQL restarted")
                    receiver.wait_ready(60)
            time.sleep(rng.uniform(*config.uptime))
        tally.sent = sender.sent
        say(f"storm over: {tally.sent} messages sent; waiting for Twilio to settle and the store to match")
        wait_for(traffic.settled, 60, interval=0.5, what="every message settled in the emulator")
        truth = [m for t in tenants for m in traffic.messages(t.account_sid)["messages"]]

        def converged() -> bool:
            _, stored = asyncio.run(_stored(database))
            return not _matches(truth, stored)

        try:
            wait_for(
                converged, config.converge_timeout, interval=1.0, what="stored statuses equal to the truth"
            )
        except AssertionError:
            say("not every message converged")
        callbacks, stored = asyncio.run(_stored(database))
        alive = receiver.alive()
    finally:
        if receiver is not None:
            receiver.stop()
        postgres.remove()
        sandbox.stop()
    acked = {
        (m["sid"], cb["status"])
        for m in truth
        for cb in m["callbacks"]
        if any(isinstance(a, int) and 200 <= a < 300 for a in cb["attempts"])
    }
    attempts = Counter(
        "2xx" if isinstance(a, int) and 200 <= a < 300 else str(a)
        for m in truth
        for cb in m["callbacks"]
        for a in cb["attempts"]
    )
    sent_keys = {(m["sid"], cb["status"]) for m in truth for cb in m["callbacks"]}
    logs = receiver.all_logs() if receiver is not None else ""
    secrets = [t.auth_token for t in tenants] + [PASSWORD]
    mismatches = _matches(truth, stored)
    fuzz_examples, fuzz_failures = run_fuzz(workdir) if config.fuzz else (0, 0)
    results: dict[str, Any] = {
        "kills": tally.kills,
        "postgres_restarts": tally.postgres_restarts,
        "messages": len(truth),
        "callback_attempts": dict(attempts),
        "callbacks_acked": len(acked),
        "acked_lost": len([key for key in acked if callbacks.get(key, 0) == 0]),
        "acked_stored_twice": len([key for key in acked if callbacks.get(key, 0) > 1]),
        "stored_not_sent": len([key for key in callbacks if key not in sent_keys]),
        "status_mismatches": len(mismatches),
        "repaired": sum(1 for entry in stored.values() if entry[2]),
        "secrets_in_logs": sum(1 for secret in secrets if secret in logs),
        "receiver_alive_at_end": alive,
        "fuzz_examples": fuzz_examples,
        "fuzz_failures": fuzz_failures,
        "duration_seconds": round(time.monotonic() - started, 1),
        "mismatched": mismatches[:5],
        "events": tally.events,
    }
    results["passed"] = bool(
        results["kills"] >= config.kills
        and results["postgres_restarts"] == 1
        and results["acked_lost"] == 0
        and results["acked_stored_twice"] == 0
        and results["stored_not_sent"] == 0
        and results["status_mismatches"] == 0
        and results["secrets_in_logs"] == 0
        and fuzz_failures == 0
        and alive
    )
    return results


SUMMARY_ROWS = (
    ("receiver SIGKILLs survived", "kills"),
    ("PostgreSQL restarts", "postgres_restarts"),
    ("messages sent", "messages"),
    ("callback attempts", "callback_attempts"),
    ("callbacks answered 2xx", "callbacks_acked"),
    ("2xx callbacks not stored", "acked_lost"),
    ("2xx callbacks stored twice", "acked_stored_twice"),
    ("stored, never sent", "stored_not_sent"),
    ("statuses differing from Twilio", "status_mismatches"),
    ("messages repaired", "repaired"),
    ("tokens/passwords in logs", "secrets_in_logs"),
    ("receiver fuzz examples (failing)", "fuzz_examples"),
    ("duration", "duration_seconds"),
)


def summary_rows(results: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for name, key in SUMMARY_ROWS:
        value = results[key]
        if key == "fuzz_examples":
            value = f"{value} ({results['fuzz_failures']})"
        elif key == "callback_attempts":
            value = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
        elif key == "duration_seconds":
            value = f"{value}s"
        rows.append((name, value))
    return rows
