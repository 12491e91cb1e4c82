"""No change without its audit record: an apply SIGKILLed at any point, then run again until
nothing is left to do, leaves the tenant an uninterrupted apply leaves, and an audit log that
records each change the tenant shows as done exactly once (success, or found done by the next
run), with each run's Start and Finish processing records.

The kill comes from inside the process, at a point named by the audit log's writes: an audit
hook (sys.addaudithook) sees each opening of the log to write a record and each SQLite
connection (the local tenant opens one per transaction), and SIGKILLs the process at the one
asked for. Nothing in reconciler knows of it. benchmarks/kill_sweep.py sweeps every point.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.audit import FINISH, START, read_audit
from reconciler.plan.changes import MEMBERSHIP_PROPERTIES

ROOT = Path(__file__).resolve().parents[2]
APPLY = ("apply", "--auto-approve", "--allow-removals", "--format", "json")
DONE = ("success", "found done")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

# runs reconciler with the arguments after the first two, SIGKILLing itself at the first event of
# KIND ("log": an opening of the audit log to write; "db": a SQLite connection) once AFTER
# openings of the log to write have happened
KILLER = r"""
import os, signal, sys

after, kind = int(sys.argv[1]), sys.argv[2]
written = 0

def hook(event, args):
    global written
    log = (
        event == "open"
        and str(args[0]).endswith(".jsonl")
        and isinstance(args[2], int)
        and args[2] & (os.O_WRONLY | os.O_RDWR)
    )
    if written >= after and (log if kind == "log" else event == "sqlite3.connect"):
        os.kill(os.getpid(), signal.SIGKILL)
    written += bool(log)

sys.addaudithook(hook)
sys.argv = ["reconciler", *sys.argv[3:]]
from reconciler.cli import main
main()
"""


@dataclass(frozen=True)
class Kill:
    """Where a run is killed: at the first `kind` event after `after` writes of the log."""

    after: int
    kind: str  # "log" or "db"


def demo_copy(folder: Path) -> Path:
    """The repository's demo: configuration, policies and the seed of its local tenant."""
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "policies", folder / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", folder / "seed.json")
    (folder / "reconciler.yaml").write_text(
        "tenant: local:state/tenant.db\nseed: seed.json\npolicy: policies/\n"
    )
    return folder


def reconciler(folder: Path, *args: str, kill: Kill | None = None) -> subprocess.CompletedProcess:
    """`reconciler ARGS` in `folder`, killed at `kill` if it gets there."""
    prefix = ["-m", "reconciler"] if kill is None else ["-c", KILLER, str(kill.after), kill.kind]
    return subprocess.run(
        [sys.executable, *prefix, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def converge(folder: Path) -> None:
    """Runs apply until a plan has nothing left to do, then once more: an apply with nothing to
    change still records what a run cut short left."""
    for _ in range(5):
        result = reconciler(folder, *APPLY)
        assert result.returncode == 0, result.stderr
        planned = reconciler(folder, "plan", "--detailed-exitcode")
        if planned.returncode == 0:
            break
        assert planned.returncode == 2, planned.stderr
    else:
        raise AssertionError("apply never converged")
    final = reconciler(folder, *APPLY)
    assert final.returncode == 0, final.stderr


def tenant_state(folder: Path) -> dict[str, list]:
    """The local tenant's users and groups, groups named by displayName in place of their ids
    (a group apply creates gets a new id each time)."""
    with sqlite3.connect(folder / "state" / "tenant.db") as database:
        rows = {
            table: [doc for (doc,) in database.execute(f"SELECT doc FROM {table} ORDER BY id")]
            for table in ("groups", "users")
        }
    database.close()
    text = json.dumps(rows)
    for doc in rows["groups"]:
        group = json.loads(doc)
        text = text.replace(group["id"], f"group:{group['displayName']}")
    named = json.loads(text)
    return {
        table: sorted((json.loads(doc) for doc in docs), key=lambda doc: json.dumps(doc))
        for table, docs in named.items()
    }


def done_changes(records: list[dict]) -> Counter:
    """Each change recorded as made (success or found done), a member at a time."""
    done: Counter = Counter()
    for record in records:
        if record["result"] not in DONE or record["operation"] in (START, FINISH):
            continue
        action, name = record["operation"], record["group"]["displayName"]
        before, after = record["before"] or {}, record["after"] or {}
        if action in ("addMembers", "removeMembers"):
            members = (after if action == "addMembers" else before)["members"]
            done.update((action, name, member["id"]) for member in members)
        elif action in ("addLicense", "changeDisabledPlans", "removeLicense"):
            done[(action, name, (after or before)["sku"]["skuId"])] += 1
        else:
            done[(action, name, json.dumps(after, sort_keys=True))] += 1
    return done


def processing_problems(records: list[dict]) -> list[str]:
    """Per run: a group whose licensing it changed without exactly one Start and one Finish,
    or a group processed that it didn't change."""
    touched: dict[str, set[str]] = defaultdict(set)
    processed: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        run, group = record["runId"], record["group"]["displayName"]
        if record["operation"] in (START, FINISH):
            processed[run][(record["operation"], group)] += 1
        elif record["result"] in DONE and _reprocesses(record):
            touched[run].add(group)
    problems = []
    for run in touched.keys() | processed.keys():
        wanted = Counter({(op, group): 1 for group in touched[run] for op in (START, FINISH)})
        if processed[run] != wanted:
            problems.append(f"run {run}: processed {dict(processed[run])}, changed {touched[run]}")
    return problems


def _reprocesses(record: dict) -> bool:
    """Whether Entra processes the group's licenses after the change (the demo deletes only a
    group it changes nothing else of, so deletions needn't be followed)."""
    if record["operation"] == "updateGroup":
        return bool(set(record["after"]) & MEMBERSHIP_PROPERTIES)
    return record["operation"] not in ("createGroup", "deleteGroup")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[dict, Counter]:
    """The tenant an uninterrupted apply leaves, and the changes its log records as made."""
    folder = demo_copy(tmp_path_factory.mktemp("uninterrupted") / "demo")
    result = reconciler(folder, *APPLY)
    assert result.returncode == 0, result.stderr
    records = read_audit(folder / ".reconciler" / "audit.jsonl", raw=True)
    assert not processing_problems(records)
    return tenant_state(folder), done_changes(records)


# the demo's plan has 10 changes, none sent together: the log's writes are its check (1), then
# for change i its intent (2i) and its outcome (2i + 1), then the processing records (22...)
SCENARIOS = {
    "before-the-log-is-checked": [Kill(0, "log")],
    "intent-written-change-not-made": [Kill(2, "db")],
    "created-a-group-without-its-outcome": [Kill(2, "log")],
    "mid-run-change-not-made": [Kill(10, "db")],
    "mid-run-change-made": [Kill(10, "log")],
    "last-change-made-without-its-outcome": [Kill(20, "log")],
    "before-any-processing-record": [Kill(21, "log")],
    "between-a-start-and-its-finish": [Kill(24, "log")],
    # the next run killed too, while it records what the first left (a Start, not its Finish)
    "and-again-while-recording-it": [Kill(10, "log"), Kill(3, "log")],
}


@pytest.mark.parametrize("kills", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_killed_apply_loses_no_audit_record(tmp_path, uninterrupted, kills):
    folder = demo_copy(tmp_path / "demo")
    for kill in kills:
        killed = reconciler(folder, *APPLY, kill=kill)
        assert killed.returncode == -signal.SIGKILL, (kill, killed.stdout[-500:], killed.stderr)
    converge(folder)

    tenant, changes = uninterrupted
    assert tenant_state(folder) == tenant
    records = read_audit(folder / ".reconciler" / "audit.jsonl", raw=True)  # every line parses
    shown = read_audit(folder / ".reconciler" / "audit.jsonl")
    assert [r for r in shown if r["result"] == "interrupted"] == []
    # each change made: recorded as made once, and nothing else recorded as made
    assert done_changes(records) == changes
    assert processing_problems(records) == []
