"""Process supervision primitives for the local stack (no Docker, no systemd).

Each component runs in its own session / process group (``start_new_session``), so a stop
signals the whole group (gunicorn's workers, a JVM's helpers) and a Ctrl-C in the terminal
that started it does not reach it. A pid file records the pid, the group, the process's
create time (to tell a live process from a recycled pid) and the ports it was started on.

Also: port checks (is it free, who holds it) and waiting helpers; log files are read by
local/stack/logs.py.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import psutil

# Popen objects of the children this Python process started: polled so a dead child is
# reaped instead of lingering as a zombie that still "exists".
_CHILDREN: dict[int, subprocess.Popen] = {}
_EXIT_CODES: dict[int, int] = {}


class SupervisionError(RuntimeError):
    """Something about a supervised process went wrong; the message says what and where."""


# --------------------------------------------------------------------------- pid files


@dataclass
class PidRecord:
    pid: int
    pgid: int
    create_time: float
    argv: list[str]
    started_at: float
    ports: dict[str, int] = field(default_factory=dict)
    log_offset: int = 0  # where this run's output starts in the log file

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> "PidRecord | None":
        try:
            raw = json.loads(path.read_text())
            return cls(**raw)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, TypeError):
            # A torn or foreign pid file: treat as absent (and let the caller replace it).
            return None


def _reap() -> None:
    for pid, popen in list(_CHILDREN.items()):
        code = popen.poll()
        if code is not None:
            _CHILDREN.pop(pid, None)
            _EXIT_CODES[pid] = code


def exit_code(pid: int) -> int | None:
    """The exit code of a child this process started, once it has exited (else None)."""
    _reap()
    return _EXIT_CODES.get(pid)


def _threads(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _same_process(record: PidRecord) -> psutil.Process | None:
    """The live process of record, or None (gone, or its pid now names another process).

    A killed multi-threaded process (a JVM) shows its main thread as a zombie while the
    other threads still exit and its sockets are still open: it counts as alive until
    waitpid reaps it (our children) or only the zombie main thread is left (others').
    """
    popen = _CHILDREN.get(record.pid)
    if popen is not None and popen.poll() is not None:
        _reap()
        return None
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.create_time) > 1.0:
            return None  # the pid was recycled by an unrelated process
        if proc.status() == psutil.STATUS_ZOMBIE and (popen is None and _threads(record.pid) <= 1):
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(record: PidRecord | None) -> bool:
    if record is None:
        return False
    _reap()
    return _same_process(record) is not None


def group_members(record: PidRecord) -> list[psutil.Process]:
    """Live processes of the record's process group, when that group is still ours.

    Linux does not hand out a pid while it still names a process group, so members of
    group P whose leader P is gone are our leader's orphans (e.g. gunicorn workers). If a
    process with pid P exists but is not our leader (other create time), P was recycled:
    the group is someone else's and nothing is ours.
    """
    try:
        leader = psutil.Process(record.pgid)
        if abs(leader.create_time() - record.create_time) > 1.0:
            return []
    except psutil.NoSuchProcess:
        pass
    except psutil.AccessDenied:
        return []
    out = []
    for proc in psutil.process_iter(["pid", "create_time", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE and _threads(proc.pid) <= 1:
                continue
            if os.getpgid(proc.pid) != record.pgid:
                continue
            if proc.info["create_time"] + 1.0 < record.create_time:
                continue  # older than our leader: the pgid was recycled, not ours
            out.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError, PermissionError):
            continue
    return out


# --------------------------------------------------------------------------- spawning


@contextmanager
def deferred_signals(signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
    """Hold Ctrl-C / SIGTERM / SIGHUP for the duration of a block (e.g. between starting a
    process and recording its pid, so an interrupt cannot orphan it), then deliver them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    for sig in signals:
        try:
            previous[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
        except (ValueError, OSError):
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in pending:
            os.kill(os.getpid(), sig)


def rotate_log(path: Path, max_bytes: int = 20 * 1024 * 1024) -> None:
    """Keep one previous generation when a log grows past max_bytes."""
    try:
        if path.stat().st_size > max_bytes:
            os.replace(path, path.with_suffix(path.suffix + ".1"))
    except FileNotFoundError:
        pass


def spawn(argv: Sequence[str], *, env: Mapping[str, str], log_path: Path,
          cwd: Path | None = None, ports: Mapping[str, int] | None = None) -> PidRecord:
    """Start argv in a new session with stdout+stderr appended to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log_path)
    with open(log_path, "ab", buffering=0) as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"\n===== tidings: start {stamp}: {' '.join(argv)}\n".encode())
        offset = log.tell()
        try:
            popen = subprocess.Popen(
                list(argv), env=dict(env), cwd=str(cwd) if cwd else None,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )
        except FileNotFoundError as exc:
            raise SupervisionError(f"cannot run {argv[0]!r}: {exc.strerror} (is it installed and on PATH?)") from exc
    _CHILDREN[popen.pid] = popen
    try:
        create_time = psutil.Process(popen.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = time.time()
    return PidRecord(pid=popen.pid, pgid=popen.pid, create_time=create_time, argv=list(argv),
                     started_at=time.time(), ports=dict(ports or {}), log_offset=offset)


def _group_gone(record: PidRecord) -> bool:
    _reap()
    return not is_alive(record) and not group_members(record)


def terminate(record: PidRecord, timeout: float = 30.0, *, sig: int = signal.SIGTERM) -> str:
    """Signal the record's process group, wait up to timeout, then SIGKILL what is left.

    Returns "stopped", "killed" (needed SIGKILL) or "not running".
    """
    if _group_gone(record):
        return "not running"
    _signal_group(record, sig)
    if sig != signal.SIGKILL and wait_until(lambda: _group_gone(record), timeout, interval=0.1):
        return "stopped"
    _signal_group(record, signal.SIGKILL)
    if not wait_until(lambda: _group_gone(record), 15.0, interval=0.1):
        raise SupervisionError(f"pid {record.pid} (group {record.pgid}) survived SIGKILL")
    return "killed" if sig != signal.SIGKILL else "stopped"


def _signal_group(record: PidRecord, sig: int) -> None:
    if is_alive(record):
        # The leader is the record's own process: the group is certainly ours.
        try:
            os.killpg(record.pgid, sig)
            return
        except ProcessLookupError:
            return
    # Leader gone; signal only the members we can prove are ours.
    for proc in group_members(record):
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


# --------------------------------------------------------------------------- ports


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (a bind test, like the server's own)."""
    for family, addr in ((socket.AF_INET, host), (socket.AF_INET, "0.0.0.0")):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((addr, port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    return False
                raise
    return True


def port_listener(port: int) -> bool | None:
    """True if some socket LISTENs on port (None if we may not look)."""
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                   for c in psutil.net_connections(kind="inet"))
    except (psutil.AccessDenied, PermissionError):
        return None


def port_owner(port: int) -> str | None:
    """'pid 123 (java)' for the process holding port (listening, else connected), if knowable."""
    try:
        conns = [c for c in psutil.net_connections(kind="inet") if c.laddr and c.laddr.port == port]
    except (psutil.AccessDenied, PermissionError):
        return None
    conns.sort(key=lambda c: c.status != psutil.CONN_LISTEN)
    for conn in conns:
        if conn.pid:
            try:
                name = psutil.Process(conn.pid).name()
            except psutil.Error:
                name = "?"
            how = "" if conn.status == psutil.CONN_LISTEN else f" (a {conn.status} connection)"
            return f"pid {conn.pid} ({name}){how}"
    if conns:
        return f"a {conns[0].status} connection"
    return None


def is_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now, not handed out before by this process, and outside the
    kernel's ephemeral range (so an outgoing connection cannot grab it while a component
    is down between a stop and a start)."""
    low, _ = _ephemeral_range()
    lo, hi = (15000, low - 1) if low > 16000 else (10000, 14999)
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randint(lo, hi)
        if port not in _HANDED_OUT and port_is_free(port, host):
            _HANDED_OUT.add(port)
            return port
    raise SupervisionError(f"could not find a free port in {lo}..{hi}")


# --------------------------------------------------------------------------- helpers


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll predicate until it is true (True) or timeout passes (False). Exceptions = false."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - a failing probe just means "not yet"
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def kill_all(records: Iterable[PidRecord]) -> None:
    for record in records:
        try:
            terminate(record, timeout=5.0)
        except SupervisionError:
            pass
