"""What a local stack is made of: components as declared and as supervised, their status,
and the errors the stack reports. `local.stack.stack` runs them; `local.stack.components` declares them.

A builder sees the stack through ``StackView`` (what it may read while building), so the
declarations do not depend on the supervisor that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from functions.settings import Settings
from local.paths import HomeLayout
from local.stack import process as proc


class StackError(RuntimeError):
    """The stack cannot do what was asked; the message says why and what to do."""


class PortInUseError(StackError):
    def __init__(self, message: str, port: int):
        super().__init__(message)
        self.port = port


class NotReadyError(StackError):
    pass


class StackView(Protocol):
    """What a component's builder reads of the stack building it (``local.stack.stack.Stack``)."""

    settings: Settings               # the base settings aimed at the stack's broker and store
    ports: Mapping[str, Mapping[str, int]]   # component -> label -> port
    layout: HomeLayout               # home, data/, logs/, run/

    def port(self, name: str, label: str | None = None) -> int: ...

    def log_path(self, name: str) -> Path: ...

    def is_running(self, name: str) -> bool: ...


@dataclass
class Component:
    """One supervised process of the stack.

    argv may be a callable (evaluated right before the process starts, after install),
    e.g. when it needs a classpath that exists only once the jars are resolved.
    Readiness: ``ready_url`` (HTTP GET answering < 400) and/or ``ready`` (a callable that
    returns True or raises); with neither, all ports accepting connections. Hooks:
    ``install`` downloads into the shared cache (run early, in the background),
    ``prepare`` runs before each start (render configs, format storage), ``after_ready``
    after each start and on each ``up`` (idempotent setup such as topics and tables).
    """

    name: str
    argv: Sequence[str] | Callable[[], Sequence[str]]
    ports: Mapping[str, int] = field(default_factory=dict)   # label -> port; the first is the main one
    env: Mapping[str, str] = field(default_factory=dict)     # extras over os.environ + settings env
    ready: Callable[[], bool] | None = None
    ready_url: str | None = None
    ready_timeout: float = 60.0
    depends_on: tuple[str, ...] = ()
    install: Callable[[], object] | None = None
    prepare: Callable[[], None] | None = None
    after_ready: Callable[[], object] | None = None
    stop_timeout: float = 30.0
    # `down` sends SIGTERM to all such components at once (the nodes of one Kafka quorum:
    # stopped one by one, the last would wait for a quorum that is gone).
    stops_with_peers: bool = False
    cwd: Path | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)  # shown by `invoke up/status`
    description: str = ""

    def resolved_argv(self) -> list[str]:
        return list(self.argv() if callable(self.argv) else self.argv)

    def is_ready(self) -> bool:
        """One readiness probe (False on any error)."""
        try:
            if self.ready_url:
                import requests

                if requests.get(self.ready_url, timeout=2).status_code >= 400:
                    return False
            if self.ready is not None:
                return bool(self.ready())
            if not self.ready_url:
                return all(proc.is_listening(p) for p in self.ports.values())
            return True
        except Exception:  # noqa: BLE001 - a failing probe means "not ready"
            return False


@dataclass(frozen=True)
class ComponentSpec:
    """What local/stack/components.py declares: name, ports (label -> default) and a builder."""

    name: str
    ports: Mapping[str, int]
    build: Callable[[StackView], Component]
    # False: known to the stack (ports reserved, startable by name) but not part of a plain `up`.
    default: bool = True


@dataclass
class ComponentStatus:
    name: str
    state: str            # running | stopped | not ready | stale pid file
    pid: int | None
    ports: dict[str, int]
    healthy: bool
    log: Path
    uptime_s: float | None = None


@dataclass
class StartResult:
    name: str
    outcome: str          # started | already running
    pid: int
    seconds: float

    def __str__(self) -> str:
        if self.outcome == "started":
            return f"{self.name}: started (pid {self.pid}) in {self.seconds:.1f}s"
        return f"{self.name}: already running (pid {self.pid})"


def port_env_name(component: str, label: str | None = None) -> str:
    """TIDINGS_PORT_KAFKA, TIDINGS_PORT_KAFKA_CONTROLLER, TIDINGS_PORT_EDGE_A_INTERNAL ..."""
    key = component if label is None else f"{component}_{label}"
    return "TIDINGS_PORT_" + "".join(c if c.isalnum() else "_" for c in key.upper())


def dependency_order(declared: Sequence[str], wanted: Sequence[str],
                     component: Callable[[str], Component]) -> list[str]:
    """The wanted names plus their dependencies, dependencies first (declaration order
    otherwise). ``component(name)`` looks a name up (and raises for an unknown one)."""
    out: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in out:
            return
        if name in trail:
            raise StackError(f"dependency cycle: {' -> '.join(trail + (name,))}")
        for dep in component(name).depends_on:
            visit(dep, trail + (name,))
        out.append(name)

    for name in declared:  # declaration order first
        if name in wanted:
            visit(name, ())
    for name in wanted:
        visit(name, ())
    return out
