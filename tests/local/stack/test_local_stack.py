"""Supervision of the local stack: idempotent up, clear failures, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import socket
import sys
import textwrap

import psutil
import pytest

from functions.settings import SettingsError
from harness import free_port, make_stack, port_env, run_invoke, settings_for_tests
from local.stack import process
from local.stack.stack import Component, NotReadyError, PortInUseError, Stack, StackError, port_env_name


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _no_pid_files(stack: Stack) -> bool:
    return not list(stack.layout.run.glob("*.pid"))


# --------------------------------------------------------------------------- the session stack


def test_up_twice_starts_no_duplicates(local_stack):
    pids = {name: local_stack.pid(name) for name in local_stack.components}
    assert all(pids.values())
    results = local_stack.up()
    assert [r.outcome for r in results] == ["already running"] * len(results)
    assert {r.name: r.pid for r in results} == pids
    props = str(local_stack.layout.run / "kafka.properties")
    brokers = [p for p in psutil.process_iter(["cmdline"]) if props in (p.info["cmdline"] or [])]
    assert len(brokers) == 1


def test_status_reports_every_component_healthy(local_stack):
    rows = {row.name: row for row in local_stack.status()}
    assert {"kafka", "dynalite"} <= set(rows)
    for row in rows.values():
        assert row.state == "running" and row.healthy and row.pid
    assert rows["kafka"].ports == {"client": local_stack.port("kafka"),
                                   "controller": local_stack.port("kafka", "controller")}


def test_settings_point_at_the_stack_on_free_ports(local_stack, settings):
    assert settings.kafka_bootstrap == f"127.0.0.1:{local_stack.port('kafka')}"
    assert settings.dynamodb_endpoint == f"http://127.0.0.1:{local_stack.port('dynalite')}"
    assert local_stack.port("kafka") != 9092 or os.environ.get("TIDINGS_PORT_KAFKA") == "9092"
    assert settings.local_mode


def test_stop_and_start_by_name(local_stack):
    assert local_stack.stop("dynalite") == "stopped"
    assert local_stack.status(["dynalite"])[0].state == "stopped"
    assert local_stack.start("dynalite").outcome == "started"


# --------------------------------------------------------------------------- failures, no stack needed


def test_port_in_use_is_refused_naming_the_port(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        stack = make_stack(tmp_path, ports={"kafka": taken, "kafka.controller": free_port(),
                                            "dynalite": free_port()})
        with pytest.raises(PortInUseError) as caught:
            stack.up(["kafka"])
    assert caught.value.port == taken
    assert f"port {taken}" in str(caught.value) and "kafka" in str(caught.value)
    assert "pid" in str(caught.value)  # who holds it
    assert _no_pid_files(stack)


def test_a_broker_that_cannot_bind_fails_with_its_port_and_log(tmp_path, monkeypatch):
    """Even past the pre-check (a race), the failure names the port and shows the log."""
    stack = make_stack(tmp_path, specs=None)
    monkeypatch.setattr(Stack, "_check_ports_free", lambda self, comp: None)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.port("kafka")))
        squatter.listen()
        with pytest.raises(NotReadyError) as caught:
            stack.start("kafka", timeout=120)
    message = str(caught.value)
    assert "kafka exited during startup" in message
    assert f"port {stack.port('kafka')}" in message
    assert "Address already in use" in message or "BindException" in message  # the log's last lines
    assert _no_pid_files(stack)


def test_not_ready_in_time_is_stopped_and_shows_the_log(tmp_path):
    stack = make_stack(tmp_path, specs=[])
    stack.add(Component(
        "sleepy", argv=_python("""
            import time
            for i in range(40):
                print(f"line {i}", flush=True)
            time.sleep(600)
        """), ready=lambda: False, ready_timeout=1.5, ports={"http": free_port()}))
    with pytest.raises(NotReadyError) as caught:
        stack.start("sleepy")
    message = str(caught.value)
    assert "did not become ready within 2s" in message
    assert "line 39" in message and "line 10" in message and "line 9\n" not in message  # ~30 lines
    assert _no_pid_files(stack)
    assert not [p for p in psutil.process_iter(["cmdline"]) if "line {i}" in " ".join(p.info["cmdline"] or [])]


def test_exit_during_startup_reports_the_exit_code(tmp_path):
    stack = make_stack(tmp_path, specs=[])
    stack.add(Component("crashy", argv=_python("print('cannot open the thing'); raise SystemExit(3)"),
                        ready=lambda: False))
    with pytest.raises(NotReadyError, match="exited during startup with code 3") as caught:
        stack.start("crashy")
    assert "cannot open the thing" in str(caught.value)


def test_stop_signals_the_whole_group_and_escalates_to_sigkill(tmp_path):
    stack = make_stack(tmp_path, specs=[])
    port = free_port()
    stack.add(Component(
        "stubborn", stop_timeout=1.0, ports={"http": port},
        argv=_python(f"""
            import signal, socket, subprocess, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            s = socket.socket(); s.bind(("127.0.0.1", {port})); s.listen()
            time.sleep(600)
        """)))
    assert stack.start("stubborn").outcome == "started"
    record = process.PidRecord.read(stack.pid_path("stubborn"))
    assert process.wait_until(lambda: len(process.group_members(record)) == 2, 10)
    members = process.group_members(record)
    assert stack.start("stubborn").outcome == "already running"
    assert stack.stop("stubborn") == "killed"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in members)
    assert stack.stop("stubborn") == "not running"
    assert _no_pid_files(stack)


def test_a_stale_pid_file_is_ignored(tmp_path):
    stack = make_stack(tmp_path, specs=[])
    port = free_port()
    stack.add(Component("srv", ports={"http": port}, argv=_python(f"""
        import socket, time
        s = socket.socket(); s.bind(("127.0.0.1", {port})); s.listen(); time.sleep(600)
    """)))
    stack.layout.create()
    # The pid lives, but it is another process than the file says (a recycled pid): a process
    # of its own session, so nothing the stack does to that group can reach pytest's.
    other = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        process.PidRecord(pid=other.pid, pgid=other.pid, create_time=1.0, argv=["old"],
                          started_at=0.0, ports={"http": port}).write(stack.pid_path("srv"))
        assert stack.status(["srv"])[0].state == "stale pid file"
        try:
            assert stack.start("srv").outcome == "started"
        finally:
            stack.down()
    finally:
        other.kill()
        other.wait()


# --------------------------------------------------------------------------- settings and homes


def test_bad_settings_are_refused_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDINGS_PARTITIONS", "0")
    with pytest.raises(SettingsError, match="TIDINGS_PARTITIONS"):
        Stack(tmp_path / "home", ports="auto")
    assert not (tmp_path / "home").exists()


def test_invoke_up_refuses_bad_settings_and_starts_nothing(tmp_path):
    home = tmp_path / "home"
    result = run_invoke("up", env={"TIDINGS_HOME": str(home), "TIDINGS_PARTITIONS": "0"}, timeout=60)
    assert result.returncode != 0
    assert "TIDINGS_PARTITIONS must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not home.exists()


def test_an_unwritable_home_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    stack = make_stack(blocker / "home", specs=[])
    with pytest.raises(StackError, match="not writable"):
        stack.up()
    result = run_invoke("up", env={"TIDINGS_HOME": str(blocker / "home")}, timeout=60)
    assert result.returncode != 0 and "not writable" in result.stderr


def test_a_port_configured_twice_is_refused(tmp_path):
    port = free_port()
    stack = make_stack(tmp_path, ports={"kafka": port, "dynalite": port})
    with pytest.raises(SettingsError, match=f"port {port} is configured twice"):
        stack.up()


def test_ports_come_from_the_environment_and_stick(tmp_path, monkeypatch):
    p1, p2, p3 = free_port(), free_port(), free_port()
    monkeypatch.setenv(port_env_name("kafka"), str(p1))
    monkeypatch.setenv(port_env_name("kafka", "controller"), str(p2))
    monkeypatch.setenv(port_env_name("dynalite"), str(p3))
    stack = Stack(tmp_path, settings=settings_for_tests())
    assert (stack.port("kafka"), stack.port("kafka", "controller"), stack.port("dynalite")) == (p1, p2, p3)
    assert stack.settings.kafka_bootstrap == f"127.0.0.1:{p1}"
    assert stack.settings.dynamodb_endpoint == f"http://127.0.0.1:{p3}"
    stack.layout.create()
    stack._save_ports()
    for name in ("TIDINGS_PORT_KAFKA", "TIDINGS_PORT_KAFKA_CONTROLLER", "TIDINGS_PORT_DYNALITE"):
        monkeypatch.delenv(name)
    again = Stack(tmp_path, settings=settings_for_tests())  # `invoke status` after `invoke up`
    assert again.ports == stack.ports


def test_a_bad_port_value_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDINGS_PORT_KAFKA", "99999")
    with pytest.raises(SettingsError, match="TIDINGS_PORT_KAFKA"):
        Stack(tmp_path, settings=settings_for_tests())


# --------------------------------------------------------------------------- the CLI, end to end


def test_invoke_up_twice_status_down_keeps_data(tmp_path):
    """`invoke up` twice starts one broker and one store; `down` + `up` keeps their data."""
    home = tmp_path / "home"
    probe = make_stack(home)  # only to pick free ports for the CLI
    env = {"TIDINGS_HOME": str(home), **port_env(probe)}
    stack = Stack(home, settings=settings_for_tests(), env={**os.environ, **env})  # same view as the CLI
    try:
        first = run_invoke("up", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "kafka: started" in first.stdout and "dynalite: started" in first.stdout
        pids = {n: stack.pid(n) for n in ("kafka", "dynalite")}
        second = run_invoke("up", env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "kafka: already running" in second.stdout and "dynalite: already running" in second.stdout
        assert {n: stack.pid(n) for n in ("kafka", "dynalite")} == pids
        status = run_invoke("status", env=env)
        assert status.returncode == 0 and status.stdout.count("running") >= 2

        from harness import consume, produce_sync
        from functions import aws
        from functions.tables import ROOMS

        ddb = aws.dynamodb(stack.settings)
        table = stack.settings.table_name(ROOMS.logical)
        ddb.put_item(TableName=table, Item={"roomId": {"S": "kept"}})
        produce_sync(stack.settings, stack.settings.chat_topic, [(b"kept", b"kept")])

        down = run_invoke("down", env=env)
        assert down.returncode == 0 and "kafka: stopped" in down.stdout
        assert stack.pid("kafka") is None and stack.pid("dynalite") is None
        assert run_invoke("up", env=env).returncode == 0
        assert ddb.get_item(TableName=table, Key={"roomId": {"S": "kept"}}, ConsistentRead=True)["Item"]
        assert [m.value() for m in consume(stack.settings, stack.settings.chat_topic, 1)] == [b"kept"]
    finally:
        stack.down(timeout=30)
    assert stack.pid("kafka") is None and stack.pid("dynalite") is None
