"""Benchmark of `reconciler import`: a generated tenant imported, then planned.

Run `python benchmarks/bench_import.py [--users N] [--groups N]` (default 10,000 users and
1,000 groups). The tenant mixes what an import must write back exactly: dynamic rules of every
kind the generator draws, paused rules, Microsoft 365 groups, static groups (some empty, some
with nested groups or a device), memberOf rules over them, and disabled service plans. The
import is planned against the same tenant; the script prints each step's time and exits 1,
loudly, if that plan has any change.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import reconciler  # noqa: F401  (only checks it is importable)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import synthetic

from reconciler.engine import recompute
from reconciler.importer import Choice, import_policy
from reconciler.model import Tenant
from reconciler.plan.build import build_plan
from reconciler.policy import load_policy, resolve, update_lock
from reconciler.policy.group_lock import update_group_lock
from reconciler.providers.snapshot import tenant_from_document

ROOT = Path(__file__).resolve().parent.parent
DEMO_TENANT = ROOT / "examples" / "contoso" / "tenant.json"
_DESCRIPTIONS = [
    'Sales: "EMEA" # and APAC',
    "Licenses for the people in {dept}",
    "- starts like a list item",
    "Zwei Zeilen:\nzweite Zeile",
    "Équipe de {dept} — accès complet",
    "yes",
    "  leading and trailing spaces  ",
]


def make_import_tenant(users: int, groups: int, seed: int = 11) -> dict[str, Any]:
    """A Graph-shaped tenant document of `users` users and `groups` groups, before Entra
    settles it (`recompute` does); the same for the same arguments."""
    demo = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    document = synthetic.make_tenant(users, demo["subscribedSkus"], seed)
    rng = random.Random(seed)
    user_ids = [user["id"] for user in document["users"]]
    skus = document["subscribedSkus"]
    document["devices"] = [
        {"id": synthetic._guid(rng), "displayName": f"PC-{n:04}", "accountEnabled": True}
        for n in range(5)
    ]
    extra = max(0, groups - len(document["groups"]))
    rules = synthetic.make_rules(extra, user_ids[:50], seed)
    statics: list[str] = []
    for position, rule in enumerate(rules):
        slot = position % 10
        department = synthetic.DEPARTMENTS[position % len(synthetic.DEPARTMENTS)]
        name = f"GRP-{position:04} {department}"
        if position % 97 == 5:
            # the file name of the group before: GRP-0004 Marketing, grp 0004  marketing!
            before = synthetic.DEPARTMENTS[(position - 1) % len(synthetic.DEPARTMENTS)]
            name = f"grp {position - 1:04}  {before.lower()}!"
        group: dict[str, Any] = {
            "id": synthetic._guid(rng),
            "displayName": name,
            "groupTypes": [],
            "securityEnabled": True,
            "mailEnabled": False,
            "members": [],
            "assignedLicenses": _licenses(rng, skus) if rng.random() < 0.7 else [],
        }
        if rng.random() < 0.3:
            text = _DESCRIPTIONS[position % len(_DESCRIPTIONS)]
            group["description"] = text.format(dept=department)
        if slot in (0, 1, 2, 3, 4, 5, 8):
            if "memberOf" in rule and statics:
                sources = rng.sample(statics, min(len(statics), rng.randint(1, 3)))
                rule = f"user.memberOf -any (group.objectId -in [{', '.join(map(repr, sources))}])"
            group["groupTypes"] = ["DynamicMembership"]
            group["membershipRule"] = rule
            group["membershipRuleProcessingState"] = "Paused" if slot == 5 else "On"
            if slot == 8:
                group["groupTypes"] = ["Unified", "DynamicMembership"]
                group["mailEnabled"] = True
                group["mailNickname"] = f"grp{position:04}"
        else:
            size = 0 if position % 30 == 6 else rng.randint(1, 25)
            group["members"] = rng.sample(user_ids, size)
            if slot == 7 and statics:
                group["members"].append(rng.choice(statics))  # a nested group
            if slot == 9 and position % 20 == 9:
                group["members"].append(rng.choice(document["devices"])["id"])
            statics.append(group["id"])
        document["groups"].append(group)
    return document


def _licenses(rng: random.Random, skus: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen = rng.sample(list(skus), rng.choice([1, 1, 1, 2]))
    licenses = []
    for sku in chosen:
        plans = [plan["servicePlanId"] for plan in sku["servicePlans"]]
        off = rng.sample(plans, min(len(plans), rng.choice([0, 0, 1, 2, 3])))
        licenses.append({"skuId": sku["skuId"], "disabledPlans": sorted(off)})
    return licenses


def settled(document: dict[str, Any]) -> Tenant:
    """The tenant as Entra has settled it: dynamic members and group licenses in place."""
    return recompute(tenant_from_document(document), synthetic.NOW)


def round_trip(tenant: Tenant, folder: Path, allow_list: bool = False) -> dict[str, Any]:
    """Import every licensed group into `folder` as the command does, then plan; the steps'
    seconds, what was written, and the plan's changes (which should be none)."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    result = import_policy(tenant, (), Choice(allowList=allow_list), pinned=False)
    seconds["import"] = time.perf_counter() - start
    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    for file in result.files:
        (folder / file.name).write_text(file.text, encoding="utf-8")
    seconds["write"] = time.perf_counter() - start
    start = time.perf_counter()
    desired = resolve(load_policy(folder, with_lock=False), tenant.subscribedSkus)
    update_lock(folder, desired, tenant.subscribedSkus)
    update_group_lock(folder, desired, tenant)
    seconds["load and lock"] = time.perf_counter() - start
    start = time.perf_counter()
    desired = resolve(load_policy(folder), tenant.subscribedSkus)
    plan = build_plan(desired, tenant, synthetic.NOW)
    seconds["plan"] = time.perf_counter() - start
    return {
        "seconds": seconds,
        "files": len(result.files),
        "groups": len(result.groups),
        "dependencies": len(result.dependencies),
        "leftOut": len(result.leftOut),
        "changes": plan.changes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=11)
    options = parser.parse_args(argv)
    start = time.perf_counter()
    tenant = settled(make_import_tenant(options.users, options.groups, options.seed))
    print(
        f"tenant: {len(tenant.users):,} users, {len(tenant.groups):,} groups, generated and "
        f"settled in {time.perf_counter() - start:.1f} s"
    )
    failed = False
    for allow_list in (False, True):
        with tempfile.TemporaryDirectory() as directory:
            figures = round_trip(tenant, Path(directory) / "policies", allow_list)
        mode = "enabledPlans (--allow-list)" if allow_list else "disabledPlans"
        print(
            f"\n{mode}: {figures['files']:,} files, {figures['groups']:,} groups, "
            f"{figures['dependencies']:,} dependencies, {figures['leftOut']} left out"
        )
        for step, seconds in figures["seconds"].items():
            print(f"  {step:<14} {seconds:7.2f} s")
        print(f"  {'total':<14} {sum(figures['seconds'].values()):7.2f} s")
        if figures["changes"]:
            failed = True
            print(f"  FAILED: the plan after the import has {len(figures['changes'])} changes:")
            for change in figures["changes"][:20]:
                print(f"    {change}")
    print("\nFAILED: an import must plan no changes" if failed else "\nround trips: no changes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
