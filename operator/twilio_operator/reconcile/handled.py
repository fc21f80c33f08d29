"""kopf's record of the spec it last handled, kept in status and written by the pass's own status write.

kopf compares each object it sees with this record to tell a create or an update from noise, and writes the
record after every handled change, in a request of its own. A pass writes its status anyway, so the record
goes with it, and kopf's write is skipped when it would repeat it: one request per handled change instead of
two. Status rather than an annotation: `kubectl apply`, `kubectl replace` and Argo CD never touch status.
"""

from __future__ import annotations

import json
from typing import cast

import kopf

from .model import BOOKKEEPING_ANNOTATIONS

FIELD = "lastHandledConfiguration"


class HandledRecord(kopf.StatusDiffBaseStorage):
    def __init__(self) -> None:
        super().__init__(
            field=f"status.{FIELD}",
            # The operator's own bookkeeping must not look like a change to act on.
            ignored_fields=[("metadata", "annotations", key) for key in BOOKKEEPING_ANNOTATIONS],
        )
        # Per object: the record this process last wrote. Watch events of the object's own earlier writes
        # arrive after it, without it; kopf's own write would make kopf wait those out, ours can't, so
        # they are answered from here (or each would look like a new object to handle).
        self._handled: dict[str, str] = {}
        # Per object: the record a pass's status write carried, until kopf would store it.
        self._carried: dict[str, str] = {}

    @staticmethod
    def encode(essence: kopf.BodyEssence) -> str:
        # As kopf encodes it, so the skip below compares like with like.
        return json.dumps(essence, separators=(",", ":"))

    def carried(self, uid: str, encoded: str) -> None:
        """A status write of this object carried the record."""
        self._handled[uid] = self._carried[uid] = encoded

    def forget(self, uid: str) -> None:
        self._handled.pop(uid, None)
        self._carried.pop(uid, None)

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        known = self._handled.get(str(body.metadata.uid))
        if known is not None:
            return cast(kopf.BodyEssence, json.loads(known))
        return super().fetch(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        uid, encoded = str(body.metadata.uid), self.encode(essence)
        if self._carried.pop(uid, None) == encoded:
            return
        self._handled[uid] = encoded
        super().store(body=body, patch=patch, essence=essence)
