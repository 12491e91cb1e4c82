"""`reconciler rule check|test|diff`: the membership rule language at the terminal."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import format_option
from reconciler.errors import InputError, Location, location_in
from reconciler.objectfile import MIB, load_objects, read_text
from reconciler.render import rules as render
from reconciler.rules.errors import RuleError, RuleEvaluationError
from reconciler.rules.explain import Decision, Explainer
from reconciler.rules.linter import lint
from reconciler.rules.membership import compute_memberships
from reconciler.rules.parser import parse

RULE_FILE_LIMIT = MIB

_users = click.option(
    "--users",
    "objects_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='Users (or devices): a JSON list, Graph\'s {"value": [...]} or a tenant snapshot.',
)


@click.group()
def rule() -> None:
    """Check, test and compare dynamic membership rules.

    A rule that starts with '-' goes after '--': reconciler rule check -- '-not (...)'.
    """


@rule.command()
@click.argument("rule_text", metavar="RULE", required=False)
@click.option(
    "--file",
    "rule_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the rule from a file instead.",
)
@format_option
@click.pass_context
def check(ctx: click.Context, rule_text: str | None, rule_file: Path | None, output_format: str):
    """Check a rule: exit 0 if Entra would accept it, 1 if not; lints are warnings."""
    text = _rule_text(rule_text, rule_file)
    try:
        parsed = parse(text)
    except RuleError as error:
        if output_format == "json":
            click.echo(render.check_json(text, None, error, []))
            ctx.exit(1)
        if rule_file is not None:
            error.location = location_in(str(rule_file), text, error.span.start)
        raise
    lints = lint(parsed)
    if output_format == "json":
        click.echo(render.check_json(text, parsed, None, lints))
    else:
        click.echo(render.check_text(parsed, lints))


@rule.command()
@click.argument("rule_text", metavar="RULE")
@_users
@click.option(
    "--user",
    "selected",
    multiple=True,
    metavar="UPN_OR_ID",
    help="Test only these objects (repeatable): id, userPrincipalName or displayName.",
)
@format_option
def test(rule_text: str, objects_file: Path, selected: tuple[str, ...], output_format: str):
    """Member or not for every object in a file, with the expressions that decided it."""
    parsed = parse(rule_text)
    objects = load_objects(objects_file, parsed.object_type)
    if selected:
        objects = _select(objects, selected, objects_file)
    explainer = Explainer(parsed)
    results = [(obj, _explain(explainer, obj, objects_file)) for obj in objects]
    if output_format == "json":
        click.echo(render.membership_json(parsed, results))
    else:
        click.echo(render.membership_text(parsed, results))


@rule.command()
@click.argument("old_text", metavar="OLD")
@click.argument("new_text", metavar="NEW")
@_users
@format_option
def diff(old_text: str, new_text: str, objects_file: Path, output_format: str):
    """Who joins and who leaves when rule OLD is replaced by NEW."""
    old, new = _parse_named(old_text, "OLD"), _parse_named(new_text, "NEW")
    if old.object_type != new.object_type:
        raise InputError(
            f"OLD selects {old.object_type}s and NEW selects {new.object_type}s; "
            "a group holds one kind of object"
        )
    objects = load_objects(objects_file, new.object_type)
    members = compute_memberships({"OLD": old, "NEW": new}, objects)
    before, after = set(members["OLD"]), set(members["NEW"])
    joins = [objects[i] for i in sorted(after - before)]
    leaves = [objects[i] for i in sorted(before - after)]
    stay = len(before & after)
    if output_format == "json":
        click.echo(render.diff_json(new.object_type, joins, leaves, stay))
    else:
        click.echo(render.diff_text(joins, leaves, stay))


def _explain(explainer: Explainer, obj: dict, source: Path) -> Decision:
    """Why `obj` is a member or not; RuleEvaluationError naming it if its rule can't tell."""
    try:
        return explainer.explain(obj)
    except RuleEvaluationError as error:
        names = (obj.get(key) for key in ("userPrincipalName", "displayName", "id"))
        name = next((value for value in names if isinstance(value, str) and value), "?")
        raise error.within(f"{source}: {name}") from None


def _parse_named(text: str, name: str):
    """Parse one of several rules given, naming which one is at fault."""
    try:
        return parse(text)
    except RuleError as error:
        error.location = Location(name)
        raise


def _rule_text(rule_text: str | None, rule_file: Path | None) -> str:
    if rule_text is None and rule_file is None:
        raise click.UsageError("give a RULE, or --file with one")
    if rule_text is not None and rule_file is not None:
        raise click.UsageError("give either RULE or --file, not both")
    if rule_file is None:
        assert rule_text is not None
        return rule_text
    # a BOM is no part of the rule; a rule is at most 3,072 characters, so a big file is a mistake
    text = read_text(rule_file, limit=RULE_FILE_LIMIT, kind="a rule file")
    # An editor's final newline is not part of the rule.
    return text.removesuffix("\n").removesuffix("\r")


def _select(objects: list[dict], wanted: tuple[str, ...], source: Path) -> list[dict]:
    keys = ("id", "userPrincipalName", "displayName", "deviceId")
    chosen = []
    for name in wanted:
        found = [
            obj
            for obj in objects
            if any(
                isinstance(obj.get(key), str) and obj[key].lower() == name.lower() for key in keys
            )
        ]
        if not found:
            raise InputError(f"no object with id or name '{name}'", Location(str(source)))
        chosen.extend(found)
    return chosen
