"""Sweep of SIGKILLs over an apply of the demo: no change without its audit record, anywhere.

Run `python benchmarks/kill_sweep.py [--timed N] [--seed S] [--workers W]`. Each case copies the
demo (policies/ and the Contoso tenant), runs `reconciler apply --auto-approve --allow-removals`
and SIGKILLs it, then runs apply again until nothing is left to do, and checks what
tests/cli/test_kill_apply.py checks: the tenant is the one an uninterrupted apply leaves; each
change it shows is recorded as made exactly once (success, or found done by the next run); no
intent is left interrupted; every run has one Start and one Finish for each group whose
licensing it changed.

Two sweeps:

a. every point: a kill at each opening of the audit log to write a record and at each SQLite
   connection of the apply (test_kill_apply.py's audit hook), one case each;
b. `--timed N` cases killed from outside after a delay drawn with `--seed` between 0 and the
   time an uninterrupted apply takes (a kill there can land anywhere, a record's write included:
   a line cut short is counted, and must not hide the records after it).

It prints one line per case that fails and a summary, and exits 0 unless a case failed.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test's harness and checks, and reconciler from a checkout

from reconciler.audit import read_audit  # noqa: E402
from reconciler.errors import InputError  # noqa: E402
from tests.cli.test_kill_apply import (  # noqa: E402
    APPLY,
    Kill,
    converge,
    demo_copy,
    done_changes,
    processing_problems,
    reconciler,
    tenant_state,
)


@dataclass(frozen=True)
class Case:
    """One killed apply: at a point of the audit hook, or after a delay in seconds."""

    name: str
    kill: Kill | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Outcome:
    case: Case
    killed: bool  # False: the apply ended before the kill came
    problems: tuple[str, ...]
    cut_short: int  # lines of the log a kill cut short


def main(argv: Sequence[str] | None = None) -> int:
    options = arguments(argv)
    with tempfile.TemporaryDirectory() as work:
        base = Path(work)
        started = time.monotonic()
        reference = demo_copy(base / "reference")
        assert reconciler(reference, *APPLY).returncode == 0
        seconds = time.monotonic() - started
        records = read_audit(reference / ".reconciler" / "audit.jsonl", raw=True)
        expected = (tenant_state(reference), done_changes(records))
        writes = sum(1 for _ in (reference / ".reconciler" / "audit.jsonl").open()) + 1
        cases = [Case(f"log {n}", Kill(n, "log")) for n in range(writes)]
        cases += [Case(f"db after {n}", Kill(n, "db")) for n in range(writes)]
        draw = random.Random(options.seed)
        cases += [Case(f"timed {i}", delay=draw.uniform(0, seconds)) for i in range(options.timed)]
        print(f"uninterrupted apply: {seconds:.2f} s, {writes - 1} records; {len(cases)} cases")
        with ThreadPoolExecutor(options.workers) as pool:
            outcomes = list(
                pool.map(
                    lambda pair: run_case(base / f"case{pair[0]}", pair[1], expected),
                    enumerate(cases),
                )
            )
    failed = [outcome for outcome in outcomes if outcome.problems]
    for outcome in failed:
        print(f"FAILED {outcome.case.name}: {'; '.join(outcome.problems)}")
    killed = sum(outcome.killed for outcome in outcomes)
    cut = sum(outcome.cut_short for outcome in outcomes)
    print(
        f"{len(outcomes)} cases, {killed} killed mid-apply, {cut} log lines cut short by a kill, "
        f"{len(failed)} failed"
    )
    return 1 if failed else 0


def run_case(folder: Path, case: Case, expected: tuple[dict, object]) -> Outcome:
    demo_copy(folder)
    if case.kill is not None:
        killed = reconciler(folder, *APPLY, kill=case.kill).returncode == -signal.SIGKILL
    else:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *APPLY],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(case.delay)
        process.send_signal(signal.SIGKILL)
        killed = process.wait() == -signal.SIGKILL
    problems: list[str] = []
    try:
        converge(folder)
    except AssertionError as error:
        return Outcome(case, killed, (f"did not converge: {error}",), 0)
    tenant, changes = expected
    if tenant_state(folder) != tenant:
        problems.append("the tenant differs from an uninterrupted apply's")
    log = folder / ".reconciler" / "audit.jsonl"
    damaged: list[InputError] = []
    records = read_audit(log, raw=True, damaged=damaged)
    if any(r["result"] == "interrupted" for r in read_audit(log, damaged=[])):
        problems.append("an intent is left interrupted")
    if done_changes(records) != changes:
        problems.append("changes recorded as made differ from the changes made")
    problems += processing_problems(records)
    return Outcome(case, killed, tuple(problems), len(damaged))


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed", type=int, default=20, help="cases killed after a delay")
    parser.add_argument("--seed", type=int, default=13, help="seed of the delays")
    parser.add_argument("--workers", type=int, default=4, help="cases run at once")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
