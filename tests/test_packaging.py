"""Packaging: every package of the source tree installs, schemas included."""

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
