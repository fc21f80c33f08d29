"""Webhook URLs resolved from Ingresses, which the operator watches as live input (kept in a kopf index)."""

from __future__ import annotations

from collections.abc import Mapping
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


@dataclass(frozen=True)
class Route:
    host: str
    path: str
    path_type: str


@dataclass(frozen=True)
class IngressView:
    """What webhook URLs need of an Ingress: its routes and the hosts it has TLS for."""

    routes: frozenset[Route]
    tls_hosts: frozenset[str]


def view(ingress: Mapping[str, Any]) -> IngressView:
    spec = ingress.get("spec") or {}
    rules = [r for r in spec.get("rules") or [] if isinstance(r, dict)]
    routes = {
        Route(str(r.get("host") or ""), str(p.get("path") or "/"), str(p.get("pathType") or "Prefix"))
        for r in rules
        for p in (r.get("http") or {}).get("paths") or []
        if isinstance(p, dict)
    }
    # A rule without paths still names its host.
    routes |= {Route(str(r["host"]), "", "") for r in rules if r.get("host")}
    tls = {str(h) for t in spec.get("tls") or [] if isinstance(t, dict) for h in t.get("hosts") or []}
    return IngressView(frozenset(routes), frozenset(tls))


def _routes(path: str, route: Route) -> bool:
    if not route.path_type:
        return False  # the placeholder of a rule without paths
    if route.path_type == "Exact":
        return path == route.path
    # Prefix (and ImplementationSpecific, read as Prefix): matches whole path elements.
    prefix = route.path.rstrip("/")
    return prefix in ("", path) or path.startswith(prefix + "/")


def resolve(ingress: IngressView | None, name: str, path: str, host: str | None) -> ResolvedUrl:
    """`https://<host><path>` when the Ingress has TLS for the host, `http://` otherwise."""
    if ingress is None:
        raise IngressProblem(INGRESS_NOT_FOUND, f"Ingress {name} does not exist")
    hosts = sorted({r.host for r in ingress.routes if r.host})
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
    if not any(r.host == host and _routes(path, r) for r in ingress.routes):
        raise IngressProblem(PATH_NOT_ROUTED, f"no rule of Ingress {name} routes {host}{path}")
    secure = host in ingress.tls_hosts
    return ResolvedUrl(f"{'https' if secure else 'http'}://{host}{path}", secure)
