"""The local stack: a set of supervised components sharing one home, one port map and one
``functions.settings.Settings``.

    stack = Stack()                      # home ./.tidings (or $TIDINGS_HOME), fixed ports
    stack = Stack(tmp, ports="auto")     # tests: free ports, own home
    stack.up()                           # install what is missing, start all, in order
    stack.settings.kafka_bootstrap       # what clients and child processes use
    stack.restart("dynalite"); stack.kill("kafka"); stack.start("kafka")
    stack.status(); stack.down(); stack.down(wipe=True)

What runs is declared in local/stack/components.py (one ``ComponentSpec`` per component: its
name, its ports with their defaults and a builder that turns the stack into a
``Component``; the model is local/stack/model.py). Every component gets ``os.environ + stack.settings.to_env() + its env``.
The port map is resolved in local/stack/ports.py, one supervisor per home is
local/stack/home_lock.py, and starting one component (free ports, readiness) is
local/stack/startup.py.

Layout of a home: ``data/`` (kept across restarts), ``logs/<name>.log``,
``run/<name>.pid`` (JSON), ``run/ports.json`` (the port map of the last start), rendered
configs in ``run/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Mapping

from functions.settings import Settings, SettingsError
from local import paths
from local.stack import components, logs
from local.stack import ports as port_map
from local.stack import process as proc
from local.stack import startup
from local.stack.home_lock import HomeLock
from local.stack.model import (Component, ComponentSpec, ComponentStatus, NotReadyError,  # noqa: F401
                               PortInUseError, StackError, StartResult, dependency_order, port_env_name)


class Stack:
    def __init__(self, home: Path | str | None = None, *,
                 ports: str | Mapping[str, int] | None = None,
                 settings: Settings | None = None,
                 specs: Iterable[ComponentSpec] | None = None,
                 env: Mapping[str, str] | None = None):
        """
        home:     the stack's home (default ./.tidings or $TIDINGS_HOME)
        ports:    None = defaults, overridden by the last saved port map, then by
                  TIDINGS_PORT_* variables; "auto" = free ports (tests); or a mapping
                  {"kafka": 19092, "kafka.controller": 19093, ...} over the defaults.
        settings: the base settings (default Settings.from_env(); raises SettingsError);
                  the stack points kafka_bootstrap / dynamodb_endpoint at its own ports.
        specs:    the components (default local.stack.components.COMPONENTS).
        """
        self._env = dict(os.environ if env is None else env)
        self.layout = paths.HomeLayout(home if home is not None else paths.default_home())
        self.home = self.layout.home
        base = settings if settings is not None else Settings.from_env(self._env)
        if specs is None:  # one Kafka node, or a cluster (TIDINGS_BROKERS / what the data holds)
            specs = components.specs(components.broker_count(base, self.layout.data))
        self.specs: dict[str, ComponentSpec] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise StackError(f"component {spec.name!r} declared twice")
            self.specs[spec.name] = spec
        self.ports: dict[str, dict[str, int]] = port_map.resolve(
            {name: spec.ports for name, spec in self.specs.items()}, ports, self._env,
            port_map.read_saved(self.layout.run) if ports is None else {})
        self.settings: Settings = components.stack_settings(base, self)
        self.components: dict[str, Component] = {}
        for spec in self.specs.values():
            self.components[spec.name] = spec.build(self)
        self._lock = HomeLock(self.layout.run / "stack.lock", before_first=self.check)
        self._installs: dict[str, Future] = {}
        self._spawned: dict[str, proc.PidRecord] = {}  # started by this process (last run per name)
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ ports & paths

    def _save_ports(self) -> None:
        port_map.save(self.layout.run, self.ports)

    def port(self, name: str, label: str | None = None) -> int:
        """A component's port: the main one, or the one with that label."""
        try:
            labels = self.ports[name]
        except KeyError:
            raise StackError(f"no component {name!r} (known: {', '.join(self.ports)})") from None
        if label is None:
            return next(iter(labels.values()))
        try:
            return labels[label]
        except KeyError:
            raise StackError(f"component {name} has no port {label!r} (has: {', '.join(labels)})") from None

    def pid_path(self, name: str) -> Path:
        return self.layout.run / f"{name}.pid"

    def log_path(self, name: str) -> Path:
        return self.layout.logs / f"{name}.log"

    def component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            raise StackError(f"no component {name!r} (known: {', '.join(self.components)})") from None

    def add(self, component: Component) -> Component:
        """Add a component built by hand (tests, experiments); its ports are used as given."""
        if component.name in self.components:
            raise StackError(f"component {component.name!r} exists already")
        self.components[component.name] = component
        self.ports[component.name] = dict(component.ports)
        return component

    def child_env(self, component: Component) -> dict[str, str]:
        env = dict(self._env)
        env.update(self.settings.to_env())
        env.update(component.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["TIDINGS_HOME"] = str(self.home)
        return env

    # ------------------------------------------------------------------ checks & locking

    def check(self) -> None:
        """Refuse what makes no sense before anything starts."""
        try:
            self.layout.create()
            probe = self.layout.run / f".write-test-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise StackError(f"the stack home {self.home} is not writable ({exc.strerror or exc}); "
                             f"set TIDINGS_HOME to a writable directory") from exc
        seen: dict[int, str] = {}
        for name, labels in self.ports.items():
            for label, port in labels.items():
                other = seen.get(port)
                if other:
                    raise SettingsError(f"port {port} is configured twice: {other} and {name} {label}")
                seen[port] = f"{name} {label}"

    def locked(self) -> HomeLock:
        """``with stack.locked():`` one supervisor at a time for this home (reentrant)."""
        return self._lock

    # ------------------------------------------------------------------ install

    def install(self, names: Iterable[str] | None = None, *, wait: bool = True) -> dict[str, Future]:
        """Run the install hooks (downloads into the cache), concurrently, once per stack.

        With wait=False they continue in the background; start() waits for its own.
        """
        names = list(self.components if names is None else names)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tidings-install")
        for name in names:
            comp = self.component(name)
            if comp.install is not None and name not in self._installs:
                self._installs[name] = self._pool.submit(comp.install)
        futures = {n: self._installs[n] for n in names if n in self._installs}
        if wait:
            for name, fut in futures.items():
                self._install_result(name, fut)
        return futures

    def _install_result(self, name: str, fut: Future) -> None:
        try:
            fut.result()
        except Exception as exc:
            self._installs.pop(name, None)  # let a later call retry
            raise StackError(f"{name}: install failed: {exc}") from exc

    # ------------------------------------------------------------------ lifecycle

    def pid(self, name: str) -> int | None:
        record = proc.PidRecord.read(self.pid_path(name))
        return record.pid if proc.is_alive(record) else None

    def is_running(self, name: str) -> bool:
        return self.pid(name) is not None

    def start(self, name: str, *, timeout: float | None = None) -> StartResult:
        """Start one component (not its dependencies) and wait until it is ready.

        Already running and healthy: reports it and starts no second copy.
        """
        with self.locked():
            comp = self.component(name)
            timeout = comp.ready_timeout if timeout is None else timeout
            record = proc.PidRecord.read(self.pid_path(name))
            if proc.is_alive(record):
                return self._adopt(comp, record, timeout)
            self._clear_stale(name, record)
            self._check_ports_free(comp)
            if comp.install is not None:
                self.install([name], wait=True)
            if comp.prepare is not None:
                try:
                    comp.prepare()
                except Exception as exc:
                    raise StackError(f"{name}: preparing to start failed: {exc}") from exc
            self._save_ports()
            started = time.monotonic()
            argv, env = comp.resolved_argv(), self.child_env(comp)
            with proc.deferred_signals():  # an interrupt here must not leave an unrecorded process
                record = proc.spawn(argv, env=env, log_path=self.log_path(name), cwd=comp.cwd, ports=comp.ports)
                self._spawned[name] = record
                record.write(self.pid_path(name))
            try:
                startup.wait_ready(comp, record, timeout, self.log_path(name))
                self._after_ready(comp)
            except BaseException:
                self._stop_record(name, record, comp.stop_timeout)
                raise
            return StartResult(name, "started", record.pid, time.monotonic() - started)

    def _adopt(self, comp: Component, record: proc.PidRecord, timeout: float) -> StartResult:
        if dict(record.ports) != dict(comp.ports):
            raise StackError(
                f"{comp.name} is running (pid {record.pid}) on ports {record.ports}, but this stack "
                f"wants {dict(comp.ports)}; stop it first (`invoke down`)")
        if not proc.wait_until(comp.is_ready, timeout, interval=0.2):
            raise NotReadyError(
                f"{comp.name} is running (pid {record.pid}) but not ready after {timeout:.0f}s; "
                + startup.log_excerpt(self.log_path(comp.name), record))
        self._after_ready(comp)
        return StartResult(comp.name, "already running", record.pid, 0.0)

    def _after_ready(self, comp: Component) -> None:
        if comp.after_ready is None:
            return
        try:
            comp.after_ready()
        except Exception as exc:
            raise StackError(f"{comp.name}: setup after start failed: {exc}") from exc

    def _clear_stale(self, name: str, record: proc.PidRecord | None) -> None:
        if record is None:
            return
        # The leader is gone; stray members of its group (workers) are still ours.
        if proc.group_members(record):
            proc.terminate(record, timeout=5.0)
        self.pid_path(name).unlink(missing_ok=True)

    def _check_ports_free(self, comp: Component) -> None:  # a seam: tests skip it to race a port
        startup.check_ports_free(comp)

    def _stop_record(self, name: str, record: proc.PidRecord, timeout: float) -> str:
        try:
            outcome = proc.terminate(record, timeout=timeout)
            # Gone means its ports are free again: a restart right after must not find them taken.
            proc.wait_until(lambda: not any(proc.port_listener(p) for p in record.ports.values()), 10.0)
            return outcome
        finally:
            current = proc.PidRecord.read(self.pid_path(name))
            if current is None or current.pid == record.pid:
                self.pid_path(name).unlink(missing_ok=True)

    def stop(self, name: str, *, timeout: float | None = None) -> str:
        """SIGTERM to the component's group, wait, then SIGKILL: 'stopped' | 'killed' | 'not running'."""
        with self.locked():
            record = proc.PidRecord.read(self.pid_path(name))
            if record is None:
                return "not running"
            comp = self.components.get(name)
            timeout = timeout if timeout is not None else (comp.stop_timeout if comp else 30.0)
            return self._stop_record(name, record, timeout)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> str:
        """Crash a component (default SIGKILL to its whole group) and wait until it is gone."""
        with self.locked():
            record = proc.PidRecord.read(self.pid_path(name))
            if record is None or not proc.is_alive(record):
                self.pid_path(name).unlink(missing_ok=True)
                return "not running"
            if sig == signal.SIGKILL:
                try:
                    proc.terminate(record, timeout=0, sig=signal.SIGKILL)
                    proc.wait_until(lambda: not any(proc.port_listener(p) for p in record.ports.values()), 10.0)
                finally:
                    self.pid_path(name).unlink(missing_ok=True)
                return "killed"
            os.killpg(record.pgid, sig)
            return f"sent {signal.Signals(sig).name}"

    def restart(self, name: str, *, timeout: float | None = None) -> StartResult:
        with self.locked():
            self.stop(name)
            return self.start(name, timeout=timeout)

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        """The names plus their dependencies, dependencies first (declaration order otherwise)."""
        wanted = [n for n, s in self.specs.items() if s.default] if names is None else list(names)
        return dependency_order(list(self.components), wanted, self.component)

    def up(self, names: Iterable[str] | None = None, *,
           report: Callable[[StartResult], None] | None = None) -> list[StartResult]:
        """Install what is missing and start the components (with dependencies) in order.

        Idempotent. If one fails, the ones this call started are stopped again.
        """
        with self.locked():
            names = self.order(names)
            # Downloads start now, in the background (Maven resolves while dynalite starts).
            self.install([n for n in names if not self.is_running(n)], wait=False)
            results: list[StartResult] = []
            try:
                for name in names:
                    result = self.start(name)
                    results.append(result)
                    if report:
                        report(result)
            except BaseException:
                for result in reversed(results):
                    if result.outcome == "started":
                        try:
                            self.stop(result.name)
                        except Exception:  # noqa: BLE001 - keep the original error
                            pass
                raise
            return results

    def down(self, *, wipe: bool = False, timeout: float | None = None) -> dict[str, str]:
        """Stop everything (reverse order, then any other pid file in run/); wipe=True deletes data."""
        with self.locked():
            outcomes: dict[str, str] = {}
            names = list(reversed(self.order(list(self.components))))
            names += sorted(p.stem for p in self.layout.run.glob("*.pid") if p.stem not in names)
            failures = []
            peers = [n for n in names if n in self.components and self.components[n].stops_with_peers]
            signalled: set[str] = set()
            for name in names:
                try:
                    if name in peers and not signalled:  # the first of them: SIGTERM to all, then wait for each
                        signalled = {p for p in peers if self.kill(p, signal.SIGTERM) != "not running"}
                    outcome = self.stop(name, timeout=timeout)
                    outcomes[name] = "stopped" if name in signalled and outcome == "not running" else outcome
                except Exception as exc:  # noqa: BLE001 - stop the others, then report
                    failures.append(f"{name}: {exc}")
            # Anything this process started whose pid file went missing is stopped too.
            for name, record in list(self._spawned.items()):
                if proc.is_alive(record) or proc.group_members(record):
                    outcomes[name] = proc.terminate(record, timeout=timeout or 10.0)
                self._spawned.pop(name, None)
            if failures:
                raise StackError("could not stop: " + "; ".join(failures))
            if wipe:
                shutil.rmtree(self.layout.data, ignore_errors=True)
                (self.layout.run / "ports.json").unlink(missing_ok=True)
                self.layout.data.mkdir(parents=True, exist_ok=True)
            return outcomes

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ status

    def status(self, names: Iterable[str] | None = None) -> list[ComponentStatus]:
        out = []
        for name in (self.components if names is None else names):
            comp = self.component(name)
            record = proc.PidRecord.read(self.pid_path(name))
            ports = dict(comp.ports)
            if record is None:
                out.append(ComponentStatus(name, "stopped", None, ports, False, self.log_path(name)))
                continue
            if not proc.is_alive(record):
                out.append(ComponentStatus(name, "stale pid file", record.pid, dict(record.ports), False,
                                           self.log_path(name)))
                continue
            healthy = comp.is_ready()
            out.append(ComponentStatus(name, "running" if healthy else "not ready", record.pid,
                                       dict(record.ports), healthy, self.log_path(name),
                                       time.time() - record.started_at))
        return out

    def endpoints(self) -> dict[str, dict[str, str]]:
        return {name: dict(c.endpoints) for name, c in self.components.items() if c.endpoints}

    def tail(self, name: str, lines: int = 30) -> str:
        return logs.tail(self.log_path(name), lines)

    def __repr__(self) -> str:
        return f"Stack(home={str(self.home)!r}, ports={self.ports})"
