"""The account architecture drawn from the live objects: parent account → subaccounts → keys and services.

It reads the Kubernetes objects only (through kubectl, so every way kubectl authenticates works), never
Twilio: what the operator last saw is in the objects' status. Three forms: a text tree, a Mermaid flowchart
(GitHub and most wikis render it) and an SVG picture made here, without a browser.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .api.kinds import CATEGORY, SUBACCOUNT


class KubectlError(Exception):
    """kubectl failed; the message is its own."""


def kubectl(args: Sequence[str], options: Sequence[str] = ()) -> str:
    """Run kubectl (KUBECTL, else the one on PATH) with the connection options the user gave."""
    binary = os.environ.get("KUBECTL", "kubectl")
    try:
        done = subprocess.run([binary, *options, *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise KubectlError(f"{binary} not found: install kubectl or set KUBECTL") from error
    if done.returncode != 0:
        raise KubectlError(done.stderr.strip() or f"kubectl {' '.join(args)} failed")
    return done.stdout


@dataclass
class Node:
    """One object in the drawing."""

    kind: str
    namespace: str
    name: str
    sid: str | None
    ready: str  # "True", "False (Reason)" or "Unknown"
    details: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def ident(self) -> str:
        return "n" + "".join(
            ch if ch.isalnum() else "_" for ch in f"{self.kind}_{self.namespace}_{self.name}"
        )


def _condition(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return {}


def _ready(obj: dict[str, Any]) -> str:
    ready, synced = _condition(obj, "Ready"), _condition(obj, "Synced")
    if not ready:
        return "Unknown"
    if ready.get("status") == "True" and synced.get("status", "True") == "True":
        return "Ready"
    reason = synced.get("reason") if synced.get("status") == "False" else ready.get("reason")
    return f"not Ready ({reason})" if ready.get("status") != "True" else f"Ready, not synced ({reason})"


def _details(obj: dict[str, Any]) -> list[str]:
    """What is worth seeing of each kind, from its status (and spec where status has nothing)."""
    kind, spec, status = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    found: list[str] = []
    if kind == SUBACCOUNT.kind:
        found.append(str(status.get("state") or spec.get("state") or "?"))
        usage = status.get("usage") or {}
        if usage.get("spend"):
            found.append(f"this month {usage['spend']}, {usage.get('messages', 0)} messages")
        fired = [a["name"] for a in status.get("usageAlerts") or [] if a.get("dateFired")]
        if fired:
            found.append("alerts fired: " + ", ".join(fired))
    elif kind == "ApiKey":
        found.append(
            f"Secret {status.get('secretName') or spec.get('secretName') or obj['metadata']['name']}"
        )
        since = (status.get("rotation") or {}).get("lastRotationTime")
        if since:
            found.append(f"current key since {since}")
    elif kind == "MessagingService":
        if spec.get("usecase"):
            found.append(f"use case {spec['usecase']}")
        senders = status.get("senders") or {}
        pool = [
            *senders.get("phoneNumbers", []),
            *senders.get("shortCodes", []),
            *senders.get("alphaSenders", []),
        ]
        if pool:
            found.append("senders " + ", ".join(pool))
        hooks = status.get("webhooks") or {}
        for name, field_name in (
            ("inbound", "inboundRequestUrl"),
            ("fallback", "fallbackUrl"),
            ("status", "statusCallback"),
        ):
            if hooks.get(field_name):
                found.append(f"{name} → {hooks[field_name]}")
    elif kind == "EventStream":
        destination = status.get("destination") or {}
        where = destination.get("url") or destination.get("arn")
        if where:
            found.append(f"{destination.get('type')} → {where} ({status.get('sinkStatus') or '?'})")
        found.append(f"{len(status.get('types') or spec.get('types') or [])} event types")
    elif kind == "PhoneNumber":
        found.append(str(status.get("phoneNumber") or spec.get("phoneNumber") or "number to buy"))
        sms = (status.get("webhooks") or {}).get("smsUrl")
        if sms:
            found.append(f"sms → {sms}")
    elif status.get("sid") or spec:
        found.extend(
            f"{k} {v}" for k, v in sorted(status.items()) if isinstance(v, str) and k.endswith("Sid")
        )
    return found


def build(objects: Iterable[dict[str, Any]]) -> list[Node]:
    """Parent accounts (by SID) at the top, their subaccounts, and each subaccount's objects under it."""
    items = list(objects)
    subaccounts: dict[tuple[str, str], Node] = {}
    parents: dict[str, Node] = {}
    for obj in items:
        if obj.get("kind") != SUBACCOUNT.kind:
            continue
        meta, status = obj["metadata"], obj.get("status") or {}
        node = Node(
            SUBACCOUNT.kind, meta["namespace"], meta["name"], status.get("sid"), _ready(obj), _details(obj)
        )
        subaccounts[(meta["namespace"], meta["name"])] = node
        parent = status.get("ownerAccountSid") or "unknown"
        parents.setdefault(parent, Node("parent account", "", parent, None, "", [])).children.append(node)
    orphans: list[Node] = []
    for obj in items:
        if obj.get("kind") == SUBACCOUNT.kind:
            continue
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        node = Node(
            obj["kind"], meta["namespace"], meta["name"], status.get("sid"), _ready(obj), _details(obj)
        )
        ref = (spec.get("subaccountRef") or {}).get("name")
        owner = subaccounts.get((meta["namespace"], ref)) if ref else None
        if owner is not None:
            owner.children.append(node)
        else:
            if ref:
                node.details.insert(0, f"subaccount {ref} not found")
            orphans.append(node)
    roots = [parents[sid] for sid in sorted(parents)]
    if orphans:
        roots.append(Node("without a subaccount object", "", "", None, "", [], orphans))
    for root in roots:
        _sort(root)
    return roots


def _sort(node: Node) -> None:
    order = {SUBACCOUNT.kind: 0, "ApiKey": 1, "MessagingService": 2, "EventStream": 3, "PhoneNumber": 4}
    node.children.sort(key=lambda n: (order.get(n.kind, 5), n.kind, n.namespace, n.name))
    for child in node.children:
        _sort(child)


def text(roots: Sequence[Node]) -> str:
    """A tree: one line per object (what, SID, Ready), its details on a line of their own under it."""
    lines: list[str] = []

    def head(node: Node) -> str:
        parts = [node.label] if node.name else [node.kind]
        if node.sid:
            parts.append(node.sid)
        if node.ready:
            parts.append(node.ready)
        return "  ".join(parts)

    def walk(node: Node, prefix: str, last: bool, top: bool) -> None:
        lines.append(head(node) if top else f"{prefix}{'└─ ' if last else '├─ '}{head(node)}")
        deeper = "" if top else prefix + ("   " if last else "│  ")
        if node.details:
            lines.append(f"{deeper}{'│  ' if node.children else '   '}  {', '.join(node.details)}")
        for index, child in enumerate(node.children):
            walk(child, deeper, index == len(node.children) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return "\n".join(lines) + "\n"


def mermaid(roots: Sequence[Node]) -> str:
    lines = ["flowchart LR"]

    def quoted(node: Node) -> str:
        body = "<br/>".join(
            html.escape(part, quote=True)
            for part in [node.label, node.sid or "", node.ready, *node.details]
            if part
        )
        return f'{node.ident}["{body}"]'

    def walk(node: Node) -> None:
        lines.append(f"  {quoted(node)}")
        for child in node.children:
            walk(child)
            lines.append(f"  {node.ident} --> {child.ident}")

    for root in roots:
        walk(root)
    return "\n".join(lines) + "\n"


# The SVG's geometry: one column per depth, one row per object, boxes sized to their text.
CHAR = 7.2
LINE = 16
PAD = 10
GAP_X = 40
GAP_Y = 12


def svg(roots: Sequence[Node]) -> str:
    rows: list[tuple[Node, int]] = []

    def walk(node: Node, depth: int) -> None:
        rows.append((node, depth))
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)

    def lines_of(node: Node) -> list[str]:
        return [
            part
            for part in [node.label if node.name else node.kind, node.sid or "", node.ready, *node.details]
            if part
        ]

    widths: dict[int, float] = {}
    for node, depth in rows:
        widest = max(len(part) for part in lines_of(node))
        widths[depth] = max(widths.get(depth, 0.0), widest * CHAR + 2 * PAD)
    x_of = {0: 10.0}
    for depth in range(1, max(widths) + 1 if widths else 1):
        x_of[depth] = x_of[depth - 1] + widths[depth - 1] + GAP_X
    boxes: dict[int, tuple[float, float, float, float]] = {}
    y = 10.0
    for node, depth in rows:
        height = float(len(lines_of(node)) * LINE + PAD)
        boxes[id(node)] = (x_of[depth], y, widths[depth], height)
        y += height + GAP_Y
    parts: list[str] = []
    for node, _ in rows:
        x, top, w, h = boxes[id(node)]
        for child in node.children:
            cx, cy, _, ch = boxes[id(child)]
            start, end = (x + w, top + h / 2), (cx, cy + ch / 2)
            bend = GAP_X / 2
            parts.append(
                f'<path d="M{start[0]:.1f},{start[1]:.1f} C{start[0] + bend:.1f},{start[1]:.1f} '
                f'{end[0] - bend:.1f},{end[1]:.1f} {end[0]:.1f},{end[1]:.1f}" fill="none" stroke="#888"/>'
            )
    for node, _ in rows:
        x, top, w, h = boxes[id(node)]
        fill = "#e8f5e9" if node.ready == "Ready" else "#fff3e0" if node.ready else "#eceff1"
        box = f'x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{h:.1f}"'
        parts.append(f'<rect {box} rx="6" fill="{fill}" stroke="#555"/>')
        for index, part in enumerate(lines_of(node)):
            weight = ' font-weight="bold"' if index == 0 else ""
            parts.append(
                f'<text x="{x + PAD:.1f}" y="{top + PAD / 2 + (index + 1) * LINE - 4:.1f}"{weight}>'
                f"{html.escape(part)}</text>"
            )
    width = max((x + w for x, _, w, _ in boxes.values()), default=0.0) + 10
    height = y
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">\n'
        + "\n".join(parts)
        + "\n</svg>\n"
    )


FORMS = {"text": text, "mermaid": mermaid, "svg": svg}


def objects(namespace: str | None, options: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every object of the operator's kinds (the `twilio` category), in a namespace or all of them."""
    where = ["--all-namespaces"] if namespace is None else ["--namespace", namespace]
    listed: list[dict[str, Any]] = json.loads(kubectl(["get", CATEGORY, *where, "-o", "json"], options))[
        "items"
    ]
    return listed
