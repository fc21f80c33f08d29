"""Webhook URLs resolved from Ingresses, which the operator watches as live input."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

INGRESS_NOT_FOUND = "IngressNotFound"
INGRESS_HAS_NO_HOST = "IngressHasNoHost"
PATH_NOT_ROUTED = "PathNotRouted"


class IngressProblem(Exception):
    """Why an ingressRef gives no URL; `reason` is the condition reason to report."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ResolvedUrl:
    url: str
    secure: bool


def _routes(path: str, rule_path: str, path_type: str) -> bool:
    if path_type == "Exact":
        return path == rule_path
    # Prefix (and ImplementationSpecific, read as Prefix): matches whole path elements.
    prefix = rule_path.rstrip("/")
    return prefix in ("", path) or path.startswith(prefix + "/")


def resolve(ingress: dict[str, Any] | None, name: str, path: str, host: str | None) -> ResolvedUrl:
    """`https://<host><path>` when the Ingress has TLS for the host, `http://` otherwise."""
    if ingress is None:
        raise IngressProblem(INGRESS_NOT_FOUND, f"Ingress {name} does not exist")
    spec = ingress.get("spec") or {}
    rules = [r for r in spec.get("rules") or [] if isinstance(r, dict)]
    hosts = sorted({str(r["host"]) for r in rules if r.get("host")})
    if host is None:
        if not hosts:
            raise IngressProblem(INGRESS_HAS_NO_HOST, f"Ingress {name} has no rule with a host")
        if len(hosts) > 1:
            raise IngressProblem(
                INGRESS_HAS_NO_HOST,
                f"Ingress {name} has several hosts ({', '.join(hosts)}): set ingressRef.host",
            )
        host = hosts[0]
    elif host not in hosts:
        raise IngressProblem(INGRESS_HAS_NO_HOST, f"Ingress {name} has no rule for host {host}")
    routed = any(
        _routes(path, str(p.get("path") or "/"), str(p.get("pathType") or "Prefix"))
        for r in rules
        if r.get("host") == host
        for p in (r.get("http") or {}).get("paths") or []
    )
    if not routed:
        raise IngressProblem(PATH_NOT_ROUTED, f"no rule of Ingress {name} routes {host}{path}")
    secure = any(host in (t.get("hosts") or []) for t in spec.get("tls") or [] if isinstance(t, dict))
    return ResolvedUrl(f"{'https' if secure else 'http'}://{host}{path}", secure)


class IngressDirectory:
    """Ingresses seen on the watch stream, and which objects reference each (to wake them on a change)."""

    def __init__(self) -> None:
        self._ingresses: dict[tuple[str, str], dict[str, Any]] = {}
        self._referrers: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._references: dict[str, set[tuple[str, str]]] = {}

    def observe(self, namespace: str, name: str, body: dict[str, Any] | None) -> set[str]:
        """Record an Ingress event; return the uids of the objects that reference it."""
        key = (namespace, name)
        if body is None:
            self._ingresses.pop(key, None)
        else:
            self._ingresses[key] = body
        return set(self._referrers.get(key, ()))

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._ingresses.get((namespace, name))

    def refer(self, uid: str, namespace: str, names: set[str] | None) -> None:
        """Record which Ingresses an object references (None: the object is gone)."""
        for key in self._references.pop(uid, set()):
            self._referrers[key].discard(uid)
        if names:
            keys = {(namespace, n) for n in names}
            self._references[uid] = keys
            for key in keys:
                self._referrers[key].add(uid)
