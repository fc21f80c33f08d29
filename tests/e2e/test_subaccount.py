"""TwilioSubaccount end to end: kubectl → API server emulator → operator process → Twilio emulator."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from tests.e2e import helpers
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

KIND = "twiliosubaccount"


def manifest(name: str, **spec: Any) -> str:
    return helpers.manifest("TwilioSubaccount", name, **spec)


def ready(kubectl: Kubectl, name: str, namespace: str, timeout: float = 30) -> dict[str, Any]:
    return helpers.ready(kubectl, KIND, name, namespace, timeout)


def account(twilio: TwilioSide, sid: str) -> dict[str, Any]:
    return next(a for a in twilio.state()["accounts"] if a["sid"] == sid)


def test_create_reaches_ready_with_sid_in_status_and_twilio(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("dev"), namespace)
    obj = ready(kubectl, "dev", namespace)
    sid = obj["status"]["sid"]
    assert obj["metadata"]["annotations"]["twilio.operator.dev/external-name"] == sid
    assert obj["status"]["state"] == "active"
    fetched = twilio.client().api.v2010.accounts(sid).fetch()
    assert fetched.friendly_name == f"{namespace}/dev"
    assert fetched.owner_account_sid == twilio.parent_sid
    # The default policy is Orphan, so no finalizer blocks deletion.
    assert "twilio.operator.dev/finalizer" not in (obj["metadata"].get("finalizers") or [])
    assert len(twilio.subaccounts(f"{namespace}/dev")) == 1


def test_the_log_says_what_was_done_without_a_line_per_watch_event(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess
) -> None:
    before = len(operator.all_logs())
    kubectl.apply(helpers.manifest("ApiKey", "early", subaccountRef={"name": "quiet"}), namespace)
    helpers.reason(kubectl, "apikey", "early", namespace, "Synced", "SubaccountNotFound")
    kubectl.apply(manifest("quiet"), namespace)
    sid = ready(kubectl, "quiet", namespace)["status"]["sid"]
    kubectl.apply(manifest("quiet", friendlyName="renamed"), namespace)
    ready(kubectl, "quiet", namespace)
    helpers.ready(kubectl, "apikey", "early", namespace)
    logs = operator.all_logs()[before:]
    told = [line for line in logs.splitlines() if " DEBUG " not in line]
    # What was done, to which object, in a line each; waiting is not an error.
    assert any(f"INFO    [{namespace}/quiet] Created: created {sid} in Twilio" in line for line in told)
    assert any(
        f"[{namespace}/quiet] Updated: updated friendlyName: the spec changed" in line for line in told
    )
    assert any(
        f"INFO    [{namespace}/early] SubaccountNotFound: TwilioSubaccount quiet does not exist" in line
        for line in told
    ), told
    assert not [line for line in told if " ERROR " in line], told
    # Nothing for every watch event or handler call.
    assert not [line for line in told if "succeeded." in line or "Handling cycle" in line], told


def test_update_friendly_name_and_state_both_ways(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("app"), namespace)
    sid = ready(kubectl, "app", namespace)["status"]["sid"]
    kubectl.apply(manifest("app", friendlyName="renamed", state="Suspended"), namespace)
    obj = ready(kubectl, "app", namespace)
    assert obj["status"]["state"] == "suspended"
    assert account(twilio, sid)["friendly_name"] == "renamed"
    assert account(twilio, sid)["status"] == "suspended"
    kubectl.apply(manifest("app", friendlyName="renamed", state="Active"), namespace)
    wait_for(lambda: account(twilio, sid)["status"] == "active", 30, what="reactivated")
    assert ready(kubectl, "app", namespace)["status"]["sid"] == sid


def test_drift_is_corrected_with_an_event(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("drifty"), namespace)
    sid = ready(kubectl, "drifty", namespace)["status"]["sid"]
    # Someone changes it in the console.
    twilio.client().api.v2010.accounts(sid).update(friendly_name="console-edit", status="suspended")
    wait_for(
        lambda: (
            account(twilio, sid)["friendly_name"] == f"{namespace}/drifty"
            and account(twilio, sid)["status"] == "active"
        ),
        30,
        what="drift corrected",
    )
    wait_for(
        lambda: "DriftCorrected" in kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout,
        10,
        what="a DriftCorrected event",
    )


def test_deletion_policies(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    for name, policy in (("orphan", None), ("suspend", "Suspend"), ("close", "Close")):
        spec = {"deletionPolicy": policy} if policy else {}
        kubectl.apply(manifest(name, **spec), namespace)
    sids = {name: ready(kubectl, name, namespace)["status"]["sid"] for name in ("orphan", "suspend", "close")}
    for name in sids:
        obj = kubectl.get(KIND, name, namespace)
        has_finalizer = "twilio.operator.dev/finalizer" in (obj["metadata"].get("finalizers") or [])  # type: ignore[index]
        assert has_finalizer == (name != "orphan"), name
    for name in sids:
        kubectl.run("delete", KIND, name, "-n", namespace, "--wait=true", "--timeout=60s")
    assert account(twilio, sids["orphan"])["status"] == "active"
    assert account(twilio, sids["suspend"])["status"] == "suspended"
    assert account(twilio, sids["close"])["status"] == "closed"


def test_adopt_existing_subaccount_by_external_name(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    existing = twilio.client().api.v2010.accounts.create(friendly_name="made-in-console")
    body = json.loads(manifest("adopted", friendlyName="made-in-console"))
    body["metadata"]["annotations"] = {"twilio.operator.dev/external-name": existing.sid}
    kubectl.apply(json.dumps(body), namespace)
    obj = ready(kubectl, "adopted", namespace)
    assert obj["status"]["sid"] == existing.sid
    assert twilio.subaccounts("made-in-console") and len(twilio.subaccounts("made-in-console")) == 1
    assert twilio.subaccounts(f"{namespace}/adopted") == []


def test_pointing_a_ready_object_at_another_subaccount_is_acted_on_at_once(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    body = json.loads(manifest("moved", friendlyName="moved-here"))
    # No drift pass for an hour: only the annotation's change can bring the object to the new SID.
    body["metadata"]["annotations"] = {"twilio.operator.dev/poll-interval": "1h"}
    kubectl.apply(json.dumps(body), namespace)
    first = ready(kubectl, "moved", namespace)["status"]["sid"]
    other = twilio.client().api.v2010.accounts.create(friendly_name="moved-here-too")
    kubectl.run(
        "annotate",
        "--overwrite",
        KIND,
        "moved",
        "-n",
        namespace,
        f"twilio.operator.dev/external-name={other.sid}",
    )
    wait_for(
        lambda: (kubectl.get(KIND, "moved", namespace) or {}).get("status", {}).get("sid") == other.sid,
        20,
        what="status.sid to follow the annotation",
    )
    # Adopted as declared: renamed to the spec's name; the first one is left as it was.
    assert account(twilio, other.sid)["friendly_name"] == "moved-here"
    assert account(twilio, first)["status"] == "active"


def test_adopting_a_missing_sid_reports_external_not_found(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess
) -> None:
    body = json.loads(manifest("ghost"))
    body["metadata"]["annotations"] = {"twilio.operator.dev/external-name": "AC" + "0" * 32}
    kubectl.apply(json.dumps(body), namespace)
    cond = wait_for(
        lambda: kubectl.condition(KIND, "ghost", namespace, "Synced"), 30, what="Synced condition"
    )
    assert cond["status"] == "False" and cond["reason"] == "ExternalNotFound"


def test_bad_specs_are_rejected_by_the_api_server(kubectl: Kubectl, namespace: str) -> None:
    cases = {
        "state": manifest("bad1", state="Closed"),
        "deletionPolicy": manifest("bad2", deletionPolicy="Delete"),
        "friendlyName": manifest("bad3", friendlyName="x" * 65),
        "nope": manifest("bad4", nope=True),
    }
    for field, body in cases.items():
        result = kubectl.run("apply", "-n", namespace, "-f", "-", input=body, check=False)
        assert result.returncode != 0, field
        assert field in result.stderr, result.stderr
        assert kubectl.get(KIND, body and json.loads(body)["metadata"]["name"], namespace) is None


def test_credentials_secret_is_exported_on_request(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    # No drift check in this test's time: what it sees, it was told.
    quiet = {"twilio.operator.dev/poll-interval": "1h"}
    body = helpers.manifest(
        "TwilioSubaccount", "exported", quiet, credentialsSecretRef={"name": "exported-creds"}
    )
    kubectl.apply(body, namespace)
    obj = ready(kubectl, "exported", namespace)
    sid = obj["status"]["sid"]
    assert obj["status"]["credentialsSecretName"] == "exported-creds"
    secret = wait_for(lambda: kubectl.get("secret", "exported-creds", namespace), 10, what="secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["TWILIO_ACCOUNT_SID"] == sid
    # The exported token really is the subaccount's: it authenticates as the subaccount.
    assert twilio.client(sid, data["TWILIO_AUTH_TOKEN"]).api.v2010.accounts(sid).fetch().sid == sid
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "TwilioSubaccount"
    assert data["TWILIO_AUTH_TOKEN"] not in json.dumps(kubectl.get(KIND, "exported", namespace))
    # Deleted by someone: written again within seconds, not at the next drift check.
    kubectl.run("delete", "secret", "exported-creds", "-n", namespace)
    again = wait_for(lambda: kubectl.get("secret", "exported-creds", namespace), 15, what="the Secret back")
    assert again["data"] == secret["data"]


def test_closed_behind_our_back_is_reported_and_not_retried_hot(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("doomed"), namespace)
    sid = ready(kubectl, "doomed", namespace)["status"]["sid"]
    twilio.client().api.v2010.accounts(sid).update(status="closed")
    cond = wait_for(
        lambda: (
            (c := kubectl.condition(KIND, "doomed", namespace, "Synced"))
            and c["reason"] == "SubaccountClosed"
            and c
        ),
        30,
        what="SubaccountClosed",
    )
    assert cond["status"] == "False"
    seq = twilio.last_seq()
    time.sleep(4)  # one drift interval: measuring how often the operator calls, not waiting for a state
    calls = [r for r in twilio.requests_since(seq) if sid in r["path"]]
    assert len(calls) <= 3, calls
    assert not [r for r in calls if r["write"]]


def test_crash_between_create_and_recording_the_sid_leaves_one_subaccount(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    twilio.fault(operation="CreateAccount", kind="commit_then_hang", times=1)
    try:
        seq = twilio.last_seq()
        kubectl.apply(manifest("crashy"), namespace)
        wait_for(
            lambda: any(r["operation"] == "CreateAccount" for r in twilio.requests_since(seq)),
            30,
            what="the create to reach Twilio",
        )
        wait_for(lambda: twilio.subaccounts(f"{namespace}/crashy"), 10, what="the subaccount committed")
        operator.kill()
    finally:
        twilio.clear_faults()
    operator.start()
    obj = ready(kubectl, "crashy", namespace, timeout=60)
    found = twilio.subaccounts(f"{namespace}/crashy")
    assert len(found) == 1, found
    assert obj["status"]["sid"] == found[0]["sid"]


def test_restart_with_ready_subaccounts_makes_no_twilio_writes(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    names = [f"r{i}" for i in range(5)]
    for name in names:
        kubectl.apply(manifest(name), namespace)
    before = {name: ready(kubectl, name, namespace)["status"]["lastSyncTime"] for name in names}
    operator.stop()
    seq = twilio.last_seq()
    operator.start()

    def all_resynced() -> bool:
        # Each object is re-observed after the restart; lastSyncTime has second precision.
        return all(kubectl.get(KIND, n, namespace)["status"]["lastSyncTime"] > before[n] for n in names)  # type: ignore[index]

    time.sleep(
        1.1
    )  # lastSyncTime has one-second resolution: make a new pass distinguishable from the old one
    wait_for(all_resynced, 30, what="every subaccount re-observed after restart")
    # Objects other tests left behind may still be converging; these subaccounts must see no write.
    sids = {kubectl.get(KIND, n, namespace)["status"]["sid"] for n in names}  # type: ignore[index]
    assert [
        w for w in twilio.writes_since(seq) if w["principal"] in sids or any(s in w["path"] for s in sids)
    ] == []


def test_rate_limits_and_server_errors_still_converge_to_one_subaccount_each(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    for operation in ("CreateAccount", "FetchAccount", "UpdateAccount", "ListAccount"):
        twilio.fault(operation=operation, kind="status", status=429, times=2)
        twilio.fault(operation=operation, kind="status", status=503, times=1)
        twilio.fault(operation=operation, kind="status", status=500, times=1)
    try:
        names = [f"flaky{i}" for i in range(3)]
        for name in names:
            kubectl.apply(manifest(name, state="Suspended"), namespace)
        for name in names:
            ready(kubectl, name, namespace, timeout=90)
    finally:
        twilio.clear_faults()
    for name in names:
        assert len(twilio.subaccounts(f"{namespace}/{name}")) == 1, name


def test_adopting_a_subaccount_another_object_manages_is_refused(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("owner"), namespace)
    sid = ready(kubectl, "owner", namespace)["status"]["sid"]
    other = f"{namespace[:50]}-x"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {other}\n")
    body = json.loads(manifest("thief"))
    body["metadata"]["annotations"] = {"twilio.operator.dev/external-name": sid}
    kubectl.apply(json.dumps(body), other)
    cond = helpers.reason(kubectl, KIND, "thief", other, "Synced", "AlreadyManaged")
    assert sid in cond["message"]
    assert account(twilio, sid)["friendly_name"] == f"{namespace}/owner"
    assert ready(kubectl, "owner", namespace)["status"]["sid"] == sid


def test_paused_objects_are_left_alone_and_resume_when_unpaused(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("sleepy"), namespace)
    sid = ready(kubectl, "sleepy", namespace)["status"]["sid"]
    kubectl.run("annotate", KIND, "sleepy", "-n", namespace, "twilio.operator.dev/paused=true")
    helpers.reason(kubectl, KIND, "sleepy", namespace, "Synced", "ReconcilePaused")
    seq = twilio.last_seq()
    kubectl.apply(manifest("sleepy", friendlyName="changed-while-paused"), namespace)
    twilio.client().api.v2010.accounts(sid).update(status="suspended")
    time.sleep(4)  # longer than a drift interval: nothing may happen while paused
    # The one write is the console's suspension above: the operator wrote nothing.
    assert len([r for r in twilio.requests_since(seq) if sid in r["path"] and r["write"]]) == 1
    assert account(twilio, sid)["friendly_name"] == f"{namespace}/sleepy"
    kubectl.run("annotate", KIND, "sleepy", "-n", namespace, "twilio.operator.dev/paused-")
    obj = ready(kubectl, "sleepy", namespace)
    assert account(twilio, sid)["friendly_name"] == "changed-while-paused"
    assert account(twilio, sid)["status"] == "active"
    assert obj["status"]["sid"] == sid
    # The spec's change is an update; only the console's suspension was drift.
    told = {e["reason"]: e["message"] for e in helpers.events(kubectl, namespace, "sleepy")}
    assert told["Updated"] == "updated friendlyName: the spec changed", told
    assert told["DriftCorrected"] == "corrected state changed outside the operator", told


def test_annotations_that_cannot_be_read_are_reported_by_name(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    # "yes" reads as true (as do true, on, 1, in any case); "maybe" and "abc" cannot be read.
    kubectl.apply(
        helpers.manifest("TwilioSubaccount", "flags", {"twilio.operator.dev/paused": "yes"}), namespace
    )
    helpers.reason(kubectl, KIND, "flags", namespace, "Synced", "ReconcilePaused")
    kubectl.run(
        "annotate",
        "--overwrite",
        KIND,
        "flags",
        "-n",
        namespace,
        "twilio.operator.dev/paused=maybe",
        "twilio.operator.dev/poll-interval=abc",
    )
    ready(kubectl, "flags", namespace)

    def reported() -> list[str] | None:
        found = [
            e["message"]
            for e in helpers.events(kubectl, namespace, "flags")
            if e["reason"] == "UnreadableAnnotation"
        ]
        return found if len(found) == 2 else None

    messages = wait_for(reported, 15, what="a Warning for each unreadable annotation")
    assert any('twilio.operator.dev/paused is "maybe"' in m and '"true" or "false"' in m for m in messages)
    assert any('twilio.operator.dev/poll-interval is "abc"' in m and "90s" in m for m in messages)


def test_reconcile_requested_at_forces_a_sync_now(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(manifest("poked"), namespace)
    ready(kubectl, "poked", namespace)
    kubectl.run(
        "annotate",
        KIND,
        "poked",
        "-n",
        namespace,
        "twilio.operator.dev/reconcile-requested-at=2026-11-27T10:00:00Z",
    )
    obj = wait_for(
        lambda: (
            (o := kubectl.get(KIND, "poked", namespace))
            and o["status"].get("lastHandledReconcileAt") == "2026-11-27T10:00:00Z"
            and o
        ),
        20,
        what="lastHandledReconcileAt",
    )
    assert helpers.conditions(obj)["Synced"]["status"] == "True"
