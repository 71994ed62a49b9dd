"""local/deploy/terraform.py with a stand-in terraform (the real one cannot download providers here,
and a deploy must never be attempted from a test)."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap

import pytest

import iacutil as u
from local.deploy import terraform as deploy

FAKE_TF = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_TF_LOG"], "a") as log:
        log.write(" ".join(args) + "\\n")
    mode = os.environ.get("FAKE_TF_MODE", "ok")
    step = args[1] if args[0].startswith("-chdir=") else args[0]
    if mode == "noproviders" and step == "init":
        print("Error: Failed to query available provider packages")
        print("Could not retrieve the list of available versions for provider hashicorp/aws: "
              "could not connect to registry.terraform.io")
        sys.exit(1)
    if mode == "nocreds" and step == "plan":
        print("Error: No valid credential sources found")
        sys.exit(1)
    if step == "output":
        print(json.dumps({{"websocket_url": {{"value": "wss://edge.example/ws"}},
                          "http_api_url": {{"value": "https://api.example"}}}}))
    else:
        print(f"fake terraform {{step}} ok")
""")


@pytest.fixture
def env(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tf = bin_dir / "terraform"
    tf.write_text(FAKE_TF.format(python=sys.executable))
    tf.chmod(0o755)
    iac = tmp_path / "iac"
    iac.mkdir()
    for generated in ("tables.auto.tfvars.json", "kafka.auto.tfvars.json"):
        shutil.copy(u.IAC / generated, iac / generated)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "tidings-functions.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    var_file = iac / "test.tfvars"
    var_file.write_text('region = "us-east-1"\nlambda_zip_path = "../dist/tidings-functions.zip"\n')
    log = tmp_path / "tf.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    return {"iac": iac, "var_file": var_file, "log": log, "tmp": tmp_path}


def test_plan_only_runs_init_and_plan(env, capsys):
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) == 0
    calls = env["log"].read_text().splitlines()
    assert [c.split()[1] for c in calls] == ["init", "plan"]
    assert f"-var-file={env['var_file']}" in calls[1] and f"-out={deploy.PLAN_FILE}" in calls[1]


def test_apply_uses_the_saved_plan_and_prints_the_urls(env, capsys):
    assert deploy.deploy(env["var_file"], auto_approve=True, iac_dir=env["iac"]) == 0
    calls = [c.split() for c in env["log"].read_text().splitlines()]
    assert [c[1] for c in calls] == ["init", "plan", "apply", "output"]
    assert calls[2][-1] == deploy.PLAN_FILE
    out = capsys.readouterr().out
    assert "websocket_url: wss://edge.example/ws" in out and "http_api_url: https://api.example" in out


def test_no_apply_without_confirmation(env, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert deploy.deploy(env["var_file"], iac_dir=env["iac"]) != 0
    assert "refusing to apply" in capsys.readouterr().err
    assert "apply" not in [c.split()[1] for c in env["log"].read_text().splitlines()]


def test_missing_providers_is_a_clear_failure(env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_TF_MODE", "noproviders")
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) != 0
    err = capsys.readouterr().err
    assert "could not download its providers" in err and "registry.terraform.io" in err


def test_missing_credentials_is_a_clear_failure(env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_TF_MODE", "nocreds")
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) != 0
    assert "AWS credentials are missing" in capsys.readouterr().err


def test_missing_terraform(env, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(env["tmp"] / "nothing-here"))
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) != 0
    assert "terraform is not installed" in capsys.readouterr().err


def test_missing_zip_and_stale_tables(env, capsys):
    (env["tmp"] / "dist" / "tidings-functions.zip").unlink()
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) != 0
    assert "invoke package" in capsys.readouterr().err
    (env["tmp"] / "dist" / "tidings-functions.zip").write_bytes(b"zip")
    (env["iac"] / "tables.auto.tfvars.json").write_text("{}")
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) != 0
    assert "python -m local.deploy.package tables" in capsys.readouterr().err
    shutil.copy(u.IAC / "tables.auto.tfvars.json", env["iac"] / "tables.auto.tfvars.json")
    (env["iac"] / "kafka.auto.tfvars.json").write_text('{"msk_broker_count": 1}')
    assert deploy.deploy(env["var_file"], plan_only=True, iac_dir=env["iac"]) != 0
    assert "python -m local.deploy.package kafka" in capsys.readouterr().err
    assert not env["log"].exists(), "terraform must not run when a precondition fails"
