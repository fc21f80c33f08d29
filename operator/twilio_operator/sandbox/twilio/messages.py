"""Messages sent through the emulator and the fate each one meets, decided when it is sent (seeded).

A message's timeline is fixed at creation from the emulator's seed and the message's number: how long it
queues, when it is sent, and whether it ends delivered, undelivered or failed, with which error code. The
mix follows what Twilio documents for A2P SMS: most messages delivered within seconds; carriers report
some as undelivered (30003 unreachable, 30005 unknown handset, 30006 landline, 30007 filtered, 30008
unknown); some fail before leaving Twilio (30007, 30034 unregistered 10DLC number, 30032 unverified toll
free). ``FetchMessage`` answers from the timeline at the moment asked, so it is Twilio's truth, whatever
happened to the callbacks. ``time_scale`` shrinks every delay, for tests.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

UNDELIVERED_CODES = (30003, 30003, 30005, 30006, 30007, 30008)
FAILED_CODES = (30007, 30034, 30032)
ERROR_MESSAGES = {
    21704: "The Messaging Service contains no phone numbers",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    30032: "Toll-Free Number Has Not Been Verified",
    30034: "Message from an Unregistered Number",
}
# Statuses a status callback is posted for. Twilio posts none for the initial status (accepted/queued).
CALLBACK_STATUSES = frozenset({"queued", "sending", "sent", "delivered", "undelivered", "failed"})


@dataclass(frozen=True)
class Step:
    at: float  # seconds after creation (already scaled)
    status: str
    error_code: int | None = None


@dataclass
class SentMessage:
    sid: str
    account_sid: str
    service_sid: str | None
    sender: str | None
    to: str
    body: str
    status_callback: str | None
    created: float
    steps: list[Step]
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    def step_at(self, now: float | None = None) -> Step:
        elapsed = (time.time() if now is None else now) - self.created
        current = self.steps[0]
        for step in self.steps:
            if step.at <= elapsed:
                current = step
        return current

    @property
    def final(self) -> Step:
        return self.steps[-1]

    def sent_at(self, now: float | None = None) -> float | None:
        elapsed = (time.time() if now is None else now) - self.created
        for step in self.steps:
            if step.status == "sent" and step.at <= elapsed:
                return self.created + step.at
        return None


def timeline(rng: random.Random, *, via_service: bool, has_sender: bool, scale: float) -> list[Step]:
    """The statuses one message goes through, with their times (seconds after creation, scaled)."""
    steps = [Step(0.0, "accepted" if via_service else "queued")]
    at = 0.0
    if via_service:
        at += rng.uniform(0.02, 0.1)
        steps.append(Step(at * scale, "queued"))
    if not has_sender:
        steps.append(Step((at + 0.05) * scale, "failed", 21704))
        return steps
    roll = rng.random()
    at += rng.uniform(0.05, 0.3)
    if roll < 0.05:
        steps.append(Step(at * scale, "failed", rng.choice(FAILED_CODES)))
        return steps
    steps.append(Step(at * scale, "sending"))
    at += rng.uniform(0.1, 0.6)
    steps.append(Step(at * scale, "sent"))
    at += rng.uniform(0.5, 4.0)
    if roll < 0.13:
        steps.append(Step(at * scale, "undelivered", rng.choice(UNDELIVERED_CODES)))
    else:
        steps.append(Step(at * scale, "delivered"))
    return steps
