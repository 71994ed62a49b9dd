"""Build the Lambda deployment zip, and write iac/'s generated inputs (made by tfvars.py).

    python -m local.deploy.package build [OUT_DIR]     # -> OUT_DIR/tidings-functions.zip (default dist/)
    python -m local.deploy.package tables [--check]    # -> iac/tables.auto.tfvars.json
    python -m local.deploy.package kafka [--check]     # -> iac/kafka.auto.tfvars.json

The zip holds ``functions/`` and its runtime dependencies, downloaded as wheels for the
Lambda runtime (python3.12 on arm64, see LAMBDA_ARCH; iac/ uses the same architecture and a
test compares them). A distribution that publishes no wheel for that platform (http-ece is
an sdist only) is built into a wheel here from its source distribution, and kept only if
that wheel is pure Python (``py*-none-any``): anything with native code must come as a
manylinux wheel for the Lambda architecture, since a build here would be for this machine. Every distribution is pinned to the version installed here, the one
the tests ran against: the top-level ones come from pyproject.toml, their dependencies are
resolved from the installed metadata. boto3/botocore are shipped too rather than taken
from the runtime, so the Lambda runs the same SDK version as the tests.

The build is reproducible: same inputs give the same bytes (sorted entries, fixed
timestamps and modes), so Terraform's source_code_hash only changes when the code does.
Wheels, the downloaded and the built ones, are cached (see wheelhouse()), so rebuilds use the
very same files.
Before writing the zip, every module that functions/ imports is checked to be either the
standard library, functions/ itself or a shipped distribution.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from local.deploy import tfvars

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
ZIP_NAME = "tidings-functions.zip"

# The Lambda runtime the zip targets. iac/ declares the same (runtime, architectures).
LAMBDA_RUNTIME = "python3.12"
LAMBDA_PYTHON = "3.12"
LAMBDA_ARCH = "arm64"  # Graviton: about 20 % cheaper per GB-second than x86_64
_PIP_PLATFORMS = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}

# Top-level distributions functions/ needs at run time (versions come from pyproject.toml).
LAMBDA_REQUIREMENTS = (
    "boto3", "orjson", "PyJWT[crypto]", "structlog", "emoji",
    "Pillow", "pillow-heif",   # functions/attachment_check.py (decoding check, thumbnails; HEIC)
    # functions/push (the notifier's senders); http-ece has no wheel, it is built from source
    "google-auth", "httpx[http2]", "pywebpush", "http-ece", "py-vapid", "requests",
    # functions/http/changes.py: edits, deletes, reactions produced to MSK (IAM auth)
    "confluent-kafka", "aws-msk-iam-sasl-signer-python",
)

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(RuntimeError):
    """The package cannot be built; the message says why."""


# --- requirements -------------------------------------------------------------------------

def _pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {}
    for spec in data["project"]["dependencies"]:
        req = Requirement(spec)
        pins[canonicalize_name(req.name)] = str(req.specifier)
    return pins


def _marker_env(arch: str, extra: str = "") -> dict[str, str]:
    return {
        "python_version": LAMBDA_PYTHON,
        "python_full_version": LAMBDA_PYTHON + ".0",
        "implementation_name": "cpython",
        "implementation_version": LAMBDA_PYTHON + ".0",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": _MACHINE[arch],
        "platform_release": "",
        "platform_version": "",
        "extra": extra,
    }


def resolve_pins(arch: str = LAMBDA_ARCH, top_level=LAMBDA_REQUIREMENTS) -> dict[str, str]:
    """{distribution: version} for the closure of `top_level`, pinned to what is installed.

    Top-level versions must equal pyproject.toml's pins (so a stale environment is caught);
    transitive ones are whatever this environment resolved, which is what the tests used.
    """
    pyproject = _pyproject_pins()
    pins: dict[str, str] = {}
    todo = [(Requirement(spec), True) for spec in top_level]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        req, is_top = todo.pop()
        name = canonicalize_name(req.name)
        extras = tuple(sorted(req.extras))
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError as exc:
            raise PackageError(f"{req.name} is not installed here; install the project first (pip install -e .)") from exc
        if is_top:
            wanted = pyproject.get(name)
            if wanted is None:
                raise PackageError(f"{req.name} is not a dependency in pyproject.toml")
            if not Requirement(f"{name}{wanted}").specifier.contains(dist.version, prereleases=True):
                raise PackageError(f"{req.name} {dist.version} is installed but pyproject.toml pins {wanted}")
        pins[name] = dist.version
        for spec in dist.requires or []:
            sub = Requirement(spec)
            if sub.marker is None or any(sub.marker.evaluate(_marker_env(arch, e)) for e in ("",) + extras):
                todo.append((sub, False))
    return dict(sorted(pins.items()))


# --- import check -------------------------------------------------------------------------

def imported_top_level_modules(src_dir: Path = FUNCTIONS_DIR) -> dict[str, set[str]]:
    """{top-level module: {files importing it}} for absolute imports under src_dir."""
    found: dict[str, set[str]] = {}
    for path in sorted(src_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(src_dir.parent)))
    return found


def check_imports(site_dir: Path, src_dir: Path = FUNCTIONS_DIR) -> None:
    missing = {}
    for module, files in imported_top_level_modules(src_dir).items():
        if module in sys.stdlib_module_names or module == "__future__" or module == src_dir.name:
            continue
        if (site_dir / module).is_dir() or (site_dir / f"{module}.py").exists() or any(site_dir.glob(f"{module}.*.so")):
            continue
        missing[module] = sorted(files)
    if missing:
        lines = [f"  {m} (imported by {', '.join(f)})" for m, f in sorted(missing.items())]
        raise PackageError(
            "functions/ imports modules the Lambda package would not contain:\n" + "\n".join(lines)
            + "\nadd their distribution to LAMBDA_REQUIREMENTS in local/deploy/package.py (and pyproject.toml)"
        )


# --- build --------------------------------------------------------------------------------

def wheelhouse(arch: str = LAMBDA_ARCH) -> Path:
    """Where the Lambda wheels are cached (so rebuilds need no network)."""
    base = Path(os.environ.get("TIDINGS_CACHE_DIR") or Path.home() / ".cache" / "tidings")
    return base / f"lambda-wheels-py{LAMBDA_PYTHON}-{arch}"


def _platform_args(arch: str) -> list[str]:
    # No --only-binary: with --no-deps pip then takes the platform's wheel where there is one
    # and the sdist where there is none (the sdist is built and checked by _wheel_from_sdist).
    args = ["--no-deps", "--implementation", "cp", "--python-version", LAMBDA_PYTHON]
    for platform in _PIP_PLATFORMS[arch]:
        args += ["--platform", platform]
    return args


def _cached_wheels(directory: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for wheel in directory.glob("*.whl"):
        try:
            name, version, _, _ = parse_wheel_filename(wheel.name)
        except ValueError:
            continue
        found.setdefault(str(name), set()).add(str(version))
    return found


def _run_pip(args: list[str], what: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PackageError(f"pip could not {what}:\n" + (proc.stderr or proc.stdout)[-4000:])


def is_pure_wheel(wheel_name: str) -> bool:
    """True for a wheel that runs anywhere (py3-none-any and the like)."""
    _, _, _, tags = parse_wheel_filename(wheel_name)
    return all(t.interpreter.startswith("py") and t.abi == "none" and t.platform == "any" for t in tags)


def check_lambda_wheel(wheel_name: str, arch: str = LAMBDA_ARCH) -> None:
    """Refuse a wheel the Lambda runtime cannot load: it must be pure Python, or built for
    CPython 3.12 (or an abi3 before it) on manylinux for the Lambda architecture."""
    if is_pure_wheel(wheel_name):
        return
    _, _, _, tags = parse_wheel_filename(wheel_name)
    lambda_py = "cp" + LAMBDA_PYTHON.replace(".", "")
    for t in tags:
        if (t.platform.startswith("manylinux") and t.platform.endswith("_" + _MACHINE[arch])
                and (t.interpreter == lambda_py or t.abi == "abi3")):
            return
    raise PackageError(
        f"{wheel_name} is not for the Lambda runtime ({LAMBDA_RUNTIME} on {arch}): a distribution "
        "with native code must come as a manylinux wheel for that architecture"
    )


def _wheel_from_sdist(sdist: Path, out: Path, arch: str) -> Path:
    """Build a source distribution into a wheel; only a pure-Python one may be shipped."""
    build_dir = out / f"build-{sdist.name}"
    build_dir.mkdir(parents=True)
    _run_pip(["wheel", "--no-deps", "--wheel-dir", str(build_dir), str(sdist)],
             f"build a wheel from {sdist.name} (no {arch} wheel is published for it)")
    (wheel,) = build_dir.glob("*.whl")
    if not is_pure_wheel(wheel.name):
        raise PackageError(
            f"{sdist.name} has no wheel for {LAMBDA_RUNTIME} on {arch}, and its source builds "
            f"{wheel.name}, which has native code for this machine: only pure-Python packages "
            "may be built from source for the Lambda zip"
        )
    return wheel


def _fetch_wheels(pins: dict[str, str], house: Path, arch: str) -> None:
    """Put a wheel for each pin into the wheelhouse: the platform's, or one built from source."""
    with tempfile.TemporaryDirectory(prefix="tidings-wheels-") as tmp:
        downloads = Path(tmp) / "downloads"
        _run_pip(["download", *_platform_args(arch), "--dest", str(downloads),
                  *[f"{n}=={v}" for n, v in pins.items()]],
                 "download the Lambda wheels (is the package index reachable?)")
        for path in sorted(downloads.iterdir()):
            wheel = path if path.suffix == ".whl" else _wheel_from_sdist(path, Path(tmp), arch)
            check_lambda_wheel(wheel.name, arch)
            # The wheelhouse may be shared by several checkouts: never show a partial file.
            part = house / f".{wheel.name}.{os.getpid()}.part"
            shutil.copyfile(wheel, part)
            part.replace(house / wheel.name)


def _pip_install(pins: dict[str, str], target: Path, arch: str) -> None:
    house = wheelhouse(arch)
    house.mkdir(parents=True, exist_ok=True)
    cached = _cached_wheels(house)
    missing = {n: v for n, v in pins.items() if v not in cached.get(n, set())}
    if missing:
        _fetch_wheels(missing, house, arch)
    # Installing a wheel into a target directory is unpacking it (no scripts run, none are
    # needed here); doing it directly is much faster than `pip install --target`.
    for name, version in pins.items():
        wheels = sorted(w for w in house.glob("*.whl") if parse_wheel_filename(w.name)[:2] == (name, Version(version)))
        if not wheels:
            raise PackageError(f"no wheel for {name}=={version} in {house}")
        check_lambda_wheel(wheels[0].name, arch)
        _unpack_wheel(wheels[0], target)


def _unpack_wheel(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: not importable, not needed
                parts = parts[2:]
            dest = target.joinpath(*parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode & 0o111:
                dest.chmod(0o755)


def _skip(rel: Path) -> bool:
    parts = rel.parts
    return (
        "__pycache__" in parts
        or rel.suffix in (".pyc", ".pyo")
        or parts[0] == "bin"
        or (len(parts) > 1 and parts[0].endswith(".dist-info") and parts[1] in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"))
    )


def _add_tree(zf: zipfile.ZipFile, base: Path, prefix: str = "") -> None:
    files = sorted(p for p in base.rglob("*") if p.is_file() and not _skip(p.relative_to(base)))
    for path in files:
        arcname = prefix + path.relative_to(base).as_posix()
        info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
        mode = 0o755 if os.access(path, os.X_OK) or path.suffix == ".so" else 0o644
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, path.read_bytes(), compresslevel=9)


def build(out_dir: Path | str = ROOT / "dist", *, arch: str = LAMBDA_ARCH) -> Path:
    """Build the Lambda zip into out_dir and return its path (raises PackageError)."""
    if arch not in _PIP_PLATFORMS:
        raise PackageError(f"unknown architecture {arch!r}; use one of {sorted(_PIP_PLATFORMS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pins = resolve_pins(arch)
    with tempfile.TemporaryDirectory(prefix="tidings-package-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        _pip_install(pins, site, arch)
        check_imports(site)
        src = Path(tmp) / "src"
        shutil.copytree(FUNCTIONS_DIR, src / "functions",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.md"))
        manifest = {"runtime": LAMBDA_RUNTIME, "architecture": arch, "distributions": pins}
        (src / "functions" / "_package.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        partial = out_dir / (ZIP_NAME + ".part")
        with zipfile.ZipFile(partial, "w") as zf:
            _add_tree(zf, src)
            _add_tree(zf, site)
        final = out_dir / ZIP_NAME
        partial.replace(final)
    return final


def sha256_b64(path: Path) -> str:
    """What Terraform's filebase64sha256() gives for the file."""
    import base64

    return base64.b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.deploy.package", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the Lambda zip")
    b.add_argument("out_dir", nargs="?", default=str(ROOT / "dist"))
    b.add_argument("--arch", default=LAMBDA_ARCH, choices=sorted(_PIP_PLATFORMS))
    for name, source in (("tables", "functions/tables.py"), ("kafka", "functions/kafka_cluster.py")):
        t = sub.add_parser(name, help=f"write {tfvars.GENERATED[name][0].relative_to(ROOT)} from {source}")
        t.add_argument("--check", action="store_true", help="only check that the committed file is current")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            path = build(args.out_dir, arch=args.arch)
            print(f"{path} ({path.stat().st_size // 1024} KiB, sha256 {sha256_b64(path)})")
        elif args.check:
            target, render = tfvars.GENERATED[args.cmd]
            current = target.read_text() if target.exists() else ""
            if current != render():
                print(f"{target} is stale: run python -m local.deploy.package {args.cmd}", file=sys.stderr)
                return 1
            print(f"{target} is current")
        else:
            target, render = tfvars.GENERATED[args.cmd]
            target.write_text(render())
            print(target)
    except PackageError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
