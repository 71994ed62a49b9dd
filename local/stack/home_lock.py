"""One stack home, one supervisor at a time: a lock that is reentrant within a process
(threads wait on an RLock) and exclusive across processes (flock on ``run/stack.lock``).
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import Callable


class HomeLock:
    def __init__(self, path: Path, before_first: Callable[[], None]):
        """path: the lock file; before_first: runs before the outermost acquisition (it may
        refuse by raising, e.g. an unwritable home) and before the file is opened."""
        self._path = path
        self._before_first = before_first
        self._lock = threading.RLock()
        self._depth = 0
        self._file = None

    def acquire(self) -> None:
        self._lock.acquire()
        if self._depth == 0:
            try:
                self._before_first()
                self._file = open(self._path, "w")
                fcntl.flock(self._file, fcntl.LOCK_EX)
            except BaseException:
                self._lock.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self._lock.release()

    def __enter__(self) -> "HomeLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
