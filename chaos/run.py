"""`make chaos`: the real operator, SIGKILLed at seeded moments, against emulators that fail on purpose.

A run applies a seeded workload of every kind across tenant namespaces (and rotates keys, edits services,
deletes objects and Secrets while it goes), kills the operator process at least `--kills` times, makes the
Twilio emulator fail about 10% of calls (429, 500, 503, hung requests, creates that commit and then hang)
and the Kubernetes emulator fail some writes (409, 500) and drop watch streams. Then it waits for the
operator to converge and checks what must hold on both sides; see `chaos/verify.py`. Figures go to
`chaos/results.json` and a summary table; the exit status says whether every check held.

    python -m chaos.run --seed 7                  # 200 objects, 20 kills, the fuzz suites, the receiver phase
    python -m chaos.run --seed 7 --objects 30 --kills 5 --no-fuzz --receiver-kills 3

The receiver phase (`chaos/receiver.py`) follows: the receiver under callback load, SIGKILLed
`--receiver-kills` times, PostgreSQL restarted once; every callback answered 2xx must be stored exactly once
and every message's status must end up as the Twilio emulator's truth.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import BIN, OperatorProcess, SandboxProcess

from .control import MANAGED_BY, KubeControl, TwilioSide, lines_with_secrets, secret_values
from .receiver import ReceiverChaosConfig, receiver_chaos, summary_rows
from .verify import Findings, check_secrets, check_twilio, unsettled
from .workload import ROTATE, Action, Planned, Workload, plan, updated_spec

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
CR_WRITES = r"^/apis/twilio\.operator\.dev/"
SECRET_WRITES = r"^/api/v1/namespaces/[^/]+/secrets"
# kopf's log line once it watches our kinds, and how long a start may take before we kill it anyway.
WATCHING = "Starting the watch-stream for apikeys"
STARTUP_LIMIT = 20.0
TRACEBACK_END = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Exit|Interrupt)\b.*)$")


@dataclass
class ChaosConfig:
    seed: int = 1
    objects: int = 200
    kills: int = 20
    # Seconds the operator works (from its watch streams starting) before the next kill, drawn uniformly:
    # kills land in the middle of passes, early ones during the initial listing.
    uptime: tuple[float, float] = (0.2, 5.0)
    twilio_fault_rate: float = 0.10
    kube_fault_rate: float = 0.05
    watch_drop_every: float = 7.0
    converge_timeout: float = 300.0
    stall: float = 90.0
    fuzz: bool = True
    workdir: Path | None = None
    results: Path | None = RESULTS
    verbose: bool = True
    # The receiver phase (chaos/receiver.py): SIGKILLs of the receiver under callback load.
    receiver_kills: int = 8
    # The Kubernetes side: the emulator, or the real control plane behind the sandbox's fault proxy.
    kube: str = "emulator"


@dataclass
class Tally:
    """What the run did and saw while it went."""

    kills: int = 0
    unexpected_exits: int = 0
    watch_drops: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    kubectl_retries: int = 0
    secrets_seen: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)


def documents(items: list[dict[str, Any]]) -> str:
    """A multi-document manifest (kubectl validates a `List` against OpenAPI v2, which isn't served)."""
    return "\n---\n".join(json.dumps(item) for item in items)


class Run:
    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.sandbox = SandboxProcess(workdir / "sandbox", kube=config.kube)
        self.tally = Tally()
        self.started = time.monotonic()
        self.kubectl: Kubectl
        self.twilio: TwilioSide
        self.kube: KubeControl
        self.operator: OperatorProcess

    # --- output ------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        line = f"[chaos {time.monotonic() - self.started:7.1f}s] {text}"
        self.tally.events.append(line)
        if self.config.verbose:
            print(line, flush=True)

    # --- the user's hands ----------------------------------------------------------------------------

    def kubectl_retrying(self, *args: str, input: str | None = None) -> None:
        """kubectl, retried: the Kubernetes emulator fails some writes on purpose, the user's too."""
        for attempt in range(20):
            result = self.kubectl.run(*args, input=input, check=False)
            if result.returncode == 0 or "NotFound" in result.stderr or "not found" in result.stderr:
                return
            self.tally.kubectl_retries += 1
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"kubectl {' '.join(args)} kept failing: {result.stderr}")

    def apply(self, objects: list[Planned]) -> None:
        self.kubectl_retrying("apply", "-f", "-", input=documents([o.manifest() for o in objects]))

    def perform(self, action: Action) -> None:
        self.tally.actions[action.verb] += len(action.targets)
        if action.verb == "apply":
            self.apply(action.targets)
            self.say(f"applied {len(action.targets)} objects")
            return
        [obj] = action.targets
        where = ("-n", obj.namespace)
        if action.verb == "rotate":
            value = f"chaos-{self.config.seed}-{action.seq}"
            self.kubectl_retrying(
                "annotate", "--overwrite", obj.plural, obj.name, *where, f"{ROTATE}={value}"
            )
        elif action.verb == "update":
            obj.spec = updated_spec(obj)
            self.apply([obj])
        elif action.verb == "delete":
            self.kubectl_retrying("delete", obj.plural, obj.name, *where, "--wait=false")
        elif action.verb == "delete-secret":
            secret = str(obj.spec.get("secretName") or obj.name)
            self.kubectl_retrying("delete", "secret", secret, *where, "--wait=false")
        self.say(f"{action.verb} {obj.kind} {obj.namespace}/{obj.name}")

    # --- faults --------------------------------------------------------------------------------------

    def install_faults(self) -> None:
        seed = self.config.seed
        share = self.config.twilio_fault_rate
        # About `share` of all Twilio calls fail: 429 most often, as Twilio's own limits would, then 5xx
        # and requests that never answer; a few creates commit and then hang (the leak-proof create's test).
        twilio_faults: list[dict[str, Any]] = [
            {"kind": "status", "status": 429, "retry_after": 1, "probability": share * 0.3},
            {"kind": "status", "status": 500, "probability": share * 0.25},
            {"kind": "status", "status": 503, "probability": share * 0.25},
            {"kind": "hang", "probability": share * 0.1},
            {"kind": "commit_then_hang", "method": "POST", "probability": share * 0.1},
        ]
        for i, spec in enumerate(twilio_faults):
            self.twilio.fault(**spec, seed=seed * 100 + i)
        rate = self.config.kube_fault_rate
        kube_faults: list[dict[str, Any]] = [
            {"method": "PATCH", "path_regex": CR_WRITES, "status": 409, "probability": rate},
            {"method": "PATCH", "path_regex": CR_WRITES, "status": 500, "probability": rate},
            {"method": "POST", "path_regex": SECRET_WRITES, "status": 500, "probability": rate},
            {"method": "PATCH", "path_regex": SECRET_WRITES, "status": 500, "probability": rate},
        ]
        for i, spec in enumerate(kube_faults):
            self.kube.fault(**spec, times=None, seed=seed * 100 + 50 + i)

    def drop_watches(self) -> None:
        answer = self.kube.fault(drop_watch=True, path_regex=r"watch=", times=1)
        self.tally.watch_drops += int(answer.get("closed_watches") or 0)

    def fault_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for fault in self.twilio.call("GET", "faults")["faults"]:
            kind = fault["kind"]
            name = f"twilio_{fault['status']}" if kind == "status" else f"twilio_{kind}"
            counts[name] += int(fault["fired"])
        for fault in self.kube.faults():
            if not fault["drop_watch"]:
                counts[f"kube_{fault['status']}"] += int(fault["hits"])
        counts["kube_watch_drops"] = self.tally.watch_drops
        return dict(sorted(counts.items()))

    # --- observation -----------------------------------------------------------------------------------

    def watching(self) -> bool:
        """Whether the current operator process has started its watch streams."""
        try:
            return WATCHING in self.operator.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return False

    def objects(self) -> list[dict[str, Any]]:
        result = self.kubectl.run("get", "twilio", "-A", "-o", "json")
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return items

    def secrets(self) -> list[dict[str, Any]]:
        result = self.kubectl.run("get", "secrets", "-A", "-o", "json")
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return items

    def collect_secrets(self) -> None:
        """Remember every secret the operator ever stored, rotated-out ones too, for the log scan."""
        result = self.kubectl.run("get", "secrets", "-A", "-l", MANAGED_BY, "-o", "json", check=False)
        if result.returncode == 0:
            self.tally.secrets_seen |= secret_values(json.loads(result.stdout)["items"])

    # --- phases ----------------------------------------------------------------------------------------

    def start(self, workload: Workload) -> None:
        self.sandbox.start()
        self.kubectl = Kubectl(self.sandbox.kubeconfig, self.workdir / "kubectl-cache")
        env = self.sandbox.env
        self.twilio = TwilioSide(self.sandbox.twilio_url, env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
        self.kube = KubeControl(self.sandbox.kube_url, self.sandbox.kube_context())
        namespaces = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in workload.namespaces
        ]
        self.kubectl.apply(documents(namespaces))
        for number in workload.numbers():
            self.twilio.buy_number(env["TWILIO_ACCOUNT_SID"], number)
        # On the real API server the operator runs as the chart's ServiceAccount, not as the admin.
        from tests.support.backends import operator_identity

        identity = operator_identity(self.sandbox, self.kubectl, self.workdir / "identity")
        self.operator = OperatorProcess(
            self.sandbox,
            self.workdir / "operator",
            {
                **identity,
                # Hung calls time out fast and retries stay short, so the run measures recovery, not waiting.
                "TWILIO_OPERATOR_REQUEST_TIMEOUT": "3",
                "TWILIO_OPERATOR_BACKOFF_BASE": "0.2",
                "TWILIO_OPERATOR_BACKOFF_MAX": "4",
                "TWILIO_OPERATOR_CREATE_GRACE_PERIOD": "3",
                "TWILIO_OPERATOR_DRIFT_INTERVAL": "20",
            },
        )
        (self.workdir / "operator").mkdir(parents=True, exist_ok=True)
        self.operator.start()

    def storm(self, workload: Workload) -> None:
        """Apply the workload's actions while killing the operator and dropping watches."""
        config = self.config
        t0 = time.monotonic()
        pending = list(workload.actions)
        started = t0
        next_kill: float | None = None
        next_drop = t0 + config.watch_drop_every
        next_poll = t0
        while pending or self.tally.kills < config.kills:
            now = time.monotonic()
            while pending and pending[0].at <= now - t0:
                self.perform(pending.pop(0))
            if next_kill is None and (self.watching() or now - started > STARTUP_LIMIT):
                # The moment is drawn from when kopf is up and working, not from when Python started
                # importing: a kill before the operator did anything proves nothing.
                next_kill = now + self.rng.uniform(*config.uptime)
            if self.tally.kills < config.kills and next_kill is not None and now >= next_kill:
                if not self.operator.alive():
                    self.tally.unexpected_exits += 1
                    self.say("the operator exited on its own")
                self.operator.kill()
                self.tally.kills += 1
                self.say(f"SIGKILL #{self.tally.kills} after {now - started:.1f}s of life")
                time.sleep(self.rng.uniform(0.0, 0.5))
                self.operator.start()
                started, next_kill = time.monotonic(), None
            if now >= next_drop and self.watching():
                self.drop_watches()
                next_drop = now + config.watch_drop_every
            if now >= next_poll:
                self.collect_secrets()
                next_poll = now + 2.0
            time.sleep(0.05)

    def converge(self, workload: Workload, timeout: float) -> dict[tuple[str, str, str], str]:
        """Wait until every object is where the workload left it; give up at `timeout`, or earlier when
        nothing has changed for `stall` seconds (objects stuck on a terminal reason)."""
        deadline = time.monotonic() + timeout
        waiting: dict[tuple[str, str, str], str] = {}
        last_report = 0.0
        previous: dict[tuple[str, str, str], str] = {}
        unchanged_since = time.monotonic()
        while time.monotonic() < deadline:
            if waiting != previous:
                previous, unchanged_since = waiting, time.monotonic()
            elif waiting and time.monotonic() - unchanged_since > self.config.stall:
                self.say(f"{len(waiting)} objects unchanged for {self.config.stall:.0f}s; giving up on them")
                return waiting
            if not self.operator.alive():
                self.tally.unexpected_exits += 1
                self.say("the operator exited on its own; restarting it")
                self.operator.start()
            self.collect_secrets()
            waiting = unsettled(workload, self.objects())
            if not waiting:
                return {}
            if time.monotonic() - last_report > 10:
                sample = "; ".join(f"{k[0]} {k[1]}/{k[2]}: {why}" for k, why in list(waiting.items())[:3])
                self.say(f"waiting for {len(waiting)} objects to settle, e.g. {sample}")
                last_report = time.monotonic()
            time.sleep(1.0)
        return waiting

    def verify(self, workload: Workload, waiting: dict[tuple[str, str, str], str]) -> Findings:
        findings = Findings(not_ready={f"{k[0]} {k[1]}/{k[2]}": why for k, why in waiting.items()})
        self.kube.settle_gc()
        # Twilio is settled only once rotation grace periods that ended have been acted on: retry briefly.
        deadline = time.monotonic() + 30
        while True:
            attempt = Findings(not_ready=findings.not_ready)
            items = self.objects()
            state = self.twilio.state()
            check_twilio(workload, items, state, self.twilio.parent_sid, attempt)
            if attempt.ok or time.monotonic() > deadline:
                break
            time.sleep(2)
        secrets = self.secrets()
        check_secrets(workload, items, secrets, self.twilio, attempt)
        known = self.tally.secrets_seen | secret_values(secrets) | set(self.twilio.auth_tokens().values())
        captured = "\n".join(
            [
                self.operator.all_logs(),
                self.kubectl.run("get", "events", "-A", "-o", "json").stdout,
                self.kubectl.run("get", "twilio", "-A", "-o", "json").stdout,
            ]
        )
        attempt.secret_lines = [line[:200] for line in lines_with_secrets(captured, known)]
        return attempt

    def tracebacks(self) -> dict[str, int]:
        """Exceptions the operator logged with a traceback, by their final line's type."""
        counts: Counter[str] = Counter()
        in_traceback = False
        for line in self.operator.all_logs().splitlines():
            if line.startswith("Traceback (most recent call last)"):
                in_traceback = True
                continue
            if in_traceback and not line.startswith((" ", "\t")):
                match = TRACEBACK_END.match(line)
                if match:
                    counts[match.group(1).split(":")[0]] += 1
                    in_traceback = False
        return dict(counts.most_common())

    def keep_evidence(self) -> None:
        """Both emulators' request logs and the final objects and Events, for the post-mortem of a failure."""
        evidence = self.workdir / "evidence"
        evidence.mkdir(exist_ok=True)
        (evidence / "twilio-requests.json").write_text(json.dumps(self.twilio.requests_since(0), indent=1))
        writes = [
            {k: r[k] for k in ("seq", "time", "method", "path", "status", "body", "user_agent")}
            for r in self.kube.requests()[0]
            if r["method"] != "GET"
        ]
        (evidence / "kube-writes.json").write_text(json.dumps(writes, indent=1))
        for name, args in (("objects", ("twilio",)), ("events", ("events",)), ("secrets", ("secrets",))):
            result = self.kubectl.run("get", *args, "-A", "-o", "json", check=False)
            (evidence / f"{name}.json").write_text(result.stdout)
        (evidence / "twilio-state.json").write_text(json.dumps(self.twilio.state(), indent=1))

    def stop(self) -> None:
        if hasattr(self, "operator"):
            self.operator.stop()
        self.sandbox.stop()


def run_fuzz(workdir: Path) -> tuple[int, int]:
    """Run the property-based spec tests; return (examples run, failing tests)."""
    report = workdir / "fuzz.json"
    junit = workdir / "fuzz-junit.xml"
    subprocess.run(
        [
            str(BIN / "pytest"),
            "tests/resilience/test_fuzz_specs.py",
            "-k",
            "invalid_specs or valid_specs",  # the property tests, not the regression test they led to
            "-q",
            f"--junitxml={junit}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env={**os.environ, "CHAOS_FUZZ_REPORT": str(report)},
        check=False,
    )
    examples = int(json.loads(report.read_text())["examples"]) if report.exists() else 0
    failures = 0
    if junit.exists():
        suite = ET.parse(junit).getroot()
        suites = [suite] if suite.tag == "testsuite" else list(suite)
        failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    return examples, failures


def chaos(config: ChaosConfig) -> dict[str, Any]:
    """One full run; returns the figures (also written to `config.results`)."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix=f"chaos-{config.seed}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    duration = config.kills * sum(config.uptime) / 2
    workload = plan(config.seed, config.objects, duration)
    run = Run(config, workdir)
    run.say(
        f"seed {config.seed}: {len(workload.objects)} objects in {len(workload.namespaces)} namespaces, "
        f"{config.kills} kills, workdir {workdir}"
    )
    try:
        run.start(workload)
        run.install_faults()
        run.storm(workload)
        run.say(f"storm over after {run.tally.kills} kills; waiting for convergence under faults")
        waiting = run.converge(workload, config.converge_timeout)
        faults = run.fault_counts()
        run.twilio.clear_faults()
        run.kube.clear_faults()
        if waiting:
            run.say(f"{len(waiting)} objects unsettled under faults; one more chance without them")
            waiting = run.converge(workload, 30)
        findings = run.verify(workload, waiting)
        violations = run.twilio.violations()
        twilio_requests = run.twilio.last_seq()
        tracebacks = run.tracebacks()
        alive = run.operator.alive()
        run.keep_evidence()
    finally:
        run.stop()
    fuzz_examples, fuzz_failures = run_fuzz(workdir) if config.fuzz else (0, 0)
    receiver = (
        receiver_chaos(
            ReceiverChaosConfig(
                seed=config.seed, kills=config.receiver_kills, fuzz=config.fuzz, verbose=config.verbose
            ),
            workdir / "receiver",
        )
        if config.receiver_kills
        else None
    )
    results: dict[str, Any] = {
        "seed": config.seed,
        "kills": run.tally.kills,
        "faults": faults,
        "objects": len(workload.objects),
        "all_ready": not findings.not_ready,
        "duplicate_objects": len(findings.duplicates),
        "orphaned_objects": len(findings.orphans),
        "secrets_failing_auth": len(findings.secrets_failing_auth),
        "secrets_in_logs": len(findings.secret_lines),
        "fuzz_examples": fuzz_examples,
        "fuzz_failures": fuzz_failures,
        "details": {
            "namespaces": len(workload.namespaces),
            "actions": dict(run.tally.actions),
            "kubectl_retries": run.tally.kubectl_retries,
            "unexpected_exits": run.tally.unexpected_exits,
            "operator_alive_at_end": alive,
            "twilio_requests": twilio_requests,
            "twilio_contract_violations": len(violations),
            "operator_tracebacks": tracebacks,
            "secrets_tracked": len(run.tally.secrets_seen),
            "duration_seconds": round(time.monotonic() - run.started, 1),
            "not_ready": findings.not_ready,
            "duplicates": findings.duplicates,
            "missing_in_twilio": findings.missing_in_twilio,
            "orphans": findings.orphans,
            "deletion_not_honoured": findings.deletion_not_honoured,
            "secrets_failing_auth": findings.secrets_failing_auth,
            "stray_secrets": findings.stray_secrets,
            "secret_lines": findings.secret_lines,
            "violations": violations[:5],
            "workdir": str(workdir),
        },
    }
    if receiver is not None:
        results["receiver"] = receiver
    results["passed"] = bool(
        findings.ok
        and not violations
        and fuzz_failures == 0
        and run.tally.kills >= config.kills
        and alive
        and (receiver is None or receiver["passed"])
    )
    if config.results is not None:
        config.results.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    return results


def summary(results: dict[str, Any]) -> str:
    details = results["details"]
    faults = results["faults"]
    rows = [
        ("seed", results["seed"]),
        ("objects (namespaces)", f"{results['objects']} ({details['namespaces']})"),
        ("user actions", ", ".join(f"{k} {v}" for k, v in sorted(details["actions"].items()))),
        ("SIGKILLs survived", results["kills"]),
        *((f"faults: {name}", count) for name, count in faults.items()),
        ("faults: total injected", sum(faults.values())),
        ("Twilio requests", details["twilio_requests"]),
        ("all objects Ready", results["all_ready"]),
        ("duplicate Twilio objects", results["duplicate_objects"]),
        ("orphaned Twilio objects", results["orphaned_objects"]),
        ("deletions not honoured", len(details["deletion_not_honoured"])),
        ("Secrets failing auth", results["secrets_failing_auth"]),
        ("Secrets without object", len(details["stray_secrets"])),
        ("secret text in logs/events/status", results["secrets_in_logs"]),
        ("OpenAPI contract violations", details["twilio_contract_violations"]),
        ("operator exits not caused by us", details["unexpected_exits"]),
        ("fuzz examples (failing tests)", f"{results['fuzz_examples']} ({results['fuzz_failures']})"),
        ("duration", f"{details['duration_seconds']}s"),
        *(summary_rows(results["receiver"]) if "receiver" in results else []),
        ("RESULT", "PASS" if results["passed"] else "FAIL"),
    ]
    width = max(len(name) for name, _ in rows)
    line = "+" + "-" * (width + 2) + "+" + "-" * 42 + "+"
    body = [f"| {name:<{width}} | {value!s:<40} |" for name, value in rows]
    return "\n".join([line, *body, line])


def problems(results: dict[str, Any]) -> str:
    details = results["details"]
    keys = (
        "not_ready",
        "duplicates",
        "missing_in_twilio",
        "orphans",
        "deletion_not_honoured",
        "secrets_failing_auth",
        "stray_secrets",
        "secret_lines",
        "violations",
    )
    parts = [f"{key}: {json.dumps(details[key], indent=2)}" for key in keys if details[key]]
    receiver = results.get("receiver")
    if receiver is not None and not receiver["passed"]:
        parts.append(
            f"receiver: {json.dumps({k: v for k, v in receiver.items() if k != 'events'}, indent=2)}"
        )
        parts.append("receiver events:\n" + "\n".join(receiver["events"]))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--converge-timeout", type=float, default=300.0)
    parser.add_argument("--no-fuzz", action="store_true", help="skip the property-based suites")
    parser.add_argument(
        "--receiver-kills",
        type=int,
        default=8,
        help="SIGKILLs of the receiver in its phase (0: no receiver phase)",
    )
    parser.add_argument("--workdir", type=Path, help="keep logs here (default: a new temporary directory)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--kube", choices=("emulator", "apiserver"), default="emulator", help="the Kubernetes API server"
    )
    args = parser.parse_args(argv)
    config = ChaosConfig(
        seed=args.seed,
        objects=args.objects,
        kills=args.kills,
        converge_timeout=args.converge_timeout,
        fuzz=not args.no_fuzz,
        receiver_kills=args.receiver_kills,
        workdir=args.workdir,
        results=args.results,
        verbose=not args.quiet,
        kube=args.kube,
    )
    results = chaos(config)
    print(summary(results))
    if not results["passed"]:
        print(problems(results))
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
