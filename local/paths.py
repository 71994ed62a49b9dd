"""Where the local stack keeps things.

- the stack's home (run state): ``./.tidings`` in the repo, or ``$TIDINGS_HOME``;
  inside it ``data/`` (broker and store data), ``logs/`` (one log per component) and
  ``run/`` (pid files, rendered configs, the port map of the last ``up``).
- the download cache (Kafka jars, the dynalite npm package), shared by every home:
  ``~/.cache/tidings``, or ``$TIDINGS_CACHE_DIR``. It lives outside git.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(__file__).resolve().parent

HOME_ENV = "TIDINGS_HOME"
CACHE_ENV = "TIDINGS_CACHE_DIR"


def default_home() -> Path:
    raw = os.environ.get(HOME_ENV)
    return Path(raw).expanduser().resolve() if raw else REPO_ROOT / ".tidings"


def cache_dir() -> Path:
    raw = os.environ.get(CACHE_ENV)
    if raw:
        return Path(raw).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "tidings").resolve()


class HomeLayout:
    """The directories of one stack home."""

    def __init__(self, home: Path | str):
        self.home = Path(home).expanduser().resolve()
        self.data = self.home / "data"
        self.logs = self.home / "logs"
        self.run = self.home / "run"

    def create(self) -> None:
        for path in (self.home, self.data, self.logs, self.run):
            path.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"HomeLayout({str(self.home)!r})"
