"""skus.lock.yaml: written deterministically, read back with positions, never merged as policy."""

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.errors import Location
from reconciler.jsonschemas import load_schema
from reconciler.model import ServicePlan, Sku
from reconciler.policy import (
    LockedPlan,
    LockedSku,
    PolicyError,
    SkuChange,
    SkuLock,
    build_lock,
    load_policy,
    lock_path,
    read_lock,
    resolve,
    update_lock,
)
from reconciler.policy.lock import compare, lock_text, used_skus
from tests.policy.tenant import (
    AAD_PREMIUM,
    EMS,
    INTUNE_A,
    SKUS,
    SPE_E5,
    TEAMS1,
    YAMMER_ENTERPRISE,
    write,
)

MICROSOFT_LOOP = "c4b8c31a-fb44-4c65-9837-a21f55fcabda"

POLICY = """\
groups:
  - displayName: LIC-M365-E5-Sales
    licenses:
      - sku: SPE_E5
        disabledPlans: [YAMMER_ENTERPRISE]
retired:
  - displayName: LIC-EMS-Old
"""

LOCKED = """\
formatVersion: 1
skus:
  EMS:
    skuId: efccb6f7-5641-4e0e-bd10-b4976e1bf68e
    servicePlans:
      - AAD_PREMIUM: 41781fb2-bc02-4b7c-bd55-b576c07bb09d
      - INTUNE_A: c1ec4a95-1f05-45b3-a911-aa3fa01094f5
      - RMS_S_PREMIUM: 6c57d4b6-3b23-47a5-9bc9-69f17b4947b3
  SPE_E5:
    skuId: 06ebc4ee-1bb5-47dd-8120-11324bc54e06
    servicePlans:
      - EXCHANGE_S_ENTERPRISE: efb87545-963c-4e0d-99df-69c6916d9eb0
      - TEAMS1: 57ff2da0-773e-42df-b2af-ffb7a2317929
      - YAMMER_ENTERPRISE: 7547a3fe-08ee-4ccb-b430-5077c5041653
"""


def _shouting(sku: Sku) -> Sku:
    """`sku` with upper-case ids and its plans in reverse order, as another tenant might list it."""
    plans = tuple(
        replace(plan, servicePlanId=plan.servicePlanId.upper()) for plan in sku.servicePlans
    )
    return replace(sku, skuId=sku.skuId.upper(), servicePlans=plans[::-1])


def test_the_lock_is_sorted_lower_case_yaml_with_one_line_per_plan():
    text = lock_text(build_lock(SKUS, {SPE_E5, EMS}))
    assert text.startswith("# ")
    assert text.endswith(LOCKED)


def test_the_same_skus_give_the_same_text_whatever_their_order_or_case():
    shuffled = tuple(_shouting(sku) for sku in SKUS[::-1])
    assert lock_text(build_lock(shuffled, {SPE_E5.upper(), EMS})) == lock_text(
        build_lock(SKUS, {SPE_E5, EMS})
    )


def test_a_lock_round_trips_through_its_file(tmp_path):
    lock = build_lock(SKUS, {SPE_E5, EMS})
    path = tmp_path / "skus.lock.yaml"
    path.write_text(lock_text(lock), encoding="utf-8")
    read = read_lock(path)
    assert read == lock
    assert read.file == str(path)
    assert read.sku(EMS.upper()).location == Location(str(path), 6, 3)  # below the header
    assert read.sku(SPE_E5).plan_ids == {
        YAMMER_ENTERPRISE,
        TEAMS1,
        "efb87545-963c-4e0d-99df-69c6916d9eb0",
    }


def test_only_skus_the_managed_groups_assign_are_locked_not_those_of_retired_groups(tmp_path):
    write(tmp_path, {"a.yaml": POLICY})
    desired = resolve(load_policy(tmp_path), SKUS)
    assert used_skus(desired) == {SPE_E5}
    assert [sku.skuPartNumber for sku in build_lock(SKUS, used_skus(desired)).skus] == ["SPE_E5"]


def test_the_loader_reads_the_lock_beside_the_policy_and_does_not_merge_it(tmp_path):
    write(tmp_path, {"a.yaml": POLICY, "skus.lock.yaml": LOCKED})
    loaded = load_policy(tmp_path)
    assert loaded.files == (str(tmp_path / "a.yaml"),)
    assert loaded.lock == build_lock(SKUS, {SPE_E5, EMS})
    assert resolve(loaded, SKUS).lock == loaded.lock
    assert load_policy(tmp_path, with_lock=False).lock is None


def test_without_a_lock_the_desired_state_has_none(tmp_path):
    write(tmp_path, {"a.yaml": POLICY})
    assert resolve(load_policy(tmp_path), SKUS).lock is None


def test_a_single_policy_file_has_its_lock_beside_it(tmp_path):
    write(tmp_path, {"policy.yaml": POLICY, "skus.lock.yaml": LOCKED})
    assert lock_path(tmp_path / "policy.yaml") == tmp_path / "skus.lock.yaml"
    assert load_policy(tmp_path / "policy.yaml").lock == build_lock(SKUS, {SPE_E5, EMS})


def test_only_the_lock_at_the_top_of_the_folder_is_left_out_of_the_policy(tmp_path):
    # a file of that name in a subfolder is nobody's lock: read as policy, it is an error
    write(tmp_path, {"a.yaml": POLICY, "team/skus.lock.yaml": LOCKED})
    with pytest.raises(PolicyError, match="unknown key 'formatVersion' in policy"):
        load_policy(tmp_path)


E = EMS
A = AAD_PREMIUM
HEAD = "formatVersion: 1\nskus:\n"
HINT = "; run `reconciler lock` to write it anew"

# (id, lock text, the first message as str(error) shows it, without HINT)
DAMAGED = [
    (
        "malformed_yaml",
        HEAD + "  EMS: [\n",
        "p/skus.lock.yaml:4:1: invalid YAML: expected the node content, but found '<stream end>' "
        "(while parsing a flow node at line 4)",
    ),
    (
        "merge_conflict",
        HEAD + "<<<<<<< HEAD\n  EMS:\n",
        "p/skus.lock.yaml:4:6: invalid YAML: could not find expected ':' "
        "(while scanning a simple key at line 3)",
    ),
    (
        "top_level_is_a_list",
        "- EMS\n",
        "p/skus.lock.yaml:1:1: a lock file holds a mapping (formatVersion, skus), not a list",
    ),
    ("empty_file", "", "p/skus.lock.yaml:1:1: missing required key 'formatVersion'"),
    (
        "unknown_key",
        HEAD + f"  EMS:\n    skuID: {E}\n    servicePlans: []\n",
        "p/skus.lock.yaml:4:5: skus.EMS: unknown key 'skuID' in SKU entry (did you mean 'skuId'?)",
    ),
    (
        "plan_id_not_a_guid",
        HEAD + f"  EMS:\n    skuId: {E}\n    servicePlans:\n      - AAD_PREMIUM: 41781fb2\n",
        "p/skus.lock.yaml:6:22: skus.EMS.servicePlans[0].AAD_PREMIUM: '41781fb2' is not a GUID "
        "such as 06ebc4ee-1bb5-47dd-8120-11324bc54e06",
    ),
    (
        "two_plans_in_one_entry",
        HEAD + f"  EMS:\n    skuId: {E}\n    servicePlans:\n      - AAD_PREMIUM: {A}\n"
        f"        INTUNE_A: {INTUNE_A}\n",
        "p/skus.lock.yaml:6:9: skus.EMS.servicePlans[0]: expected one "
        "'servicePlanName: servicePlanId' pair",
    ),
    (
        "unknown_format_version",
        "formatVersion: 2\nskus: {}\n",
        "p/skus.lock.yaml:1:16: formatVersion: expected one of 1, found the number 2",
    ),
    (
        "sku_listed_twice",
        HEAD + f"  EMS:\n    skuId: {E}\n    servicePlans: []\n"
        f"  EMS_OLD:\n    skuId: {E.upper()}\n    servicePlans: []\n",
        f"p/skus.lock.yaml:6:3: skus.EMS_OLD: SKU {E.upper()} is already listed at "
        "p/skus.lock.yaml:3:3",
    ),
    (
        "duplicate_key",
        HEAD + f"  EMS:\n    skuId: {E}\n    servicePlans: []\n" * 2,
        "p/skus.lock.yaml:6:3: duplicate key 'EMS': already given at p/skus.lock.yaml:3:3",
    ),
]


@pytest.mark.parametrize(("text", "message"), [pytest.param(t, m, id=i) for i, t, m in DAMAGED])
def test_a_damaged_lock_is_one_error_at_its_file_line_and_column(
    tmp_path, monkeypatch, text, message
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"p/a.yaml": POLICY, "p/skus.lock.yaml": text})
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    assert str(raised.value) == message + HINT
    assert len({str(error) for error in raised.value.errors}) == len(raised.value.errors)
    # read on its own (as `reconciler lock` does), the message doesn't send the user to it
    with pytest.raises(PolicyError) as alone:
        read_lock(Path("p/skus.lock.yaml"))
    assert str(alone.value) == message


def test_each_missing_required_key_is_reported_once(tmp_path):
    (tmp_path / "skus.lock.yaml").write_text("")
    with pytest.raises(PolicyError) as raised:
        read_lock(tmp_path / "skus.lock.yaml")
    assert [error.message for error in raised.value.errors] == [
        "missing required key 'formatVersion'",
        "missing required key 'skus'",
    ]


def test_compare_lists_plans_added_and_removed_and_skus_added_and_dropped():
    old = build_lock(SKUS, {SPE_E5, EMS})
    e5 = replace(
        SKUS[0],
        servicePlans=(*SKUS[0].servicePlans[1:], ServicePlan(MICROSOFT_LOOP, "MICROSOFT_LOOP")),
    )
    visio = Sku("c5928f49-12ba-48f7-ada3-0d743a3601d5", "VISIOCLIENT")
    new = build_lock((e5, SKUS[1], visio), {SPE_E5, visio.skuId})
    assert compare(old, new) == (
        SkuChange(
            "SPE_E5",
            SPE_E5,
            "changed",
            added=(LockedPlan("MICROSOFT_LOOP", MICROSOFT_LOOP),),
            removed=(LockedPlan("YAMMER_ENTERPRISE", YAMMER_ENTERPRISE),),
        ),
        SkuChange("VISIOCLIENT", visio.skuId, "added"),
        SkuChange("EMS", EMS, "removed", removed=old.sku(EMS).servicePlans),
    )
    assert compare(new, new) == ()
    assert [change.kind for change in compare(None, new)] == ["added", "added"]


def test_update_lock_creates_then_leaves_an_unchanged_lock_alone(tmp_path):
    write(tmp_path, {"a.yaml": POLICY})
    desired = resolve(load_policy(tmp_path), SKUS)
    first = update_lock(tmp_path, desired, SKUS)
    assert (first.previous, first.unreadable, first.written) == (None, None, True)
    assert first.path == tmp_path / "skus.lock.yaml"
    assert [change.skuPartNumber for change in first.changes] == ["SPE_E5"]
    assert read_lock(first.path) == first.lock
    again = update_lock(tmp_path, desired, SKUS)
    assert (again.previous, again.changes, again.written) == (first.lock, (), False)


def test_update_lock_replaces_a_lock_it_cannot_read(tmp_path):
    write(tmp_path, {"a.yaml": POLICY, "skus.lock.yaml": "<<<<<<< HEAD\n"})
    desired = resolve(load_policy(tmp_path, with_lock=False), SKUS)
    update = update_lock(tmp_path, desired, SKUS)
    assert update.previous is None and update.written
    assert "skus.lock.yaml:" in str(update.unreadable)
    assert (
        load_policy(tmp_path).lock
        == update.lock
        == SkuLock(
            (
                LockedSku(
                    SPE_E5,
                    "SPE_E5",
                    (
                        LockedPlan("EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0"),
                        LockedPlan("TEAMS1", TEAMS1),
                        LockedPlan("YAMMER_ENTERPRISE", YAMMER_ENTERPRISE),
                    ),
                ),
            )
        )
    )


def test_the_written_lock_is_valid_against_its_published_schema():
    schema = load_schema("skus-lock.schema.json")
    Draft202012Validator.check_schema(schema)
    document = yaml.safe_load(lock_text(build_lock(SKUS, {SPE_E5, EMS})))
    Draft202012Validator(schema).validate(document)
