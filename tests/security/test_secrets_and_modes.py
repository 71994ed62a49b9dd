"""Class: secrets and modes.

Outside local mode the edge, the gateway and the functions refuse to start with the built-in
JWT secret or delivery secret (both are published in this repository) and say which setting
to set; `/dev/login` exists only in local mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from functions.settings import Settings, SettingsError
from local.stack.components import edge_argv
from local.paths import REPO_ROOT
from local.stack.process import free_port

STRONG = {"TIDINGS_JWT_SECRET": "s" * 40, "TIDINGS_DELIVERY_SECRET": "d" * 40}


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update({"TIDINGS_LOCAL_MODE": "false", **changes})
    return env


def test_settings_name_what_to_set():
    from functions.settings import LOCAL_DELIVERY_SECRET, LOCAL_JWT_SECRET

    with pytest.raises(SettingsError) as refused:
        Settings().require_deployable_secrets("the edge")
    assert "TIDINGS_JWT_SECRET" in str(refused.value) and "TIDINGS_DELIVERY_SECRET" in str(refused.value)
    with pytest.raises(SettingsError, match="TIDINGS_DELIVERY_SECRET"):
        Settings(jwt_secret="s" * 40).require_deployable_secrets("x")
    with pytest.raises(SettingsError, match="TIDINGS_JWT_SECRET"):
        Settings(jwt_secret="short", delivery_secret="d" * 40).require_deployable_secrets("x")
    Settings(jwt_secret="s" * 40, delivery_secret="d" * 40).require_deployable_secrets("x")
    Settings(jwt_algorithm="RS256", jwt_public_key="pem", delivery_secret="d" * 40).require_deployable_secrets("x")
    Settings(local_mode=True).require_deployable_secrets("x")   # the local stack keeps the built-ins
    assert Settings().jwt_secret == LOCAL_JWT_SECRET and Settings().delivery_secret == LOCAL_DELIVERY_SECRET


@pytest.mark.parametrize("module", ["functions.chat_worker", "functions.http.api"])
def test_the_functions_refuse_the_built_in_secrets(module):
    code = f"import {module} as m; m.handler({{}}, None)"
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "SettingsError" in proc.stderr and "TIDINGS_JWT_SECRET" in proc.stderr


def test_the_gateway_refuses_the_built_in_secrets():
    proc = subprocess.run([sys.executable, "-m", "local.emulators.gateway", "--port", str(free_port())], env=_env(),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "TIDINGS_JWT_SECRET" in proc.stderr and "TIDINGS_DELIVERY_SECRET" in proc.stderr


def test_the_edge_refuses_the_built_in_secrets(tmp_path):
    argv = edge_argv(free_port(), free_port(), graceful_timeout=2)
    proc = subprocess.run(argv, env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "TIDINGS_DELIVERY_SECRET" in proc.stdout + proc.stderr


def _gateway(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "local.emulators.gateway", "--port", str(port)], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the gateway exited"
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gateway not ready")


@pytest.mark.parametrize("local_mode,status", [("false", 404), ("true", 200)])
def test_dev_login_exists_only_in_local_mode(settings, local_mode, status):
    env = _env(TIDINGS_LOCAL_MODE=local_mode, TIDINGS_DYNAMODB_ENDPOINT=settings.dynamodb_endpoint or "",
               TIDINGS_TABLE_PREFIX=settings.table_prefix, **STRONG)
    proc, url = _gateway(env)
    try:
        answer = requests.post(url + "/dev/login", json={"userId": "ann", "role": "customer"}, timeout=10)
        assert answer.status_code == status
    finally:
        proc.terminate()
        proc.wait(10)
