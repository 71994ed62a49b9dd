"""local/package.py: the Lambda zip (functions/ + manylinux wheels for the Lambda runtime)."""

from __future__ import annotations

import json
import zipfile

import pytest

import iacutil as u
from local import package

# The first build downloads the Lambda wheels (about 20 MB) into the cache.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("lambda")
    try:
        path = package.build(out)
    except package.PackageError as exc:
        pytest.fail(f"the Lambda package could not be built: {exc}", pytrace=False)
    with zipfile.ZipFile(path) as zf:
        return path, {i.filename: i for i in zf.infolist()}, zf.read("functions/_package.json")


def test_zip_contains_every_function_source(built):
    _, entries, _ = built
    for src in sorted((u.ROOT / "functions").glob("*.py")):
        assert f"functions/{src.name}" in entries, src.name
    assert not [n for n in entries if "__pycache__" in n or n.endswith(".pyc")]


def test_zip_contains_the_worker_and_http_handlers(built):
    _, entries, _ = built
    assert "functions/chat_worker.py" in entries
    assert "functions/http_api.py" in entries


def test_zip_has_linux_wheels_for_the_lambda_architecture(built):
    _, entries, manifest = built
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[package.LAMBDA_ARCH]
    orjson = [n for n in entries if n.startswith("orjson/") and n.endswith(".so")]
    assert orjson == [f"orjson/orjson.cpython-312-{machine}-linux-gnu.so"]
    assert any(n.startswith("cryptography/") and n.endswith(".so") for n in entries)
    for dist in ("jwt/", "structlog/", "boto3/", "botocore/"):
        assert any(n.startswith(dist) for n in entries), dist
    info = json.loads(manifest)
    assert info["runtime"] == package.LAMBDA_RUNTIME == "python3.12"
    assert info["architecture"] == package.LAMBDA_ARCH
    assert info["distributions"]["orjson"] == "3.13.0"


def test_zip_is_reproducible(built, tmp_path):
    path, _, _ = built
    again = package.build(tmp_path)
    assert again.read_bytes() == path.read_bytes(), "same inputs must give the same zip (source_code_hash)"
    assert package.sha256_b64(again) == package.sha256_b64(path)


def test_zip_fits_lambda_limits(built):
    path, entries, _ = built
    assert path.stat().st_size < 50 * 1024 * 1024, "direct upload limit"
    assert sum(i.file_size for i in entries.values()) < 250 * 1024 * 1024, "unzipped limit"


def test_import_check_catches_a_missing_dependency(tmp_path):
    src = tmp_path / "functions"
    src.mkdir()
    (src / "x.py").write_text("import os\nimport requests_not_shipped\nfrom functions import y\n")
    site = tmp_path / "site"
    site.mkdir()
    with pytest.raises(package.PackageError, match="requests_not_shipped"):
        package.check_imports(site, src)
    (site / "requests_not_shipped").mkdir()
    package.check_imports(site, src)


def test_pins_follow_pyproject():
    pins = package.resolve_pins()
    assert pins["orjson"] == "3.13.0" and pins["pyjwt"] == "2.15.1"
    assert "cryptography" in pins  # PyJWT[crypto]
    assert "gevent" not in pins and "confluent-kafka" not in pins  # edge-only
