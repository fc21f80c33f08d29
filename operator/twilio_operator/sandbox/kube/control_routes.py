"""The /__sandbox/ request-log and fault endpoints, served alike by the Kubernetes emulator and by the fault
proxy in front of the real API server, so tests control both the same way."""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from .control import Fault, FaultInjector, RequestLog
from .errors import ApiError
from .server import json_response


class ControlEndpoints:
    """`close_watches(fault)` ends the open watches a drop_watch fault targets and says how many."""

    def __init__(self, log: RequestLog, faults: FaultInjector, close_watches: Callable[[Fault], int]) -> None:
        self.log = log
        self.faults = faults
        self.close_watches = close_watches

    def routes(self, prefix: str) -> list[web.RouteDef]:
        return [
            web.get(f"{prefix}requests", self.get_requests),
            web.get(f"{prefix}faults", self.get_faults),
            web.post(f"{prefix}faults", self.post_fault),
            web.delete(f"{prefix}faults", self.delete_faults),
            web.delete(f"{prefix}faults/{{id}}", self.delete_fault),
        ]

    async def get_requests(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            since = int(query.get("since") or 0)
            limit = int(query["limit"]) if query.get("limit") else None
        except ValueError:
            return json_response({"error": "since and limit must be integers"}, 400)
        records = self.log.query(
            method=query.get("method") or None,
            path_prefix=query.get("path_prefix") or None,
            since=since,
            user_agent_contains=query.get("user_agent_contains") or None,
            verb=query.get("verb") or None,
            limit=limit,
        )
        return json_response({"requests": [r.to_json() for r in records], "next": self.log.next_seq})

    async def get_faults(self, request: web.Request) -> web.Response:
        return json_response({"faults": [f.to_json() for f in self.faults.all()]})

    async def post_fault(self, request: web.Request) -> web.Response:
        try:
            spec = json.loads(await request.read() or b"{}")
            fault = self.faults.add(spec)
        except ValueError as error:
            return json_response({"error": f"invalid JSON: {error}"}, 400)
        except ApiError as error:
            return json_response({"error": error.message}, 400)
        closed = self.close_watches(fault) if fault.drop_watch else 0
        return json_response({"id": fault.id, "closed_watches": closed}, 201)

    async def delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return json_response({"cleared": True})

    async def delete_fault(self, request: web.Request) -> web.Response:
        try:
            fault_id = int(request.match_info["id"])
        except ValueError:
            return json_response({"error": "fault ids are integers"}, 400)
        if not self.faults.remove(fault_id):
            return json_response({"error": f"no fault {fault_id}"}, 404)
        return json_response({"removed": fault_id})
