"""ApiKey end to end: the one-time secret reaches its Secret, every time, and nowhere else."""

from __future__ import annotations

import json
from typing import Any

import yaml
from twilio.base.exceptions import TwilioException

from tests.e2e import helpers
from tests.support.kube_side import operator_requests
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess, wait_for

KIND = "apikey"
# No drift check within a test's time: what such an object does, it was told to by a watch event.
QUIET = {"twilio.operator.dev/poll-interval": "1h"}


def key_manifest(
    name: str, subaccount: str | None = "sub", annotations: dict[str, str] | None = None, **spec: Any
) -> str:
    if subaccount:
        spec["subaccountRef"] = {"name": subaccount}
    return helpers.manifest("ApiKey", name, annotations, **spec)


def with_subaccount(kubectl: Kubectl, namespace: str) -> str:
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
    return str(helpers.ready(kubectl, "twiliosubaccount", "sub", namespace)["status"]["sid"])


def authenticates(twilio: TwilioSide, data: dict[str, str]) -> bool:
    """Use the key the way a workload would: the v1 API acts as the key's account."""
    client = twilio.client(
        data["TWILIO_API_KEY"], data["TWILIO_API_SECRET"], account_sid=data["TWILIO_ACCOUNT_SID"]
    )
    try:
        client.messaging.v1.services.list(limit=1)
    except TwilioException:
        return False
    return True


def keys_named(twilio: TwilioSide, account: str, friendly_name: str) -> list[dict[str, Any]]:
    return [
        k for k in twilio.state()["keys"] if k["account"] == account and k["friendly_name"] == friendly_name
    ]


def test_secret_holds_a_working_key_before_ready(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    kubectl.apply(key_manifest("app"), namespace)
    obj = helpers.ready(kubectl, KIND, "app", namespace)
    data = helpers.secret_data(kubectl, "app", namespace)
    assert data is not None, "Ready without a Secret"
    assert data["TWILIO_ACCOUNT_SID"] == sub and data["TWILIO_API_KEY"] == obj["status"]["sid"]
    assert authenticates(twilio, data)
    secret = kubectl.get("secret", "app", namespace)
    assert secret is not None
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "twilio-operator"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
    assert data["TWILIO_API_SECRET"] not in json.dumps(obj)
    assert obj["status"]["accountSid"] == sub and obj["status"]["type"] == "Standard"
    assert len(keys_named(twilio, sub, f"{namespace}/app")) == 1


def test_a_new_key_costs_five_kubernetes_requests_and_an_event(
    kubectl: Kubectl, namespace: str, sandbox: SandboxProcess, operator: OperatorProcess
) -> None:
    since = max((e["seq"] for e in operator_requests(sandbox)), default=0)
    # Applied together, as GitOps does: the key's wait for its subaccount costs no request of its own.
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
    kubectl.apply(key_manifest("lean"), namespace)
    helpers.ready(kubectl, KIND, "lean", namespace)

    def calls() -> list[tuple[str, str]]:
        return [
            (e["method"], e["path"].rsplit(f"/namespaces/{namespace}/", 1)[-1])
            for e in operator_requests(sandbox)
            if e["seq"] > since and e["namespace"] == namespace and "twiliosubaccounts" not in e["path"]
        ]

    wait_for(lambda: calls().count(("POST", "events")) == 2, 10, what="both Created events")
    assert sorted(calls()) == sorted(
        [
            ("POST", "events"),  # the subaccount's Created
            ("GET", "secrets/lean"),  # before any Twilio call: a Secret of that name must be ours
            ("PATCH", "apikeys/lean"),  # the create's pending mark, and the finalizer with it
            ("PATCH", "apikeys/lean"),  # the new SID
            ("POST", "secrets"),
            ("PATCH", "apikeys/lean/status"),  # with kopf's record of what was handled
            ("POST", "events"),
        ]
    )
    first = next(
        e
        for e in operator_requests(sandbox)
        if e["seq"] > since and e["method"] == "PATCH" and "/apikeys/" in e["path"]
    )
    assert "twilio.operator.dev/finalizer" in first["body"]["metadata"]["finalizers"]
    assert "twilio.operator.dev/external-create-pending" in first["body"]["metadata"]["annotations"]

    # A change to the spec costs one status write: kopf's record goes with it.
    since = max((e["seq"] for e in operator_requests(sandbox)), default=0)
    kubectl.apply(key_manifest("lean", friendlyName="renamed"), namespace)
    helpers.ready(kubectl, KIND, "lean", namespace)
    wait_for(lambda: ("POST", "events") in calls(), 10, what="the Updated event")
    assert sorted(calls()) == [("GET", "secrets/lean"), ("PATCH", "apikeys/lean/status"), ("POST", "events")]


def test_waits_for_its_subaccount(kubectl: Kubectl, namespace: str, operator: OperatorProcess) -> None:
    # A name that matches no subaccount reads as such (a typo looks different from waiting)...
    kubectl.apply(key_manifest("early"), namespace)
    cond = helpers.reason(kubectl, KIND, "early", namespace, "Synced", "SubaccountNotFound")
    assert cond["message"] == "TwilioSubaccount sub does not exist in this namespace"
    # ...one that exists but is not Ready yet is waited for...
    paused = {"twilio.operator.dev/paused": "true"}
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub", paused), namespace)
    cond = helpers.reason(kubectl, KIND, "early", namespace, "Ready", "WaitingForSubaccount")
    assert cond["message"] == "waiting for TwilioSubaccount sub to be Ready"
    # ...and the key follows as soon as it is.
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
    helpers.ready(kubectl, KIND, "early", namespace, timeout=40)


def test_keys_and_services_of_a_suspended_subaccount_say_so_and_recover_when_it_is_active(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(key_manifest("held"), namespace)
    kubectl.apply(helpers.manifest("MessagingService", "held-svc", subaccountRef={"name": "sub"}), namespace)
    helpers.ready(kubectl, KIND, "held", namespace)
    helpers.ready(kubectl, "messagingservice", "held-svc", namespace)
    seq = twilio.last_seq()
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub", state="Suspended"), namespace)
    # Told at once (not at the next drift pass), without a single call Twilio would refuse.
    for kind, name in ((KIND, "held"), ("messagingservice", "held-svc")):
        cond = helpers.reason(kubectl, kind, name, namespace, "Synced", "SubaccountSuspended")
        assert "TwilioSubaccount sub is Suspended" in cond["message"]
    refused = [r for r in twilio.requests_since(seq) if r["status"] in (401, 403)]
    assert refused == []
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub", state="Active"), namespace)
    helpers.ready(kubectl, KIND, "held", namespace, timeout=20)
    helpers.ready(kubectl, "messagingservice", "held-svc", namespace, timeout=20)


def test_parent_account_and_raw_sid_are_refused_without_the_allow_flags(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    seq = twilio.last_seq()
    kubectl.apply(key_manifest("on-parent", subaccount=None), namespace)
    kubectl.apply(key_manifest("raw", subaccount=None, accountSid="AC" + "1" * 32), namespace)
    helpers.reason(kubectl, KIND, "on-parent", namespace, "Synced", "Forbidden")
    helpers.reason(kubectl, KIND, "raw", namespace, "Synced", "Forbidden")
    assert not [
        r for r in twilio.requests_since(seq) if r["operation"] in ("CreateNewKey", "CreateNewApiKey")
    ]


def test_restricted_key_with_policy(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    allow = ["/twilio/messaging/services/read"]
    kubectl.apply(key_manifest("narrow", type="Restricted", policy={"allow": allow}), namespace)
    obj = helpers.ready(kubectl, KIND, "narrow", namespace)
    [key] = [k for k in twilio.state()["keys"] if k["sid"] == obj["status"]["sid"]]
    assert key["account"] == sub and key["policy"] == {"allow": allow}
    assert obj["status"]["type"] == "Restricted"
    assert authenticates(twilio, helpers.secret_data(kubectl, "narrow", namespace) or {})


def test_rotation_on_request_keeps_the_old_key_for_the_grace_period(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    rotation = {"every": "720h", "gracePeriod": "6s"}
    kubectl.apply(key_manifest("rot", rotation=rotation), namespace)
    first = helpers.ready(kubectl, KIND, "rot", namespace)["status"]["sid"]
    old = helpers.secret_data(kubectl, "rot", namespace) or {}
    kubectl.run("annotate", KIND, "rot", "-n", namespace, "twilio.operator.dev/rotate-requested-at=now-1")
    new = wait_for(
        lambda: (d := helpers.secret_data(kubectl, "rot", namespace)) and d["TWILIO_API_KEY"] != first and d,
        30,
        what="a rotated key in the Secret",
    )
    obj = helpers.ready(kubectl, KIND, "rot", namespace)
    assert obj["status"]["rotation"]["previousSid"] == first
    assert obj["status"]["rotation"]["currentSid"] == new["TWILIO_API_KEY"]
    assert authenticates(twilio, old) and authenticates(twilio, new)
    wait_for(lambda: not authenticates(twilio, old), 30, what="the old key to expire")
    assert authenticates(twilio, new)
    assert helpers.ready(kubectl, KIND, "rot", namespace)["status"]["rotation"].get("previousSid") is None


def test_deleted_secret_is_recovered_with_a_new_key_and_the_old_one_revoked(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    # No drift check in this test's time: the Secret's deletion itself brings the key back.
    kubectl.apply(key_manifest("lost", annotations=QUIET), namespace)
    first = helpers.ready(kubectl, KIND, "lost", namespace)["status"]["sid"]
    old = helpers.secret_data(kubectl, "lost", namespace) or {}
    kubectl.run("delete", "secret", "lost", "-n", namespace)
    new = wait_for(
        lambda: (d := helpers.secret_data(kubectl, "lost", namespace)) and d["TWILIO_API_KEY"] != first and d,
        30,
        what="a new Secret",
    )
    assert authenticates(twilio, new)
    wait_for(lambda: not authenticates(twilio, old), 30, what="the old key revoked")
    assert [k["sid"] for k in keys_named(twilio, sub, f"{namespace}/lost")] == [new["TWILIO_API_KEY"]]


def test_edited_secret_is_recovered_the_same_way(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(key_manifest("edited", annotations=QUIET), namespace)
    first = helpers.ready(kubectl, KIND, "edited", namespace)["status"]["sid"]
    kubectl.run(
        "patch",
        "secret",
        "edited",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"stringData":{"TWILIO_API_SECRET":"x"}}',
    )
    new = wait_for(
        lambda: (
            (d := helpers.secret_data(kubectl, "edited", namespace)) and d["TWILIO_API_KEY"] != first and d
        ),
        30,
        what="a replaced key",
    )
    assert authenticates(twilio, new)


def test_secret_loss_with_fail_policy_is_reported(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(key_manifest("strict", onSecretLoss="Fail"), namespace)
    first = helpers.ready(kubectl, KIND, "strict", namespace)["status"]["sid"]
    kubectl.run("delete", "secret", "strict", "-n", namespace)
    helpers.reason(kubectl, KIND, "strict", namespace, "Synced", "SecretLost")
    assert any(k["sid"] == first for k in twilio.state()["keys"])


def test_an_unmanaged_secret_of_that_name_is_never_overwritten(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "taken"},
                "stringData": {"mine": "yes"},
            }
        ),
        namespace,
    )
    seq = twilio.last_seq()
    kubectl.apply(key_manifest("taken"), namespace)
    helpers.reason(kubectl, KIND, "taken", namespace, "Synced", "SecretConflict")
    assert helpers.secret_data(kubectl, "taken", namespace) == {"mine": "yes"}
    assert not [r for r in twilio.requests_since(seq) if r["operation"] == "CreateNewKey"]


def test_two_keys_naming_one_secret_applied_together_make_one_key(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    seq = twilio.last_seq()
    # In one kubectl apply, as GitOps does: both find the Secret free.
    pair = [key_manifest(name, secretName="shared") for name in ("first", "second")]
    kubectl.apply("\n---\n".join(yaml.safe_dump(json.loads(doc)) for doc in pair), namespace)
    winner = wait_for(
        lambda: next(
            (
                n
                for n in ("first", "second")
                if helpers.conditions(kubectl.get(KIND, n, namespace)).get("Ready", {}).get("status")
                == "True"
            ),
            None,
        ),
        30,
        what="one of the keys Ready",
    )
    loser = "second" if winner == "first" else "first"
    cond = helpers.reason(kubectl, KIND, loser, namespace, "Synced", "SecretConflict")
    assert "Secret shared exists and is not owned by this resource" in cond["message"]
    # Exactly one key was made, the winner's, and its secret is in the Secret.
    made = [r for r in twilio.requests_since(seq) if r["operation"] == "CreateNewKey"]
    keys = [k["sid"] for k in twilio.state()["keys"] if k["account"] == sub]
    data = helpers.secret_data(kubectl, "shared", namespace) or {}
    assert len(made) == 1 and keys == [data["TWILIO_API_KEY"]]
    assert authenticates(twilio, data)
    assert (
        not (kubectl.get(KIND, loser, namespace) or {})["metadata"]
        .get("annotations", {})
        .get("twilio.operator.dev/external-name")
    )
    assert [e["reason"] for e in helpers.events(kubectl, namespace, loser)] == []
    assert "Traceback" not in operator.all_logs()


def test_a_key_moved_to_another_subaccount_leaves_nothing_behind(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    first = with_subaccount(kubectl, namespace)
    kubectl.apply(helpers.manifest("TwilioSubaccount", "other"), namespace)
    second = helpers.ready(kubectl, "twiliosubaccount", "other", namespace)["status"]["sid"]
    kubectl.apply(key_manifest("mover"), namespace)
    old = helpers.ready(kubectl, KIND, "mover", namespace)["status"]["sid"]
    kubectl.apply(key_manifest("mover", subaccount="other"), namespace)
    moved = wait_for(
        lambda: (
            (o := helpers.ready(kubectl, KIND, "mover", namespace))["status"]["accountSid"] == second and o
        ),
        30,
        what="the key in the other subaccount",
    )
    # The old key is revoked in the account it was made in, and the Event says so; the Secret has the new one.
    assert old not in {k["sid"] for k in twilio.state()["keys"] if k["account"] == first}
    assert [k["sid"] for k in twilio.state()["keys"] if k["account"] == second] == [moved["status"]["sid"]]
    changed = [
        e["message"] for e in helpers.events(kubectl, namespace, "mover") if e["reason"] == "AccountChanged"
    ]
    assert changed and old in changed[0] and first in changed[0] and "deleted" in changed[0]
    data = helpers.secret_data(kubectl, "mover", namespace) or {}
    assert data["TWILIO_ACCOUNT_SID"] == second and authenticates(twilio, data)


def test_deletion_policies(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    kubectl.apply(key_manifest("gone"), namespace)
    kubectl.apply(key_manifest("kept", deletionPolicy="Orphan"), namespace)
    gone = helpers.ready(kubectl, KIND, "gone", namespace)["status"]["sid"]
    kept = helpers.ready(kubectl, KIND, "kept", namespace)["status"]["sid"]
    kubectl.run("delete", KIND, "gone", "kept", "-n", namespace, "--wait=true", "--timeout=60s")
    sids = {k["sid"] for k in twilio.state()["keys"] if k["account"] == sub}
    assert gone not in sids and kept in sids


def test_crash_after_key_create_before_secret_written(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    twilio.fault(operation="CreateNewKey", kind="commit_then_hang", times=1)
    try:
        kubectl.apply(key_manifest("crashy"), namespace)
        wait_for(lambda: keys_named(twilio, sub, f"{namespace}/crashy"), 30, what="the key created in Twilio")
        operator.kill()
    finally:
        twilio.clear_faults()
    operator.start()
    obj = helpers.ready(kubectl, KIND, "crashy", namespace, timeout=60)
    keys = keys_named(twilio, sub, f"{namespace}/crashy")
    assert [k["sid"] for k in keys] == [obj["status"]["sid"]], "the orphan key was not revoked"
    assert authenticates(twilio, helpers.secret_data(kubectl, "crashy", namespace) or {})


def test_restart_makes_no_writes_and_rotates_nothing_early(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    names = [f"k{i}" for i in range(4)]
    for name in names:
        kubectl.apply(key_manifest(name, rotation={"every": "720h"}), namespace)
    before = {n: helpers.ready(kubectl, KIND, n, namespace)["status"] for n in names}
    operator.stop()
    seq = twilio.last_seq()
    operator.start()
    wait_for(
        lambda: all(
            (kubectl.get(KIND, n, namespace) or {})["status"]["lastSyncTime"] > before[n]["lastSyncTime"]
            for n in names
        ),
        40,
        what="every key re-observed",
    )
    # Objects other tests left behind may still be converging; this namespace's keys must cause no write.
    assert [w for w in twilio.writes_since(seq) if sub in w["path"]] == []
    for name in names:
        assert (kubectl.get(KIND, name, namespace) or {})["status"]["sid"] == before[name]["sid"]


def test_rate_limits_and_server_errors_still_give_exactly_one_key(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    for operation in ("CreateNewKey", "FetchKey", "ListKey", "UpdateKey"):
        twilio.fault(operation=operation, kind="status", status=429, times=2)
        twilio.fault(operation=operation, kind="status", status=500, times=1)
        twilio.fault(operation=operation, kind="status", status=503, times=1)
    try:
        for i in range(3):
            kubectl.apply(key_manifest(f"f{i}"), namespace)
        objs = [helpers.ready(kubectl, KIND, f"f{i}", namespace, timeout=90) for i in range(3)]
    finally:
        twilio.clear_faults()
    for i, obj in enumerate(objs):
        assert [k["sid"] for k in keys_named(twilio, sub, f"{namespace}/f{i}")] == [obj["status"]["sid"]]


def test_key_secrets_never_reach_logs_events_or_status(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(key_manifest("quiet"), namespace)
    helpers.ready(kubectl, KIND, "quiet", namespace)
    secret = (helpers.secret_data(kubectl, "quiet", namespace) or {})["TWILIO_API_SECRET"]
    events = kubectl.run("get", "events", "-A", "-o", "json").stdout
    everything = kubectl.run("get", "twilio", "-A", "-o", "json").stdout
    assert secret not in events and secret not in everything
    assert secret not in operator.all_logs()


def test_an_existing_key_cannot_be_adopted(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(
        key_manifest("adopt", annotations={"twilio.operator.dev/external-name": "SK" + "2" * 32}), namespace
    )
    helpers.reason(kubectl, KIND, "adopt", namespace, "Synced", "CannotAdopt")


def test_keys_outlive_their_subaccount_object_sensibly(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    # The subaccount object goes first (its policy orphans the subaccount): the key keeps working, reports
    # that its subaccount is gone, and can still be deleted, which revokes it.
    sub = with_subaccount(kubectl, namespace)
    # No drift check in this test's time: what it sees, it was told.
    kubectl.apply(key_manifest("survivor", annotations=QUIET), namespace)
    sid = helpers.ready(kubectl, KIND, "survivor", namespace)["status"]["sid"]
    kubectl.run("delete", "twiliosubaccount", "sub", "-n", namespace, "--wait=true", "--timeout=60s")
    # Told at once: the subaccount's deletion wakes its keys.
    helpers.reason(kubectl, KIND, "survivor", namespace, "Ready", "SubaccountNotFound")
    assert authenticates(twilio, helpers.secret_data(kubectl, "survivor", namespace) or {})
    kubectl.run("delete", KIND, "survivor", "-n", namespace, "--wait=true", "--timeout=60s")
    assert sid not in {k["sid"] for k in twilio.state()["keys"] if k["account"] == sub}


def test_closing_the_subaccount_does_not_wedge_key_deletion(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub", deletionPolicy="Close"), namespace)
    helpers.ready(kubectl, "twiliosubaccount", "sub", namespace)
    kubectl.apply(key_manifest("doomed", annotations=QUIET), namespace)
    helpers.ready(kubectl, KIND, "doomed", namespace)
    kubectl.run("delete", "twiliosubaccount", "sub", "-n", namespace, "--wait=true", "--timeout=60s")
    # Told at once that its account is closed, and not Ready any more.
    cond = helpers.reason(kubectl, KIND, "doomed", namespace, "Ready", "SubaccountClosed")
    assert cond["status"] == "False"
    # The subaccount is closed, its keys with it: deleting the key object must not hang on its finalizer.
    kubectl.run("delete", KIND, "doomed", "-n", namespace, "--wait=true", "--timeout=60s")
    assert kubectl.get(KIND, "doomed", namespace) is None
