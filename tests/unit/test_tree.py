"""The drawing's shape, from objects as kubectl returns them: who goes under whom, and what is said."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from twilio_operator.tree import build, mermaid, svg, text

PARENT = "AC" + "0" * 32


def obj(kind: str, name: str, status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    ready = [{"type": "Ready", "status": "True", "reason": "Available"}, {"type": "Synced", "status": "True"}]
    return {
        "kind": kind,
        "metadata": {"namespace": "ns", "name": name},
        "spec": spec,
        "status": {"conditions": ready, **status},
    }


OBJECTS = [
    obj("ApiKey", "key", {"sid": "SK1", "secretName": "key-twilio"}, subaccountRef={"name": "sub"}),
    obj("TwilioSubaccount", "sub", {"sid": "AC1", "ownerAccountSid": PARENT, "state": "active"}),
    obj("MessagingService", "lost", {"sid": "MG1"}, subaccountRef={"name": "gone"}),
    obj(
        "MessagingService",
        "svc",
        {"sid": "MG2", "senders": {"alphaSenders": ["ACME"]}},
        subaccountRef={"name": "sub"},
    ),
]


def test_children_go_under_their_subaccount_and_the_rest_is_said() -> None:
    drawing = text(build(OBJECTS))
    assert drawing.splitlines() == [
        f"parent account {PARENT}",
        "└─ TwilioSubaccount ns/sub  AC1  Ready",
        "   │    active",
        "   ├─ ApiKey ns/key  SK1  Ready",
        "   │       Secret key-twilio",
        "   └─ MessagingService ns/svc  MG2  Ready",
        "           senders ACME",
        "without a subaccount object",
        "└─ MessagingService ns/lost  MG1  Ready",
        "        subaccount gone not found",
    ]


def test_mermaid_has_an_edge_per_parent_and_the_svg_is_well_formed() -> None:
    roots = build(OBJECTS)
    chart = mermaid(roots)
    assert chart.startswith("flowchart LR") and chart.count(" --> ") == 4
    picture = ElementTree.fromstring(svg(roots))
    texts = {"".join(t.itertext()) for t in picture.iter("{http://www.w3.org/2000/svg}text")}
    assert {"ApiKey ns/key", "MessagingService ns/lost", "senders ACME"} <= texts
