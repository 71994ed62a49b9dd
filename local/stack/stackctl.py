"""Command-line front of the local stack: what ``invoke up/down/status/logs`` run.

Also usable without invoke: ``python -m local.stack.stackctl up|down [--wipe]|status|logs NAME [-f]``.
Errors that are the user's to fix (a taken port, bad settings, an unwritable home, a
component that will not start) print one clear message and exit 1, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from functions.settings import SettingsError
from local.stack import process
from local.stack import logs as log_files   # `logs` is the command below
from local.stack.dynalite import DynaliteSetupError
from local.stack.kafka import KafkaSetupError
from local.stack.stack import Stack, StackError, StartResult

USER_ERRORS = (StackError, SettingsError, KafkaSetupError, DynaliteSetupError, process.SupervisionError)

# Not a terminal (CI, pipes): wide enough that tables and paths are not cut.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


class CommandFailed(SystemExit):
    """Exit 1 after printing the message (tasks.py turns it into invoke's Exit)."""

    def __init__(self, message: str):
        super().__init__(1)
        self.message = message


def _stack(brokers: int | None = None) -> Stack:
    try:
        if brokers is None:
            return Stack()
        return Stack(env={**os.environ, "TIDINGS_BROKERS": str(brokers)})   # as if set by the user
    except USER_ERRORS as exc:
        raise CommandFailed(f"refusing to start: {exc}") from exc


def _fail(what: str, exc: Exception) -> CommandFailed:
    return CommandFailed(f"{what}: {exc}")


def up(only: list[str] | None = None, brokers: int | None = None) -> Stack:
    stack = _stack(brokers)
    started = time.monotonic()
    console.print(f"[bold]tidings local stack[/] in {stack.home}")
    names = only or None
    try:
        stack.check()  # an unusable home or a port given twice: refused before anything starts
        order = stack.order(names)  # so are unknown names
        _announce_installs(stack, [n for n in order if not stack.is_running(n)])

        def report(result: StartResult) -> None:
            colour = "green" if result.outcome == "started" else "cyan"
            console.print(f"  {escape(str(result))}", style=colour)

        stack.up(names, report=report)
    except USER_ERRORS as exc:
        raise _fail("invoke up failed", exc) from exc
    finally:
        stack.close()
    console.print(f"ready in {time.monotonic() - started:.1f}s\n")
    print_endpoints(stack)
    return stack


def _announce_installs(stack: Stack, names: list[str]) -> None:
    from local.stack import dynalite, kafka, s3rver

    if "kafka" in names and not kafka.is_installed():
        console.print(f"  resolving Kafka {kafka.KAFKA_VERSION} jars with Maven into {kafka.cache_home()} "
                      f"(first run only; runs in the background)")
    if "dynalite" in names and not dynalite.is_installed():
        console.print(f"  installing dynalite {dynalite.DYNALITE_VERSION} with npm into {dynalite.cache_home()} "
                      f"(first run only)")
    if "s3" in names and not s3rver.is_installed():
        console.print(f"  installing s3rver {s3rver.S3RVER_VERSION} with npm into {s3rver.cache_home()} "
                      f"(first run only)")


def print_endpoints(stack: Stack) -> None:
    table = Table(title="endpoints", title_justify="left", show_header=True)
    table.add_column("component")
    table.add_column("endpoint")
    for name, endpoints in stack.endpoints().items():
        for label, value in endpoints.items():
            table.add_row(name, f"{label}: {value}")
    console.print(table)
    s = stack.settings
    console.print("Use it from a shell:")
    s3 = f" TIDINGS_S3_ENDPOINT={s.s3_endpoint}" if s.s3_endpoint else ""
    console.print(f"  export TIDINGS_KAFKA_BOOTSTRAP={s.kafka_bootstrap} "
                  f"TIDINGS_DYNAMODB_ENDPOINT={s.dynamodb_endpoint}{s3} TIDINGS_LOCAL_MODE=true", soft_wrap=True)
    console.print(f"logs: {stack.layout.logs}   data: {stack.layout.data}", soft_wrap=True)


def down(wipe: bool = False) -> None:
    stack = _stack()
    try:
        outcomes = stack.down(wipe=wipe)
    except USER_ERRORS as exc:
        raise _fail("invoke down failed", exc) from exc
    for name, outcome in outcomes.items():
        console.print(f"  {name}: {outcome}")
    if wipe:
        console.print(f"data deleted: {stack.layout.data}")
    else:
        console.print(f"data kept in {stack.layout.data} (`invoke down --wipe` deletes it)")


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _short(path, stack: Stack) -> str:
    try:
        return str(path.relative_to(stack.home.parent)) if stack.home.parent != stack.home else str(path)
    except ValueError:
        return str(path)


def status() -> list:
    stack = _stack()
    rows = stack.status()
    table = Table(title=f"tidings local stack ({stack.home})", title_justify="left")
    for col in ("component", "state", "pid", "ports", "health", "uptime", "log"):
        table.add_column(col)
    for row in rows:
        colour = {"running": "green", "stopped": "dim", "not ready": "yellow"}.get(row.state, "red")
        ports = " ".join(f"{port} ({label})" for label, port in row.ports.items())
        health = "ok" if row.healthy else ("-" if row.state == "stopped" else "failing")
        table.add_row(row.name, f"[{colour}]{row.state}[/]", str(row.pid or ""), ports, health,
                      _uptime(row.uptime_s), _short(row.log, stack))
    console.print(table)
    _print_kafka_cluster(stack)
    return rows


def _print_kafka_cluster(stack: Stack) -> None:
    """A cluster's brokers, controller quorum and under-replicated partitions."""
    from local.stack import kafka_cluster, kafka_status

    nodes = kafka_cluster.node_names(stack)
    if len(nodes) < 2 or not any(stack.is_running(n) for n in nodes):
        return
    view = kafka_status.view(stack.settings.kafka_bootstrap)
    quorum, leads, now_ms = view.quorum, view.leaders(), time.time() * 1000
    voters = {r.node_id: r for r in quorum.voters} if quorum else {}
    head = (f"controller quorum leader: node {quorum.leader_id} (epoch {quorum.leader_epoch}, "
            f"metadata offset {quorum.high_watermark})" if quorum else "controller quorum: no leader")
    table = Table(title=f"kafka cluster: {len(view.brokers)} of {len(nodes)} brokers alive; {head}",
                  title_justify="left")
    for col in ("node", "component", "broker", "quorum", "lag", "last fetch", "leads"):
        table.add_column(col)
    for node_id, name in enumerate(nodes, start=1):
        replica = voters.get(node_id)
        role = ("leader" if quorum and node_id == quorum.leader_id else "follower") if replica else "-"
        fetched = replica.last_fetch_ms if replica else -1
        table.add_row(str(node_id), name, view.brokers.get(node_id, "[red]not alive[/]"), role,
                      str(quorum.lag(replica)) if replica and replica.log_end_offset >= 0 else "-",
                      f"{(now_ms - fetched) / 1000:.1f}s ago" if fetched > 0 and role == "follower" else "-",
                      f"{leads.get(node_id, 0)} partitions")
    console.print(table)
    for label, parts in (("under-replicated", view.under_replicated), ("offline", view.offline)):
        shown = ", ".join(str(p) for p in parts[:8]) + (f" and {len(parts) - 8} more" if len(parts) > 8 else "")
        console.print(f"{label} partitions: {len(parts)}" + (f": {shown}" if parts else ""),
                      style="yellow" if parts else None, soft_wrap=True)
    for error in view.errors:
        console.print(f"[red]{escape(error)}[/]", soft_wrap=True)


def logs(name: str, follow: bool = False, lines: int = 50) -> None:
    stack = _stack()
    if name not in stack.components and not stack.log_path(name).exists():
        raise CommandFailed(f"no component {name!r}; known: {', '.join(stack.components)}")
    path = stack.log_path(name)
    if not path.exists():
        raise CommandFailed(f"no log yet for {name} ({path}); start it with `invoke up`")
    if follow:
        try:
            log_files.follow(path, lines)
        except KeyboardInterrupt:
            pass
    else:
        print(log_files.tail(path, lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack.stackctl")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--only", help="comma-separated components (with their dependencies)")
    p_up.add_argument("--brokers", type=int, help="Kafka brokers: 1 or a cluster of 3 (TIDINGS_BROKERS)")
    p_down = sub.add_parser("down")
    p_down.add_argument("--wipe", action="store_true")
    sub.add_parser("status")
    p_logs = sub.add_parser("logs")
    p_logs.add_argument("name")
    p_logs.add_argument("-f", "--follow", action="store_true")
    p_logs.add_argument("-n", "--lines", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "up":
            up(args.only.split(",") if args.only else None, brokers=args.brokers)
        elif args.cmd == "down":
            down(args.wipe)
        elif args.cmd == "status":
            status()
        elif args.cmd == "logs":
            logs(args.name, args.follow, args.lines)
    except CommandFailed as exc:
        errors.print(escape(exc.message), style="red")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
