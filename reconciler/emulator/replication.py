"""Replication lag: a group created a moment ago may be unknown to the next requests.

Graph's directory is replicated; a request that reaches a replica the new group hasn't reached
yet answers as if it didn't exist: 404 `Request_ResourceNotFound`, and binding members to it
400 `Request_BadRequest` "...objects being referenced don't exist.". With a `lag` fault, each
group created lags so for a number of requests naming it, or for a time. Only requests that name
the group in their path lag; lists and filters see it at once (emulator's choice: Microsoft
describes the lag for requests to the new group).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from reconciler.emulator.errors import GraphError, not_found
from reconciler.emulator.faults import Faults
from reconciler.emulator.messages import Request

# [doc] the answer to members@odata.bind on a freshly created group
NOT_REPLICATED = "The source resource object or one of the objects being referenced don't exist."
_GROUP_PATH = re.compile(r"^/groups/([^/]+)(/.*)?$")


@dataclass
class _Lagging:
    requests: int  # requests still to refuse
    until: float  # monotonic time until which every request is refused


class Replication:
    """The groups still replicating, and the answer a request naming one of them gets."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._lagging: dict[str, _Lagging] = {}
        self._lock = threading.Lock()

    def created(self, group_id: str) -> None:
        """A group was just created: it lags if a `lag` fault says so."""
        lag = self.faults.lag()
        if lag is not None:
            with self._lock:
                until = time.monotonic() + lag.seconds
                self._lagging[group_id.lower()] = _Lagging(lag.requests, until)

    def refusal(self, request: Request) -> GraphError | None:
        """The answer to `request` if it names a group that hasn't replicated yet, else None."""
        match = _GROUP_PATH.match(request.path)
        if match is None:
            return None
        key = match.group(1).lower()
        with self._lock:
            lagging = self._lagging.get(key)
            if lagging is None:
                return None
            in_time = time.monotonic() < lagging.until
            if lagging.requests <= 0 and not in_time:
                del self._lagging[key]
                return None
            lagging.requests -= 1
        self.faults.count("lag")
        binds = isinstance(request.body, dict) and "members@odata.bind" in request.body
        adds = request.method == "POST" and (match.group(2) or "").startswith("/members/$ref")
        if (request.method == "PATCH" and binds) or adds:
            return GraphError(400, "Request_BadRequest", NOT_REPLICATED)
        return not_found(match.group(1))
