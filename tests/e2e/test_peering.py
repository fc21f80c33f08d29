"""Two replicas under kopf peering, as the operator chart runs them with `replicaCount: 2`, watching all
namespaces (a ClusterKopfPeering) or listed ones (a KopfPeering in each).

The replica with the higher priority reconciles; the other stands by without touching Twilio. When the leader
is SIGKILLed (no goodbye in the peering object) the standby takes over once the leader's keep-alive expires
(`TWILIO_OPERATOR_PEERING_LIFETIME`), re-observes what the leader made without writing, and reconciles what is
applied afterwards. Twilio holds exactly one object per resource throughout.

This module has its own sandbox, so the shared one's request log (and the suite's RBAC check) stays about the
single-replica operator. Each replica reaches Twilio through its own pass-through proxy, so every Twilio
request is attributed to the replica that made it.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import yaml

from tests.e2e import helpers
from tests.e2e.conftest import check_rbac_covers_exactly
from tests.packaging.charts import OPERATOR_CHART, render
from tests.support.backends import operator_identity, start_sandbox
from tests.support.kube_side import api_calls, forbidden, operator_requests, spec_writes
from tests.support.shape_proxy import ShapeProxy
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess, wait_for

# The lifetime is the chart's (and the operator's) minimum, so a handover takes seconds rather than a minute.
LIFETIME = 10
NAMESPACE = "peering"
REPLICAS = {"replicaCount": 2, "peering": {"lifetime": LIFETIME}}
# The chart's values for this module's replicas, per way of watching.
MODES = {
    "all-namespaces": REPLICAS,
    "listed-namespaces": {**REPLICAS, "watchNamespaces": [NAMESPACE]},
}
PEERING_GROUP = "kopf.dev"
RESUMED = "Resuming operations after the pause"
PAUSED = "Pausing operations in favour of"
DRIFT_PAUSED = "drift timer paused: peering"
DRIFT_INTERVAL = 2
HANDLING = f"[{NAMESPACE}/"  # how every line about an object of the namespace starts
WRITES = ("POST", "DELETE")
SUB, KEY, SERVICE = "twiliosubaccount", "apikey", "messagingservice"


@dataclass
class Replica:
    """One `twilio-operator run` process with its own road to Twilio."""

    identity: str
    priority: int
    proxy: ShapeProxy
    process: OperatorProcess

    def twilio_requests(self) -> list[tuple[str, str, int]]:
        with self.proxy.lock:
            return list(self.proxy.seen)

    def twilio_writes(self) -> list[tuple[str, str, int]]:
        return [request for request in self.twilio_requests() if request[0] in WRITES]

    def log(self) -> str:
        return self.process.all_logs()


@dataclass
class Peers:
    values: dict[str, Any]
    sandbox: SandboxProcess
    kubectl: Kubectl
    twilio: TwilioSide
    peering: dict[str, Any]
    leader: Replica
    standby: Replica
    start: Callable[[str, int], Replica]

    def records(self) -> dict[str, Any]:
        """The keep-alives in the peering object's status, by replica identity."""
        meta = self.peering["metadata"]
        where = ["-n", meta["namespace"]] if "namespace" in meta else []
        obj = json.loads(
            self.kubectl.run("get", self.peering["kind"], meta["name"], *where, "-o", "json").stdout
        )
        records: dict[str, Any] = obj.get("status") or {}
        return records


def chart_peering(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The peering object the chart creates, and the arguments and peering variables of its pods."""
    (peering,) = [d for d in docs if d["kind"] in ("ClusterKopfPeering", "KopfPeering")]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = [a for a in container["args"] if a.startswith(("--peering", "--namespace"))]
    env = {e["name"]: e["value"] for e in container["env"] if e["name"] == "TWILIO_OPERATOR_PEERING_LIFETIME"}
    return peering, args, env


@pytest.fixture(scope="module", params=list(MODES))
def peers(
    request: pytest.FixtureRequest, kube_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peers]:
    values = MODES[request.param]
    sandbox = start_sandbox(tmp_path_factory.mktemp("peering-sandbox"), kube_backend)
    kubectl = Kubectl(sandbox.kubeconfig, tmp_path_factory.mktemp("peering-kubectl"))
    peering, args, env = chart_peering(render(OPERATOR_CHART, values, namespace="twilio-system"))
    assert env == {"TWILIO_OPERATOR_PEERING_LIFETIME": str(LIFETIME)}
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")
    kubectl.run("apply", "-f", str(OPERATOR_CHART / "crds" / "kopf-peering.yaml"))
    # A new CRD is served moments after it is created on a real API server.
    wait_for(
        lambda: kubectl.run("get", peering["kind"], "-A", check=False).returncode == 0,
        30,
        what="peering CRDs",
    )
    kubectl.apply(json.dumps(peering))
    identity = operator_identity(sandbox, kubectl, tmp_path_factory.mktemp("peering-identity"), values)

    def replica(replica_id: str, priority: int) -> Replica:
        proxy = ShapeProxy(sandbox.twilio_url)
        proxy.start()
        variables = {
            **env,
            **identity,
            "POD_ID": replica_id,  # what the chart sets: kopf names the replica's keep-alive after it
            "TWILIO_API_BASE_URL": proxy.url,
            "TWILIO_OPERATOR_CREATE_GRACE_PERIOD": "2",
            # Drift passes every few seconds, so a replica that kept doing them while standing by would show.
            "TWILIO_OPERATOR_DRIFT_INTERVAL": str(DRIFT_INTERVAL),
        }
        process = OperatorProcess(sandbox, tmp_path_factory.mktemp(replica_id), variables)
        process.start(*args, "--priority", str(priority))
        return Replica(replica_id, priority, proxy, process)

    twilio = TwilioSide(
        sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"]
    )
    leader = replica("replica-a", 200)
    started = Peers(values, sandbox, kubectl, twilio, peering, leader, leader, replica)
    # The standby starts once the leader leads: its first look at the peering object then finds a live peer of
    # higher priority, so it never runs at all (started together, both could reconcile for a moment).
    wait_for(lambda: RESUMED in leader.log() and leader.identity in started.records(), 60, what="the leader")
    started.standby = replica("replica-b", 100)
    wait_for(lambda: started.standby.identity in started.records(), 60, what="the standby's keep-alive")
    yield started
    # The standby first: stopping a live leader first would hand over to it, for nothing.
    for each in (started.standby, started.leader):
        each.process.stop()
        each.proxy.stop()
    violations = twilio.violations()
    sandbox.stop()
    assert violations == [], f"requests Twilio's OpenAPI spec rejects: {violations}"
    for each in (started.leader, started.standby):
        assert "Traceback" not in each.log() or "TemporaryError" in each.log(), f"{each.identity} crashed"


# name: (kind, subaccount), for the objects applied while both replicas run and after the leader is killed.
Objects = dict[str, tuple[str, str | None]]
FIRST: Objects = {
    "main": (SUB, None),
    **{key: (KEY, "main") for key in ("k0", "k1", "k2")},
    **{service: (SERVICE, "main") for service in ("s0", "s1")},
}
LATER: Objects = {
    "late": (SUB, None),
    "k3": (KEY, "main"),
    "late-key": (KEY, "late"),
    "s2": (SERVICE, "main"),
}


def apply_all(kubectl: Kubectl, objects: Objects) -> None:
    docs = []
    for name, (kind, sub) in objects.items():
        if kind == SUB:
            docs.append(helpers.manifest("TwilioSubaccount", name))
        elif kind == KEY:
            docs.append(helpers.manifest("ApiKey", name, subaccountRef={"name": sub}))
        else:
            senders = {"alphaSenders": [name.upper()]}
            docs.append(
                helpers.manifest("MessagingService", name, subaccountRef={"name": sub}, senders=senders)
            )
    kubectl.apply("\n---\n".join(yaml.safe_dump(json.loads(doc)) for doc in docs), NAMESPACE)


def all_ready(kubectl: Kubectl, objects: Objects) -> dict[str, dict[str, Any]]:
    return {
        name: helpers.ready(kubectl, kind, name, NAMESPACE, timeout=90) for name, (kind, _) in objects.items()
    }


def held_by_twilio(twilio: TwilioSide, objects: Objects, ready: dict[str, dict[str, Any]]) -> None:
    """Twilio holds exactly one object per resource, the one its status names, in its subaccount."""
    state = twilio.state()
    collections = {SUB: state["accounts"], KEY: state["keys"], SERVICE: state["services"]}
    for name, (kind, sub) in objects.items():
        found = [o for o in collections[kind] if o.get("friendly_name") == f"{NAMESPACE}/{name}"]
        assert [o["sid"] for o in found] == [ready[name]["status"]["sid"]], (
            f"{kind} {name}: Twilio holds {found}"
        )
        if sub is not None:
            assert found[0]["account"] == ready[sub]["status"]["sid"], f"{kind} {name} is in another account"


def creates(twilio: TwilioSide, since: int) -> Counter[str]:
    return Counter(
        str(r["operation"])
        for r in twilio.writes_since(since)
        if r["operation"] and str(r["operation"]).startswith("Create")
    )


def expected_creates(subaccounts: int, keys: int, services: int) -> Counter[str]:
    return Counter(
        {
            "CreateAccount": subaccounts,
            "CreateNewKey": keys,
            "CreateService": services,
            "CreateAlphaSender": services,
        }
    )


def log_time(log: str, marker: str) -> float:
    """When the line holding `marker` was logged (kopf's plain format), as a POSIX timestamp."""
    found = re.search(rf"^\[(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}})\].*{re.escape(marker)}", log, re.M)
    assert found, f"no {marker!r} in the log"
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_one_replica_reconciles_and_the_other_stands_by(peers: Peers) -> None:
    seq = peers.twilio.last_seq()
    apply_all(peers.kubectl, FIRST)
    held_by_twilio(peers.twilio, FIRST, all_ready(peers.kubectl, FIRST))
    assert creates(peers.twilio, seq) == expected_creates(1, 3, 2), "a Twilio object was created twice"
    assert not [r for r in peers.twilio.writes_since(seq) if str(r["operation"]).startswith("Delete")]

    # Every Twilio request came through the leader's proxy; the standby made none at all.
    assert peers.standby.twilio_requests() == []
    assert len(peers.leader.twilio_writes()) == len(peers.twilio.writes_since(0))
    # The standby never left its pause and never handled an object.
    standby_log = peers.standby.log()
    assert RESUMED not in standby_log
    assert HANDLING not in standby_log
    assert HANDLING in peers.leader.log()
    # Both keep-alives are in the peering object, with the replica's priority and the configured lifetime.
    records = {identity: (r["priority"], r["lifetime"]) for identity, r in peers.records().items()}
    assert records == {"replica-a": (200, LIFETIME), "replica-b": (100, LIFETIME)}


def test_the_standby_takes_over_when_the_leader_is_killed(peers: Peers) -> None:
    before = all_ready(peers.kubectl, FIRST)
    assert peers.standby.twilio_requests() == []
    seq = peers.twilio.last_seq()
    killed_at = time.time()
    peers.leader.process.kill()

    # The standby resumes once the dead leader's last keep-alive expires: within LIFETIME of the kill (the
    # timeout leaves room for a loaded machine; kopf's default lifetime would take up to a minute).
    wait_for(
        lambda: RESUMED in peers.standby.log(), LIFETIME + 30, interval=0.2, what="the standby to resume"
    )
    handover = log_time(peers.standby.log(), RESUMED) - killed_at
    print(f"\nhandover after SIGKILL: {handover:.1f}s (peering lifetime {LIFETIME}s)")
    # The new leader drops the dead one's keep-alive from the peering object.
    wait_for(
        lambda: set(peers.records()) == {peers.standby.identity}, 30, what="the dead leader's record removed"
    )

    apply_all(peers.kubectl, LATER)
    later = all_ready(peers.kubectl, LATER)
    print(f"objects applied after the kill Ready {time.time() - killed_at:.1f}s after it")
    # The new leader re-observed what the old one made (its resume pass), and wrote nothing to it.
    wait_for(
        lambda: all(
            helpers.ready(peers.kubectl, kind, name, NAMESPACE)["status"]["lastSyncTime"]
            > before[name]["status"]["lastSyncTime"]
            for name, (kind, _) in FIRST.items()
        ),
        60,
        what="every earlier object re-observed by the new leader",
    )
    held_by_twilio(peers.twilio, {**FIRST, **LATER}, {**before, **later})
    assert creates(peers.twilio, seq) == expected_creates(1, 2, 1), "a Twilio object was created twice"
    # Creates are counted above (a sender re-added to an earlier service would be one too many); nothing else
    # is written to an earlier object or under it.
    earlier_sids = {obj["status"]["sid"] for obj in before.values()}
    touched = [
        w
        for w in peers.twilio.writes_since(seq)
        if not str(w["operation"]).startswith("Create") and any(sid in w["path"] for sid in earlier_sids)
    ]
    assert touched == [], "the new leader rewrote objects the old one had made"
    assert len(peers.standby.twilio_writes()) == len(peers.twilio.writes_since(seq)) > 0


def test_a_leader_demoted_by_a_higher_priority_replica_stops_its_drift_passes(peers: Peers) -> None:
    """As in a rolling update: a replica of higher priority appears; kopf pauses the leader's handlers, and
    the drift timer, which runs outside them, pauses with them."""
    leader = peers.standby  # the leader since the previous test killed the first one
    assert RESUMED in leader.log(), "runs after the takeover test"
    objects = {**FIRST, **LATER}
    newcomer = peers.start("replica-c", 300)
    try:
        wait_for(lambda: PAUSED in leader.log(), LIFETIME + 30, interval=0.2, what="the leader to stand by")
        wait_for(lambda: DRIFT_PAUSED in leader.log(), 10, interval=0.2, what="its drift timer to pause")

        def resynced_after(moment: str) -> bool:
            return all(
                helpers.ready(peers.kubectl, kind, name, NAMESPACE)["status"]["lastSyncTime"] > moment
                for name, (kind, _) in objects.items()
            )

        # Every object is drift-checked by the newcomer (passes the old leader had under way are long over),
        # then the old leader's share of Twilio's requests is taken, and every object is checked twice more.
        first = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        wait_for(lambda: resynced_after(first), 60, what="the newcomer's drift passes")
        made = len(leader.twilio_requests())
        for _ in range(2):
            moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
            wait_for(lambda m=moment: resynced_after(m), 60, what="another round of drift passes")
        assert len(leader.twilio_requests()) == made, "the demoted leader kept calling Twilio"
        assert newcomer.twilio_requests(), "the newcomer never drift-checked anything"
    finally:
        newcomer.process.stop()
        newcomer.proxy.stop()
    assert "Traceback" not in newcomer.log() or "TemporaryError" in newcomer.log()


def test_rbac_for_peering_is_exactly_what_the_replicas_use(peers: Peers) -> None:
    """The chart's RBAC with replicas allows every call the replicas made, and its peering rules no more."""
    requests = operator_requests(peers.sandbox)
    assert spec_writes(requests) == []
    assert {call for call in api_calls(requests) if call[1] == PEERING_GROUP}, "no peering calls recorded"
    # On the real API server the replicas are the chart's ServiceAccount: what it lacks was refused.
    assert forbidden(requests) == [], "the chart's RBAC with replicas refused calls the replicas made"
    if peers.sandbox.kube == "emulator":
        check_rbac_covers_exactly(requests, exact_groups={PEERING_GROUP}, values=peers.values)
