"""What RBAC sees in a request: verb, resource, namespace, name and subresource from its method and path, as
kube-apiserver's RequestInfoFactory reads them (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), for
the fault proxy's request log. Discovery and other non-resource paths have none."""

from __future__ import annotations

VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
WATCH_VALUES = ("1", "true", "True")
NAMESPACE_SUBRESOURCES = ("status", "finalize")

# verb, "plural[.group]", namespace, name, subresource
RequestInfo = tuple[str, str, str | None, str | None, str | None]


def request_info(method: str, path: str, query: dict[str, str]) -> RequestInfo | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    watch_path = rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace = rest[1]
        # /namespaces/<name>[/status|/finalize] is the namespace object itself; anything else deeper is a
        # resource inside it.
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if not rest:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if method == "GET":
        watching = watch_path or query.get("watch") in WATCH_VALUES
        verb = "watch" if watching else "get" if name else "list"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = VERBS.get(method, method.lower())
    return verb, f"{resource}.{group}" if group else resource, namespace, name, subresource
