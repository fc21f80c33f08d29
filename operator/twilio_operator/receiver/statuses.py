"""Message statuses, how far each has progressed, and Twilio's short descriptions of delivery error codes."""

from __future__ import annotations

# Callbacks arrive late, twice or never, so a message keeps its furthest-progressed status: a late `sent`
# never overwrites `delivered`. Terminal outcomes share a rank, so the first one recorded stays; `read`
# (WhatsApp, RCS) follows `delivered`. Inbound messages progress receiving → received.
RANK: dict[str, int] = {
    "scheduled": 0,
    "accepted": 0,
    "queued": 1,
    "receiving": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "partially_delivered": 4,
    "received": 4,
    "read": 5,
}
TERMINAL_RANK = 4
TERMINAL = frozenset(status for status, rank in RANK.items() if rank >= TERMINAL_RANK)
FAILED = frozenset({"failed", "undelivered"})
UNKNOWN_RANK = -1


def rank(status: str) -> int:
    """The progress of a status; one Twilio adds without notice ranks below every known one."""
    return RANK.get(status, UNKNOWN_RANK)


# Twilio's error dictionary, short descriptions of the codes seen on messages (twilio.com/docs/api/errors).
ERROR_DESCRIPTIONS: dict[int, str] = {
    21211: "Invalid 'To' phone number",
    21408: "Permission to send an SMS has not been enabled for the region",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit",
    30001: "Queue overflow",
    30002: "Account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered (carrier violation)",
    30008: "Unknown error",
    30009: "Missing segment",
    30010: "Message price exceeds max price",
    30017: "Carrier network congestion",
    30018: "Destination carrier requires sender ID pre-registration",
    30019: "Content size exceeds carrier limit",
    30022: "US A2P 10DLC: rate limits exceeded",
    30023: "US A2P 10DLC: daily message cap reached",
    30024: "Numeric sender ID not provisioned by carrier",
    30027: "US A2P 10DLC: T-Mobile daily message limit reached",
    30032: "Toll-free number has not been verified",
    30034: "US A2P 10DLC: message from an unregistered number",
    30035: "Messages to a WhatsApp user who has not opted in",
    30410: "Provider timeout error",
    30450: "Message delivery blocked (SMS pumping protection)",
    30500: "Message undeliverable",
    63016: "WhatsApp: outside the allowed window; use a template",
}


def describe_error(code: int | None) -> str:
    if code is None:
        return ""
    return ERROR_DESCRIPTIONS.get(code, "See twilio.com/docs/api/errors")
