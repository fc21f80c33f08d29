"""What the receiver knows about the namespace's Twilio objects: tokens to check signatures, names for labels.

Filled from the credentials Secrets the operator writes for `TwilioSubaccount.spec.credentialsSecretRef`
(label ``twilio.operator.dev/subaccount``) and from the TwilioSubaccount and MessagingService objects'
``status.sid``. Metrics label values are those object names; a SID the namespace does not declare is
``unknown``, so the number of series is bounded by the number of objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

UNKNOWN = "unknown"


@dataclass
class Directory:
    _tokens: dict[str, str] = field(default_factory=dict)  # account SID -> auth token
    _secret_names: dict[str, str] = field(default_factory=dict)  # account SID -> name from a Secret label
    _subaccounts: dict[str, str] = field(default_factory=dict)  # account SID -> TwilioSubaccount name
    _services: dict[str, str] = field(default_factory=dict)  # MG SID -> MessagingService name

    def token(self, account_sid: str) -> str | None:
        return self._tokens.get(account_sid)

    def accounts(self) -> list[str]:
        return sorted(self._tokens)

    def replace_credentials(self, entries: Iterable[tuple[str, str, str | None]]) -> None:
        """(account SID, auth token, TwilioSubaccount name or None) of every credentials Secret."""
        tokens: dict[str, str] = {}
        names: dict[str, str] = {}
        for sid, token, subaccount in entries:
            tokens[sid] = token
            if subaccount:
                names[sid] = subaccount
        self._tokens, self._secret_names = tokens, names

    def replace_subaccounts(self, names: Mapping[str, str]) -> None:
        self._subaccounts = dict(names)

    def replace_services(self, names: Mapping[str, str]) -> None:
        self._services = dict(names)

    def subaccount(self, account_sid: str | None) -> str:
        if not account_sid:
            return UNKNOWN
        return self._subaccounts.get(account_sid) or self._secret_names.get(account_sid) or UNKNOWN

    def service(self, service_sid: str | None) -> str:
        return self._services.get(service_sid or "", UNKNOWN)
