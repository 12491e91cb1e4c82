"""The Graph provider through the emulator against the local tenant, scenario by scenario.

Every folder of examples/scenarios/ is served twice from its tenant.json: as a local tenant
(`open_local` seeded from it) and by the Graph emulator over loopback HTTP, read and written by
the `graph` provider. Through both, the policy must give the same plan document, applying that
plan must end the same way (the same change failing, if one does), and the tenants must then
hold the same state: users' assignedLicenses and licenseAssignmentStates, groups with their
members, and consumedUnits. Groups created by the plan get an id from each side; they are named
`created:<displayName>` in the comparison, and nothing else is normalised.

Also: three scenarios applied with throttling and server errors injected, and with answers lost
after the write and new groups slow to replicate, reach the same end state,
and the request counts of the issue's targets: a full read takes ceil(objects / 999) pages per
collection plus a small constant, and member changes go out in JSON batches, at most
ceil(writes / 20) of them plus the polls of the group's license processing after each.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ApplyResult, apply_changes
from reconciler.emulator import Emulator, running
from reconciler.model import Tenant
from reconciler.plan.build import Plan, build_plan
from reconciler.plan.changes import AddMembers, RemoveMembers
from reconciler.plan.document import plan_document
from reconciler.policy import load_policy, resolve
from reconciler.providers.graph import READ_THREADS, GraphTenant
from reconciler.providers.graph_http import BATCH_LIMIT, RetryPolicy
from reconciler.providers.local import LocalTenant, open_local

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "examples" / "scenarios"
CONTOSO = ROOT / "examples" / "contoso" / "tenant.json"
PAGE = 999  # the page size the issue asks reads to use
# requests a full read may make beyond its pages: /organization and /subscribedSkus
READ_CONSTANT = 2
# requests a member change of a licensed group makes beyond its batches: the polls of the
# group's licenseProcessingState, Queued, InProgress, then Complete (the emulator's default)
POLLS_PER_CHANGE = 3
FAULTS = "429:every=4,retry-after=0.05;503:every=9;seed=7"
# writes made and their answers lost (a 504, a dropped connection), new groups slow to replicate
AFTER_FAULTS = "504-after:rate=0.15;drop-after:rate=0.15;lag:requests=2;seed=11"
# between them every kind of change: create, update, members added and removed, licenses
# added, changed and removed, delete
FAULTED_SCENARIOS = (
    "07-plan-names-every-change",
    "08-retire-licensed-group",
    "17-guard-max-removals",
)
FAST = RetryPolicy(attempts=10, base=0.01, cap=0.05)

Facts = dict[str, Any]


def _scenarios() -> list[Any]:
    folders = sorted(path for path in SCENARIOS.iterdir() if path.is_dir())
    return [pytest.param(folder, id=folder.name) for folder in folders]


def _graph(emulator: Emulator) -> GraphTenant:
    return GraphTenant(emulator.url, token=lambda: "test-token", retry=FAST, settle_timeout=30)


# --- one run through one provider -------------------------------------------------------------


@dataclass
class Run:
    """What one provider made of a scenario: the plan, the apply, the tenant after it."""

    plan: Facts
    outcome: Facts
    after: Facts
    replan: Facts
    created: dict[str, str]  # the created groups' ids -> created:<displayName>


def _run(provider: LocalTenant | GraphTenant, folder: Path, now: datetime) -> Run:
    before = provider.read()
    plan = _plan(before, folder, now)
    result = apply_changes(plan.changes, provider)
    after = provider.read()
    created = _created(before, after)
    return Run(
        plan_document(plan),
        _outcome(result),
        _state(after, created),
        _normalised(plan_document(_plan(after, folder, now)), created),
        created,
    )


def _plan(tenant: Tenant, folder: Path, now: datetime) -> Plan:
    desired = resolve(load_policy(folder / "policies"), tenant.subscribedSkus)
    return build_plan(desired, tenant, now=now)


def _outcome(result: ApplyResult) -> Facts:
    failure = result.failure
    return {
        "succeeded": len(result.succeeded),
        "failed": None
        if failure is None
        else {
            "change": type(failure.change).__name__,
            "group": failure.change.displayName,
            "error": type(failure.error).__name__,
        },
        "notAttempted": len(result.not_attempted),
    }


def _created(before: Tenant, after: Tenant) -> dict[str, str]:
    """The groups the apply created, by id: `created:<displayName>`, the same on both sides."""
    known = {group.id.lower() for group in before.groups}
    return {
        group.id.lower(): f"created:{group.displayName}"
        for group in after.groups
        if group.id.lower() not in known
    }


def _normalised(document: Facts, created: dict[str, str]) -> Facts:
    text = json.dumps(document)
    for real, name in created.items():
        text = text.replace(real, name)
    return json.loads(text)


def _state(tenant: Tenant, created: dict[str, str]) -> Facts:
    """The end state compared: licenses and their states, groups and members, seats."""

    def ref(object_id: str | None) -> str | None:
        return None if object_id is None else created.get(object_id.lower(), object_id.lower())

    def plans(disabled: frozenset[str]) -> list[str]:
        return sorted(plan_id.lower() for plan_id in disabled)

    return {
        "users": {
            user.userPrincipalName: {
                "usageLocation": user.usageLocation,
                "assignedLicenses": sorted(
                    [a.skuId.lower(), plans(a.disabledPlans)] for a in user.assignedLicenses
                ),
                "licenseAssignmentStates": sorted(
                    (
                        [
                            s.skuId.lower(),
                            plans(s.disabledPlans),
                            ref(s.assignedByGroup) or "",
                            s.state,
                            s.error,
                        ]
                        for s in user.licenseAssignmentStates
                    ),
                ),
            }
            for user in tenant.users
        },
        "groups": {
            group.displayName: {
                "id": ref(group.id),
                "description": group.description,
                "groupTypes": sorted(group.groupTypes),
                "securityEnabled": group.securityEnabled,
                "mailEnabled": group.mailEnabled,
                "membershipRule": group.membershipRule,
                "membershipRuleProcessingState": group.membershipRuleProcessingState,
                "assignedLicenses": sorted(
                    [a.skuId.lower(), plans(a.disabledPlans)] for a in group.assignedLicenses
                ),
                "members": sorted(ref(member) or "" for member in group.members),
            }
            for group in tenant.groups
        },
        "consumedUnits": {sku.skuPartNumber: sku.consumedUnits for sku in tenant.subscribedSkus},
    }


def _differences(ours: Any, theirs: Any, path: str, sides: tuple[str, str]) -> list[str]:
    """Every place the two differ, one line each, named by its path."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found: list[str] = []
        for key in [*ours, *(key for key in theirs if key not in ours)]:
            found += _differences(ours.get(key), theirs.get(key), f"{path}.{key}", sides)
        return found
    if ours != theirs:
        width = max(map(len, sides))
        return [
            f"{path}:\n    {sides[0]:<{width}} {json.dumps(ours)}\n"
            f"    {sides[1]:<{width}} {json.dumps(theirs)}"
        ]
    return []


class Comparison:
    """Differences gathered over several aspects, to fail once with all of them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[str] = []

    def check(self, what: str, ours: Any, theirs: Any, sides: tuple[str, str]) -> None:
        differences = _differences(ours, theirs, self.name, sides)
        if differences:
            self.found.append(f"{what} differs ({sides[0]} vs {sides[1]}):")
            self.found += differences

    def done(self) -> None:
        if self.found:
            pytest.fail("\n".join(self.found), pytrace=False)


LOCAL_GRAPH = ("local", "graph")


@contextmanager
def _both(folder: Path, tmp_path: Path, faults: str | None = None) -> Iterator[tuple[Any, ...]]:
    """The scenario as a local tenant, and as the emulator with the graph provider on it."""
    tenant = folder / "tenant.json"
    with (
        open_local(tmp_path / "local.db", tenant) as local,
        running(str(tenant), faults=faults) as emulator,
        _graph(emulator) as graph,
    ):
        yield local, emulator, graph


# --- every scenario, both ways ----------------------------------------------------------------


@pytest.mark.parametrize("folder", _scenarios())
def test_scenario_gives_the_same_plan_and_end_state_through_graph(folder: Path, tmp_path: Path):
    now = datetime.now(UTC)
    with _both(folder, tmp_path) as (local, emulator, graph):
        through_local = _run(local, folder, now)
        through_graph = _run(graph, folder, now)
        # what the emulator holds, beside what the graph provider reads of it
        stored = _state(emulator.tenant.read(), through_graph.created)
    compare = Comparison(folder.name)
    # the plan before anything is created names new groups by placeholder: nothing to normalise
    compare.check("the plan document", through_local.plan, through_graph.plan, LOCAL_GRAPH)
    compare.check("the apply's outcome", through_local.outcome, through_graph.outcome, LOCAL_GRAPH)
    compare.check("the end state", through_local.after, through_graph.after, LOCAL_GRAPH)
    compare.check(
        "the plan after the apply", through_local.replan, through_graph.replan, LOCAL_GRAPH
    )
    sides = ("graph read", "emulator store")
    compare.check("the end state", through_graph.after, stored, sides)
    compare.done()


@pytest.mark.parametrize(
    ("faults", "kinds"),
    [(FAULTS, ("429", "503")), (AFTER_FAULTS, ("504-after", "drop-after"))],
    ids=["throttled", "answers-lost"],
)
@pytest.mark.parametrize("name", FAULTED_SCENARIOS)
def test_with_faults_on_a_scenario_reaches_the_same_end_state(
    name: str, faults: str, kinds: tuple[str, ...], tmp_path: Path
):
    folder = SCENARIOS / name
    now = datetime.now(UTC)
    with _both(folder, tmp_path, faults) as (local, emulator, graph):
        through_local = _run(local, folder, now)
        through_graph = _run(graph, folder, now)
        injected = emulator.faults_injected()
    assert all(injected.get(kind) for kind in kinds), f"faults injected: {injected}"
    assert through_local.outcome["failed"] is None, through_local.outcome
    compare = Comparison(f"{folder.name} with {faults}")
    compare.check("the plan document", through_local.plan, through_graph.plan, LOCAL_GRAPH)
    compare.check("the apply's outcome", through_local.outcome, through_graph.outcome, LOCAL_GRAPH)
    compare.check("the end state", through_local.after, through_graph.after, LOCAL_GRAPH)
    compare.done()


# --- request counts ---------------------------------------------------------------------------


def _pages(count: int) -> int:
    return max(1, math.ceil(count / PAGE))


@pytest.fixture(scope="module")
def synthetic_tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,100 generated users: three pages at $top=999 (twenty-one at Graph's default 100)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import synthetic
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    demo = json.loads(CONTOSO.read_text(encoding="utf-8"))
    path = tmp_path_factory.mktemp("synthetic") / "tenant.json"
    path.write_text(json.dumps(synthetic.make_tenant(2_100, demo["subscribedSkus"])))
    return path


@pytest.mark.parametrize("source", ["contoso", "synthetic"])
def test_a_full_read_takes_a_page_of_999_per_collection(source: str, synthetic_tenant: Path):
    tenant_file = CONTOSO if source == "contoso" else synthetic_tenant
    with running(str(tenant_file)) as emulator, _graph(emulator) as graph:
        tenant = graph.read()
        counts = emulator.counts()
    users, groups = len(tenant.users), len(tenant.groups)
    member_pages = sum(_pages(len(group.members)) for group in tenant.groups)
    # a group's pages come one after another, each from the nextLink of the one before
    deepest = max(_pages(len(group.members)) for group in tenant.groups)
    # a user property this Graph lacks costs one refused request (see the test below)
    assert counts.get("GET /users") == _pages(users) + len(graph.unknown), counts
    assert counts.get("GET /groups") == _pages(groups), counts
    assert counts.get("$batch: GET /groups/{id}/members") == member_pages, counts
    # 20 groups' pages to a batch; the groups split among the reading threads
    member_batches = counts.get("POST /$batch", 0)
    least = max(math.ceil(member_pages / BATCH_LIMIT), deepest)
    assert member_batches <= least + READ_THREADS, counts
    pages = _pages(users) + _pages(groups) + member_batches
    total = sum(n for endpoint, n in counts.items() if not endpoint.startswith("$batch: "))
    assert total <= pages + len(graph.unknown) + READ_CONSTANT, counts


def test_a_full_read_asks_only_for_user_properties_graph_has():
    """Every property the provider selects is a Graph v1.0 user property: none refused."""
    with running(str(CONTOSO)) as emulator, _graph(emulator) as graph:
        graph.read()
        refused = emulator.counts().get("GET /users", 0) - 1
    assert not graph.unknown, (
        f"{refused} extra GET /users: the emulator refused $select of {sorted(graph.unknown)}"
    )


def test_member_changes_go_out_in_batches_of_20():
    with running(str(CONTOSO)) as emulator, _graph(emulator) as graph:
        tenant = graph.read()
        group = next(g for g in tenant.groups if not g.membershipRule and g.members)
        users = {user.id for user in tenant.users}
        leaving = tuple(m for m in group.members if m in users)
        joining = tuple(u.id for u in tenant.users if u.id not in group.members)[:150]
        emulator.reset_counts()
        changes = [
            AddMembers(group.id, group.displayName, joining),
            RemoveMembers(group.id, group.displayName, leaving),
        ]
        result = apply_changes(changes, graph)
        counts = emulator.counts()
        after = next(g for g in graph.read().groups if g.id == group.id)
    assert result.complete, result.failure
    assert sorted(after.members) == sorted(
        {*joining, *(m for m in group.members if m not in leaving)}
    )
    writes = len(joining) + len(leaving)
    batches = counts.get("POST /$batch", 0)
    assert batches <= math.ceil(writes / BATCH_LIMIT), counts
    # no member write outside a batch; beside the batches only the license-processing polls
    outside = {e: n for e, n in counts.items() if not e.startswith("$batch: ")}
    assert sum(outside.values()) <= batches + POLLS_PER_CHANGE * len(changes), counts
    assert counts.get("$batch: PATCH /groups/{id}") == math.ceil(len(joining) / 20), counts
    assert counts.get("$batch: DELETE /groups/{id}/members/{id}/$ref") == len(leaving), counts
