"""npm packages installed once into the download cache (dynalite; the web client's packages).

The install goes to a staging folder with a package.json of its own (so npm never walks up
into some parent project), its output to a log, and is renamed into place only when it
worked, with a COMPLETE stamp: a half-finished install is never taken for a finished one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from local.stack.kafka import file_lock
from local.stack.logs import tail

NPM_TIMEOUT_S = 20 * 60


def is_installed(home: Path) -> bool:
    return (home / "COMPLETE").exists()


def install(home: Path, specs: list[str], *, expect: str, error: type[Exception],
            timeout_s: float = NPM_TIMEOUT_S) -> Path:
    """npm-install `specs` into `home` (once, under a lock); returns home/node_modules.

    `expect` is a path under node_modules that must exist afterwards; `error` is the
    exception type raised, with the npm log's last lines, when anything goes wrong."""
    modules = home / "node_modules"
    if is_installed(home) and (modules / expect).exists():
        return modules
    with file_lock(home.parent / f".{home.name}.lock"):
        if is_installed(home) and (modules / expect).exists():
            return modules
        npm, node = shutil.which("npm"), shutil.which("node")
        if not npm or not node:
            raise error("node and npm must be on PATH (Node 20+; Debian: apt-get install nodejs npm)")
        staging = home.parent / f"{home.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "package.json").write_text(json.dumps(
            {"name": f"tidings-cache-{home.name}", "private": True, "description": "cache, made by local/"}))
        log = home.parent / f"{home.name}.npm.log"
        with open(log, "wb") as out:
            try:
                proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--save-exact", "--prefix",
                                       str(staging), *specs], stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=staging, timeout=timeout_s)
            except subprocess.TimeoutExpired as exc:
                raise error(f"npm install {' '.join(specs)} did not finish within {timeout_s:.0f}s; see {log}") from exc
        if proc.returncode != 0 or not (staging / "node_modules" / expect).exists():
            raise error(f"npm install {' '.join(specs)} failed (exit {proc.returncode}); "
                        f"last lines of {log}:\n{tail(log, 30)}")
        shutil.rmtree(home, ignore_errors=True)
        os.replace(staging, home)
        (home / "COMPLETE").write_text(f"{' '.join(specs)} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return modules
