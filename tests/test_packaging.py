"""Packaging: every package of the source tree installs, schemas included."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_source_tree_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "reconciler").rglob("__init__.py")
    }
    assert found | {"reconciler.schemas"} == listed


def test_every_schema_is_shipped_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["reconciler.schemas"] == "schemas"
    assert config["package-data"]["reconciler.schemas"] == ["*.json"]
    assert sorted(path.name for path in (ROOT / "schemas").glob("*.json"))


# the package index's "reconciler" is another project: `pip install reconciler` installs it
_INSTALLS_ANOTHER_PROJECT = re.compile(r"pip3? install\s+(?:-\S+\s+)*[\"']?reconciler\b(?![-.\w])")


def test_the_distribution_name_is_free_and_the_command_stays_reconciler():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "entra-license-reconciler"
    assert project["scripts"] == {"reconciler": "reconciler.cli:main"}


def test_no_install_instruction_installs_the_other_project_of_that_name():
    texts = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    texts += [path for path in (ROOT / "examples").rglob("*.y*ml")]
    texts += [
        path for path in (ROOT / "action.yml", ROOT / ".pre-commit-hooks.yaml") if path.exists()
    ]
    offending = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in texts
        for match in _INSTALLS_ANOTHER_PROJECT.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_the_install_pattern_catches_the_other_project_and_spares_ours():
    assert _INSTALLS_ANOTHER_PROJECT.search("run: pip install reconciler && reconciler plan")
    assert _INSTALLS_ANOTHER_PROJECT.search("pip install -q 'reconciler==1.0'")
    assert not _INSTALLS_ANOTHER_PROJECT.search('pip install "entra-license-reconciler==0.1.0"')
    assert not _INSTALLS_ANOTHER_PROJECT.search("pip install -q . && .venv/bin/reconciler plan")
