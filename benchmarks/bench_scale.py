"""Benchmark of growth: plan and apply on generated tenants of 10k, 100k and (on request) 1M users.

Run `python benchmarks/bench_scale.py [--sizes 10000,100000] [--million] [--emulator]`. Each
tenant has the shape of a large enterprise: users x 1, groups x 0.02 (at most 10,000), three
quarters of them dynamic, about ten direct memberships a user, a licensing group in every few.
Two policies: one declaring the licensing groups as they are (no edits), one editing 50 licensed
groups' rules. Every command runs as a user runs it, `reconciler` in a subprocess, and each
figure is printed beside `json.load` of the same snapshot, timed in the same run, because the
machines are shared and noisy; peak RSS is the child's own (wait4). The 1M tenant takes about
ten minutes to generate; it is seeded, and kept and reused with --keep DIR.

Profile notes: cProfile of `plan --format json` on the 100k tenant with 50 rule edits, top lines
by own time. Before (84 s profiled, 20x json.load): the snapshot's structural check in Python
(jsonschemas.every/properties/items, 21 s), json decoding (6 s) and UTF-8 decoding of the text
(4.5 s), rule indexes built again for every evaluation (membership._grouped, 6.3 s), the state
fingerprint's json.dumps of every user (6.5 s), impact comparing every user (6.2 s), the engine
settling the whole tenant three times, and diff's member lookups rebuilt per static group. After
(about 2x json.load): msgspec json_decode of each user (1.1 s), msgspec convert checking each
user against the schema (0.9 s), dict lookups (0.7 s), to_indices (0.5 s), ids of the rules'
members (0.5 s), the rule index (0.4 s, built once), msgspec encode for the fingerprint (0.4 s),
impact's losses (0.4 s, only for users a change reaches).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
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

ROOT = Path(__file__).resolve().parent.parent
DEMO_TENANT = ROOT / "examples" / "contoso" / "tenant.json"
GROUPS_PER_USER = 0.02
MAX_GROUPS = 10_000  # the million-user tenant has 10,000 groups
EMULATOR_USERS = 100_000  # --emulator applies through it up to this size: it serves Graph's pages
DYNAMIC_SHARE = 0.75
LICENSING_EVERY = 12  # one generated group in this many assigns a product
RULE_EDITS = 50
CHEAP = ("POWER_BI_PRO", "VISIOCLIENT", "EMS")


# --- the tenant -------------------------------------------------------------------------------


def _families() -> Iterator[tuple[str, str]]:
    """(name, rule) of the generated dynamic groups, family by family: each family splits the
    staff by one more property, so every family adds about one membership a user."""
    q = synthetic._q
    countries = [synthetic.COUNTRY_NAMES[code] for code in synthetic.COUNTRIES]
    for department in synthetic.DEPARTMENTS:
        yield f"DEP {department}", f"user.department -eq {q(department)}"
    for country in countries:
        yield f"CTY {country}", f"user.country -eq {q(country)}"
    for company in synthetic.COMPANIES:
        yield f"CO {company}", f"user.companyName -eq {q(company)}"
    for title in synthetic.JOB_TITLES:
        yield f"TTL {title}", f"user.jobTitle -eq {q(title)}"
    cities = sorted({site.partition("/")[0] for sites in synthetic._COUNTRY_SITES.values()
                     for site in sites})  # fmt: skip
    for city in cities:
        yield f"SITE {city}", f"user.city -eq {q(city)} -and user.accountEnabled -eq true"
    for department in synthetic.DEPARTMENTS:
        for company in synthetic.COMPANIES:
            yield (
                f"DEPCO {department} {company}",
                f"user.department -eq {q(department)} -and user.companyName -eq {q(company)}",
            )
    for department in synthetic.DEPARTMENTS:
        for country in countries:
            yield (
                f"DEPCTY {department} {country}",
                f"(user.department -eq {q(department)}) -and (user.country -eq {q(country)})",
            )
    for department in synthetic.DEPARTMENTS:
        for city in cities:
            yield (
                f"DEPSITE {department} {city}",
                f"user.department -eq {q(department)} -and user.city -startsWith {q(city)}",
            )


def make_document(users: int, seed: int) -> dict[str, Any]:
    """The Graph-shaped tenant document, before Entra settles it; the same for the same seed."""
    demo = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    document = synthetic.make_tenant(users, demo["subscribedSkus"], seed)
    skus = {sku["skuPartNumber"]: sku for sku in demo["subscribedSkus"]}
    rng = random.Random(seed ^ 0x5CA1E)
    total = max(len(document["groups"]), min(MAX_GROUPS, round(users * GROUPS_PER_USER)))
    extra = total - len(document["groups"])
    dynamic = round(extra * DYNAMIC_SHARE)
    families = _families()
    for position in range(dynamic):
        name, rule = next(families)
        licensed = position % LICENSING_EVERY == 3
        licenses = [synthetic._off(CHEAP[position % len(CHEAP)])] if licensed else []
        group = synthetic._group_document(rng, f"GEN-{name}", licenses, skus, rule=rule)
        document["groups"].append(group)
    ids = [user["id"] for user in document["users"]]
    static = extra - dynamic
    # static groups hold about one membership a user between them
    size = max(1, users // max(1, static))
    for position in range(static):
        members = sorted(rng.sample(ids, min(len(ids), rng.randint(size // 2, size * 3 // 2))))
        group = synthetic._group_document(rng, f"GEN-Team {position:05}", [], skus, members=members)
        document["groups"].append(group)
    return document


def policy_files(document: dict[str, Any], edits: int, seed: int) -> dict[str, Any]:
    """The policy declaring every licensing group as the tenant has it, `edits` of the dynamic
    ones with their rule narrowed to enabled members in four countries."""
    skus = {sku["skuId"]: sku for sku in document["subscribedSkus"]}
    by_id = {user["id"]: user["userPrincipalName"] for user in document["users"]}
    groups = []
    for group in document["groups"]:
        if not group.get("assignedLicenses"):
            continue
        declared: dict[str, Any] = {"displayName": group["displayName"]}
        if group.get("membershipRule"):
            declared["membershipRule"] = group["membershipRule"]
        else:
            declared["members"] = [by_id.get(m, m) for m in group["members"]]
        declared["licenses"] = [_license(a, skus[a["skuId"]]) for a in group["assignedLicenses"]]
        groups.append(declared)
    dynamic = [group for group in groups if "membershipRule" in group]
    rng = random.Random(seed)
    narrowed = ", ".join(json.dumps(synthetic.COUNTRY_NAMES[c]) for c in ("US", "GB", "DE", "FR"))
    for group in rng.sample(dynamic, min(edits, len(dynamic))):
        group["membershipRule"] = f"({group['membershipRule']}) -and user.country -in [{narrowed}]"
    return {
        "settings.yaml": {"tenant": "contoso.onmicrosoft.com"},
        "groups.yaml": {"groups": groups},
    }


def _license(assigned: dict[str, Any], sku: dict[str, Any]) -> dict[str, Any]:
    names = {p["servicePlanId"]: p["servicePlanName"] for p in sku["servicePlans"]}
    disabled = sorted(names[plan] for plan in assigned["disabledPlans"])
    return {"sku": sku["skuPartNumber"], **({"disabledPlans": disabled} if disabled else {})}


def generate(directory: str, users: int, seed: int) -> dict[str, Any]:
    """Writes tenant.json, tenant.db and the two policies into `directory`; in a child process,
    so that the generator's memory is not the benchmark's."""
    from reconciler.engine import recompute
    from reconciler.providers.local import LocalTenant
    from reconciler.providers.snapshot import owned_tenant, write_snapshot

    start = time.perf_counter()
    document = make_document(users, seed)
    policies = {
        name: policy_files(document, edits, seed)
        for name, edits in (("same", 0), ("edits", RULE_EDITS))
    }
    tenant = recompute(owned_tenant(document), synthetic.NOW)
    del document
    # seats: 3% spare, as licenses are bought
    tenant = replace(
        tenant,
        subscribedSkus=tuple(
            replace(
                sku,
                prepaidUnits=replace(
                    sku.prepaidUnits, enabled=sku.consumedUnits + max(10, sku.consumedUnits // 33)
                ),
            )
            for sku in tenant.subscribedSkus
        ),
    )
    base = Path(directory)
    write_snapshot(tenant, base / "tenant.json")
    LocalTenant.create(base / "tenant.db", tenant)
    for name, files in policies.items():
        folder = base / name
        folder.mkdir()
        for file, content in files.items():
            text = yaml.safe_dump(content, sort_keys=False, width=120, allow_unicode=True)
            (folder / file).write_text(text, encoding="utf-8")
    memberships = sum(len(group.members) for group in tenant.groups)
    return {
        "seconds": time.perf_counter() - start,
        "bytes": (base / "tenant.json").stat().st_size,
        "groups": len(tenant.groups),
        "dynamic": sum(1 for group in tenant.groups if group.is_dynamic),
        "licensing": sum(1 for group in tenant.groups if group.assignedLicenses),
        "memberships": memberships,
    }


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float  # wall
    peak_mib: float  # the child's peak RSS
    output: str


def run(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """`args` in a child process: its wall time and peak RSS (wait4's ru_maxrss)."""
    start = time.perf_counter()
    with open(os.devnull, "w") as sink, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(args, cwd=cwd, stdout=sink, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        output = err.read()
    if child.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} exited {child.returncode}:\n{output[-2000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, output)


def reconciler_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def measure(directory: Path, emulator: bool) -> dict[str, Run]:
    snapshot = directory / "tenant.json"
    load = run([sys.executable, "-c", f"import json; json.load(open({str(snapshot)!r}))"], ROOT)
    found: dict[str, Run] = {"json.load": load}
    quietly = ("--format", "json", "--quiet")
    for name in ("same", "edits"):
        policy = ("--policy", str(directory / name))
        found[f"plan {name}"] = run(
            reconciler_command("plan", "--tenant", f"snapshot:{snapshot}", *policy, *quietly),
            directory,
        )
    edits = ("--policy", str(directory / "edits"))
    applying = ("--auto-approve", "--allow-removals", *quietly)
    work = fresh_copy(directory, "apply")
    local = ("--tenant", f"local:{work / 'tenant.db'}")
    found["plan local"] = run(reconciler_command("plan", *local, *edits, *quietly), work)
    found["apply local"] = run(reconciler_command("apply", *local, *edits, *applying), work)
    if emulator:
        work = fresh_copy(directory, "emulator")
        with serving(work / "tenant.db") as url:
            graph = ("--tenant", "graph", "--graph-url", url)
            found["apply emulator"] = run(
                reconciler_command("apply", *graph, *edits, *applying), work
            )
    return found


def fresh_copy(directory: Path, name: str) -> Path:
    """A folder holding a copy of the generated local tenant, to change."""
    work = directory / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copyfile(directory / "tenant.db", work / "tenant.db")
    return work


@contextmanager
def serving(database: Path) -> Iterator[str]:
    """The Graph emulator over the local tenant `database`, in a child process: its URL."""
    server = subprocess.Popen(
        reconciler_command(
            "emulator", "serve", "--tenant", f"local:{database}", "--license-reads", "0"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        yield first.split("listening on ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait()


def growth(points: Sequence[tuple[int, float]]) -> float | None:
    """The least-squares slope of log(time) against log(users): 1 is linear."""
    if len(points) < 2:
        return None
    xs = [math.log(users) for users, _ in points]
    ys = [math.log(seconds) for _, seconds in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mean_x) ** 2 for x in xs)
    return num / den


def report(users: int, made: dict[str, Any], found: dict[str, Any]) -> None:
    floor = found["json.load"].seconds
    print(
        f"\n== {users:,} users: {made['bytes'] / 2**20:,.0f} MiB snapshot, {made['groups']:,} "
        f"groups ({made['dynamic']:,} dynamic, {made['licensing']:,} licensing), "
        f"{made['memberships']:,} memberships; generated in {made['seconds']:.0f} s"
    )
    for step, measured in found.items():
        ratio = (
            "(the floor)" if step == "json.load" else f"{measured.seconds / floor:5.2f}x json.load"
        )
        print(
            f"{step:<12} {measured.seconds:8.1f} s wall  peak RSS {measured.peak_mib:8,.0f} MiB"
            f"  {ratio}"
        )
    apply_ratio = found["apply local"].seconds / found["plan local"].seconds
    print(f"apply on the local tenant: {apply_ratio:.2f}x its plan on the same tenant")
    if "apply emulator" in found:
        minutes = found["apply emulator"].seconds / 60
        print(f"apply through the Graph emulator: {minutes:.1f} minutes")


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="users per tenant, by commas")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 users")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) generated tenants here")
    parser.add_argument(
        "--emulator",
        action="store_true",
        help=f"also apply through the Graph emulator (tenants of up to {EMULATOR_USERS:,} users)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.million:
        sizes.append(1_000_000)
    print(
        f"reconciler scale benchmark — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    plans: list[tuple[int, float]] = []
    for users in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
            directory = (args.keep or Path(scratch)) / f"users-{users}-seed-{args.seed}"
            made_file = directory / "made.json"
            if not made_file.exists():
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(parents=True)
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                    made = pool.submit(generate, str(directory), users, args.seed).result()
                made_file.write_text(json.dumps(made), encoding="utf-8")
            made = json.loads(made_file.read_text(encoding="utf-8"))
            found = measure(directory, args.emulator and users <= EMULATOR_USERS)
            report(users, made, found)
            plans.append((users, found["plan edits"].seconds))
    exponent = growth(plans)
    if exponent is not None:
        print(f"\nplan time grows as users^{exponent:.2f} (1.00 is linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
