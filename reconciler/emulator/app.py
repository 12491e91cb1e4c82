"""Routing and dispatch: one `Request` in, one `Response` out, for HTTP and `$batch` alike."""

from __future__ import annotations

import random
import re
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from functools import partial

from reconciler.emulator import audit_log, batch, delta, reads, writes
from reconciler.emulator.errors import GraphError, error_body, no_segment
from reconciler.emulator.faults import Faults
from reconciler.emulator.messages import Request, Response
from reconciler.emulator.replication import Replication
from reconciler.emulator.rule_processing import RuleProcessing
from reconciler.emulator.store import Store

Handler = Callable[..., Response]

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/organization", reads.organization),
    ("GET", "/subscribedSkus", reads.subscribed_skus),
    ("GET", "/subscribedSkus/{id}", reads.subscribed_sku),
    ("GET", "/users", partial(reads.list_objects, kind="users")),
    ("GET", "/users/$count", partial(reads.count_objects, kind="users")),
    ("GET", "/users/delta", partial(delta.delta, kind="users")),
    ("GET", "/users/{id}", partial(reads.get_object, kind="users")),
    ("GET", "/users/{id}/licenseDetails", reads.license_details),
    ("GET", "/users/{id}/memberOf", reads.member_of),
    ("POST", "/users/{id}/reprocessLicenseAssignment", writes.reprocess),
    ("POST", "/users/{id}/assignLicense", writes.assign_user_license),
    ("GET", "/groups", partial(reads.list_objects, kind="groups")),
    ("POST", "/groups", writes.create_group),
    ("GET", "/groups/$count", partial(reads.count_objects, kind="groups")),
    ("GET", "/groups/delta", partial(delta.delta, kind="groups")),
    ("GET", "/groups/{id}", partial(reads.get_object, kind="groups")),
    ("PATCH", "/groups/{id}", writes.update_group),
    ("DELETE", "/groups/{id}", writes.delete_group),
    ("GET", "/groups/{id}/members", reads.members),
    ("GET", "/groups/{id}/membersWithLicenseErrors", partial(reads.members, errors_only=True)),
    ("POST", "/groups/{id}/members/$ref", writes.add_member),
    ("DELETE", "/groups/{id}/members/{id}/$ref", writes.remove_member),
    ("POST", "/groups/{id}/assignLicense", writes.assign_license),
    ("POST", "/$batch", batch.batch),
    # Microsoft's docs write the path both ways
    ("GET", "/auditLogs/directoryAudits", audit_log.directory_audits),
    ("GET", "/auditLogs/directoryaudits", audit_log.directory_audits),
]
# Graph's /beta: only what v1.0 lacks and a client needs (a group's membershipRuleProcessingStatus)
BETA_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/groups/{id}", partial(reads.get_object, kind="groups")),
]


def _compile(template: str) -> re.Pattern[str]:
    parts = [
        "([^/]+)" if part == "{id}" else re.escape(part) for part in template.strip("/").split("/")
    ]
    return re.compile("^/" + "/".join(parts) + "/?$")


_COMPILED = [
    (method, template, _compile(template), handler) for method, template, handler in ROUTES
]
_BETA = [
    (method, template, _compile(template), handler) for method, template, handler in BETA_ROUTES
]
_GUID_SEGMENT = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}(?=/|$)")


class App:
    """The emulated Graph service over one store; counts every request by endpoint."""

    def __init__(self, store: Store, faults: Faults | None = None, rule_reads: int = 0) -> None:
        self.store = store
        self.faults = faults or Faults()
        self.replication = Replication(self.faults)
        # new dynamic groups: unprocessed for `rule_reads` reads, and `disagree` faults
        self.rules = RuleProcessing(self.faults, rule_reads)
        # the order batch items without dependsOn run in: shuffled, from the faults' seed
        self.batch_order = random.Random(f"{self.faults.seed}:batch")
        self.batch_order_lock = threading.Lock()
        self.run_id = uuid.uuid4().hex[:12]
        self.delta_floor = 0  # delta tokens from store versions below this are forgotten
        self.clock_offset = 0.0  # seconds added to the wall clock (Emulator.advance_clock)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def endpoint(self, method: str, path: str, beta: bool = False) -> str:
        """The count key of a request: its route template, e.g. "GET /groups/{id}/members"
        ("GET /beta/groups/{id}" on Graph's beta version)."""
        version = "/beta" if beta else ""
        for route_method, template, pattern, _handler in _BETA if beta else _COMPILED:
            if route_method == method and pattern.match(path):
                return f"{method} {version}{template}"
        return f"{method} {version}{_GUID_SEGMENT.sub('/{id}', path)}"

    def count(self, key: str) -> None:
        with self._counts_lock:
            self._counts[key] += 1

    def counts(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def now(self) -> float:
        """The emulator's wall clock (POSIX seconds), which tests may move forward."""
        return time.time() + self.clock_offset

    def dispatch(self, request: Request) -> Response:
        """The answer to one request, made as its caller; a GraphError becomes Graph's
        error body."""
        try:
            refusal = self.replication.refusal(request)
            if refusal is not None:
                raise refusal
            with audit_log.calling(request):
                return self._route(request)
        except GraphError as error:
            body = error.body(request.header("client-request-id"))
            return Response(error.status, body, dict(error.headers))
        except Exception as exc:  # an emulator bug: Graph's 500 rather than a dropped socket
            traceback.print_exc()
            return error_response(500, "InternalServerError", f"{type(exc).__name__}: {exc}")

    def _route(self, request: Request) -> Response:
        allowed = False
        for method, _template, pattern, handler in _BETA if request.beta else _COMPILED:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            return handler(self, request, *match.groups())
        if allowed:
            raise GraphError(405, "Request_BadRequest", f"{request.method} is not allowed here.")
        if request.beta:  # emulator's choice: beta is served for what v1.0 lacks, no more
            raise GraphError(
                400, "BadRequest", f"The emulator doesn't serve {request.path} on beta; use v1.0."
            )
        segment = request.path.strip("/").split("/")[-1] or "/"
        raise no_segment(segment)


def error_response(status: int, code: str, message: str) -> Response:
    return Response(status, error_body(code, message))
