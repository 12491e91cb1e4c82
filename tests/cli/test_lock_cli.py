"""`reconciler lock` end to end, in a subprocess, on a temporary copy of the demo."""

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Cloud App Discovery: a real plan, standing in for one Microsoft adds to Microsoft 365 E5
ADALLOM_S_DISCOVERY = {
    "servicePlanId": "932ad362-64a8-4783-9106-97849a1a30b9",
    "servicePlanName": "ADALLOM_S_DISCOVERY",
    "provisioningStatus": "Success",
    "appliesTo": "User",
}


# the demo policy's groups, as groups.lock.yaml lists them
MANAGED = [
    "LIC-EMS-E3-AllStaff",
    "LIC-M365-E3-Corporate",
    "LIC-M365-E3-Engineering",
    "LIC-M365-E5-Leadership",
    "LIC-M365-E5-Sales",
    "LIC-O365-E3-Retail",
    "LIC-PowerBI-Pro",
    "LIC-Visio",
]


@pytest.fixture
def demo(demo: Path) -> Path:
    """The demo without its lock files, as before anyone ran `reconciler lock`."""
    (demo / "policies" / "skus.lock.yaml").unlink()
    (demo / "policies" / "groups.lock.yaml").unlink()
    return demo


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lock_writes_the_plans_of_the_skus_the_policy_assigns_and_changes_no_tenant(run, demo):
    run("plan", cwd=demo)  # creates the local tenant from the seed
    database = demo / "state" / "tenant.db"
    before = _digest(database)
    result = run("lock", cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "created policies/skus.lock.yaml: 6 SKUs, 185 service plans",
        "  + EMS: 7 service plans",
        "  + ENTERPRISEPACK: 36 service plans",
        "  + POWER_BI_PRO: 2 service plans",
        "  + SPE_E3: 50 service plans",
        "  + SPE_E5: 86 service plans",
        "  + VISIOCLIENT: 4 service plans",
        "created policies/groups.lock.yaml: 8 groups, 1 retired",
        *(f"  + {name}" for name in MANAGED),
    ]
    assert _digest(database) == before
    text = (demo / "policies" / "skus.lock.yaml").read_text()
    assert "\n  EMS:\n    skuId: efccb6f7-5641-4e0e-bd10-b4976e1bf68e\n    servicePlans:\n" in text
    assert "      - INTUNE_A: c1ec4a95-1f05-45b3-a911-aa3fa01094f5\n" in text
    # the lock sits among the policy files, but plan doesn't read it as one
    planned = run("plan", cwd=demo)
    assert planned.code == 0, planned.stderr
    assert re.search(r"^Plan: \d+ to add, \d+ to change, \d+ to remove\.$", planned.stdout, re.M)
    again = run("lock", cwd=demo)
    assert again.code == 0, again.stderr
    assert again.stdout == (
        "policies/skus.lock.yaml is up to date: 6 SKUs, 185 service plans\n"
        "policies/groups.lock.yaml is up to date: 8 groups, 1 retired\n"
    )
    assert (demo / "policies" / "skus.lock.yaml").read_text() == text


def test_lock_lists_the_plans_microsoft_added_since_the_last_lock(run, demo):
    snapshot = demo / "seed.json"
    assert run("lock", "--tenant", "snapshot:seed.json", cwd=demo).code == 0
    tenant = json.loads(snapshot.read_text())
    e5 = next(sku for sku in tenant["subscribedSkus"] if sku["skuPartNumber"] == "SPE_E5")
    e5["servicePlans"].append(ADALLOM_S_DISCOVERY)
    snapshot.write_text(json.dumps(tenant))
    result = run("lock", "--tenant", "snapshot:seed.json", cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "updated policies/skus.lock.yaml: 6 SKUs, 186 service plans",
        "  SPE_E5: + ADALLOM_S_DISCOVERY",
        "policies/groups.lock.yaml is up to date: 8 groups, 1 retired",
    ]
    assert (
        "      - ADALLOM_S_DISCOVERY: 932ad362-64a8-4783-9106-97849a1a30b9\n"
        in (demo / "policies" / "skus.lock.yaml").read_text()
    )


def test_a_damaged_lock_stops_validate_at_its_line_and_lock_writes_it_anew(run, demo):
    lock = demo / "policies" / "skus.lock.yaml"
    lock.write_text("formatVersion: 1\nskus:\n<<<<<<< HEAD\n  EMS:\n")
    result = run("validate", "--offline", cwd=demo)
    assert result.code == 1
    assert result.stderr.startswith("error: policies/skus.lock.yaml:4:6: invalid YAML")
    assert "run `reconciler lock` to write it anew" in result.stderr
    assert "Traceback" not in result.stderr
    rewritten = run("lock", cwd=demo)
    assert rewritten.code == 0, rewritten.stderr
    assert rewritten.stderr.startswith("warning: replacing a lock that can't be read: ")
    assert rewritten.stdout.startswith("created policies/skus.lock.yaml: 6 SKUs")
    assert run("validate", "--offline", cwd=demo).code == 0


def test_a_plan_name_with_an_escape_or_a_line_break_is_shown_escaped(run, demo):
    snapshot = demo / "seed.json"
    assert run("lock", "--tenant", "snapshot:seed.json", cwd=demo).code == 0
    tenant = json.loads(snapshot.read_text())
    e5 = next(sku for sku in tenant["subscribedSkus"] if sku["skuPartNumber"] == "SPE_E5")
    e5["servicePlans"].append(
        {**ADALLOM_S_DISCOVERY, "servicePlanName": "EVIL\n  SPE_E5: - EXCHANGE\x1b[2J"}
    )
    snapshot.write_text(json.dumps(tenant))
    result = run("lock", "--tenant", "snapshot:seed.json", cwd=demo)
    assert result.code == 0, result.stderr
    assert "  SPE_E5: + EVIL\\n  SPE_E5: - EXCHANGE\\x1b[2J" in result.stdout.splitlines()
    assert "\x1b" not in result.stdout
