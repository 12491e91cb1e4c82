"""The emulator's HTTP side: a ThreadingHTTPServer on 127.0.0.1 speaking Graph v1.0.

    with running("examples/contoso/tenant.json") as emulator:
        emulator.url       # "http://127.0.0.1:PORT/v1.0", Graph's base URL
        emulator.counts()  # {"GET /users": 3, "POST /$batch": 2, "$batch: POST /groups": 4, ...}

Debug endpoints, without authentication: `GET /_emulator/counts` (the counts as JSON),
`DELETE /_emulator/counts` (reset them), `GET /_emulator/faults` (faults injected so far).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.emulator.app import App
from reconciler.emulator.errors import error_body
from reconciler.emulator.faults import Faults, fault_response
from reconciler.emulator.messages import Request, Response
from reconciler.emulator.store import Store
from reconciler.providers.local import LocalTenant, open_local
from reconciler.providers.snapshot import read_snapshot

VERSION = "/v1.0"
BETA = "/beta"  # only what v1.0 lacks (app.BETA_ROUTES)
JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"


class Emulator:
    """A running emulator: its URL, its request counts, and knobs for tests."""

    def __init__(self, app: App, server: ThreadingHTTPServer) -> None:
        self.app = app
        self._server = server
        host, port = server.server_address[:2]
        self.port = int(port)
        self.url = f"http://{host}:{port}{VERSION}"

    @property
    def tenant(self) -> LocalTenant:
        """The local tenant behind it (read it to check the end state)."""
        return self.app.store.tenant

    def counts(self) -> dict[str, int]:
        """Requests per endpoint, faulted ones included; items inside batches as "$batch: ..."."""
        return self.app.counts()

    def reset_counts(self) -> None:
        self.app.reset_counts()

    def faults_injected(self) -> dict[str, int]:
        """How many of each fault ("429", "drop-after", "lag", ...) were injected."""
        return dict(self.app.faults.injected)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, e.g. past the 7 days a delta token lasts."""
        self.app.clock_offset += seconds

    def expire_delta_tokens(self) -> None:
        """Forget every delta token handed out so far: the next use gets 410 syncStateNotFound."""
        store = self.app.store
        with store.lock:
            self.app.delta_floor = store.state().version + 1
            store.version += 1  # tokens issued from now on carry the new version


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "reconciler-emulator"
    app: App
    log_to: Any = None

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.log_to is not None:
            print(f"{self.address_string()} {format % args}", file=self.log_to, flush=True)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path.startswith("/_emulator/"):
            self._send(self._debug(path))
            return
        version = next((v for v in (VERSION, BETA) if path == v or path.startswith(v + "/")), None)
        if version is None:
            self._send(Response(404, error_body("BadRequest", f"Unknown version in {path}.")))
            return
        host, port = self.server.server_address[:2]
        base = f"http://{host}:{port}{version}"
        target = self.path[len(version) :] or "/"
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = _Unparsed()
        headers = dict(self.headers)
        beta = version == BETA
        request = Request.from_target(self.command, target, headers, body, base, beta)
        self.app.count(self.app.endpoint(request.method, request.path, beta))
        decision = self.app.faults.decide()
        if decision.delay:
            time.sleep(decision.delay)
        # a fault after the request is handled: the tenant has changed, the answer is lost
        answer = self._answer(request) if decision.handled or not decision.faulted else None
        if decision.drop:
            self._drop()
        elif decision.status is not None:
            self._send(fault_response(decision.status, decision.retry_after))
        else:
            assert answer is not None
            self._send(answer)

    def _answer(self, request: Request) -> Response:
        token = (request.header("Authorization") or "").partition(" ")
        if token[0].lower() != "bearer" or not token[2].strip():
            message = "Access token is empty." if not token[0] else "Invalid authentication token."
            return Response(401, error_body("InvalidAuthenticationToken", message))
        if isinstance(request.body, _Unparsed):
            return Response(400, error_body("BadRequest", "The request body is not valid JSON."))
        return self.app.dispatch(request)

    def _debug(self, path: str) -> Response:
        if path == "/_emulator/counts" and self.command == "GET":
            return Response(200, self.app.counts())
        if path == "/_emulator/counts" and self.command == "DELETE":
            self.app.reset_counts()
            return Response(204)
        if path == "/_emulator/faults" and self.command == "GET":
            return Response(200, dict(self.app.faults.injected))
        return Response(404, error_body("BadRequest", f"No debug endpoint {path}."))

    def _send(self, response: Response) -> None:
        payload = b""
        self.send_response(response.status)
        if isinstance(response.body, str):
            payload = response.body.encode()
            self.send_header("Content-Type", "text/plain;charset=utf-8")
        elif response.body is not None:
            payload = json.dumps(response.body).encode()
            self.send_header("Content-Type", JSON)
        for name, value in response.headers.items():
            self.send_header(name, value)
        request_id = self.headers.get("client-request-id")
        if request_id:
            self.send_header("client-request-id", request_id)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the connection without answering, as a dropped connection does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Unparsed:
    """A body that isn't JSON."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def open_source(source: str, seed: Path | None, workdir: Path) -> LocalTenant:
    """`local:PATH` (seeded the first time from `seed`), or a snapshot file loaded into a
    temporary local tenant under `workdir` (`snapshot:` prefix optional)."""
    if source.startswith("local:"):
        return open_local(source[len("local:") :], seed)
    path = source[len("snapshot:") :] if source.startswith("snapshot:") else source
    return LocalTenant.create(workdir / "tenant.db", read_snapshot(path))


@contextmanager
def running(
    source: str,
    seed: Path | None = None,
    faults: str | None = None,
    port: int = 0,
    *,
    license_reads: int = 2,
    rule_reads: int = 0,
    log: bool = False,
) -> Iterator[Emulator]:
    """An emulator serving `source` on 127.0.0.1:`port` (0: any free port) until the block ends.

    `license_reads`: how many reads of a group, after Entra queued its license processing
    (assignLicense, a member or rule change of a licensed group), still see licenseProcessingState
    unfinished (QueuedForProcessing, then ProcessingInProgress) before ProcessingComplete (or
    ProcessingFailed); 0 finishes at once. `rule_reads`: how many reads of a new dynamic
    group's members or (beta) membershipRuleProcessingStatus see its rule not yet evaluated
    (no members; NotStarted, then Running) before Succeeded; 0 (default) evaluates at once.
    `log`: request lines to stderr.
    """
    fault_plan = Faults(faults)  # a bad SPEC fails before anything starts
    with tempfile.TemporaryDirectory(prefix="reconciler-emulator-") as workdir:
        tenant = open_source(source, seed, Path(workdir))
        try:
            app = App(Store(tenant, license_reads), fault_plan, rule_reads)
            handler = type(
                "Handler", (_Handler,), {"app": app, "log_to": sys.stderr if log else None}
            )
            server = _Server(("127.0.0.1", port), handler)
            thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
            thread.start()
            try:
                yield Emulator(app, server)
            finally:
                server.shutdown()
                server.server_close()
                thread.join(timeout=5)
        finally:
            tenant.close()
