"""Reading the components' log files: the last lines, the error lines of one start, following."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Callable


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block = min(size, max(8192, lines * 400))
            fh.seek(size - block)
            data = fh.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


_ERROR_LINE = re.compile(r"\b(ERROR|FATAL|SEVERE)\b|^Caused by: |^\S+(Exception|Error): ")


def error_lines(path: Path, offset: int = 0, limit: int = 8) -> list[str]:
    """Distinct error-looking lines written to path after offset (a start's own output)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(8 * 1024 * 1024)
    except FileNotFoundError:
        return []
    out: list[str] = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if _ERROR_LINE.search(line):
            key = re.sub(r"^\[[^]]*\] ", "", line)  # same message, other timestamp
            if key not in {re.sub(r"^\[[^]]*\] ", "", o) for o in out}:
                out.append(line[:400])
                if len(out) >= limit:
                    break
    return out


def follow(path: Path, lines: int = 30, *, out=None, stop: Callable[[], bool] = lambda: False) -> None:
    """Print the last lines of path, then new lines as they come (until interrupted)."""
    import sys

    out = out or sys.stdout
    out.write(tail(path, lines) + "\n")
    out.flush()
    pos = path.stat().st_size if path.exists() else 0
    while not stop():
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            time.sleep(0.3)
            continue
        if size < pos:  # rotated or truncated
            pos = 0
        if size > pos:
            with open(path, "rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
            pos += len(chunk)
            out.write(chunk.decode("utf-8", "replace"))
            out.flush()
        time.sleep(0.3)
