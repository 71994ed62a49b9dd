"""s3rver (an S3-API server on the file system, from npm) as the local S3 of photo attachments.

Installed once into the cache (``~/.cache/tidings/s3rver-<version>/node_modules``) with npm,
like dynalite; per stack home it keeps the bucket's files in ``data/s3rver`` (they survive a
restart). It runs under ``local/emulators/s3_server.js``, which adds what tidings relies on
and s3rver does not do: SigV4 checks of presigned requests (signed Content-Length and
Content-Type of an upload) and ObjectCreated notifications to the check function.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from local import paths
from local.stack import npm_cache

S3RVER_VERSION = "3.7.1"
# s3rver's built-in account; any other key is refused (InvalidAccessKeyId).
ACCESS_KEY = SECRET_KEY = "S3RVER"
SERVER_JS = Path(__file__).resolve().parents[1] / "emulators" / "s3_server.js"
# The browser uploads (PUT) and fetches (GET) straight from the bucket: any local page may
# (the Compose image uses the same file).
CORS_FILE = SERVER_JS.parent / "s3rver-cors.xml"


class S3rverSetupError(RuntimeError):
    pass


def cache_home() -> Path:
    return paths.cache_dir() / f"s3rver-{S3RVER_VERSION}"


def modules_path() -> Path:
    return cache_home() / "node_modules"


def is_installed() -> bool:
    return (cache_home() / "COMPLETE").exists() and (modules_path() / "s3rver" / "package.json").exists()


def install() -> Path:
    """npm-install s3rver into the cache (once); returns its node_modules."""
    return npm_cache.install(cache_home(), [f"s3rver@{S3RVER_VERSION}"], expect="s3rver/package.json",
                             error=S3rverSetupError)


def data_dir(home_data: Path) -> Path:
    return home_data / "s3rver"


def prepare(home_data: Path) -> None:
    data_dir(home_data).mkdir(parents=True, exist_ok=True)


def argv(*, port: int, home_data: Path, bucket: str, notify_url: str | None, notify_prefix: str) -> list[str]:
    out = [shutil.which("node") or "node", str(SERVER_JS), "--port", str(port),
           "--directory", str(data_dir(home_data)), "--bucket", bucket,
           "--cors", str(CORS_FILE), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]
    if notify_url:
        out += ["--notify", notify_url, "--notify-prefix", notify_prefix]
    return out


def env() -> dict[str, str]:
    return {"NODE_PATH": str(modules_path())}


_PROBES: dict[str, object] = {}


def ready(endpoint: str, bucket: str) -> bool:
    """The bucket answers a signed HeadBucket."""
    client = _PROBES.get(endpoint)
    if client is None:
        import boto3
        from botocore.config import Config

        client = _PROBES[endpoint] = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=2))
    client.head_bucket(Bucket=bucket)
    return True
