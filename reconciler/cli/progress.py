"""Progress of a long command on stderr, the only place it is shown.

At a terminal one line, redrawn in place (at most REDRAW_EVERY apart, a new stage at once):
the stage, its counts, its time so far; erased when the stage ends. In a log (stderr not a
terminal) a plain line every LOG_EVERY seconds while work goes on, so a run shorter than that
writes none (RECONCILER_PROGRESS_INTERVAL sets the seconds; 0 writes a line at every report).
With --quiet nothing. Never on stdout: `--format json` stays JSON.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TextIO

import click

from reconciler.render.safe_text import shown

__all__ = [
    "INTERVAL_VARIABLE",
    "Status",
    "StderrProgress",
    "progress_for",
    "quiet_option",
    "status_text",
]

INTERVAL_VARIABLE = "RECONCILER_PROGRESS_INTERVAL"
LOG_EVERY = 5.0  # seconds between lines in a log
REDRAW_EVERY = 0.1  # at a terminal: about ten redraws a second at most

Mode = Literal["live", "lines", "off"]


@dataclass(frozen=True, slots=True)
class Status:
    """How far a stage has got: steps of `total`, what it counted, seconds since it began."""

    stage: str
    steps: int
    total: int | None
    counts: tuple[tuple[str, int], ...]
    seconds: float


def status_text(status: Status, *, finished: bool = False) -> str:
    """One line: "reading tenant: 200 users, 9 groups (1.2s)", or "..., done in 1.2s"."""
    parts = [f"{status.steps}/{status.total}"] if status.total is not None else []
    if status.total is None and status.steps:
        parts.append(str(status.steps))
    parts += [f"{count} {what}" for what, count in status.counts]
    detail = ", ".join(parts)
    if finished:
        return f"{status.stage}: {detail + ', ' if detail else ''}done in {status.seconds:.1f}s"
    elapsed = f"({status.seconds:.1f}s)"
    return f"{status.stage}: {detail} {elapsed}" if detail else f"{status.stage} {elapsed}"


class StderrProgress:
    """Implements `reconciler.progress.Progress` on `stream`, in one of three modes: `live`
    (a terminal), `lines` (a log, a line every `interval` seconds of the run), `off`."""

    def __init__(
        self,
        stream: TextIO,
        mode: Mode,
        *,
        interval: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._mode: Mode = mode
        self._interval = interval
        self._clock = clock
        # reentrant: a caller inside `hold` may still report
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._stage: str | None = None
        self._steps = 0
        self._total: int | None = None
        self._counts: dict[str, int] = {}
        self._began = 0.0
        self._shown = False  # this stage is on the screen (live), or has a line (lines)
        self._drawn = 0  # characters of the live line now on the screen
        self._last_draw = -math.inf
        # the first line of a log waits a whole interval from the start of the run
        self._last_line = clock()

    # --- Progress ------------------------------------------------------------------------

    def stage(self, name: str, total: int | None = None) -> None:
        if self._mode == "off":
            return
        with self._lock:
            self._finish(shown_done=True)
            self._stage, self._total, self._steps, self._counts = name, total, 0, {}
            self._began = self._clock()
            # a stage is seen at once at a terminal: there are few of them
            if self._mode == "live":
                self._draw()
            elif self._interval == 0:
                self._line()
            self._start_ticker()

    def advance(self, n: int = 1, *, what: str | None = None) -> None:
        if self._mode == "off":
            return
        with self._lock:
            if self._stage is None:
                return  # counted outside any stage: nothing to add it to
            if what is None:
                self._steps += n
            else:
                self._counts[what] = self._counts.get(what, 0) + n
            if self._mode == "live":
                if self._clock() - self._last_draw >= REDRAW_EVERY:
                    self._draw()
            elif self._interval == 0:
                self._line()

    def done(self) -> None:
        if self._mode == "off":
            return
        with self._lock:
            self._finish(shown_done=True)

    # --- for the CLI ----------------------------------------------------------------------

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keeps the screen still while the caller writes: the live line is erased first and
        drawn again after (by the ticker), so other output never lands in the middle of it."""
        with self._lock:
            if self._mode == "live" and self._shown:
                self._erase()
                self._shown = False
            yield

    def close(self, *, failed: bool = False) -> None:
        """Stops the ticker and ends the stage; a failed run's stage isn't said to be done."""
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1.0)
        with self._lock:
            self._finish(shown_done=not failed)
            self._mode = "off"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)

    # --- drawing (with the lock held) ---------------------------------------------------

    def _status(self) -> Status:
        assert self._stage is not None
        seconds = self._clock() - self._began
        return Status(self._stage, self._steps, self._total, tuple(self._counts.items()), seconds)

    def _finish(self, *, shown_done: bool) -> None:
        if self._stage is None:
            return
        if self._mode == "live" and self._shown:
            self._erase()
        elif self._mode == "lines" and self._shown and shown_done:
            # a stage the log mentioned gets its end too, with what it counted
            self._write(f"progress: {shown(status_text(self._status(), finished=True))}\n")
        self._stage, self._shown = None, False

    def _draw(self) -> None:
        # a full row would wrap, and \r go back to the wrong one
        text = shown(status_text(self._status()))[: _columns(self._stream) - 1]
        # over the line before: spaces where it was longer, and the cursor back after the text;
        # no escape sequence, so any terminal draws it (TERM=dumb too), and NO_COLOR's screen
        # gets none at all
        rest = max(self._drawn - len(text), 0)
        self._write(f"\r{text}{' ' * rest}{chr(8) * rest}")
        self._drawn, self._last_draw, self._shown = len(text), self._clock(), True

    def _erase(self) -> None:
        self._write(f"\r{' ' * self._drawn}\r")
        self._drawn = 0

    def _line(self) -> None:
        self._write(f"progress: {shown(status_text(self._status()))}\n")
        self._last_line, self._shown = self._clock(), True

    def _tick(self) -> None:
        with self._lock:
            if self._stage is None:
                return
            if self._mode == "live":
                self._draw()  # the time goes on even when nothing is reported
            elif self._mode == "lines" and self._clock() - self._last_line >= self._interval:
                self._line()

    def _start_ticker(self) -> None:
        # work that reports nothing for a while (planning) still gets its line
        if self._ticker is not None or (self._mode == "lines" and self._interval == 0):
            return
        period = REDRAW_EVERY if self._mode == "live" else min(self._interval, 0.5)

        def tick() -> None:
            while not self._stopped.wait(period):
                self._tick()

        self._ticker = threading.Thread(target=tick, name="progress", daemon=True)
        self._ticker.start()

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._mode = "off"  # stderr closed or gone: progress never fails a command


def progress_for(
    quiet: bool, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> StderrProgress:
    """The progress a command shows: none with --quiet, live at a terminal, else log lines."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    if quiet:
        return StderrProgress(stream, "off")
    if _is_terminal(stream):
        return StderrProgress(stream, "live")
    return StderrProgress(stream, "lines", interval=_interval(environ.get(INTERVAL_VARIABLE)))


def quiet_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --quiet/-q; the command receives `progress: StderrProgress`, closed when it ends."""

    @click.option("--quiet", "-q", "quiet", is_flag=True, help="Show no progress on stderr.")
    @functools.wraps(command)
    def wrapper(*args: Any, quiet: bool, **kwargs: Any) -> Any:
        context = click.get_current_context()
        # closed before the error of a failed run is shown, which erases the live line first
        progress = context.with_resource(progress_for(quiet))
        return command(*args, progress=progress, **kwargs)

    return wrapper


def _interval(value: str | None) -> float:
    """The seconds between log lines that RECONCILER_PROGRESS_INTERVAL asks for, if sensible."""
    try:
        seconds = float(value) if value is not None else LOG_EVERY
    except ValueError:
        return LOG_EVERY  # a diagnostics knob set wrong costs the default, not the run
    return seconds if math.isfinite(seconds) and seconds >= 0 else LOG_EVERY


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80
