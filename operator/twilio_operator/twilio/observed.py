"""What Twilio reports about one object, as every external client hands it to the layer above."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Observed:
    """One Twilio object as last read (or as a create or update answered)."""

    sid: str
    data: dict[str, Any]
    created_at: datetime.datetime | None = None
    # Credentials Twilio returned (a key secret, an auth token): never logged, never stored in status.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
