"""dynalite (a DynamoDB-API server on LevelDB, from npm) as the local store.

Installed once into the cache (``~/.cache/tidings/dynalite-<version>/node_modules``) with
npm; per stack home it keeps its LevelDB files in ``data/dynalite`` (they survive a
restart). It runs under ``local/emulators/dynalite_server.js``, which keeps it up when a client
is killed mid-request (dynalite itself throws on that and exits). Known gaps (see
/work/shared/notes/dynalite.md): no transactions, no streams, TTL settings are stored but
items never expire.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from local import paths
from local.stack import npm_cache

DYNALITE_VERSION = "4.0.0"
# Tables stay CREATING/DELETING/UPDATING this long (dynalite's default is 500 ms).
STATE_CHANGE_MS = 50
SERVER_JS = Path(__file__).resolve().parents[1] / "emulators" / "dynalite_server.js"


class DynaliteSetupError(RuntimeError):
    pass


def cache_home() -> Path:
    return paths.cache_dir() / f"dynalite-{DYNALITE_VERSION}"


def modules_path() -> Path:
    return cache_home() / "node_modules"


def cli_path() -> Path:
    return modules_path() / "dynalite" / "cli.js"


def is_installed() -> bool:
    return (cache_home() / "COMPLETE").exists() and cli_path().exists()


def install() -> Path:
    """npm-install dynalite into the cache (once); returns the path of its cli.js."""
    npm_cache.install(cache_home(), [f"dynalite@{DYNALITE_VERSION}"], expect="dynalite/cli.js",
                      error=DynaliteSetupError)
    return cli_path()


def data_dir(home_data: Path) -> Path:
    return home_data / "dynalite"


def argv(*, port: int, home_data: Path) -> list[str]:
    return [
        shutil.which("node") or "node", str(SERVER_JS),
        "--host", "127.0.0.1", "--port", str(port),
        "--path", str(data_dir(home_data)),
        "--createTableMs", str(STATE_CHANGE_MS),
        "--deleteTableMs", str(STATE_CHANGE_MS),
        "--updateTableMs", str(STATE_CHANGE_MS),
    ]


def env() -> dict[str, str]:
    return {"NODE_PATH": str(modules_path())}


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
