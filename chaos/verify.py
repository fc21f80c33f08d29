"""What must hold once the run settles, checked against both sides: the cluster and Twilio."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from .control import TwilioSide, decode_secret
from .workload import ROTATE, Planned, Workload

DEFAULT_SERVICE = "[Auto-generated] Default Messaging Service"

ObjectKey = tuple[str, str, str]


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def index(items: list[dict[str, Any]]) -> dict[ObjectKey, dict[str, Any]]:
    return {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o for o in items}


def settled(planned: Planned, obj: dict[str, Any] | None) -> str | None:
    """None when the object is where the run left it; otherwise why not, in a few words."""
    if planned.deleted:
        return None if obj is None else "still present after deletion"
    if obj is None:
        return "missing"
    conds = conditions(obj)
    ready, synced = conds.get("Ready", {}), conds.get("Synced", {})
    if ready.get("status") != "True" or synced.get("status") != "True":
        return (
            f"Ready={ready.get('status')}/{ready.get('reason')} Synced={synced.get('status')}/"
            f"{synced.get('reason')}: {synced.get('message') or ready.get('message')}"
        )
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"].get("generation"):
        return f"observedGeneration {status.get('observedGeneration')} != {obj['metadata'].get('generation')}"
    requested = (obj["metadata"].get("annotations") or {}).get(ROTATE)
    if requested and (status.get("rotation") or {}).get("handledRotateRequest") != requested:
        return f"rotation {requested} not handled yet"
    return None


def unsettled(workload: Workload, items: list[dict[str, Any]]) -> dict[ObjectKey, str]:
    found = index(items)
    result = {}
    for planned in workload.objects:
        why = settled(planned, found.get(planned.key))
        if why is not None:
            result[planned.key] = why
    return result


def _parse(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass
class Findings:
    not_ready: dict[str, str] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    missing_in_twilio: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    deletion_not_honoured: list[str] = field(default_factory=list)
    secrets_failing_auth: list[str] = field(default_factory=list)
    stray_secrets: list[str] = field(default_factory=list)
    secret_lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(
            (
                self.not_ready,
                self.duplicates,
                self.missing_in_twilio,
                self.orphans,
                self.deletion_not_honoured,
                self.secrets_failing_auth,
                self.stray_secrets,
                self.secret_lines,
            )
        )


def _label(key: ObjectKey) -> str:
    return f"{key[0]} {key[1]}/{key[2]}"


def check_twilio(
    workload: Workload, items: list[dict[str, Any]], state: dict[str, Any], parent: str, findings: Findings
) -> None:
    """Exactly one Twilio object per resource (two keys only in a grace period); nothing unaccounted for."""
    found = index(items)
    now = datetime.datetime.now(datetime.UTC)
    accounts = {a["sid"]: a for a in state["accounts"] if a.get("owner") == parent and a["sid"] != parent}
    open_accounts = {sid for sid, a in accounts.items() if a["status"] != "closed"}
    keys = [k for k in state["keys"] if k["account"] in open_accounts and k["type"] != "main"]
    # Twilio makes a default service in every account: never the operator's to account for.
    services = [
        s
        for s in state["services"]
        if s["account"] in open_accounts and s["friendly_name"] != DEFAULT_SERVICE
    ]
    sinks = [s for s in state.get("sinks", []) if s["account"] in open_accounts]
    subscriptions = [s for s in state.get("subscriptions", []) if s["account"] in open_accounts]
    numbers = {n["sid"]: n for n in state.get("incoming_phone_numbers", [])}
    accounted: set[str] = set()
    # Twilio objects left on purpose: resources deleted with an Orphan (or Suspend) policy.
    leftovers: set[tuple[str, str]] = set()

    for planned in workload.objects:
        obj = found.get(planned.key)
        label = _label(planned.key)
        status = (obj or {}).get("status") or {}
        if planned.kind == "TwilioSubaccount":
            same = [a for a in accounts.values() if a["friendly_name"] == planned.friendly_name]
            if planned.deleted:
                expected = {"Close": "closed", "Suspend": "suspended"}.get(planned.deletion_policy)
                wrong = [a["sid"] for a in same if expected and a["status"] != expected]
                if wrong:
                    findings.deletion_not_honoured.append(f"{label}: {planned.deletion_policy} left {wrong}")
                leftovers.add(("account", planned.friendly_name))
                continue
            live = [a["sid"] for a in same if a["status"] != "closed"]
            if len(live) > 1:
                findings.duplicates[label] = live
            if status.get("sid") not in live:
                findings.missing_in_twilio.append(f"{label}: status.sid {status.get('sid')} not among {live}")
            accounted.add(str(status.get("sid")))
            continue
        account = status.get("accountSid")
        if planned.kind == "EventStream":
            _check_stream(planned, status, sinks, subscriptions, findings, accounted, leftovers)
            continue
        if planned.kind == "PhoneNumber":
            _check_number(planned, status, numbers, parent, findings)
            continue
        if planned.kind == "ApiKey":
            same = [k for k in keys if k["friendly_name"] == planned.friendly_name]
            if planned.deleted:
                if planned.deletion_policy == "Delete" and same:
                    findings.deletion_not_honoured.append(f"{label}: keys {[k['sid'] for k in same]} remain")
                leftovers.add(("key", planned.friendly_name))
                continue
            rotation = status.get("rotation") or {}
            allowed = {status.get("sid")}
            expires = _parse(rotation.get("previousExpiresAt"))
            if rotation.get("previousSid") and expires is not None and expires > now:
                allowed.add(rotation["previousSid"])
            held = {k["sid"] for k in same if k["account"] == account}
            extra = sorted(
                {k["sid"] for k in same} - allowed
            )  # in any account: a key made in the wrong one is a leak too
            if extra:
                findings.duplicates[label] = sorted(held | set(extra))
            if status.get("sid") not in held:
                findings.missing_in_twilio.append(f"{label}: status.sid {status.get('sid')} not in {account}")
            accounted |= {str(s) for s in allowed}
            continue
        same = [s for s in services if s["friendly_name"] == planned.friendly_name]
        if planned.deleted:
            if planned.deletion_policy == "Delete" and same:
                findings.deletion_not_honoured.append(f"{label}: services {[s['sid'] for s in same]} remain")
            leftovers.add(("service", planned.friendly_name))
            continue
        sids = [s["sid"] for s in same]
        if len(sids) > 1:
            findings.duplicates[label] = sids
        if status.get("sid") not in sids:
            findings.missing_in_twilio.append(f"{label}: status.sid {status.get('sid')} not among {sids}")
        accounted.add(str(status.get("sid")))

    for kind, collection in (
        ("account", [accounts[sid] for sid in open_accounts]),
        ("key", keys),
        ("service", services),
        ("sink", [{**s, "friendly_name": s["description"]} for s in sinks]),
        ("subscription", [{**s, "friendly_name": s["description"]} for s in subscriptions]),
    ):
        for item in collection:
            if item["sid"] in accounted or (kind, item["friendly_name"]) in leftovers:
                continue
            findings.orphans.append(f"{kind} {item['sid']} ({item['friendly_name']!r})")


def _check_stream(
    planned: Planned,
    status: dict[str, Any],
    sinks: list[dict[str, Any]],
    subscriptions: list[dict[str, Any]],
    findings: Findings,
    accounted: set[str],
    leftovers: set[tuple[str, str]],
) -> None:
    """One sink and one subscription on it, in the stream's account; nothing left when deleted."""
    label = _label(planned.key)
    same = [s for s in sinks if s["description"] == planned.friendly_name]
    subs = [s for s in subscriptions if s["description"] == planned.friendly_name]
    if planned.deleted:
        if planned.deletion_policy == "Delete" and (same or subs):
            remain = [s["sid"] for s in same + subs]
            findings.deletion_not_honoured.append(f"{label}: sinks and subscriptions {remain} remain")
        leftovers.update({("sink", planned.friendly_name), ("subscription", planned.friendly_name)})
        return
    if len(same) > 1 or len(subs) > 1:
        findings.duplicates[label] = [s["sid"] for s in same + subs]
    sink, subscription = status.get("sinkSid"), status.get("subscriptionSid")
    held = {s["sid"]: s for s in subs}
    if sink not in {s["sid"] for s in same} or subscription not in held:
        findings.missing_in_twilio.append(
            f"{label}: sink {sink} or subscription {subscription} not in Twilio"
        )
    elif held[subscription]["sink"] != sink:
        findings.missing_in_twilio.append(f"{label}: subscription {subscription} is not on sink {sink}")
    accounted.update({str(sink), str(subscription)})


def _check_number(
    planned: Planned,
    status: dict[str, Any],
    numbers: dict[str, dict[str, Any]],
    parent: str,
    findings: Findings,
) -> None:
    """The number is in the subaccount; once deleted, where its policy puts it."""
    label = _label(planned.key)
    wanted = str(planned.spec["phoneNumber"])
    held = [n for n in numbers.values() if n["phone_number"] == wanted]
    if planned.deleted:
        where = {"ReturnToParent": parent, "Release": None}.get(planned.deletion_policy, "a subaccount")
        actual = held[0]["account"] if held else None
        if (where is None and held) or (where == parent and actual != parent):
            findings.deletion_not_honoured.append(f"{label}: {planned.deletion_policy} left it in {actual}")
        return
    if not held or held[0]["sid"] != status.get("sid") or held[0]["account"] != status.get("accountSid"):
        findings.missing_in_twilio.append(
            f"{label}: {wanted} is not where status says ({status.get('accountSid')})"
        )


def check_secrets(
    workload: Workload,
    items: list[dict[str, Any]],
    secrets: list[dict[str, Any]],
    twilio: TwilioSide,
    findings: Findings,
) -> None:
    """Every ApiKey's Secret works; every Secret the operator wrote belongs to a live object."""
    found = index(items)
    by_name = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in secrets}
    live_uids = {o["metadata"]["uid"] for o in items}
    for planned in workload.live():
        if planned.kind != "ApiKey":
            continue
        obj = found.get(planned.key)
        label = _label(planned.key)
        secret_name = str(planned.spec.get("secretName") or planned.name)
        secret = by_name.get((planned.namespace, secret_name))
        if obj is None or secret is None:
            findings.secrets_failing_auth.append(f"{label}: no Secret {secret_name}")
            continue
        data = decode_secret(secret)
        status = obj.get("status") or {}
        if data.get("TWILIO_API_KEY") != status.get("sid"):
            findings.secrets_failing_auth.append(
                f"{label}: Secret holds {data.get('TWILIO_API_KEY')}, status.sid is {status.get('sid')}"
            )
        elif not twilio.authenticates(data):
            findings.secrets_failing_auth.append(
                f"{label}: {data.get('TWILIO_API_KEY')} does not authenticate"
            )
    for secret in secrets:
        meta = secret["metadata"]
        if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") != "twilio-operator":
            continue
        owners = {ref.get("uid") for ref in meta.get("ownerReferences") or []}
        if not owners & live_uids:
            findings.stray_secrets.append(f"{meta['namespace']}/{meta['name']}")
