"""Starting one component: its ports must be free, then it must become ready; when it does
not, the error carries its log's error lines and last lines.
"""

from __future__ import annotations

import time
from pathlib import Path

from local.stack import logs
from local.stack import process as proc
from local.stack.model import Component, NotReadyError, PortInUseError, port_env_name


def check_ports_free(comp: Component) -> None:
    """Refuse to start a component whose port another process holds (naming that process)."""
    for label, port in comp.ports.items():
        if not proc.port_is_free(port):
            # Nobody listens: a socket of the previous run still closing; give it a moment.
            if proc.port_listener(port) is False and proc.wait_until(lambda: proc.port_is_free(port), 10.0):
                continue
            owner = proc.port_owner(port)
            raise PortInUseError(
                f"{comp.name} cannot start: port {port} ({label}) is already in use"
                f"{' by ' + owner if owner else ''}; stop that process or choose another port "
                f"({port_env_name(comp.name, label)}=...)", port)


def wait_ready(comp: Component, record: proc.PidRecord, timeout: float, log_path: Path) -> None:
    """Until the component is ready; NotReadyError if it exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        if not proc.is_alive(record):
            code = proc.exit_code(record.pid)
            busy = [p for p in comp.ports.values() if not proc.port_is_free(p)]
            hint = (f" (port {', '.join(map(str, busy))} is in use by another process)" if busy else "")
            raise NotReadyError(
                f"{comp.name} exited during startup{'' if code is None else f' with code {code}'}{hint}; "
                + log_excerpt(log_path, record))
        if comp.is_ready():
            return
        if time.monotonic() >= deadline:
            raise NotReadyError(
                f"{comp.name} did not become ready within {timeout:.0f}s (pid {record.pid}, "
                f"ports {dict(comp.ports)}); it was stopped. " + log_excerpt(log_path, record))
        time.sleep(0.2)


def log_excerpt(path: Path, record: proc.PidRecord | None = None) -> str:
    """Error lines of this run (a JVM's cause scrolls away fast) and the last 30 lines."""
    errors = logs.error_lines(path, record.log_offset if record else 0)
    text = ""
    if errors:
        text += f"errors in {path}:\n  " + "\n  ".join(errors) + "\n"
    return text + f"last lines of {path}:\n{logs.tail(path, 30)}"
