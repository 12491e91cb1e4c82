"""Seeded, reproducible fault injection from a SPEC string.

    SPEC    := CLAUSE (";" CLAUSE)*
    CLAUSE  := "seed=" INT
             | KIND [":" OPTION ("," OPTION)*]
    KIND    := "429" | "503" | "504" | "drop" | "slow"
    OPTION  := "every=" INT          the Nth, 2Nth, ... request this clause sees
             | "rate=" FLOAT         each request with this probability (0..1), drawn from the seed
             | "retry-after=" FLOAT  Retry-After seconds (429: default 0.5; 503/504: none)
             | "ms=" INT             slow: delay in milliseconds (default 200)
             | "after=" INT          leave the first N requests this clause sees alone

Example: `429:every=5,retry-after=0.2;503:rate=0.1;drop:every=17;slow:ms=200;seed=42`.
A clause with neither `every` nor `rate` hits every request (useful for `slow`).

Every clause sees every request to /v1.0 (and 429/503/504 also each item inside a `$batch`, which
is how items get throttled on their own), in order; the first status or drop clause that hits
decides, `slow` adds its delay to whatever is answered. With the same seed and the same sequence
of requests the same requests fail. Concurrent clients make the sequence itself vary.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from reconciler.emulator.errors import error_body
from reconciler.emulator.messages import Response
from reconciler.errors import InputError

KINDS = ("429", "503", "504", "drop", "slow")
STATUS_KINDS = ("429", "503", "504")


@dataclass
class Clause:
    kind: str
    every: int | None = None
    rate: float | None = None
    retry_after: float | None = None
    ms: int = 200
    after: int = 0
    seen: int = 0
    rng: random.Random | None = None

    def hits(self) -> bool:
        self.seen += 1
        draw = self.rng.random() if self.rng is not None else 1.0  # drawn always: reproducible
        if self.seen <= self.after:
            return False
        if self.every is not None:
            return (self.seen - self.after) % self.every == 0
        if self.rate is not None:
            return draw < self.rate
        return True


@dataclass(frozen=True)
class Decision:
    status: int | None = None  # 429, 503 or 504 to answer instead
    retry_after: float | None = None
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # seconds to wait before answering

    @property
    def faulted(self) -> bool:
        return self.status is not None or self.drop


class Faults:
    """The faults of one SPEC; `decide()` once per request, in order."""

    def __init__(self, spec: str | None = None) -> None:
        self.spec = spec or ""
        self.clauses, seed = parse(self.spec)
        for index, clause in enumerate(self.clauses):
            clause.rng = random.Random(f"{seed}:{index}:{clause.kind}")
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def decide(self, *, batch_item: bool = False) -> Decision:
        with self._lock:
            status = retry_after = None
            drop, delay = False, 0.0
            for clause in self.clauses:
                if batch_item and clause.kind not in STATUS_KINDS:
                    continue
                if not clause.hits():
                    continue
                if clause.kind == "slow":
                    delay += clause.ms / 1000
                elif status is None and not drop:
                    if clause.kind == "drop":
                        drop = True
                    else:
                        status = int(clause.kind)
                        retry_after = clause.retry_after
                        if retry_after is None and status == 429:
                            retry_after = 0.5
            decision = Decision(status, retry_after, drop, delay)
            if decision.faulted:
                key = "drop" if drop else str(status)
                self.injected[key] = self.injected.get(key, 0) + 1
            return decision


def parse(spec: str) -> tuple[list[Clause], int]:
    """The clauses and the seed of SPEC; InputError naming what is wrong."""
    clauses, seed = [], 0
    for text in (part.strip() for part in spec.split(";")):
        if not text:
            continue
        if text.startswith("seed="):
            seed = _number(text[5:], int, text)
            continue
        kind, _, options = text.partition(":")
        if kind not in KINDS:
            raise InputError(f"faults: unknown fault {kind!r} in {text!r}; use {', '.join(KINDS)}")
        clause = Clause(kind)
        for option in filter(None, (o.strip() for o in options.split(","))):
            name, _, value = option.partition("=")
            if name == "every":
                clause.every = _number(value, int, option)
                if clause.every < 1:
                    raise InputError(f"faults: every must be at least 1 in {option!r}")
            elif name == "rate":
                clause.rate = _number(value, float, option)
                if not 0 <= clause.rate <= 1:
                    raise InputError(f"faults: rate must be between 0 and 1 in {option!r}")
            elif name == "retry-after":
                clause.retry_after = _number(value, float, option)
            elif name == "ms":
                clause.ms = _number(value, int, option)
            elif name == "after":
                clause.after = _number(value, int, option)
            else:
                raise InputError(f"faults: unknown option {name!r} in {text!r}")
        clauses.append(clause)
    return clauses, seed


def _number(text: str, kind: type, where: str):
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"faults: {text!r} is not a number in {where!r}") from None


def format_retry_after(seconds: float) -> str:
    return f"{seconds:g}"


def fault_response(status: int, retry_after: float | None) -> Response:
    """The answer of an injected fault, with Graph's error body and Retry-After."""
    codes = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
    headers = {} if retry_after is None else {"Retry-After": format_retry_after(retry_after)}
    body = error_body(codes[status], "Please retry again later.")
    body["error"]["innerError"].update({"code": str(status), "status": str(status)})
    return Response(status, body, headers)
