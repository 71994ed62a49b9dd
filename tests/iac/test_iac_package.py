"""local/deploy/package.py: the Lambda zip (functions/ + wheels for the Lambda runtime)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import iacutil as u
from local.deploy import package

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
    assert "functions/http/api.py" in entries


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
    assert "gevent" not in pins and "falcon" not in pins  # edge-only
    # the HTTP function produces message changes to MSK (IAM auth)
    assert pins["confluent-kafka"] == "2.16.1" and pins["aws-msk-iam-sasl-signer-python"] == "1.0.2"
    # the attachment check decodes photos, HEIC through pillow-heif
    assert pins["pillow"] == "13.0.0" and pins["pillow-heif"] == "1.8.1"


# ELF e_machine of the Lambda architectures (a native extension must be built for it).
_ELF_MACHINE = {"arm64": 183, "x86_64": 62}


def test_every_native_extension_is_for_the_lambda_architecture(built):
    path, entries, _ = built
    native = [n for n in entries if n.endswith(".so") or ".so." in n]
    assert native, "no native extension at all (orjson, cryptography)?"
    with zipfile.ZipFile(path) as zf:
        for name in native:
            with zf.open(name) as f:
                head = f.read(20)
            assert head[:4] == b"\x7fELF", name
            assert int.from_bytes(head[18:20], "little") == _ELF_MACHINE[package.LAMBDA_ARCH], name


def test_zip_contains_the_push_senders_libraries(built):
    _, entries, manifest = built
    for top in ("pywebpush/", "http_ece/", "py_vapid/", "google/auth/", "google/oauth2/", "httpx/", "h2/", "requests/"):
        assert any(n.startswith(top) for n in entries), top
    dists = json.loads(manifest)["distributions"]
    # http-ece publishes no wheel: it was built here from its sdist, as a pure-Python wheel
    assert dists["http-ece"] == "1.2.1" and dists["pywebpush"] == "2.5.0" and dists["py-vapid"] == "1.9.6"
    assert not [n for n in entries if n.startswith("http_ece/") and not n.endswith(".py")]


def test_zip_contains_the_photo_libraries_heic_included(built):
    _, entries, _ = built
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[package.LAMBDA_ARCH]
    for top in ("PIL/", "pillow_heif/"):
        assert any(n.startswith(top) for n in entries), top
    # pillow-heif's libheif binding, built for the Lambda's CPython and architecture
    assert any("_pillow_heif.cpython-312-" in n and n.endswith(f"-{machine}-linux-gnu.so") for n in entries)


def test_build_refuses_a_zip_without_a_library_functions_imports(tmp_path, monkeypatch):
    pins = package.resolve_pins()
    without = {n: v for n, v in pins.items() if n not in ("pywebpush", "py-vapid")}
    monkeypatch.setattr(package, "resolve_pins", lambda arch=package.LAMBDA_ARCH: without)
    with pytest.raises(package.PackageError, match=r"pywebpush \(imported by functions/push/webpush.py\)"):
        package.build(tmp_path)
    assert not list(tmp_path.iterdir()), "no zip is written"


@pytest.mark.parametrize("wheel, ok", [
    ("http_ece-1.2.1-py2.py3-none-any.whl", True),
    ("cryptography-50.0.2-cp311-abi3-manylinux2014_aarch64.manylinux_2_17_aarch64.whl", True),
    ("orjson-3.13.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", True),
    ("orjson-3.13.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False),
    ("orjson-3.13.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", False),
    ("orjson-3.13.0-cp312-cp312-musllinux_1_2_aarch64.whl", False),
    ("fastthing-1.0-cp312-cp312-linux_aarch64.whl", False),
    ("fastthing-1.0-cp312-cp312-macosx_11_0_arm64.whl", False),
])
def test_only_pure_or_lambda_platform_wheels_are_accepted(wheel, ok):
    if ok:
        package.check_lambda_wheel(wheel, "arm64")
    else:
        with pytest.raises(package.PackageError, match="native code"):
            package.check_lambda_wheel(wheel, "arm64")


def test_an_sdist_that_builds_native_code_is_refused(tmp_path, monkeypatch):
    """Only pure-Python distributions may be built from source: a build here is for this
    machine, not for the Lambda runtime."""
    def fake_pip(args, what):
        out = Path(args[args.index("--wheel-dir") + 1])
        name = "fastthing-1.0-cp311-cp311-linux_x86_64.whl" if "fastthing" in args[-1] else "purething-1.0-py3-none-any.whl"
        (out / name).write_bytes(b"")

    monkeypatch.setattr(package, "_run_pip", fake_pip)
    with pytest.raises(package.PackageError, match="only pure-Python packages"):
        package._wheel_from_sdist(tmp_path / "fastthing-1.0.tar.gz", tmp_path / "a", "arm64")
    wheel = package._wheel_from_sdist(tmp_path / "purething-1.0.tar.gz", tmp_path / "b", "arm64")
    assert wheel.name == "purething-1.0-py3-none-any.whl"
