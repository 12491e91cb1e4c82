"""The apply lock of a local tenant: an OS lock on `<file>.lock` (flock on POSIX, msvcrt.locking
on Windows), which the OS releases when its process dies, so a crashed apply leaves none."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from reconciler.private_files import PRIVATE_MODE
from reconciler.providers.base import ProviderError, TenantBusyError

if sys.platform == "win32":
    import msvcrt

    _BUSY: tuple[type[OSError], ...] = (OSError,)  # msvcrt says only that the lock failed

    def _try_lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    _BUSY = (BlockingIOError,)  # any other OSError (no locks on this filesystem) is no "busy"

    # flock, not fcntl's record locks: those don't conflict between two opens in one process
    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """An exclusive lock on `<database>.lock`, taken when made; TenantBusyError after `timeout`."""

    def __init__(self, database: Path, timeout: float) -> None:
        try:
            # private, as the database beside it: it holds nothing, but names a tenant's file
            flags = os.O_RDWR | os.O_CREAT
            self._fd: int | None = os.open(f"{database}.lock", flags, PRIVATE_MODE)
        except OSError as exc:
            raise ProviderError(f"can't lock {database}: {exc.strerror}") from exc
        deadline = time.monotonic() + timeout
        while True:
            try:
                _try_lock(self._fd)
                return
            except _BUSY:
                if time.monotonic() >= deadline:
                    os.close(self._fd)
                    self._fd = None
                    raise TenantBusyError(f"another apply is running on {database}") from None
                time.sleep(0.05)

    def close(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None
