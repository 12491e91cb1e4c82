"""Files that hold tenant data (users, groups, licenses), written so only their owner reads them.

* A file is written whole or not at all: into a temporary file beside it, then put in its place
  with `os.replace`, so a reader never sees half of it and a failed write leaves the old one.
* Only a regular file is ever replaced. A directory, a FIFO or a device (`/dev/null`, a
  terminal) is refused before anything is written: writing there would block, vanish or land
  somewhere else. A symbolic link is followed: the file it points to is replaced, the link kept.
* A new private file is created 0600 and a new folder for one 0700, less what the umask takes
  away (the system applies it, so nothing here reads or changes the umask). A private file that
  is replaced keeps the mode it had where that is narrower, and never more than 0600: an export
  once written 0644 becomes 0600.
* Files that hold no tenant data (policy and lock files) are written the same way with
  `private=False`: created as any file is (0666 less the umask), and a file replaced keeps its
  mode.

The audit log is appended to, not replaced: `open_private` opens a file for that.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from reconciler.errors import InputError, Location

__all__ = [
    "FOLDER_MODE",
    "PRIVATE_MODE",
    "open_private",
    "private_dir",
    "regular_target",
    "replacing",
    "write_atomic",
    "write_private",
    "writing_text",
]

PRIVATE_MODE = 0o600  # owner reads and writes; the umask can only take more away
FOLDER_MODE = 0o700
_PUBLIC_MODE = 0o666  # what open() creates a file with, before the umask
_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise turn "\n" into "\r\n"
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str | None:
    """What a file of this `st_mode` is, when it isn't a regular file ("a FIFO"); else None."""
    return next((kind for test, kind in _KINDS if test(mode)), None)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """`path` as a folder, it and each missing parent made 0700 (less the umask); folders that
    exist are left as they are."""
    folder = Path(path)
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for each in reversed(missing):
        try:
            os.mkdir(each, FOLDER_MODE)
        except FileExistsError:
            if not each.is_dir():
                raise _refused(each, "a file") from None
        except OSError as exc:
            raise InputError(f"can't create folder: {exc.strerror}", Location(str(each))) from exc
    return Path(path)


def regular_target(path: str | os.PathLike[str]) -> Path:
    """Where writing `path` writes (a symbolic link followed); InputError unless that is a
    regular file or nothing yet."""
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc
    kind = file_kind(mode)
    if kind is not None:
        raise _refused(Path(path), kind)
    return target


def write_private(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a file of tenant data whole: 0600 (less the umask), or narrower if it was."""
    write_atomic(path, data, private=True)


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, private: bool) -> None:
    """Write `data` (text as UTF-8, line ends as given) to `path` whole; InputError if it can't."""
    with replacing(path, private=private) as temporary:
        try:
            with open(temporary, "wb") as out:
                out.write(data.encode("utf-8") if isinstance(data, str) else data)
        except OSError as exc:
            raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc


@contextmanager
def writing_text(path: str | os.PathLike[str], *, private: bool = True) -> Iterator[TextIO]:
    """A UTF-8 text file to write `path` through, put in its place when the block ends without
    an error (and left out otherwise): for output written as it is made, such as a report."""
    with replacing(path, private=private) as temporary:
        try:
            with open(temporary, "w", encoding="utf-8", newline="") as out:
                yield out
        except OSError as exc:
            raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc


@contextmanager
def replacing(path: str | os.PathLike[str], *, private: bool = True) -> Iterator[Path]:
    """An empty temporary file beside `path`, with the mode `path` should get, to fill (SQLite
    can write into it); it replaces `path` when the block ends without an error, and is removed
    otherwise. InputError if `path` is not a regular file or can't be written."""
    target = regular_target(path)
    temporary = _create_beside(target, path, private)
    try:
        yield temporary
        try:
            os.replace(temporary, target)
        except OSError as exc:
            raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc
    finally:
        temporary.unlink(missing_ok=True)


def open_private(path: str | os.PathLike[str], mode: str = "a+b") -> BinaryIO:
    """`path` opened to append (`mode` "ab", or "a+b" to read it too), created 0600 (less the
    umask) in a 0700 folder if missing; InputError if it is not a regular file or can't be
    opened. A file that exists keeps its mode."""
    if mode not in ("ab", "a+b"):
        raise ValueError(f"open_private appends: mode 'ab' or 'a+b', not {mode!r}")
    target = regular_target(path)
    private_dir(target.parent)
    flags = os.O_CREAT | os.O_APPEND | _BINARY | (os.O_RDWR if "+" in mode else os.O_WRONLY)
    try:
        descriptor = os.open(target, flags, PRIVATE_MODE)
    except OSError as exc:
        raise InputError(f"can't open file: {exc.strerror}", Location(str(path))) from exc
    return os.fdopen(descriptor, mode)


def _create_beside(target: Path, path: str | os.PathLike[str], private: bool) -> Path:
    """A new empty file in `target`'s folder, created with the mode `target` should get."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | _BINARY
    # the system takes the umask away from the mode a file is created with
    created = PRIVATE_MODE if private else _PUBLIC_MODE
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temporary, flags, created))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc
    try:
        old = os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        return temporary
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc
    # a private file keeps a narrower mode it had; any other file keeps its mode as it is
    mode = os.stat(temporary).st_mode & 0o777 & old if private else old
    try:
        os.chmod(temporary, mode)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"can't write file: {exc.strerror}", Location(str(path))) from exc
    return temporary


def _refused(path: Path, kind: str) -> InputError:
    return InputError(f"won't write here: it is {kind}, not a regular file", Location(str(path)))
