"""Hostile input fails cleanly: one message naming the file (and the line and column where there
is one), exit 1, no traceback, no hang, nothing changed.

Every case runs the real command line in a subprocess with a timeout, so a hang fails its test
instead of stalling the suite. Run alone, the module starts all cases at once, a few at a time,
and each test checks its own; under pytest-xdist each test runs its case when it comes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from reconciler.emulator import running
from reconciler.objectfile import MIB
from reconciler.policy.source import MAX_DEPTH
from reconciler.providers.graph_http import RetryPolicy, _retry_after
from reconciler.providers.local import import_snapshot

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "contoso" / "tenant.json"
TIMEOUT = 20  # seconds a command may take before it counts as hanging
SLOW_CITY = "a" * 4096  # `\S*\S*\d` backtracks on it for minutes without a timeout

Content = str | bytes | Callable[[Path], None]  # text, bytes, or a function making the file


@dataclass(frozen=True)
class Case:
    """Files in a fresh folder, a command run there, and the first line of error it prints.

    In `message`, "..." stands for any text. `unchanged` names a local tenant the command must
    leave as it was.
    """

    args: tuple[str, ...]
    files: Mapping[str, Content]
    message: str
    env: Mapping[str, str] = field(default_factory=dict)
    unchanged: str | None = None


# --- what the files hold ----------------------------------------------------------------------


@cache
def _seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def snapshot(change: Callable[[dict], None] | None = None) -> str:
    """The Contoso demo tenant as a snapshot, changed by `change`."""
    document = json.loads(_seed_text())
    if change is not None:
        change(document)
    return json.dumps(document, indent=1)


def with_raw_value(name: str, raw: str) -> str:
    """The snapshot, its first user holding `name` with `raw` (JSON text) as its value."""
    return snapshot(lambda d: d["users"][0].update({name: "@@"})).replace('"@@"', raw, 1)


def duplicate_upn(document: dict) -> None:
    twin = dict(document["users"][0], id="99999999-9999-4999-8999-999999999999")
    twin["userPrincipalName"] = twin["userPrincipalName"].upper()
    twin["assignedLicenses"], twin["licenseAssignmentStates"] = [], []
    document["users"].append(twin)


def slow_city(document: dict) -> None:
    document["users"][0]["city"] = SLOW_CITY


def fifo(path: Path) -> None:
    os.mkfifo(path)


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("wb") as file:
            file.truncate(size)  # takes no disk: the size alone is refused, unread

    return make


DEEP = "[" * 100_000 + "]" * 100_000
POLICY = 'groups:\n  - displayName: LIC-Test\n    membershipRule: user.city -eq "Paris"\n'
SLOW_POLICY = (
    'groups:\n  - displayName: LIC-Slow\n    membershipRule: user.city -match "\\S*\\S*\\d"\n'
)
DEEP_YAML = "groups: " + "[" * 5000 + "]" * 5000 + "\n"
SNAPSHOT = "tenant: snapshot:seed.json\npolicy: p/\n"
LOCAL = "tenant: local:state/tenant.db\nseed: seed.json\npolicy: p/\n"
CERTIFICATE_ENV = {
    "AZURE_TENANT_ID": "00000000-0000-4000-8000-000000000001",
    "AZURE_CLIENT_ID": "11111111-1111-4111-8111-111111111111",
    "AZURE_CLIENT_CERTIFICATE_PATH": "cert.pem",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD": "hunter2-secret",
    "AZURE_CLIENT_SECRET": "",
}
TIMED_OUT = "the regular expression took more than 1 s on a value of 4,096 characters, and Entra..."


def planning(**files: Content) -> dict[str, Content]:
    """A folder planning a snapshot tenant: `files` over a config, the seed and a policy."""
    names = {"config": "reconciler.yaml", "seed": "seed.json", "policy": "p/a.yaml"}
    base = {"config": SNAPSHOT, "seed": snapshot(), "policy": POLICY}
    return {names.get(key, key): value for key, value in {**base, **files}.items()}


PLAN = ("plan",)
CASES: dict[str, Case] = {
    # nesting deeper than Python's recursion goes
    "policy_nested_deeply": Case(
        PLAN,
        planning(policy=DEEP_YAML),
        f"error: p/a.yaml:1:{MAX_DEPTH + 8}: invalid YAML: nested more than {MAX_DEPTH} "
        "levels deep",
    ),
    "config_nested_deeply": Case(
        PLAN,
        {"reconciler.yaml": "tenant: " + "[" * 5000},
        f"error: reconciler.yaml:1:{MAX_DEPTH + 8}: invalid YAML: nested more than "
        f"{MAX_DEPTH} levels deep",
    ),
    "snapshot_nested_deeply": Case(
        PLAN,
        planning(seed=with_raw_value("extension_nested", DEEP)),
        "error: seed.json:...: JSON nests too deeply",
    ),
    "saved_plan_nested_deeply": Case(
        ("show", "plan.json"),
        {"plan.json": '{"formatVersion": 1, "changes": [' + DEEP + "]}"},
        "error: plan.json:1:532: not a plan file: JSON nests too deeply",
    ),
    # numbers beyond Python's 4,300 digits
    "policy_number_too_long": Case(
        PLAN,
        planning(policy="settings:\n  maxLicenseRemovals: " + "9" * 5000 + "\n"),
        "error: p/a.yaml:2:23: a number of 5,000 digits is too long",
    ),
    "snapshot_number_too_long": Case(
        PLAN,
        planning(seed=with_raw_value("extension_big", "9" * 5000)),
        "error: seed.json:...: a number has more than 4300 digits",
    ),
    "saved_plan_number_too_long": Case(
        ("show", "plan.json"),
        {"plan.json": '{"formatVersion": ' + "1" * 5000 + "}"},
        "error: plan.json:1:19: not a plan file: a number has more than 4300 digits",
    ),
    # text that isn't text
    "policy_lone_surrogate": Case(
        PLAN,
        planning(policy='groups:\n  - displayName: G\n    description: "\\udc80"\n'),
        "error: p/a.yaml:3:18: \\udc80 is half of a surrogate pair, alone: not a character",
    ),
    "policy_escape_beyond_unicode": Case(
        PLAN,
        planning(policy='tenant: "\\UFFFFFFFF"\n'),
        "error: p/a.yaml:1:12: invalid YAML: an escape names a character beyond U+10FFFF",
    ),
    "policy_not_utf8": Case(
        PLAN,
        planning(policy=b"tenant: caf\xe9\n"),
        "error: p/a.yaml:1:12: file is not UTF-8 text (byte 0xe9); save it as UTF-8",
    ),
    "snapshot_lone_surrogate": Case(
        PLAN,
        planning(seed=with_raw_value("city", '"Par\\ud800is"')),
        "error: seed.json:...: \\ud800 is half of a surrogate pair, alone: not a character",
    ),
    "snapshot_not_utf8": Case(
        PLAN,
        planning(seed=snapshot().encode().replace(b"Contoso", b"Cont\xf0so", 1)),
        "error: seed.json:5:23: file is not UTF-8 text (byte 0xf0); save it as UTF-8",
    ),
    "config_utf16": Case(
        PLAN,
        planning(config=SNAPSHOT.encode("utf-16")),
        "error: reconciler.yaml: file is UTF-16 text; save it as UTF-8",
    ),
    # what isn't a regular file, or is too big to be the file meant
    "fifo_in_policy_folder": Case(
        PLAN,
        planning(policy=fifo),
        "error: p/a.yaml: won't read it: it is a FIFO, not a regular file",
    ),
    "policy_argument_is_a_device": Case(
        ("plan", "--policy", "/dev/zero"),
        planning(),
        "error: /dev/zero: won't read it: it is a character device, not a regular file",
    ),
    "config_argument_is_a_fifo": Case(
        ("plan", "--config", "config.yaml"),
        {"config.yaml": fifo},
        "error: config.yaml: won't read it: it is a FIFO, not a regular file",
    ),
    "snapshot_argument_is_a_device": Case(
        ("plan", "--tenant", "snapshot:/dev/zero"),
        planning(),
        "error: /dev/zero: won't read it: it is a character device, not a regular file",
    ),
    "seed_is_a_fifo": Case(
        PLAN,
        planning(config=LOCAL, seed=fifo),
        "error: seed.json: won't read it: it is a FIFO, not a regular file",
    ),
    "saved_plan_is_a_fifo": Case(
        ("apply", "plan.json"),
        planning(**{"plan.json": fifo}),
        "error: plan.json: won't read it: it is a FIFO, not a regular file",
    ),
    "rule_file_is_a_device": Case(
        ("rule", "check", "--file", "/dev/zero"),
        {},
        "error: /dev/zero: won't read it: it is a character device, not a regular file",
    ),
    "users_file_is_a_fifo": Case(
        ("rule", "test", 'user.city -eq "Paris"', "--users", "users.json"),
        {"users.json": fifo},
        "error: users.json: won't read it: it is a FIFO, not a regular file",
    ),
    "policy_file_too_big": Case(
        PLAN,
        planning(policy=sparse(10 * MIB + 1)),
        "error: p/a.yaml: won't read it: it is larger than 10 MiB, the limit for a policy file",
    ),
    "config_too_big": Case(
        PLAN,
        {"reconciler.yaml": sparse(MIB + 1)},
        "error: reconciler.yaml: won't read it: it is larger than 1 MiB, the limit for a "
        "configuration file",
    ),
    "rule_file_too_big": Case(
        ("rule", "check", "--file", "rule.txt"),
        {"rule.txt": sparse(MIB + 1)},
        "error: rule.txt: won't read it: it is larger than 1 MiB, the limit for a rule file",
    ),
    # duplicates
    "config_duplicate_key": Case(
        PLAN,
        planning(config=SNAPSHOT + "tenant: graph\n"),
        "error: reconciler.yaml:3:1: duplicate key 'tenant': already given at reconciler.yaml:1:1",
    ),
    "snapshot_duplicate_upn": Case(
        PLAN,
        planning(seed=snapshot(duplicate_upn)),
        "error: seed.json:...: users[...].userPrincipalName: duplicate userPrincipalName "
        "'...@CONTOSO.COM' (also users[0])",
    ),
    # signing in with a certificate that isn't one
    "certificate_is_garbage": Case(
        ("plan", "--tenant", "graph"),
        planning(**{"cert.pem": "not a certificate\n"}),
        "error: cert.pem: AZURE_CLIENT_CERTIFICATE_PATH: not a PEM or PKCS12 certificate with "
        "its private key, or AZURE_CLIENT_CERTIFICATE_PASSWORD doesn't open it",
        env=CERTIFICATE_ENV,
    ),
    "certificate_is_a_fifo": Case(
        ("plan", "--tenant", "graph"),
        planning(**{"cert.pem": fifo}),
        "error: cert.pem: AZURE_CLIENT_CERTIFICATE_PATH: won't read it: it is a FIFO, not a "
        "regular file",
        env=CERTIFICATE_ENV,
    ),
    # a regular expression that backtracks without end
    "plan_regex_timeout": Case(
        PLAN,
        planning(seed=snapshot(slow_city), policy=SLOW_POLICY),
        f'error: the rule of ...lic-slow: user.city -match "\\S*\\S*\\d": {TIMED_OUT}',
    ),
    "rule_test_regex_timeout": Case(
        ("rule", "test", 'user.city -match "\\S*\\S*\\d"', "--users", "users.json"),
        {"users.json": json.dumps([{"id": "1", "userPrincipalName": "ana@x", "city": SLOW_CITY}])},
        f'error: users.json: ana@x: user.city -match "\\S*\\S*\\d": {TIMED_OUT}',
    ),
    # apply changes nothing
    "apply_regex_timeout": Case(
        ("apply", "--auto-approve"),
        planning(config=LOCAL, seed=snapshot(slow_city), policy=SLOW_POLICY),
        f'error: the rule of ...lic-slow: user.city -match "\\S*\\S*\\d": {TIMED_OUT}',
        unchanged="state/tenant.db",
    ),
    "apply_policy_nested_deeply": Case(
        ("apply", "--auto-approve"),
        planning(config=LOCAL, policy=DEEP_YAML),
        "error: p/a.yaml:...: invalid YAML: nested more than 100 levels deep",
        unchanged="state/tenant.db",
    ),
    "apply_plan_file_is_a_device": Case(
        ("apply", "/dev/zero"),
        planning(config=LOCAL),
        "error: /dev/zero: won't read it: it is a character device, not a regular file",
        unchanged="state/tenant.db",
    ),
}


# --- running them -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    stderr: str
    before: str | None = None  # digest of the `unchanged` file before the command, and after
    after: str | None = None


def run_case(folder: Path, case: Case) -> Outcome:
    folder.mkdir(parents=True)
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    before = None
    if case.unchanged is not None:
        import_snapshot(folder / "seed.json", folder / case.unchanged).close()
        before = _digest(folder / case.unchanged)
    env = {**os.environ, **case.env}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *case.args],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return Outcome(-1, f"hung: no answer in {TIMEOUT} s")
    after = None if case.unchanged is None else _digest(folder / case.unchanged)
    return Outcome(done.returncode, done.stderr, before, after)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _runnable(case: Case) -> bool:
    needs_fifo = any(content is fifo for content in case.files.values())
    needs_dev = any(arg.endswith("/dev/zero") for arg in case.args)
    return os.name == "posix" or not (needs_fifo or needs_dev)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> Iterator[Callable[[str], Outcome]]:
    """The outcome of each case by name; run ahead, in parallel, unless under pytest-xdist."""
    base = tmp_path_factory.mktemp("hostile")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        yield lambda name: run_case(base / name, CASES[name])
        return
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        futures: dict[str, Future[Outcome]] = {
            name: pool.submit(run_case, base / name, case)
            for name, case in CASES.items()
            if _runnable(case)
        }
        yield lambda name: futures[name].result()


def _matches(line: str, pattern: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("..."))), line) is not None


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_message_exit_1_and_nothing_changed(outcomes, name):
    case = CASES[name]
    if not _runnable(case):
        pytest.skip("FIFOs and /dev/zero are POSIX")
    outcome = outcomes(name)
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.code == 1, outcome.stderr
    first = outcome.stderr.splitlines()[0]
    assert _matches(first, case.message), f"{first!r}\n  does not match\n{case.message!r}"
    assert outcome.before == outcome.after, "the tenant changed"
    assert "hunter2" not in outcome.stderr, "a secret is in the message"


# --- Retry-After ------------------------------------------------------------------------------

# what a throttling answer may say instead of a number of seconds: the usual backoff follows
GARBAGE_RETRY_AFTER = ["soon", "-5", "NaN", "1e400", "0x10", ""]
PAST = "Wed, 21 Oct 2015 07:28:00 GMT"  # an HTTP date in the past: no wait at all


class _Throttler(BaseHTTPRequestHandler):
    """Forwards to Graph (the emulator), answering two requests of three 429 with an odd
    Retry-After until they are used up (two in a row: a retry's backoff doubles each time)."""

    upstream: ClassVar[str] = ""
    odd: ClassVar[list[str]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()
    count: ClassVar[int] = 0

    def _handle(self) -> None:
        with self.lock:
            type(self).count += 1
            header = self.odd.pop(0) if self.count % 3 and self.odd else None
        if header is not None:
            body = b'{"error": {"code": "TooManyRequests", "message": "slow down"}}'
            self.send_response(429)
            self.send_header("Retry-After", header)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        answer = httpx.request(
            self.command,
            self.upstream + self.path.removeprefix("/v1.0"),
            content=self.rfile.read(length) if length else None,
            headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
        )
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, *args: object) -> None:
        pass


def test_odd_retry_after_values_fall_back_to_the_backoff_and_the_plan_completes(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.yaml").write_text(POLICY, encoding="utf-8")
    with running(str(SEED)) as emulator:
        handler = type(
            "Throttler",
            (_Throttler,),
            {"upstream": emulator.url, "odd": [*GARBAGE_RETRY_AFTER, PAST]},
        )
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            started = time.monotonic()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "plan",
                    "--tenant",
                    "graph",
                    "--graph-url",
                    f"http://127.0.0.1:{proxy.server_port}/v1.0",
                    "--policy",
                    "p",
                ],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        finally:
            proxy.shutdown()
            proxy.server_close()
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert handler.odd == [], "every odd Retry-After was sent"
    assert time.monotonic() - started < TIMEOUT


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2.128", 2.128),
        ("9" * 5000, 120.0),  # huge: capped at the longest wait
        ("Fri, 31 Dec 9999 23:59:59 GMT", 120.0),  # far future: capped too
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # past: at once
        ("Wed, 21 Oct 2015 07:28:00", 0.0),  # no zone: GMT, as HTTP dates are
    ],
)
def test_retry_after_is_capped_and_read_as_seconds_or_a_date(header, seconds):
    assert RetryPolicy().delay(0, _retry_after(header)) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [*GARBAGE_RETRY_AFTER, "١٢", "1_000", "inf", "Mon, 99 Foo"])
def test_retry_after_that_is_neither_falls_back_to_the_backoff(header):
    assert _retry_after(header) is None
    assert 0 <= RetryPolicy(base=0.5, cap=30).delay(0, _retry_after(header)) <= 0.5
