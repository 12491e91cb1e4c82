"""Seeded, reproducible fault injection from a SPEC string.

    SPEC    := CLAUSE (";" CLAUSE)*
    CLAUSE  := "seed=" INT
             | KIND [":" OPTION ("," OPTION)*]
    KIND    := "429" | "503" | "504" | "drop" | "slow"      before the request is handled
             | "504-after" | "drop-after"                 after it is handled: the tenant changed
             | "lag"                                      a new group is unknown for a while
             | "license-failed"                           a group's license processing fails
             | "disagree"                                 a new dynamic group shows other members
    OPTION  := "every=" INT          the Nth, 2Nth, ... event this clause sees
             | "rate=" FLOAT         each event with this probability (0..1), drawn from the seed
             | "after=" INT          leave the first N events this clause sees alone
             | "times=" INT          hit at most N events
             | "retry-after=" FLOAT  Retry-After seconds (429: default 0.5; 503/504: none)
             | "ms=" INT             slow: delay (default 200); lag: how long a new group lags
             | "requests=" INT       lag: how many requests naming a new group it refuses
             | "leave-out=" INT      disagree: members of the rule left out (default 1)
             | "put-in=" INT         disagree: users the rule doesn't select put in (default 0)

Example: `429:every=5,retry-after=0.2;503:rate=0.1;drop-after:every=17;lag:requests=2;seed=42`.
A clause with neither `every` nor `rate` hits every event (useful for `slow` and `lag`).

What a clause sees: 429/503/504/504-after see every request (to /v1.0 or /beta) and each item
inside a `$batch` (so items fail on their own); drop/drop-after/slow see every request; `lag` sees
each group created; `license-failed` each license processing a group starts (after
assignLicense, a member change of a licensed group, a rule change of a licensed dynamic group).
The first status or drop clause that hits a request decides; `slow` adds its delay.

`504-after` and `drop-after` let the request change the tenant, then answer 504 or close the
connection: Graph can commit a write and lose the answer. A lagging group (`lag`, default
`requests=2` when neither `requests` nor `ms` is given) answers as Graph does before it has
replicated: 404 to requests naming it, 400 "...objects being referenced don't exist." to
binding members to it; until `requests` such answers were given and `ms` have passed.
With `license-failed`, that processing ends in `ProcessingFailed` instead of
`ProcessingComplete`. `disagree` sees each dynamic group created; one it hits shows members
other than its rule selects (rule_processing.py), so that a client comparing Entra's evaluation
with its own (`reconciler verify`) sees them differ. With the same seed and the same sequence
of events the same events fail; concurrent clients make the sequence itself vary. The seed
also orders `$batch` items.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from reconciler.emulator.errors import error_body
from reconciler.emulator.messages import Response
from reconciler.errors import InputError

KINDS = (
    "429",
    "503",
    "504",
    "drop",
    "slow",
    "504-after",
    "drop-after",
    "lag",
    "license-failed",
    "disagree",
)
STATUS_KINDS = ("429", "503", "504", "504-after")  # also seen by each item of a batch
REQUEST_KINDS = (*STATUS_KINDS, "drop", "drop-after", "slow")
DEFAULT_LAG_REQUESTS = 2


@dataclass
class Clause:
    kind: str
    every: int | None = None
    rate: float | None = None
    retry_after: float | None = None
    ms: int | None = None
    requests: int | None = None
    after: int = 0
    times: int | None = None
    leave_out: int | None = None
    put_in: int | None = None
    seen: int = 0
    hit: int = 0
    rng: random.Random | None = None

    def hits(self) -> bool:
        self.seen += 1
        draw = self.rng.random() if self.rng is not None else 1.0  # drawn always: reproducible
        if self.seen <= self.after or (self.times is not None and self.hit >= self.times):
            return False
        if self.every is not None:
            hits = (self.seen - self.after) % self.every == 0
        else:
            hits = self.rate is None or draw < self.rate
        self.hit += hits
        return hits


@dataclass(frozen=True)
class Decision:
    status: int | None = None  # 429, 503 or 504 to answer instead
    retry_after: float | None = None
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # seconds to wait before answering
    handled: bool = False  # the request is handled first, then its answer lost or replaced

    @property
    def faulted(self) -> bool:
        return self.status is not None or self.drop


@dataclass(frozen=True)
class Lag:
    """How long a newly created group stays unknown."""

    requests: int  # requests naming it that are refused
    seconds: float  # and every request naming it until this long after its creation


@dataclass(frozen=True)
class Disagreement:
    """How a new dynamic group's members differ from what its rule selects."""

    leave_out: int  # members the rule selects that are not shown
    put_in: int  # users the rule doesn't select that are shown as members


class Faults:
    """The faults of one SPEC; `decide()` once per request, in order."""

    def __init__(self, spec: str | None = None) -> None:
        self.spec = spec or ""
        self.clauses, self.seed = parse(self.spec)
        for index, clause in enumerate(self.clauses):
            clause.rng = random.Random(f"{self.seed}:{index}:{clause.kind}")
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def decide(self, *, batch_item: bool = False) -> Decision:
        with self._lock:
            decision = Decision()
            for clause in self.clauses:
                kinds = STATUS_KINDS if batch_item else REQUEST_KINDS
                if clause.kind not in kinds or not clause.hits():
                    continue
                if clause.kind == "slow":
                    delay = decision.delay + (clause.ms if clause.ms is not None else 200) / 1000
                    decision = _with(decision, delay=delay)
                elif not decision.faulted:
                    decision = _fault(clause, decision.delay)
                    self._count(clause.kind)
            return decision

    def lag(self) -> Lag | None:
        """How a group created now lags, if a `lag` clause hits this creation."""
        with self._lock:
            for clause in self.clauses:
                if clause.kind == "lag" and clause.hits():
                    requests = clause.requests
                    if requests is None:
                        requests = DEFAULT_LAG_REQUESTS if clause.ms is None else 0
                    return Lag(requests, (clause.ms or 0) / 1000)
            return None

    def processing_fails(self) -> bool:
        """Whether the license processing a group starts now ends in ProcessingFailed."""
        with self._lock:
            fails = any(c.hits() for c in self.clauses if c.kind == "license-failed")
            if fails:
                self._count("license-failed")
            return fails

    def disagreement(self) -> Disagreement | None:
        """How a dynamic group created now disagrees with its rule, if a clause hits it."""
        with self._lock:
            for clause in self.clauses:
                if clause.kind == "disagree" and clause.hits():
                    self._count("disagree")
                    put_in = clause.put_in or 0
                    leave_out = clause.leave_out
                    if leave_out is None:
                        leave_out = 0 if put_in else 1
                    return Disagreement(leave_out, put_in)
            return None

    def count(self, kind: str) -> None:
        with self._lock:
            self._count(kind)

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1


def _with(decision: Decision, *, delay: float) -> Decision:
    return Decision(decision.status, decision.retry_after, decision.drop, delay, decision.handled)


def _fault(clause: Clause, delay: float) -> Decision:
    handled = clause.kind.endswith("-after")
    if clause.kind.startswith("drop"):
        return Decision(drop=True, delay=delay, handled=handled)
    status = int(clause.kind.removesuffix("-after"))
    retry_after = clause.retry_after
    if retry_after is None and status == 429:
        retry_after = 0.5
    return Decision(status, retry_after, False, delay, handled)


# option -> (the type of its value, the kinds it applies to; None: every kind)
_OPTIONS: dict[str, tuple[type, tuple[str, ...] | None]] = {
    "every": (int, None),
    "rate": (float, None),
    "after": (int, None),
    "times": (int, None),
    "retry-after": (float, STATUS_KINDS),
    "ms": (int, ("slow", "lag")),
    "requests": (int, ("lag",)),
    "leave-out": (int, ("disagree",)),
    "put-in": (int, ("disagree",)),
}


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
            if name not in _OPTIONS:
                raise InputError(f"faults: unknown option {name!r} in {text!r}")
            kind_of, kinds = _OPTIONS[name]
            if kinds is not None and kind not in kinds:
                raise InputError(f"faults: {kind} takes no option {name!r} in {text!r}")
            number = _number(value, kind_of, option)
            if name == "every" and number < 1:
                raise InputError(f"faults: every must be at least 1 in {option!r}")
            if name == "rate" and not 0 <= number <= 1:
                raise InputError(f"faults: rate must be between 0 and 1 in {option!r}")
            if number < 0:
                raise InputError(f"faults: {name} can't be negative in {option!r}")
            setattr(clause, name.replace("-", "_"), number)
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
