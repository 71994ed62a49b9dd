"""Shared fixtures: a real local stack (Kafka + dynalite, tables, topics) for the tests that ask.

- ``local_stack``: the session's ``local.stack.stack.Stack`` (own temp home, FREE ports, never
  the user's running stack): ``.settings``, ``.home``, ``.port(name[, label])``,
  ``.start/.stop/.kill/.restart(name)``, ``.status()``, ``.tail(name)``. Started on first
  use, stopped at the end of the session (also after failures, Ctrl-C, SIGTERM, via
  try/finally plus an atexit guard). After each test it is healed: a component a test
  stopped or killed is started again, so tests can crash things freely.
- ``settings``: its ``functions.settings.Settings`` (point your code at the stack with it).
- ``ddb``: a boto3 DynamoDB client for it (``functions.aws.dynamodb(settings)``).

- ``cluster_stack``: a second stack of the session, with a 3-broker Kafka cluster
  (``TIDINGS_BROKERS=3``: nodes ``kafka``, ``kafka-2``, ``kafka-3``), dynalite, the runner and
  both edges (no gateway). Started on first use, shared by every cluster test, healed after
  each (what is down is started again, then every partition has all its replicas in sync).

Tests that request none of these never start anything. Tests that do are marked
``stack`` automatically (``-m "not stack"`` skips them). Helpers: tests/harness.py.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import harness` from any test dir

import harness  # noqa: E402

_STATE: dict = {"stack": None, "cluster": None}
CLUSTER_COMPONENTS = ("esm", "edge-a", "edge-b")   # and what they depend on: dynalite, 3 Kafka nodes
CLUSTER_HEAL_S = 180.0


def _needs_stack(item: pytest.Item) -> bool:
    return bool({"local_stack", "cluster_stack"} & set(getattr(item, "fixturenames", ())))


def pytest_itemcollected(item: pytest.Item) -> None:
    if _needs_stack(item):
        item.add_marker(pytest.mark.stack)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    """Resolve the Kafka jars and install dynalite now (outside any test's timeout), but
    only when a selected test needs the stack."""
    if config.option.collectonly or not any(_needs_stack(i) for i in items):
        return
    from local.stack import dynalite, kafka, s3rver

    pending = [(what, fn) for what, fn, done in (
        (f"Kafka {kafka.KAFKA_VERSION} jars (Maven) into {kafka.cache_home()}", kafka.install, kafka.is_installed()),
        (f"dynalite {dynalite.DYNALITE_VERSION} (npm) into {dynalite.cache_home()}", dynalite.install,
         dynalite.is_installed()),
        (f"s3rver {s3rver.S3RVER_VERSION} (npm) into {s3rver.cache_home()}", s3rver.install, s3rver.is_installed()),
    ) if not done]
    if not pending:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    errors: list[BaseException] = []

    def run(fn) -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = []
    started = time.monotonic()
    for what, fn in pending:
        if reporter:
            reporter.write_line(f"tidings: installing {what} (first run only)")
        threads.append(threading.Thread(target=run, args=(fn,), daemon=True))
        threads[-1].start()
    for t in threads:
        t.join()
    if errors:
        raise pytest.UsageError(f"cannot install the local stack: {errors[0]}")
    if reporter:
        reporter.write_line(f"tidings: installed in {time.monotonic() - started:.0f}s")


def _interrupt(signum, frame):  # SIGTERM / SIGHUP: unwind like Ctrl-C so teardown runs
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _running(stack, names=None, stop_timeout: float = 30.0):
    """The stack up for the block; down after it, also after failures, Ctrl-C or SIGTERM."""
    def guard() -> None:  # last resort if the teardown below never ran
        try:
            stack.down(timeout=10)
        except Exception:  # noqa: BLE001
            pass

    atexit.register(guard)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, _interrupt)
    try:
        stack.up(names)
        yield stack
    finally:
        for sig in previous:  # a second SIGTERM must not cut the teardown short
            signal.signal(sig, signal.SIG_IGN)
        try:
            stack.down(timeout=stop_timeout)
            atexit.unregister(guard)  # (if down was interrupted, the guard tries again at exit)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            stack.close()


@pytest.fixture(scope="session")
def _session_stack(tmp_path_factory):
    stack = harness.make_stack(tmp_path_factory.mktemp("stack"))
    _STATE["stack"] = stack
    with _running(stack):
        yield stack


@pytest.fixture(scope="session")
def _session_cluster(tmp_path_factory):
    stack = harness.make_stack(tmp_path_factory.mktemp("cluster"), settings=harness.settings_for_tests(brokers=3))
    _STATE["cluster"] = stack
    with _running(stack, CLUSTER_COMPONENTS, stop_timeout=10.0):   # a throw-away stack: no need to wait long
        yield stack


@pytest.fixture
def local_stack(_session_stack):
    """The session's stack; healed after the test (stopped/killed/paused components restart)."""
    yield _session_stack
    down = []
    for name in _session_stack.order():
        if _session_stack.is_running(name):
            _session_stack.kill(name, signal.SIGCONT)  # undo a test's SIGSTOP, harmless otherwise
        else:
            down.append(name)
    if down:
        _session_stack.up()


@pytest.fixture
def cluster_stack(_session_cluster):
    """The session's 3-broker stack; healed after the test (all up, all replicas in sync)."""
    from local.stack import kafka_status

    yield _session_cluster
    if not all(_session_cluster.is_running(n) for n in _session_cluster.order(CLUSTER_COMPONENTS)):
        _session_cluster.up(CLUSTER_COMPONENTS)
    kafka_status.wait_fully_replicated(_session_cluster.settings.kafka_bootstrap, 3, CLUSTER_HEAL_S)


@pytest.fixture
def settings(local_stack):
    """The Settings the stack's processes use (kafka_bootstrap, dynamodb_endpoint, ...)."""
    return local_stack.settings


@pytest.fixture
def ddb(settings):
    """A boto3 DynamoDB client for the stack's store."""
    from functions import aws

    return aws.dynamodb(settings)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for key, what in (("stack", "test stack"), ("cluster", "3-broker test stack")):
        stack = _STATE.get(key)
        if stack is not None and exitstatus not in (0, 5):
            terminalreporter.write_line(f"tidings: the {what}'s logs are in {stack.layout.logs}")
