"""Offline checks of iac/: checkov in its own virtualenv, and terraform fmt when installed.

checkov pins many packages that clash with tidings' own, so it never goes into the
project's environment: `ensure_checkov()` creates a virtualenv under the tidings cache
(``~/.cache/tidings/checkov-<version>-py<XY>``, or ``$TIDINGS_CACHE_DIR``) on first use and
installs the pinned version from PyPI. A failure to do so raises CheckovUnavailable with the
reason (typically: the package index is unreachable), never a silent skip.

    python -m local.deploy.iac_check            # checkov over iac/ (+ terraform fmt -check)
    python -m local.deploy.iac_check --json     # the raw checkov report
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IAC_DIR = ROOT / "iac"

CHECKOV_VERSION = "3.3.30"
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 600


class CheckovUnavailable(RuntimeError):
    """checkov could not be installed or run; the message says why."""


def cache_home() -> Path:
    return Path(os.environ.get("TIDINGS_CACHE_DIR") or Path.home() / ".cache" / "tidings")


def venv_dir() -> Path:
    return cache_home() / f"checkov-{CHECKOV_VERSION}-py{sys.version_info.major}{sys.version_info.minor}"


def checkov_bin() -> Path:
    return venv_dir() / "bin" / "checkov"


def _marker() -> Path:
    return venv_dir() / ".tidings-complete"


def ensure_checkov() -> Path:
    """Path of a working checkov executable, installing it on first use."""
    if _marker().exists() and checkov_bin().exists():
        return checkov_bin()
    cache_home().mkdir(parents=True, exist_ok=True)
    lock_path = cache_home() / f"checkov-{CHECKOV_VERSION}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once
        if _marker().exists() and checkov_bin().exists():
            return checkov_bin()
        target = venv_dir()
        if target.exists():
            shutil.rmtree(target)  # a half-made venv from an interrupted install
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(target)
        except Exception as exc:  # ensurepip missing, disk full, ...
            raise CheckovUnavailable(f"could not create a virtualenv at {target}: {exc}") from exc
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"]
        try:
            proc = subprocess.run(pip, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise CheckovUnavailable(
                f"installing checkov=={CHECKOV_VERSION} into {target} took over {INSTALL_TIMEOUT_S} s "
                "(is the package index reachable?)") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-3000:]
            raise CheckovUnavailable(
                f"could not install checkov=={CHECKOV_VERSION} into {target} (is the package index "
                f"reachable?):\n{tail}")
        if not checkov_bin().exists():
            raise CheckovUnavailable(f"checkov installed but {checkov_bin()} is missing")
        _marker().write_text(CHECKOV_VERSION + "\n")
    return checkov_bin()


@dataclass
class CheckovReport:
    passed: int
    failed: int
    skipped: int
    parsing_errors: int
    failures: list[dict] = field(default_factory=list)
    skips: list[dict] = field(default_factory=list)

    def describe_failures(self) -> str:
        return "\n".join(
            f"  {f['check_id']} {f['resource']} ({f['file_path']}:{f.get('file_line_range', ['?'])[0]}): {f['check_name']}"
            for f in self.failures)


def run_checkov(directory: Path = IAC_DIR) -> CheckovReport:
    """Run checkov's Terraform checks over `directory` (modules included) and parse the result."""
    exe = ensure_checkov()
    cmd = [str(exe), "--directory", str(directory), "--framework", "terraform",
           "--output", "json", "--quiet", "--compact", "--skip-download"]
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    # checkov exits 1 when a check fails; anything else (or no JSON) is a crash.
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CheckovUnavailable(f"checkov printed no JSON (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}") from exc
    reports = data if isinstance(data, list) else [data]
    report = CheckovReport(0, 0, 0, 0)
    for r in reports:
        if "summary" not in r:  # "no resources found" style answers
            continue
        s = r["summary"]
        report.passed += s.get("passed", 0)
        report.failed += s.get("failed", 0)
        report.skipped += s.get("skipped", 0)
        report.parsing_errors += s.get("parsing_errors", 0)
        report.failures += r.get("results", {}).get("failed_checks", [])
        report.skips += r.get("results", {}).get("skipped_checks", [])
    if report.passed + report.failed + report.skipped == 0:
        raise CheckovUnavailable(f"checkov evaluated no check in {directory}:\n{proc.stdout[-2000:]}")
    return report


def terraform_fmt_check(directory: Path = IAC_DIR) -> tuple[bool, str] | None:
    """(ok, output) of `terraform fmt -check -recursive`, or None without a terraform binary."""
    exe = shutil.which("terraform")
    if exe is None:
        return None
    proc = subprocess.run([exe, "fmt", "-check", "-recursive", "-diff", str(directory)],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.deploy.iac_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the checkov report as JSON")
    args = parser.parse_args(argv)
    status = 0
    fmt = terraform_fmt_check()
    if fmt is None:
        print("terraform fmt: skipped (no terraform binary)")
    elif fmt[0]:
        print("terraform fmt: ok")
    else:
        print(f"terraform fmt: files need formatting (terraform fmt -recursive iac)\n{fmt[1]}")
        status = 1
    try:
        report = run_checkov()
    except CheckovUnavailable as exc:
        print(f"checkov: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"failed": report.failures, "skipped": report.skips}, indent=2))
    print(f"checkov {CHECKOV_VERSION}: {report.passed} passed, {report.failed} failed, "
          f"{report.skipped} skipped (each with a reason inline), {report.parsing_errors} parsing errors")
    if report.failed or report.parsing_errors:
        print(report.describe_failures())
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
