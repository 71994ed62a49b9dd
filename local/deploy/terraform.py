"""Deploy iac/ with Terraform: checks first, then init, plan, apply (after a confirmation).

    python -m local.deploy.terraform iac/terraform.tfvars --plan     # plan only
    python -m local.deploy.terraform iac/terraform.tfvars            # plan, confirm, apply
    python -m local.deploy.terraform iac/terraform.tfvars --yes      # no prompt (CI)

`deploy(var_file, plan_only=False)` returns the process exit code (0 = done) and prints
what went wrong in plain words: terraform missing, tables stale, Lambda zip missing,
providers that cannot be downloaded, AWS credentials that are missing. It never raises for
those. The saved plan (iac/tidings.tfplan) is what gets applied, so what was shown is what
changes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IAC_DIR = ROOT / "iac"
PLAN_FILE = "tidings.tfplan"
DEFAULT_ZIP = "../dist/tidings-functions.zip"

# Terraform/provider messages -> what the operator should do.
_DIAGNOSES = [
    (re.compile(r"Failed to query available provider packages|could not connect to registry|"
                r"Failed to install provider|registry\.terraform\.io.*(timeout|no such host|connection refused)|"
                r"Invalid provider registry host", re.I),
     "Terraform could not download its providers (hashicorp/aws, hashicorp/random): this machine cannot "
     "reach registry.terraform.io. Run the deploy from a machine with access to it, or configure a provider "
     "mirror (provider_installation in ~/.terraformrc, or `terraform providers mirror` on a connected machine)."),
    (re.compile(r"No valid credential sources found|failed to refresh cached credentials|NoCredentialProviders|"
                r"no EC2 IMDS role found|InvalidClientTokenId|ExpiredToken|UnrecognizedClientException|"
                r"The security token included in the request is (invalid|expired)", re.I),
     "AWS credentials are missing or invalid: set AWS_PROFILE (after `aws sso login`) or "
     "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] for the target account, then retry."),
    (re.compile(r"Backend initialization required|Error loading state|Error acquiring the state lock", re.I),
     "The state backend is not usable: check backend.tf (see backend.tf.example) and its credentials."),
]


class DeployError(RuntimeError):
    """A precondition of the deploy is not met; the message says what to do."""


def _say(message: str) -> None:
    print(f"deploy: {message}", file=sys.stderr, flush=True)


def _diagnose(output: str) -> str | None:
    for pattern, advice in _DIAGNOSES:
        if pattern.search(output):
            return advice
    return None


def _terraform() -> str:
    exe = shutil.which("terraform")
    if exe is None:
        raise DeployError("terraform is not installed (need >= 1.9): https://developer.hashicorp.com/terraform/install")
    return exe


def _zip_path(var_file: Path, iac_dir: Path) -> Path:
    """The lambda_zip_path the var file sets (or the default), resolved like Terraform (from iac/)."""
    value = DEFAULT_ZIP
    try:
        import hcl2
        from hcl2 import SerializationOptions

        with open(var_file) as f:
            data = hcl2.load(f, serialization_options=SerializationOptions(
                with_comments=False, explicit_blocks=False, strip_string_quotes=True))
        if isinstance(data.get("lambda_zip_path"), str):
            value = data["lambda_zip_path"]
    except Exception as exc:  # noqa: BLE001 - a var file Terraform will judge itself
        _say(f"note: could not read {var_file} ({exc}); assuming lambda_zip_path = {DEFAULT_ZIP}")
    path = Path(value)
    return path if path.is_absolute() else (iac_dir / path).resolve()


def preflight(var_file: Path | str, iac_dir: Path = IAC_DIR) -> Path:
    """Checks that need no network. Returns the var file's absolute path."""
    from local.deploy import tfvars

    var_file = Path(var_file).resolve()
    if not var_file.is_file():
        raise DeployError(f"{var_file} does not exist: copy iac/terraform.tfvars.example and fill it in")
    for name, (target, render) in tfvars.GENERATED.items():   # tables.py, kafka_cluster.py -> iac/
        generated = iac_dir / target.name
        if not generated.exists() or generated.read_text() != render():
            raise DeployError(f"{generated} does not match what it is generated from: "
                              f"run `python -m local.deploy.package {name}`")
    zip_path = _zip_path(var_file, iac_dir)
    if not zip_path.is_file():
        raise DeployError(f"the Lambda package {zip_path} is missing: run `invoke package` "
                          "(python -m local.deploy.package build) first")
    return var_file


def _run(cmd: list[str], *, capture: bool) -> tuple[int, str]:
    """Run terraform; output is shown live and also kept for the diagnosis."""
    env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if not capture:
            sys.stdout.write(line)
    return proc.wait(), "".join(lines)


def _step(tf: str, iac_dir: Path, args: list[str], what: str, *, capture: bool = False) -> str:
    code, output = _run([tf, f"-chdir={iac_dir}", *args], capture=capture)
    if code != 0:
        advice = _diagnose(output)
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise DeployError(f"terraform {what} failed (exit {code}).\n{advice or 'See the output above.'}"
                          + (f"\n--- last lines ---\n{tail}" if capture or advice else ""))
    return output


def _confirm(auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not sys.stdin.isatty():
        raise DeployError("refusing to apply without confirmation: no terminal to ask on; pass --yes "
                          "(auto_approve=True) after reviewing the plan")
    answer = input("Apply this plan? Only 'yes' applies: ")
    return answer.strip() == "yes"


def deploy(var_file: Path | str, plan_only: bool = False, *, auto_approve: bool = False,
           iac_dir: Path = IAC_DIR) -> int:
    """Plan (and apply) iac/ with var_file. Returns an exit code; prints why on failure."""
    try:
        tf = _terraform()
        var_path = preflight(var_file, iac_dir)
        _say("terraform init (needs the provider registry and the state backend)")
        _step(tf, iac_dir, ["init", "-input=false"], "init")
        _say(f"terraform plan with {var_path}")
        _step(tf, iac_dir, ["plan", "-input=false", f"-var-file={var_path}", f"-out={PLAN_FILE}"], "plan")
        if plan_only:
            _say(f"plan saved to {iac_dir / PLAN_FILE}; nothing applied")
            return 0
        if not _confirm(auto_approve):
            _say("not applied")
            return 1
        _step(tf, iac_dir, ["apply", "-input=false", PLAN_FILE], "apply")
        out = _step(tf, iac_dir, ["output", "-json"], "output", capture=True)
        try:
            values = {k: v.get("value") for k, v in json.loads(out).items()}
        except (json.JSONDecodeError, AttributeError):
            values = {}
        for key in ("websocket_url", "http_api_url"):
            if key in values:
                print(f"{key}: {values[key]}")
        return 0
    except DeployError as exc:
        _say(str(exc))
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.deploy.terraform", description=__doc__.split("\n\n")[0])
    parser.add_argument("var_file", help="Terraform variables file (see iac/terraform.tfvars.example)")
    parser.add_argument("--plan", action="store_true", help="plan only, apply nothing")
    parser.add_argument("--yes", action="store_true", help="apply without asking (after a reviewed plan)")
    args = parser.parse_args(argv)
    return deploy(args.var_file, plan_only=args.plan, auto_approve=args.yes)


if __name__ == "__main__":
    sys.exit(main())
