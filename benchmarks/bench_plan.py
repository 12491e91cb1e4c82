"""Benchmark of planning: read the snapshot, load and resolve the policy, build the plan.

Run `python benchmarks/bench_plan.py [--users N]`. Two tenants: the demo one
(examples/contoso/tenant.json with policies/), and a generated one of N users (default
100,000) written to a temporary snapshot, with a policy that edits a few rules, changes
service plans and members, adds a group and retires one. Every figure is printed beside
`json.load` of the same snapshot, measured in the same run, because the machines are shared
and absolute times drift. The script exits 0 unless the plan is not the one expected.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

try:
    import reconciler  # noqa: F401  (only checks it is importable)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import synthetic
from bench_rules import Timing, _status_kib, max_rss_mib, reset_peak_rss, section, traced_peak

from reconciler.engine import recompute
from reconciler.model import Tenant
from reconciler.plan.build import Plan, build_plan
from reconciler.plan.changes import (
    AddMembers,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveMembers,
    UpdateGroup,
)
from reconciler.policy import load_policy, resolve
from reconciler.providers.snapshot import read_snapshot, tenant_from_document, write_snapshot

ROOT = Path(__file__).resolve().parent.parent
DEMO_TENANT = ROOT / "examples" / "contoso" / "tenant.json"
DEMO_POLICY = ROOT / "policies"

STEPS = ("json.load", "read_snapshot", "load_policy+resolve", "build_plan")
PLAN_STEPS = STEPS[1:]  # the ones a `plan` run does; json.load is the floor beside them


# --- the pipeline -----------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as file:
        return json.load(file)


def plan_pipeline(snapshot: Path, policy: Path, checkpoint: Callable[[str], None]) -> Plan:
    """What `reconciler plan` does before rendering; `checkpoint(step)` after each step."""
    tenant = read_snapshot(snapshot)
    checkpoint("read_snapshot")
    desired = resolve(load_policy(policy), tenant.subscribedSkus)
    checkpoint("load_policy+resolve")
    plan = build_plan(desired, tenant, now=synthetic.NOW)
    checkpoint("build_plan")
    return plan


class Stopwatch:
    """CPU and wall seconds of each step of a pipeline run, and the part of them spent in the
    cyclic garbage collector, by step, over several runs."""

    def __init__(self) -> None:
        names = (*STEPS, "total")
        self.cpu: dict[str, list[float]] = {step: [] for step in names}
        self.wall: dict[str, list[float]] = {step: [] for step in names}
        self.gc: dict[str, list[float]] = {step: [] for step in names}
        self.marks: list[tuple[float, float]] = []
        self.collecting_since = 0.0
        self.collected = 0.0  # seconds in the collector since the last mark
        self.run_collected = 0.0

    def __enter__(self) -> Stopwatch:
        gc.callbacks.append(self._collector)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._collector)

    def _collector(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.collecting_since = time.perf_counter()
        else:
            self.collected += time.perf_counter() - self.collecting_since

    def start(self) -> None:
        self.marks = [(time.process_time(), time.perf_counter())]
        self.collected = self.run_collected = 0.0

    def checkpoint(self, step: str) -> None:
        now = time.process_time(), time.perf_counter()
        self.cpu[step].append(now[0] - self.marks[-1][0])
        self.wall[step].append(now[1] - self.marks[-1][1])
        self.gc[step].append(self.collected)
        self.run_collected += self.collected
        self.collected = 0.0
        self.marks.append(now)

    def finish(self) -> None:
        self.cpu["total"].append(self.marks[-1][0] - self.marks[0][0])
        self.wall["total"].append(self.marks[-1][1] - self.marks[0][1])
        self.gc["total"].append(self.run_collected)

    def medians(self) -> dict[str, Timing]:
        return {
            step: Timing(statistics.median(self.cpu[step]), statistics.median(self.wall[step]))
            for step in self.cpu
        }

    def gc_medians(self) -> dict[str, float]:
        return {step: statistics.median(seconds) for step, seconds in self.gc.items()}


@dataclass(frozen=True)
class Timings:
    steps: dict[str, Timing]
    gc: dict[str, float]  # seconds in the cyclic garbage collector, within `steps`


def measure_steps(
    snapshot: Path, policy: Path, repeat: int, collect: bool = True
) -> tuple[Timings, Plan]:
    """Median CPU and wall time of each step over `repeat` rounds, json.load taken in turn;
    with `collect` false, the cyclic garbage collector is off during each step."""
    plan: Plan | None = None
    with Stopwatch() as watch:
        for _ in range(repeat):
            plan = None  # never two tenants alive at once
            gc.collect()
            with collector(collect):
                watch.start()
                document = load_json(snapshot)
                watch.checkpoint("json.load")
            del document
            gc.collect()
            with collector(collect):
                watch.start()
                plan = plan_pipeline(snapshot, policy, watch.checkpoint)
                watch.finish()
    assert plan is not None
    gc.collect()
    return Timings(watch.medians(), watch.gc_medians()), plan


@contextmanager
def collector(enabled: bool) -> Iterator[None]:
    """The cyclic garbage collector on or off for a while."""
    was_enabled = gc.isenabled()
    if enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def print_timings(timings: Timings, unit: str) -> None:
    scale, label = (1e3, "ms") if unit == "ms" else (1.0, "s")
    floor = timings.steps["json.load"].cpu
    for step in (*STEPS, "total"):
        timing = timings.steps[step]
        ratio = "(the floor)" if step == "json.load" else f"= {timing.cpu / floor:5.2f}x json.load"
        name = "total (read+policy+plan)" if step == "total" else step
        print(
            f"{name:<25} {timing.cpu * scale:8.2f} {label} CPU "
            f"({timing.wall * scale:7.2f} {label} wall, {timings.gc[step] * scale:6.2f} {label} "
            f"in gc)  {ratio}"
        )


@dataclass(frozen=True)
class Memory:
    """RSS high-water of each step above the RSS before it, in MiB (Linux only): json.load
    alone, then each step of the pipeline, with what the earlier steps made still alive."""

    before: float
    steps: dict[str, float]
    held: float  # RSS once done, the plan (two tenants and the impact) still alive


def measure_memory(snapshot: Path, policy: Path) -> Memory | None:
    gc.collect()
    before = _status_kib("VmRSS")
    if before is None or not reset_peak_rss():
        return None
    steps: dict[str, float] = {}

    def checkpoint(step: str) -> None:
        peak = _status_kib("VmHWM") or 0
        steps[step] = (peak - before) / 1024
        reset_peak_rss()

    document = load_json(snapshot)
    checkpoint("json.load")
    del document
    gc.collect()
    reset_peak_rss()
    plan = plan_pipeline(snapshot, policy, checkpoint)
    held = ((_status_kib("VmRSS") or 0) - before) / 1024
    del plan
    return Memory(before / 1024, steps, held)


def print_memory(memory: Memory | None) -> None:
    if memory is not None:
        steps = ", ".join(f"{step} +{mib:.0f}" for step, mib in memory.steps.items())
        print(
            f"peak RSS above the {memory.before:.0f} MiB before, per step (MiB): {steps}; "
            f"plan peak +{max(memory.steps[step] for step in PLAN_STEPS):.0f} MiB, "
            f"+{memory.held:.0f} MiB held by the finished plan"
        )
        # resetting the window resets getrusage's ru_maxrss too: the peaks seen are the record
        highest = memory.before + max(memory.steps.values())
        print(f"process peak RSS: {max(highest, max_rss_mib()):.0f} MiB")
    else:
        print("peak RSS per step: not available (needs Linux /proc/self/clear_refs)")
        print(f"process peak RSS (getrusage): {max_rss_mib():.0f} MiB")


def print_plan_counts(plan: Plan) -> None:
    kinds = Counter(type(change).__name__ for change in plan.changes)
    summary = plan.summary()
    removals = plan.impact.licenseRemovals
    print(
        f"plan: {len(plan.changes)} changes ("
        + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        + f"); groups {summary['add']} to add, {summary['change']} to change, "
        f"{summary['remove']} to remove"
    )
    products = Counter(removal.skuPartNumber for removal in removals)
    print(
        f"impact: {len(removals):,} license removals ("
        + ", ".join(f"{part} {count:,}" for part, count in products.most_common())
        + f"), {len(plan.impact.planRemovals):,} service-plan removals, "
        f"{len(plan.impact.licenseAdditions):,} license additions"
    )
    codes = Counter(warning.code for warning in plan.warnings)
    print(
        f"warnings: {len(plan.warnings):,} ("
        + ", ".join(f"{code} {count:,}" for code, count in codes.most_common())
        + f"); guards refuse: {plan.guards.refused}"
    )


def profile_pipeline(snapshot: Path, policy: Path, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    plan = plan_pipeline(snapshot, policy, lambda step: None)
    profiler.disable()
    del plan
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# --- 1. the demo tenant -----------------------------------------------------------------------


def bench_demo(repeat: int) -> bool:
    size = DEMO_TENANT.stat().st_size
    section(
        f"1. demo tenant: {DEMO_TENANT.relative_to(ROOT)} ({size / 1024:.0f} KiB) "
        f"with {DEMO_POLICY.relative_to(ROOT)}/, median of {repeat}"
    )
    timings, plan = measure_steps(DEMO_TENANT, DEMO_POLICY, repeat)
    print(f"tenant: {len(plan.before.users)} users, {len(plan.before.groups)} groups")
    print_timings(timings, "ms")
    print_plan_counts(plan)
    print_memory(measure_memory(DEMO_TENANT, DEMO_POLICY))
    return plan.changes_present and bool(plan.impact.licenseRemovals)


# --- 2. a generated tenant --------------------------------------------------------------------


# What the policy changes in the generated tenant, beside what it declares as it is.
NARROWED = "LIC-M365-E5-Sales"  # rule narrowed to four countries: Sales elsewhere lose E5
NARROWED_TO = ["US", "GB", "DE", "FR"]
WIDENED = "LIC-M365-E3-Engineering"  # Data & Analytics joins: gains only
WIDENED_ALSO = "Data & Analytics"
REGIONAL = "LIC-PowerBI-Finance-Americas"  # Tax joins: gains only
PLANS_CUT = "LIC-O365-E3-Retail"  # Viva Engage turned off too: plan removals
DESCRIBED = "LIC-EMS-E3-AllStaff"
STATIC = "LIC-PowerBI-Pro"  # members by UPN: 10 leave, 20 join
ADDED = "LIC-M365-E5-Legal"
RETIRED = "LIC-Visio-Legacy"
MAX_REMOVALS = 500


def policy_files(tenant: Tenant, seed: int) -> dict[str, dict[str, Any]]:
    """The policy for the generated tenant, by file name: the tenant's licensing groups as they
    are, but for the changes named above."""
    rng = random.Random(seed)

    def licenses(specs: Sequence[synthetic.LicenseSpec]) -> list[dict[str, Any]]:
        return [
            {"sku": sku, mode: list(plans)} if plans else {"sku": sku} for sku, mode, plans in specs
        ]

    dynamic = []
    for name, rule, specs in synthetic.LICENSING_GROUPS:
        group: dict[str, Any] = {"displayName": name, "membershipRule": rule}
        if name == NARROWED:
            countries = [synthetic.COUNTRY_NAMES[code] for code in NARROWED_TO]
            group["membershipRule"] = f"{rule} -and user.country -in {json.dumps(countries)}"
        elif name == WIDENED:
            group["membershipRule"] = rule.replace(
                '"Engineering", ', f'"Engineering", "{WIDENED_ALSO}", '
            )
        elif name == REGIONAL:
            group["membershipRule"] = rule.replace('"Treasury"', '"Treasury", "Tax"')
        elif name == DESCRIBED:
            group["description"] = "Every member of staff gets Intune and Entra ID P1, nothing else"
        if name == PLANS_CUT:
            (sku, mode, plans), *rest = specs
            specs = [(sku, mode, (*plans, "YAMMER_ENTERPRISE")), *rest]
        group["licenses"] = licenses(specs)
        if group["membershipRule"] == rule and name in (NARROWED, WIDENED, REGIONAL):
            raise SystemExit(f"the policy's edit of {name} no longer applies to its rule")
        dynamic.append(group)
    dynamic.append(
        {
            "displayName": ADDED,
            "description": "Legal gets Microsoft 365 E5 for eDiscovery",
            "membershipRule": f'{synthetic.STAFF} -and user.department -eq "Legal"',
            "licenses": [{"sku": "SPE_E5", "disabledPlans": ["YAMMER_ENTERPRISE"]}],
        }
    )

    users = {user.id: user.userPrincipalName for user in tenant.users}
    static = next(group for group in tenant.groups if group.displayName == STATIC)
    kept = [member for member in static.members if member in users]
    nested = [member for member in static.members if member not in users]
    leaving = set(rng.sample(kept, min(10, len(kept))))
    joining = rng.sample(
        [user.id for user in tenant.users if user.id not in static.members and user.accountEnabled],
        20,
    )
    members = [users[m] for m in kept if m not in leaving] + [users[m] for m in joining] + nested
    static_specs = next(specs for name, _, specs in synthetic.STATIC_GROUPS if name == STATIC)
    return {
        "settings.yaml": {
            "tenant": "contoso.onmicrosoft.com",
            "settings": {"maxLicenseRemovals": MAX_REMOVALS},
        },
        "dynamic.yaml": {"groups": dynamic},
        "assigned.yaml": {
            "groups": [
                {"displayName": STATIC, "members": members, "licenses": licenses(static_specs)}
            ],
            "retired": [{"displayName": RETIRED}],
        },
    }


def generate(directory: str, count: int, seed: int) -> dict[str, Any]:
    """Writes tenant.json and policies/ into `directory`; runs in a child process, so that
    the generator's memory is not counted as the benchmark's."""
    start = time.process_time()
    demo = load_json(DEMO_TENANT)  # the demo's products: real SKU and service plan ids
    document = synthetic.make_tenant(count, demo["subscribedSkus"], seed)
    tenant = recompute(tenant_from_document(document), synthetic.NOW)
    del document
    # Seats: 3% spare, but Microsoft 365 E5 close to its limit, as licenses are bought.
    skus = tuple(
        replace(
            sku,
            prepaidUnits=replace(
                sku.prepaidUnits,
                enabled=sku.consumedUnits
                + (20 if sku.skuPartNumber == "SPE_E5" else max(10, sku.consumedUnits * 3 // 100)),
            ),
        )
        for sku in tenant.subscribedSkus
    )
    tenant = replace(tenant, subscribedSkus=skus)
    path = Path(directory) / "tenant.json"
    write_snapshot(tenant, path)
    policy = Path(directory) / "policies"
    policy.mkdir()
    for name, content in policy_files(tenant, seed).items():
        text = yaml.safe_dump(content, sort_keys=False, width=100, allow_unicode=True)
        (policy / name).write_text(text, encoding="utf-8")
    licensing = [group for group in tenant.groups if group.assignedLicenses]
    return {
        "seconds": time.process_time() - start,
        "bytes": path.stat().st_size,
        "groups": len(tenant.groups),
        "dynamic": sum(1 for group in licensing if group.membershipRule),
        "static": sum(1 for group in licensing if not group.membershipRule),
        "licenses": sum(len(user.assignedLicenses) for user in tenant.users),
        "seats": {sku.skuPartNumber: (sku.consumedUnits, sku.prepaidUnits.enabled) for sku in skus},
    }


def expected_plan(plan: Plan) -> list[str]:
    """What is wrong with the plan of the generated tenant, if anything."""
    touched = {getattr(change, "displayName", None) for change in plan.changes}
    touched |= {
        change.group.displayName for change in plan.changes if isinstance(change, CreateGroup)
    }
    wanted = {NARROWED, WIDENED, REGIONAL, PLANS_CUT, DESCRIBED, STATIC, ADDED, RETIRED}
    problems = []
    if touched - {None} != wanted:
        problems.append(
            f"changes to {sorted(touched - {None} - wanted)}, none to {sorted(wanted - touched)}"
        )
    kinds = Counter(type(change) for change in plan.changes)
    for kind, count in (
        (CreateGroup, 1),
        (DeleteGroup, 1),
        (ChangeDisabledPlans, 1),
        (AddMembers, 1),
        (RemoveMembers, 1),
        (UpdateGroup, 4),
    ):
        if kinds[kind] != count:
            problems.append(f"{kinds[kind]} {kind.__name__}, expected {count}")
    groups = {removal.group for removal in plan.impact.licenseRemovals}
    if not plan.impact.licenseRemovals or not groups <= {NARROWED, STATIC, RETIRED}:
        problems.append(f"license removals through {sorted(map(str, groups))}")
    if not any(removal.group == PLANS_CUT for removal in plan.impact.planRemovals):
        problems.append(f"no service-plan removals through {PLANS_CUT}")
    return problems


def bench_generated(count: int, seed: int, repeat: int, traced: bool, profile: int) -> bool:
    section(f"2. generated tenant: {count:,} users (seed {seed}), median of {repeat}")
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as directory:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            made = pool.submit(generate, directory, count, seed).result()
        snapshot, policy = Path(directory) / "tenant.json", Path(directory) / "policies"
        print(
            f"tenant: {made['bytes'] / 2**20:.0f} MiB snapshot, {made['groups']} groups "
            f"({made['dynamic']} dynamic and {made['static']} assigned licensing groups), "
            f"{made['licenses']:,} user licenses; generated and settled in "
            f"{made['seconds']:.1f} s CPU (in a child process)"
        )
        print(
            "seats used/bought: "
            + ", ".join(
                f"{part} {used:,}/{bought:,}" for part, (used, bought) in made["seats"].items()
            )
        )
        print(
            "policy: "
            + ", ".join(
                f"{file.name} {file.stat().st_size / 1024:.0f} KiB"
                for file in sorted(policy.iterdir())
            )
        )
        timings, plan = measure_steps(snapshot, policy, repeat)
        print_timings(timings, "s")
        print_plan_counts(plan)
        problems = expected_plan(plan)
        del plan
        rounds = max(1, repeat // 2)
        print(f"the same with the cyclic garbage collector off (gc.disable()), median of {rounds}:")
        print_timings(measure_steps(snapshot, policy, rounds, collect=False)[0], "s")
        print_memory(measure_memory(snapshot, policy))
        if traced:
            peak = traced_peak(lambda: plan_pipeline(snapshot, policy, lambda step: None))
            print(f"tracemalloc: peak Python allocations {peak / 2**20:.0f} MiB over the pipeline")
        if profile:
            section(f"cProfile of one pipeline run: top {profile} functions")
            profile_pipeline(snapshot, policy, profile)
    for problem in problems:
        print(f"UNEXPECTED: {problem}")
    return not problems


# --- main -------------------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users of the generated tenant")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated tenant")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per timing (median)")
    parser.add_argument("--demo-repeat", type=int, default=20, help="rounds on the demo tenant")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations of one more pipeline run (several times slower)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile one pipeline run with cProfile and print the top N functions",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    print(
        f"reconciler plan benchmark — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    demo_ok = bench_demo(args.demo_repeat)
    if not demo_ok:
        print("UNEXPECTED: the demo plan has no changes or no license removals")
    generated_ok = bench_generated(
        args.users, args.seed, args.repeat, args.tracemalloc, args.profile
    )
    print(f"\nbenchmark ran {time.perf_counter() - started:.0f} s wall")
    return 0 if demo_ok and generated_ok else 1


if __name__ == "__main__":
    sys.exit(main())
