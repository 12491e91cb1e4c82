"""The documentation's examples stay true: the YAML a person copies is valid as the docs say,
and every command line shown names a real command and options it has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.cli import cli
from reconciler.jsonschemas import load_schema
from reconciler.policy.prices import prices_file_schema
from reconciler.policy.schema import policy_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = (
    "README.md",
    *(f"docs/{name}" for name in sorted(p.name for p in (ROOT / "docs").glob("*.md"))),
)
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def blocks(doc: str, language: str) -> list[tuple[int, str]]:
    """The fenced blocks of `language` in `doc`, each with its first line's number, unindented."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group(2) == language:
            indent = len(match.group(1))
            body = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
            found.append((text.count("\n", 0, match.start()) + 1, body))
    return found


def _yaml(doc: str, top: str) -> list[pytest.param]:
    return [
        pytest.param(body, id=f"{doc}:{line}")
        for line, body in blocks(doc, "yaml")
        if isinstance(yaml.safe_load(body), dict) and top in yaml.safe_load(body)
    ]


def policy_test_examples() -> list[pytest.param]:
    """The policy tests the docs show: whole files, and lists of tests shown on their own."""
    found = []
    for line, body in blocks("docs/policy-tests.md", "yaml"):
        document = yaml.safe_load(body)
        subjects = ("user", "newUser", "plan")
        if isinstance(document, list) and all(
            isinstance(t, dict) and any(key in t for key in subjects) for t in document
        ):
            document = {"tests": document}
        if isinstance(document, dict) and "tests" in document:
            found.append(pytest.param(document, id=f"docs/policy-tests.md:{line}"))
    return found


@pytest.mark.parametrize("document", policy_test_examples())
def test_each_policy_test_shown_in_the_docs_is_valid(document):
    schema = load_schema("policy-tests.schema.json")
    errors = list(Draft202012Validator(schema).iter_errors(document))
    assert not errors, [error.message for error in errors]


@pytest.mark.parametrize(
    "text", _yaml("docs/cost.md", "settings") + _yaml("docs/policy.md", "settings")
)
def test_each_policy_settings_shown_in_the_docs_is_valid(text):
    document = {"settings": yaml.safe_load(text)["settings"]}
    errors = list(Draft202012Validator(policy_schema()).iter_errors(document))
    assert not errors, [error.message for error in errors]


@pytest.mark.parametrize("text", _yaml("docs/cost.md", "prices"))
def test_each_prices_file_shown_in_the_docs_is_valid(text):
    errors = list(Draft202012Validator(prices_file_schema()).iter_errors(yaml.safe_load(text)))
    assert not errors, [error.message for error in errors]


def command_lines() -> list[pytest.param]:
    """Every `$ reconciler ...` line of a console block in the docs."""
    found = []
    for doc in DOCS:
        for line, body in blocks(doc, "console"):
            for offset, text in enumerate(body.splitlines()):
                if text.startswith("$ reconciler "):
                    found.append(pytest.param(text[2:], id=f"{doc}:{line + offset + 1}"))
    return found


@pytest.mark.parametrize("line", command_lines())
def test_each_command_shown_in_the_docs_has_the_options_it_uses(line):
    words = shlex.split(line.split(" #", 1)[0], comments=False)
    words = [w for w in words if w not in ("&",)]
    words = words[: next((i for i, w in enumerate(words) if w in (">", "|", "&&")), len(words))]
    command: click.Command = cli
    path = [words.pop(0)]  # reconciler
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        found = command.get_command(click.Context(command), words[0])
        if found is None:
            break  # an argument of the group's last command
        command = found
        path.append(words.pop(0))
    assert not isinstance(command, click.Group), f"{' '.join(path)} is a group, not a command"
    options = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    used = [w.split("=", 1)[0] for w in words if w.startswith("-") and w != "--"]
    # `[--tenant SOURCE]` in a usage line: the option inside the brackets
    used = [w.strip("[]").split("|")[0] for w in used]
    unknown = [w for w in used if w not in options and w not in ("-h", "--help")]
    assert not unknown, f"{' '.join(path)} has no {unknown}"
