"""Every way a namespaced user could reach another tenant's Twilio objects, each refused with a reason.

A namespace is a tenant. Tenant A owns a subaccount, a key and a service; tenant B (another namespace) tries
to reach them: by reference name, by raw SID, by adopting A's SIDs with the external-name annotation (also
after forging the operator's own bookkeeping annotation, and through a crash-interrupted create whose
friendly name matches A's), and by naming a Secret that isn't the operator's.

On the real API server each tenant acts as a user of its own, bound to the built-in `admin` role in its
namespace only (tests/support/users.py), so RBAC stands between the tenants too; the last tests check what
the `edit` and `view` roles let a user do with our kinds, with `kubectl auth can-i` and real requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from chaos.control import KubeControl, TwilioSide

from tests.e2e.helpers import events
from tests.resilience.conftest import ADOPTING_NAMESPACE, Captured, make_namespace
from tests.resilience.helpers import (
    conditions,
    keys_named,
    manifest,
    reason,
    secret_data,
    services_named,
    subaccount,
    wait_for,
)
from tests.resilience.helpers import ready as ready_for
from tests.support.users import TenantKubectl, Users, can, forbidden
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

EXTERNAL_NAME = "twilio.operator.dev/external-name"
QUIET = {"twilio.operator.dev/poll-interval": "1h"}
CREATE_SUCCEEDED = "twilio.operator.dev/external-create-succeeded"


@pytest.fixture(scope="module")
def users(
    sandbox: SandboxProcess, session_kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Users:
    return Users(sandbox, session_kubectl, tmp_path_factory.mktemp("users"))


@pytest.fixture
def kubectl(session_kubectl: Kubectl, sandbox: SandboxProcess, users: Users) -> Kubectl:
    """Each tenant's own hands: on the real API server, its namespace's administrator (not the cluster's)."""
    return TenantKubectl(users) if sandbox.kube == "apiserver" else session_kubectl


@dataclass
class Tenant:
    namespace: str
    sub: str  # subaccount SID
    key: str  # key SID
    service: str  # service SID
    secret: dict[str, str]


@pytest.fixture
def tenant_a(kubectl: Kubectl, captured: Captured, operator: OperatorProcess) -> Tenant:
    namespace = make_namespace(kubectl, "tenant-a", captured)
    # No drift checks while a test runs: what Twilio sees about A's objects is then B's doing alone.
    kubectl.apply(manifest("TwilioSubaccount", "prod", QUIET), namespace)
    sub = ready_for(kubectl, "twiliosubaccount", "prod", namespace, timeout=60)["status"]["sid"]
    kubectl.apply(manifest("ApiKey", "app", QUIET, subaccountRef={"name": "prod"}), namespace)
    kubectl.apply(manifest("MessagingService", "alerts", QUIET, subaccountRef={"name": "prod"}), namespace)
    key = ready_for(kubectl, "apikey", "app", namespace, timeout=60)["status"]["sid"]
    service = ready_for(kubectl, "messagingservice", "alerts", namespace, timeout=60)["status"]["sid"]
    return Tenant(namespace, sub, key, service, secret_data(kubectl, "app", namespace) or {})


@pytest.fixture
def tenant_b(kubectl: Kubectl, captured: Captured) -> str:
    return make_namespace(kubectl, "tenant-b", captured)


def delete(kubectl: Kubectl, kind: str, name: str, namespace: str) -> None:
    kubectl.run("delete", kind, name, "-n", namespace, "--wait=true", "--timeout=60s")


def adopt(kind: str, name: str, sid: str, extra: dict[str, str] | None = None, **spec: Any) -> str:
    body = json.loads(manifest(kind, name, **spec))
    body["metadata"]["annotations"] = {EXTERNAL_NAME: sid, **(extra or {})}
    return json.dumps(body)


def account(twilio: TwilioSide, sid: str) -> dict[str, Any]:
    return next(a for a in twilio.state()["accounts"] if a["sid"] == sid)


def touched(twilio: TwilioSide, seq: int, sid: str) -> list[str]:
    """Writes to Twilio since `seq` that name `sid` in their path."""
    return [
        f"{r['method']} {r['path']}" for r in twilio.requests_since(seq) if r["write"] and sid in r["path"]
    ]


def assert_a_intact(twilio: TwilioSide, kubectl: Kubectl, a: Tenant) -> None:
    held = account(twilio, a.sub)
    assert held["status"] == "active" and held["friendly_name"] == f"{a.namespace}/prod", held
    assert a.service in services_named(twilio, f"{a.namespace}/alerts")
    assert twilio.authenticates(a.secret), "tenant A's key no longer works"
    for kind, name in (("twiliosubaccount", "prod"), ("apikey", "app"), ("messagingservice", "alerts")):
        ready_for(kubectl, kind, name, a.namespace, timeout=30)


# --- references --------------------------------------------------------------------------------------------


def test_a_same_named_subaccount_in_another_namespace_is_never_used(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str
) -> None:
    # subaccountRef has only a name (no namespace field to point elsewhere): B's "prod" means B's own.
    kubectl.apply(manifest("ApiKey", "app", subaccountRef={"name": "prod"}), tenant_b)
    kubectl.apply(manifest("MessagingService", "alerts", subaccountRef={"name": "prod"}), tenant_b)
    reason(kubectl, "apikey", "app", tenant_b, "Ready", "SubaccountNotFound")
    reason(kubectl, "messagingservice", "alerts", tenant_b, "Ready", "SubaccountNotFound")
    assert keys_named(twilio, f"{tenant_b}/app") == [] and services_named(twilio, f"{tenant_b}/alerts") == []
    b_sub = subaccount(kubectl, tenant_b, "prod")
    key = ready_for(kubectl, "apikey", "app", tenant_b, timeout=60)
    service = ready_for(kubectl, "messagingservice", "alerts", tenant_b, timeout=60)
    assert key["status"]["accountSid"] == service["status"]["accountSid"] == b_sub != tenant_a.sub
    # And the reference cannot name another namespace: the CRD gives it no field to.
    crd = json.loads(kubectl.run("get", "crd", "apikeys.twilio.operator.dev", "-o", "json").stdout)
    ref = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert set(ref["subaccountRef"]["properties"]) == {"name"}


@pytest.mark.parametrize("kind", ["ApiKey", "MessagingService"])
def test_another_tenants_real_account_sid_is_forbidden_without_the_allow_flag(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str, kind: str
) -> None:
    seq = twilio.last_seq()
    kubectl.apply(manifest(kind, "raw", accountSid=tenant_a.sub), tenant_b)
    cond = reason(kubectl, kind.lower(), "raw", tenant_b, "Synced", "Forbidden")
    assert "allow-raw-account-sid" in cond["message"]
    assert [r["path"] for r in twilio.requests_since(seq) if tenant_a.sub in r["path"]] == []


# --- adoption by annotation --------------------------------------------------------------------------------


def test_adopting_another_tenants_subaccount_is_refused_and_changes_nothing(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str
) -> None:
    seq = twilio.last_seq()
    kubectl.apply(
        adopt("TwilioSubaccount", "mine", tenant_a.sub, friendlyName="stolen", state="Suspended"), tenant_b
    )
    cond = reason(kubectl, "twiliosubaccount", "mine", tenant_b, "Synced", "AlreadyManaged")
    assert tenant_a.sub in cond["message"]
    assert touched(twilio, seq, tenant_a.sub) == []
    assert_a_intact(twilio, kubectl, tenant_a)


def test_deleting_a_refused_adopter_never_closes_the_owners_subaccount(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str
) -> None:
    kubectl.apply(adopt("TwilioSubaccount", "mine", tenant_a.sub, deletionPolicy="Close"), tenant_b)
    reason(kubectl, "twiliosubaccount", "mine", tenant_b, "Synced", "AlreadyManaged")
    seq = twilio.last_seq()
    kubectl.run("delete", "twiliosubaccount", "mine", "-n", tenant_b, "--wait=true", "--timeout=60s")
    assert touched(twilio, seq, tenant_a.sub) == [], "a refused adopter's deletion policy was applied"
    assert_a_intact(twilio, kubectl, tenant_a)


def test_a_forged_bookkeeping_annotation_does_not_win_the_claim(
    kubectl: Kubectl, twilio: TwilioSide, tenant_b: str, captured: Captured, operator: OperatorProcess
) -> None:
    # B's object is older than A's: if B can pass itself off as the creator, age decides the claim.
    subaccount(kubectl, tenant_b, "early")
    namespace_a = make_namespace(kubectl, "tenant-a", captured)
    a_sub = subaccount(kubectl, namespace_a, "prod")
    seq = twilio.last_seq()
    forged = {EXTERNAL_NAME: a_sub, CREATE_SUCCEEDED: "2020-01-01T00:00:00Z"}
    kubectl.run(
        "annotate",
        "--overwrite",
        "twiliosubaccount",
        "early",
        "-n",
        tenant_b,
        *(f"{k}={v}" for k, v in forged.items()),
    )

    def decided() -> tuple[dict[str, Any], dict[str, Any]] | None:
        b = conditions(kubectl.get("twiliosubaccount", "early", tenant_b)).get("Synced", {})
        a = conditions(kubectl.get("twiliosubaccount", "prod", namespace_a)).get("Synced", {})
        return (b, a) if "AlreadyManaged" in (b.get("reason"), a.get("reason")) else None

    b_synced, a_synced = wait_for(decided, 30, what="one of the two claimants refused")
    writes = touched(twilio, seq, a_sub)
    held = account(twilio, a_sub)
    assert b_synced.get("reason") == "AlreadyManaged" and not writes, (
        f"B won A's subaccount with a forged {CREATE_SUCCEEDED}: B Synced={b_synced.get('reason')}, "
        f"A Synced={a_synced.get('reason')} ({a_synced.get('message')}); writes to A's subaccount: {writes}; "
        f"A's subaccount in Twilio now: {held}"
    )
    assert held["friendly_name"] == f"{namespace_a}/prod"


def test_an_orphaned_subaccount_cannot_be_taken_by_another_namespace(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str
) -> None:
    # A lets go of its subaccount object (Orphan, the default): its workloads still use keys in it.
    delete(kubectl, "twiliosubaccount", "prod", tenant_a.namespace)
    # A's key and service take note first (what they read of their account then is A's doing, not B's).
    for kind, name in (("apikey", "app"), ("messagingservice", "alerts")):
        reason(kubectl, kind, name, tenant_a.namespace, "Ready", "SubaccountNotFound")
    seq = twilio.last_seq()
    # B knows the SID (it is in callbacks, in logs), and forges the operator's record of a create as well.
    for name, extra in (("plain", None), ("forged", {CREATE_SUCCEEDED: "2020-01-01T00:00:00Z;" + "0" * 32})):
        kubectl.apply(adopt("TwilioSubaccount", name, tenant_a.sub, extra, state="Suspended"), tenant_b)
        cond = reason(kubectl, "twiliosubaccount", name, tenant_b, "Synced", "AdoptionNotAllowed")
        assert "TWILIO_OPERATOR_ADOPTION_NAMESPACES" in cond["message"]
        delete(kubectl, "twiliosubaccount", name, tenant_b)
    # Nothing in Twilio was so much as read about it.
    assert [r["path"] for r in twilio.requests_since(seq) if tenant_a.sub in r["path"]] == []
    assert account(twilio, tenant_a.sub)["status"] == "active"
    assert twilio.authenticates(tenant_a.secret)


def test_a_subaccount_made_outside_the_operator_cannot_be_adopted_without_the_privilege(
    kubectl: Kubectl, twilio: TwilioSide, tenant_b: str, operator: OperatorProcess
) -> None:
    outside = str(twilio.client().api.v2010.accounts.create(friendly_name="made in the console").sid)
    seq = twilio.last_seq()
    kubectl.apply(adopt("TwilioSubaccount", "console", outside), tenant_b)
    reason(kubectl, "twiliosubaccount", "console", tenant_b, "Synced", "AdoptionNotAllowed")
    assert [r["path"] for r in twilio.requests_since(seq) if outside in r["path"]] == []
    delete(kubectl, "twiliosubaccount", "console", tenant_b)
    # Where the installer grants it, the same annotation adopts it.
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ADOPTING_NAMESPACE}\n")
    kubectl.apply(adopt("TwilioSubaccount", "console", outside), ADOPTING_NAMESPACE)
    adopted = ready_for(kubectl, "twiliosubaccount", "console", ADOPTING_NAMESPACE)
    assert adopted["status"]["sid"] == outside
    delete(kubectl, "twiliosubaccount", "console", ADOPTING_NAMESPACE)


def test_the_namespace_that_had_a_subaccount_takes_it_back(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant
) -> None:
    # A deletes its subaccount object (Orphan) and applies it again: its key and service still record the
    # account in their status, which only the operator writes, so that account is A's to take back.
    delete(kubectl, "twiliosubaccount", "prod", tenant_a.namespace)
    seq = twilio.last_seq()
    subaccount(kubectl, tenant_a.namespace, "prod")
    back = ready_for(kubectl, "twiliosubaccount", "prod", tenant_a.namespace, timeout=60)
    assert back["status"]["sid"] == tenant_a.sub
    assert not [r for r in twilio.requests_since(seq) if r["operation"] == "CreateAccount"]
    assert "Adopted" in [e["reason"] for e in events(kubectl, tenant_a.namespace, "prod")]
    # Its key and service were never replaced.
    key = ready_for(kubectl, "apikey", "app", tenant_a.namespace)
    service = ready_for(kubectl, "messagingservice", "alerts", tenant_a.namespace)
    assert key["status"]["sid"] == tenant_a.key and service["status"]["sid"] == tenant_a.service
    assert_a_intact(twilio, kubectl, tenant_a)


@pytest.mark.parametrize("kind", ["ApiKey", "MessagingService"])
def test_adopting_another_tenants_key_or_service_is_refused_and_deleting_it_changes_nothing(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str, kind: str
) -> None:
    subaccount(kubectl, tenant_b, "prod")
    target = tenant_a.key if kind == "ApiKey" else tenant_a.service
    seq = twilio.last_seq()
    kubectl.apply(adopt(kind, "mine", target, subaccountRef={"name": "prod"}), tenant_b)
    refused = {"CannotAdopt", "AlreadyManaged", "ExternalNotFound"}

    def refusal() -> dict[str, Any] | None:
        cond = conditions(kubectl.get(kind.lower(), "mine", tenant_b)).get("Synced")
        return cond if cond and cond["reason"] in refused else None

    cond = wait_for(refusal, 30, what=f"a refusal ({refused})")
    assert cond["status"] == "False"
    kubectl.run("delete", kind.lower(), "mine", "-n", tenant_b, "--wait=true", "--timeout=60s")
    assert touched(twilio, seq, target) == []
    assert_a_intact(twilio, kubectl, tenant_a)


def test_a_crash_interrupted_create_never_adopts_another_tenants_subaccount(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str, operator: OperatorProcess
) -> None:
    # B names its subaccount like A's (friendly names are free text). If B's create is interrupted, the
    # recovery looks Twilio up by that name: it must find only what B made, never A's.
    seq = twilio.last_seq()
    spec: dict[str, Any] = {
        "friendlyName": f"{tenant_a.namespace}/prod",
        "state": "Suspended",
        "deletionPolicy": "Close",
    }
    twilio.fault(operation="CreateAccount", kind="commit_then_hang", times=1)
    kubectl.apply(manifest("TwilioSubaccount", "lookalike", **spec), tenant_b)
    wait_for(
        lambda: len(twilio.subaccounts(f"{tenant_a.namespace}/prod")) == 2, 30, what="B's create in Twilio"
    )
    operator.kill()
    twilio.clear_faults()
    operator.start()
    wait_for(
        lambda: (c := conditions(kubectl.get("twiliosubaccount", "lookalike", tenant_b)).get("Synced")) and c,
        60,
        what="B's subaccount to be reconciled",
    )
    recorded = (kubectl.get("twiliosubaccount", "lookalike", tenant_b) or {})["metadata"]["annotations"]
    writes = touched(twilio, seq, tenant_a.sub)
    assert recorded.get(EXTERNAL_NAME) != tenant_a.sub and not writes, (
        f"B's crash recovery adopted A's subaccount {tenant_a.sub} (B's external-name: "
        f"{recorded.get(EXTERNAL_NAME)}); writes to it: {writes}; A's subaccount now: "
        f"{account(twilio, tenant_a.sub)}"
    )
    obj = ready_for(kubectl, "twiliosubaccount", "lookalike", tenant_b, timeout=60)
    assert obj["status"]["sid"] != tenant_a.sub
    kubectl.run("delete", "twiliosubaccount", "lookalike", "-n", tenant_b, "--wait=true", "--timeout=60s")
    assert_a_intact(twilio, kubectl, tenant_a)


# --- Secrets that are not the operator's ----------------------------------------------------------


def unmanaged_secret(name: str, labels: dict[str, str] | None = None) -> str:
    metadata: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "stringData": {"mine": "yes"}}
    )


@pytest.mark.parametrize(
    "labels",
    [None, {"app.kubernetes.io/managed-by": "twilio-operator"}],
    ids=["plain", "forged-managed-by-label"],
)
def test_a_key_secret_name_colliding_with_an_unmanaged_secret_is_never_overwritten(
    kubectl: Kubectl, twilio: TwilioSide, namespace: str, labels: dict[str, str] | None
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(unmanaged_secret("taken", labels), namespace)
    seq = twilio.last_seq()
    kubectl.apply(manifest("ApiKey", "app", subaccountRef={"name": "sub"}, secretName="taken"), namespace)
    reason(kubectl, "apikey", "app", namespace, "Synced", "SecretConflict")
    assert secret_data(kubectl, "taken", namespace) == {"mine": "yes"}
    assert not [
        r for r in twilio.requests_since(seq) if r["operation"] in ("CreateNewKey", "CreateNewApiKey")
    ]


def test_a_key_secret_name_colliding_with_another_keys_secret_is_never_overwritten(
    kubectl: Kubectl, twilio: TwilioSide, namespace: str
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(manifest("ApiKey", "first", subaccountRef={"name": "sub"}), namespace)
    ready_for(kubectl, "apikey", "first", namespace, timeout=60)
    before = secret_data(kubectl, "first", namespace) or {}
    kubectl.apply(manifest("ApiKey", "second", subaccountRef={"name": "sub"}, secretName="first"), namespace)
    reason(kubectl, "apikey", "second", namespace, "Synced", "SecretConflict")
    assert secret_data(kubectl, "first", namespace) == before
    assert twilio.authenticates(before)


def test_a_secret_replaced_by_the_user_is_never_overwritten(
    kubectl: Kubectl, twilio: TwilioSide, namespace: str
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(manifest("ApiKey", "app", subaccountRef={"name": "sub"}), namespace)
    ready_for(kubectl, "apikey", "app", namespace, timeout=60)
    # Paused while the user swaps the Secret: a deleted Secret of the operator's is otherwise written again
    # within moments, before anyone could put their own in its place.
    kubectl.run(
        "annotate", "--overwrite", "apikey", "app", "-n", namespace, "twilio.operator.dev/paused=true"
    )
    reason(kubectl, "apikey", "app", namespace, "Synced", "ReconcilePaused")
    kubectl.run("delete", "secret", "app", "-n", namespace)
    kubectl.apply(unmanaged_secret("app"), namespace)
    kubectl.run("annotate", "apikey", "app", "-n", namespace, "twilio.operator.dev/paused-")
    reason(kubectl, "apikey", "app", namespace, "Synced", "SecretConflict")
    assert secret_data(kubectl, "app", namespace) == {"mine": "yes"}


def test_a_credentials_secret_colliding_with_an_unmanaged_secret_is_never_overwritten(
    kubectl: Kubectl, twilio: TwilioSide, namespace: str, kube: KubeControl, operator: OperatorProcess
) -> None:
    kubectl.apply(unmanaged_secret("creds"), namespace)
    kubectl.apply(manifest("TwilioSubaccount", "sub", credentialsSecretRef={"name": "creds"}), namespace)
    reason(kubectl, "twiliosubaccount", "sub", namespace, "Synced", "SecretConflict")
    assert secret_data(kubectl, "creds", namespace) == {"mine": "yes"}


def test_a_number_held_by_another_tenants_subaccount_is_never_taken(
    kubectl: Kubectl, twilio: TwilioSide, tenant_a: Tenant, tenant_b: str, operator: OperatorProcess
) -> None:
    number = f"+1646{int(tenant_a.sub[-6:], 16) % 10**7:07d}"
    sid = str(
        twilio.client()
        .api.v2010.accounts(tenant_a.sub)
        .incoming_phone_numbers.create(phone_number=number)
        .sid
    )
    subaccount(kubectl, tenant_b, "prod")
    seq = twilio.last_seq()
    # By number: found in a subaccount tenant B does not declare.
    kubectl.apply(
        manifest("PhoneNumber", "taken", subaccountRef={"name": "prod"}, phoneNumber=number), tenant_b
    )
    cond = reason(kubectl, "phonenumber", "taken", tenant_b, "Ready", "NumberInUse")
    assert number in cond["message"] and tenant_a.sub not in cond["message"]
    # By SID, with the adoption annotation: the same refusal, whatever the spec says.
    kubectl.apply(
        adopt("PhoneNumber", "adopted", sid, subaccountRef={"name": "prod"}, deletionPolicy="Release"),
        tenant_b,
    )
    reason(kubectl, "phonenumber", "adopted", tenant_b, "Ready", "NumberInUse")
    delete(kubectl, "phonenumber", "adopted", tenant_b)
    delete(kubectl, "phonenumber", "taken", tenant_b)
    assert touched(twilio, seq, sid) == [], "another tenant's number was written to"
    held = next(n for n in twilio.state()["incoming_phone_numbers"] if n["sid"] == sid)
    assert held["account"] == tenant_a.sub


# --- tenants as users: the built-in roles, extended to our kinds by the operator chart ---------------------

BUILT_IN = "authorization: the emulator lets every request in as the cluster admin"


@pytest.mark.apiserver_only(BUILT_IN)
def test_an_editor_manages_keys_and_services_in_its_namespace_and_reaches_nothing_else(
    session_kubectl: Kubectl, users: Users, tenant_a: Tenant, tenant_b: str, captured: Captured
) -> None:
    subaccount(session_kubectl, tenant_b, "prod")
    session_kubectl.apply(manifest("ApiKey", "b-key", subaccountRef={"name": "prod"}), tenant_b)
    ready_for(session_kubectl, "apikey", "b-key", tenant_b, timeout=60)
    editor = users.user("edit", tenant_a.namespace, "editor-a")
    a, b = tenant_a.namespace, tenant_b
    # What the authorizer says: everything but subaccounts in A, nothing in B, nothing cluster-wide.
    for verb in ("create", "update", "patch", "delete"):
        assert can(editor, verb, "apikeys", a) and can(editor, verb, "messagingservices", a)
        assert not can(editor, verb, "twiliosubaccounts", a)
    assert can(editor, "get", "twiliosubaccounts", a) and can(editor, "get", "secrets", a)
    for resource in ("apikeys", "messagingservices", "twiliosubaccounts", "secrets"):
        assert not can(editor, "get", resource, b) and not can(editor, "list", resource, b)
        assert not can(editor, "list", resource, None)
    # And what it does: a key and a service made in A become Ready, with the key's Secret readable there.
    editor.apply(manifest("ApiKey", "by-editor", subaccountRef={"name": "prod"}), a)
    editor.apply(manifest("MessagingService", "by-editor", subaccountRef={"name": "prod"}), a)
    key = ready_for(editor, "apikey", "by-editor", a, timeout=60)
    ready_for(editor, "messagingservice", "by-editor", a, timeout=60)
    assert (secret_data(editor, "by-editor", a) or {}).get("TWILIO_API_KEY") == key["status"]["sid"]
    editor.run("delete", "apikey", "by-editor", "-n", a, "--wait=true", "--timeout=60s")
    # B's objects and Secrets, and A's subaccount, are out of its reach.
    for args in (
        ("get", "apikeys", "-n", b),
        ("get", "apikey", "b-key", "-n", b),
        ("get", "secret", "b-key", "-n", b),
        ("get", "twilio", "-A"),
        ("delete", "twiliosubaccount", "prod", "-n", a),
    ):
        assert forbidden(editor.run(*args, check=False)), f"kubectl {' '.join(args)} was allowed"
    refused = editor.run("apply", "-n", a, "-f", "-", input=manifest("TwilioSubaccount", "mine"), check=False)
    assert forbidden(refused), refused.stderr
    assert forbidden(editor.run("apply", "-n", b, "-f", "-", input=manifest("ApiKey", "x"), check=False))


@pytest.mark.apiserver_only(BUILT_IN)
def test_a_viewer_reads_the_objects_but_not_their_secrets_and_changes_nothing(
    users: Users, tenant_a: Tenant
) -> None:
    viewer = users.user("view", tenant_a.namespace, "viewer-a")
    a = tenant_a.namespace
    listed = json.loads(viewer.run("get", "twilio", "-n", a, "-o", "json").stdout)["items"]
    assert {o["kind"] for o in listed} == {"TwilioSubaccount", "ApiKey", "MessagingService"}
    assert not can(viewer, "get", "secrets", a)
    assert forbidden(viewer.run("get", "secret", "app", "-n", a, check=False))
    for resource in ("apikeys", "messagingservices", "twiliosubaccounts"):
        assert not can(viewer, "create", resource, a) and not can(viewer, "patch", resource, a)


@pytest.mark.apiserver_only(BUILT_IN)
def test_only_a_namespace_admin_makes_subaccounts(
    users: Users, session_kubectl: Kubectl, captured: Captured, operator: OperatorProcess
) -> None:
    namespace = make_namespace(session_kubectl, "tenant-c", captured)
    admin = users.user("admin", namespace, "admin-c")
    assert can(admin, "create", "twiliosubaccounts", namespace)
    assert not can(admin, "create", "twiliosubaccounts", "default")
    admin.apply(manifest("TwilioSubaccount", "prod"), namespace)
    ready_for(admin, "twiliosubaccount", "prod", namespace, timeout=60)
