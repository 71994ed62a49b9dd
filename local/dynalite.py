"""dynalite (a DynamoDB-API server on LevelDB, from npm) as the local store.

Installed once into the cache (``~/.cache/tidings/dynalite-<version>/node_modules``) with
npm; per stack home it keeps its LevelDB files in ``data/dynalite`` (they survive a
restart). Known gaps (see /work/shared/notes/dynalite.md): no transactions, no streams,
TTL settings are stored but items never expire.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from local import paths
from local.kafka import file_lock
from local.process import tail

DYNALITE_VERSION = "4.0.0"
NPM_TIMEOUT_S = 20 * 60
# Tables stay CREATING/DELETING/UPDATING this long (dynalite's default is 500 ms).
STATE_CHANGE_MS = 50


class DynaliteSetupError(RuntimeError):
    pass


def cache_home() -> Path:
    return paths.cache_dir() / f"dynalite-{DYNALITE_VERSION}"


def cli_path() -> Path:
    return cache_home() / "node_modules" / "dynalite" / "cli.js"


def is_installed() -> bool:
    return (cache_home() / "COMPLETE").exists() and cli_path().exists()


def install() -> Path:
    """npm-install dynalite into the cache (once); returns the path of its cli.js."""
    if is_installed():
        return cli_path()
    home = cache_home()
    with file_lock(home.parent / f".dynalite-{DYNALITE_VERSION}.lock"):
        if is_installed():
            return cli_path()
        npm, node = shutil.which("npm"), shutil.which("node")
        if not npm or not node:
            raise DynaliteSetupError("node and npm must be on PATH to run dynalite (Node 20+; "
                                     "Debian: apt-get install nodejs npm)")
        staging = home.parent / f"dynalite-{DYNALITE_VERSION}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        # A package.json of its own keeps npm from walking up to some parent project.
        (staging / "package.json").write_text(json.dumps(
            {"name": "tidings-local-dynalite", "private": True, "description": "cache, made by local/dynalite.py"}))
        npm_log = home.parent / f"dynalite-{DYNALITE_VERSION}.npm.log"
        with open(npm_log, "wb") as out:
            try:
                proc = subprocess.run(
                    [npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging),
                     f"dynalite@{DYNALITE_VERSION}"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=staging,
                    timeout=NPM_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired as exc:
                raise DynaliteSetupError(f"npm did not install dynalite within {NPM_TIMEOUT_S}s; see {npm_log}") from exc
        if proc.returncode != 0 or not (staging / "node_modules" / "dynalite" / "cli.js").exists():
            raise DynaliteSetupError(f"npm install dynalite@{DYNALITE_VERSION} failed (exit {proc.returncode}); "
                                     f"last lines of {npm_log}:\n{tail(npm_log, 30)}")
        shutil.rmtree(home, ignore_errors=True)
        os.replace(staging, home)
        (home / "COMPLETE").write_text(f"dynalite@{DYNALITE_VERSION} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return cli_path()


def data_dir(home_data: Path) -> Path:
    return home_data / "dynalite"


def argv(*, port: int, home_data: Path) -> list[str]:
    return [
        shutil.which("node") or "node", str(cli_path()),
        "--host", "127.0.0.1", "--port", str(port),
        "--path", str(data_dir(home_data)),
        "--createTableMs", str(STATE_CHANGE_MS),
        "--deleteTableMs", str(STATE_CHANGE_MS),
        "--updateTableMs", str(STATE_CHANGE_MS),
    ]


_PROBES: dict[str, object] = {}


def ready(endpoint: str, region: str = "us-east-1") -> bool:
    """dynalite answers a ListTables call."""
    client = _PROBES.get(endpoint)
    if client is None:
        import boto3
        from botocore.config import Config

        client = _PROBES[endpoint] = boto3.session.Session().client(
            "dynamodb", endpoint_url=endpoint, region_name=region,
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=2),
        )
    client.list_tables(Limit=1)
    return True
