"""The operator's permissions, read back from the rendered chart, in a form tests can compare and query.

A Grant is one (scope, apiGroup, resource, verb) the chart gives the operator's ServiceAccount, after
following its bindings. `scope` is "*" for a ClusterRole bound cluster-wide and the namespace for a Role
bound in one namespace. Resources keep their subresource ("apikeys/status").

    grants = operator_grants(render(OPERATOR_CHART, values, namespace="twilio-system"))
    allowed(grants, verb="patch", group="twilio.operator.dev", resource="apikeys/status", namespace="team-a")

A test that records the operator's API calls (for example from the Kubernetes emulator's request log) can
check each call with `allowed` and that `grants` holds nothing no call used.
"""

from __future__ import annotations

from typing import Any, NamedTuple

CLUSTER = "*"


class Grant(NamedTuple):
    scope: str
    group: str
    resource: str
    verb: str


def _rules(role: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for rule in role.get("rules") or []:
        assert not rule.get("resourceNames"), "the chart grants by resource, never by object name"
        assert not rule.get("nonResourceURLs"), "the operator needs no non-resource URLs beyond discovery"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {role['metadata']['name']}"
                    found.append((group, resource, verb))
    return found


def operator_grants(docs: list[dict[str, Any]], service_account: str | None = None) -> set[Grant]:
    """What the operator's ServiceAccount may do, per the rendered ClusterRoles, Roles and bindings."""
    if service_account is None:
        (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
        service_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    cluster_roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Role"}
    grants: set[Grant] = set()
    for binding in docs:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(
            s["kind"] == "ServiceAccount" and s["name"] == service_account for s in binding["subjects"]
        ):
            continue
        ref = binding["roleRef"]
        if binding["kind"] == "ClusterRoleBinding":
            scope, role = CLUSTER, cluster_roles[ref["name"]]
        else:
            scope = binding["metadata"]["namespace"]
            role = cluster_roles[ref["name"]] if ref["kind"] == "ClusterRole" else roles[(scope, ref["name"])]
        grants |= {Grant(scope, *rule) for rule in _rules(role)}
    return grants


def allowed(grants: set[Grant], verb: str, group: str, resource: str, namespace: str | None) -> bool:
    """Whether a call is allowed: cluster-wide grants cover every namespace and cluster-scoped objects."""
    return Grant(CLUSTER, group, resource, verb) in grants or (
        namespace is not None and Grant(namespace, group, resource, verb) in grants
    )


def table(grants: set[Grant]) -> dict[tuple[str, str, str], set[str]]:
    """{(scope, group, resource): verbs}, for readable assertions."""
    result: dict[tuple[str, str, str], set[str]] = {}
    for grant in grants:
        result.setdefault((grant.scope, grant.group, grant.resource), set()).add(grant.verb)
    return result
