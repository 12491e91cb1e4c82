"""What long work reports as it goes: the stage it is in, how far along, and when it is over.

Nothing below the CLI prints (docs/design.md), so a reader of a tenant or a writer of files
takes a `Progress` and reports to it; the CLI decides whether and how that is shown
(cli/progress.py). Work that isn't watched gets `NO_PROGRESS`, which does nothing.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["NO_PROGRESS", "Progress"]


class Progress(Protocol):
    """Hears of a long piece of work as it goes; its methods may be called from any thread
    (a Graph read runs several at once), and return at once."""

    def stage(self, name: str, total: int | None = None) -> None:
        """`name` begins (what is read or computed), `total` steps long if that is known;
        the stage before it, if any, is over."""
        ...

    def advance(self, n: int = 1, *, what: str | None = None) -> None:
        """`n` more steps of the stage done, or with `what`, `n` more of what it counts
        ("users", "groups"), shown as "N what"."""
        ...

    def done(self) -> None:
        """The stage is over (nothing happens if none is under way)."""
        ...


class _NoProgress:
    """Progress nobody watches."""

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1, *, what: str | None = None) -> None:
        pass

    def done(self) -> None:
        pass


NO_PROGRESS: Final[Progress] = _NoProgress()
