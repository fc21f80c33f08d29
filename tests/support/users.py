"""People on the real API server: each a ServiceAccount token (kube-apiserver authenticates it like any user,
and RBAC alone decides what it may do), bound in one namespace to one of Kubernetes' built-in user roles
(view, edit, admin), which the operator chart extends to our kinds with aggregated ClusterRoles."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess

from tests.support.backends import kubeconfig_with_token
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import SandboxProcess, wait_for

# Where the users' ServiceAccounts live: no tenant's namespace, so none is anyone's by being there.
USERS_NAMESPACE = "tenant-users"
SYSTEM = ("default", "kube-system", "kube-public", "kube-node-lease", USERS_NAMESPACE)


@dataclass
class Users:
    sandbox: SandboxProcess
    admin: Kubectl
    directory: Path
    made: dict[str, Kubectl] = field(default_factory=dict)

    def user(self, role: str, namespace: str, name: str | None = None) -> Kubectl:
        """kubectl as a user bound to the ClusterRole `role` in `namespace` (made on first use)."""
        name = name or re.sub(r"[^a-z0-9-]", "-", f"{role}-{namespace}")[:63].strip("-")
        if name in self.made:
            return self.made[name]
        namespaces = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": USERS_NAMESPACE}}
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": USERS_NAMESPACE},
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{name}-{role}", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": USERS_NAMESPACE}],
        }
        self.admin.apply("\n---\n".join(json.dumps(d) for d in (namespaces, account, binding)))
        token = self.admin.run(
            "create", "token", name, "-n", USERS_NAMESPACE, "--duration=24h"
        ).stdout.strip()
        path = kubeconfig_with_token(self.sandbox, self.directory / f"{name}.kubeconfig", token)
        kubectl = Kubectl(path, self.directory / f"{name}-cache")
        # RBAC reads bindings from an informer: the new one holds moments after it is written.
        wait_for(
            lambda: can(kubectl, "get", "configmaps", namespace) or can(kubectl, "get", "apikeys", namespace),
            30,
            what=f"{name}'s {role} binding in {namespace} in force",
        )
        self.made[name] = kubectl
        return kubectl


def can(kubectl: Kubectl, verb: str, resource: str, namespace: str | None) -> bool:
    """`kubectl auth can-i`: what the authorizer answers for this user."""
    where = ["-n", namespace] if namespace else ["-A"]
    result = kubectl.run("auth", "can-i", verb, resource, *where, check=False)
    return result.stdout.strip() == "yes"


def forbidden(result: CompletedProcess[str]) -> bool:
    return result.returncode != 0 and "Forbidden" in result.stderr


class TenantKubectl(Kubectl):
    """kubectl that acts in each tenant namespace as that namespace's administrator (a user bound to the
    `admin` role there), and as the cluster admin only for what no tenant may do (namespaces, CRDs)."""

    def __init__(self, users: Users) -> None:
        super().__init__(users.admin.kubeconfig, users.admin.cache_dir)
        self.users = users

    def run(self, *args: str, input: str | None = None, check: bool = True) -> CompletedProcess[str]:
        namespace = _namespace(args)
        if namespace is None or namespace in SYSTEM:
            return self.users.admin.run(*args, input=input, check=check)
        return self.users.user("admin", namespace).run(*args, input=input, check=check)


def _namespace(args: tuple[str, ...]) -> str | None:
    for flag, value in itertools.pairwise(args):
        if flag in ("-n", "--namespace"):
            return value
    return None
