"""`reconciler rule check|test|diff`: the membership rule language at the terminal."""

from __future__ import annotations

import click


@click.group()
def rule() -> None:
    """Check, test and compare dynamic membership rules."""
