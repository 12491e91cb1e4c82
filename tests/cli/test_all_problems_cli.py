"""`validate` and `plan` list every problem of every file in one run, and change nothing."""

import hashlib
from pathlib import Path

# one problem per file, each of another stage; the retired typo is in the demo's add-ons.yaml
BROKEN = {
    "a-syntax.yaml": "groups:\n  - displayName: A\n   licenses: []\n",
    "b-schema.yaml": "groups:\n  - displayName: B\n    protect: yes\n",
    "c-rule.yaml": 'groups:\n  - displayName: C\n    membershipRule: user.departmnt -eq "x"\n',
    "d-sku.yaml": "groups:\n  - displayName: D\n    licenses:\n      - sku: SPE_E6\n",
}

EXPECTED = [
    "error: policies/a-syntax.yaml:3:4: invalid YAML: expected <block end>, but found "
    "'<block mapping start>' (while parsing a block collection at line 2)",
    "error: policies/add-ons.yaml:39:18: retired group 'Finance Analyst': the tenant has no "
    "group of that name (did you mean 'Finance Analysts'?); if it was deleted already, remove "
    "this entry",
    "error: policies/b-schema.yaml:3:14: group 'B', protect: expected true or false, found the "
    "text 'yes'",
    "error: policies/c-rule.yaml:3:21: group 'C', membershipRule: unknown property "
    "'user.departmnt' (did you mean 'department'?) [unknown-property]",
    "error: policies/d-sku.yaml:4:14: group 'D', licenses[0].sku: unknown SKU 'SPE_E6' (did you "
    "mean 'SPE_E5'?); the tenant has: EMS, ENTERPRISEPACK, POWER_BI_PRO, SPE_E3, SPE_E5, "
    "VISIOCLIENT",
    "5 problems in 5 files",
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _break(demo: Path) -> None:
    for name, text in BROKEN.items():
        (demo / "policies" / name).write_text(text)
    add_ons = demo / "policies" / "add-ons.yaml"
    text = add_ons.read_text()
    assert "  - displayName: Finance Analysts\n" in text
    add_ons.write_text(
        text.replace("displayName: Finance Analysts", "displayName: Finance Analyst")
    )


def test_validate_and_plan_list_every_problem_of_every_file_and_change_nothing(run, demo):
    assert run("validate", cwd=demo).code == 0  # creates the local tenant from the seed
    database = demo / "state" / "tenant.db"
    before = _digest(database)
    _break(demo)
    for command in ("validate", "plan"):
        result = run(command, cwd=demo)
        assert result.code == 1, command
        assert result.stdout == ""
        assert result.stderr.splitlines() == EXPECTED, command
        assert "Traceback" not in result.stderr
    assert _digest(database) == before


def test_validate_offline_lists_every_problem_it_can_find_without_the_tenant(run, demo):
    _break(demo)
    result = run("validate", "--offline", cwd=demo)
    assert result.code == 1
    # the SKU too, against skus.lock.yaml: only the retired group needs the tenant
    assert result.stderr.splitlines() == [
        EXPECTED[0],
        EXPECTED[2],
        EXPECTED[3],
        "error: policies/d-sku.yaml:4:14: group 'D', licenses[0].sku: unknown SKU 'SPE_E6' (did "
        "you mean 'SPE_E5'?); checked against policies/skus.lock.yaml, which lists: EMS, "
        "ENTERPRISEPACK, POWER_BI_PRO, SPE_E3, SPE_E5, VISIOCLIENT; run `reconciler lock` if the "
        "tenant has it",
        "4 problems in 4 files",
    ]
    assert not (demo / "state").exists()


def test_one_problem_is_one_line_without_a_count(run, demo):
    (demo / "policies" / "b-schema.yaml").write_text(BROKEN["b-schema.yaml"])
    result = run("plan", cwd=demo)
    assert result.code == 1
    assert result.stderr == EXPECTED[2] + "\n"


def test_two_problems_in_one_file_are_counted_in_one_file(run, demo):
    text = BROKEN["b-schema.yaml"] + "    groupTyp: m365\n"
    (demo / "policies" / "b-schema.yaml").write_text(text)
    result = run("validate", "--offline", cwd=demo)
    assert result.code == 1
    assert result.stderr.splitlines() == [
        EXPECTED[2],
        "error: policies/b-schema.yaml:4:5: group 'B': unknown key 'groupTyp' in group "
        "(did you mean 'groupType'?)",
        "2 problems in 1 file",
    ]
