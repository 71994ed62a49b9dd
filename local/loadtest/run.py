"""Orchestration: plan the run, start the generator processes, drive them, collect, report.

    from local.loadtest.run import main, run
    main(["v4", "--edges", "ws://127.0.0.1:8001/ws,ws://127.0.0.1:8002/ws"])  # -> exit status
    report = run(Options(users=6, messages=5), settings=stack.settings)     # -> report dict

Timeline: every worker sets up its rooms and tokens and says "ready"; the parent picks a
common start time t0 one second ahead; users connect on the ramp (user i at
t0 + i * ramp / users); each worker says "done" once its users have sent everything and
every acked message reached every receiver (or --drain-timeout passed); when all are done
(and the --hold time is over) the parent says "stop", workers close their connections,
check the store and send their final figures.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import time
from multiprocessing.connection import wait as wait_conns
from pathlib import Path

from functions.settings import Settings
from local.loadtest import output
from local.loadtest import report as reporting
from local.loadtest import scenario, worker, yardstick
from local.loadtest.resources import Sampler
from local.loadtest.scenario import Options
from local.loadtest.stats import Counters, LogHistogram, Second

SETUP_TIMEOUT_S = 600.0
FINAL_TIMEOUT_S = 900.0   # the store check of a big run reads every room back


class RunError(RuntimeError):
    """The run could not be carried out (setup failed, a generator process died)."""


class Aggregate:
    """Everything the workers reported, merged."""

    def __init__(self, procs: int):
        self.seconds: dict[int, Second] = {}
        self.counts = Counters()
        self.ack = LogHistogram()
        self.delivery = LogHistogram()
        self.subscribe = LogHistogram()
        self.open = [0] * procs
        self.finished = [0] * procs
        self.cpu = [0.0] * procs
        self.rss = [0] * procs
        self.proc_cpu: list[list[float]] = [[] for _ in range(procs)]
        self.open_series: list[tuple[int, int]] = []
        self.peak_open = 0

    def progress(self, snap: dict) -> None:
        i = snap["index"]
        for k, data in snap["seconds"].items():
            k = int(k)
            second = self.seconds.get(k)
            if second is None:
                second = self.seconds[k] = Second()
            second.merge(data)
            self.counts.merge(data.get("counts", {}))
            self.ack.merge(data.get("ack", {}))
            self.delivery.merge(data.get("delivery", {}))
            self.subscribe.merge(data.get("subscribe", {}))
        self.open[i] = snap["open"]
        self.finished[i] = snap["finished"]
        self.cpu[i] = snap["cpu"]
        self.rss[i] = snap["rss"]
        self.proc_cpu[i].append(snap["cpu"])
        self.peak_open = max(self.peak_open, sum(self.open))


def load_settings(home: str | None) -> Settings:
    """The settings of the local stack in `home` (its ports), else from the environment."""
    try:
        from local.stack.stack import Stack

        return Stack(home).settings
    except Exception:  # noqa: BLE001 - no stack module or no home: plain environment
        return Settings.from_env()


def run(opts: Options, settings: Settings | None = None, *, console=None) -> dict:
    """Run one load test; returns the report (also written as JSON + PNG into opts.out)."""
    opts.check()
    settings = settings if settings is not None else load_settings(opts.home)
    out_dir = Path(opts.out or scenario.default_out_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    console = console or reporting.make_console()
    plan = scenario.plan(opts)
    procs = len(plan)
    ctx = multiprocessing.get_context("spawn")
    conns, processes = [], []
    env = settings.to_env()
    console.print(f"[bold]tidings loadtest[/] {opts.scenario}: {opts.users} users in {opts.n_rooms} rooms "
                  f"of {opts.room_size}, {opts.messages or 'unlimited'} messages each, ramp {opts.ramp:g}s"
                  + (f", hold {opts.hold:g}s" if opts.hold else "")
                  + f", {opts.protocol}, {len(opts.edges)} edge(s), {procs} generator process(es) → {out_dir}",
                  highlight=False)
    timing: dict = {}
    if opts.yardstick > 0:   # on the idle stack, before the generators set up or connect anything
        with console.status(f"yardstick: the store's and Kafka's raw rates ({opts.yardstick:g} s each)…"):
            timing["yardstick"] = yardstick.measure(settings, opts.yardstick)
    previous_sigint = signal.getsignal(signal.SIGINT)
    for i, rooms in enumerate(plan):
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=worker.main, args=(i, opts, rooms, env, child_end),
                        name=f"loadtest-gen-{i}", daemon=True)
        p.start()
        child_end.close()
        conns.append(parent_end)
        processes.append(p)
    agg = Aggregate(procs)
    home = Path(opts.home).expanduser().resolve() if opts.home else _default_home()
    sampler = Sampler(home, [p.pid for p in processes])
    finals: dict[int, dict] = {}
    readies: dict[int, dict] = {}
    problems: list[str] = []
    interrupted = False
    t0 = 0.0
    try:
        # -- setup ---------------------------------------------------------------------------
        setup_started = time.time()
        _collect(conns, processes, readies, "ready", SETUP_TIMEOUT_S, problems)
        if len(readies) < procs:
            raise RunError("generator setup failed: " + "; ".join(problems or ["timeout"]))
        for info in readies.values():
            if not info.get("fd_ok", True):
                problems.append(f"generator {info['index']}: file descriptor limit {info['fd_limit']} "
                                f"is below its {info['users']} connections")
        timing["setup_s"] = round(time.time() - setup_started, 2)
        # -- run -----------------------------------------------------------------------------
        t0 = time.time() + 1.0
        stop_sending_at = t0 + opts.ramp + opts.hold if opts.hold else None
        hold_until = t0 + opts.ramp + opts.hold if opts.hold else 0.0
        for conn in conns:
            conn.send(("start", t0, stop_sending_at))
        sampler.prime()
        done: set[int] = set()
        drains: dict[int, dict] = {}
        last_sample = 0.0
        with reporting.ProgressView(console, opts, enabled=opts.progress) as view:
            try:
                while True:
                    for conn in wait_conns([c for c in conns if not isinstance(c, _Dead)], timeout=0.2):
                        i = conns.index(conn)
                        try:
                            message = conn.recv()
                        except (EOFError, OSError):
                            if i not in done:
                                problems.append(f"generator {i} exited unexpectedly "
                                                f"(exit code {processes[i].exitcode})")
                                done.add(i)
                            conns[i] = _Dead()
                            continue
                        kind = message[0]
                        if kind == "progress":
                            agg.progress(message[1])
                        elif kind == "done":
                            done.add(i)
                            drains[i] = message[1]
                        elif kind == "error":
                            problems.append(f"generator {i}: {message[1].strip().splitlines()[-1]}")
                            console.print(f"[red]generator {i} error:[/]\n{message[1]}", highlight=False)
                    now = time.time()
                    if now - last_sample >= 1.0 and now >= t0:
                        last_sample = now
                        second = int(now - t0)
                        sampler.sample(second)
                        agg.open_series.append((second, sum(agg.open)))
                        view.update(agg, now - t0)
                    if len(done) >= procs and now >= hold_until:
                        break
                    if any(not p.is_alive() for p in processes) and len(done) < procs:
                        for i, p in enumerate(processes):
                            if not p.is_alive() and i not in done:
                                problems.append(f"generator {i} died (exit code {p.exitcode})")
                                done.add(i)
            except KeyboardInterrupt:
                interrupted = True
                console.print("[yellow]interrupted: stopping the generators and collecting what they have[/]")
        sampler.count()   # the CPU spent since the last sample counts too (not a point of the series)
        timing["run_s"] = round(time.time() - t0, 2)
        timing["drain_s"] = max((d.get("drain_s", 0.0) for d in drains.values()), default=None)
        timing["drained"] = all(d.get("drained") for d in drains.values()) if drains else False
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # let the shutdown finish
        for conn in conns:
            try:
                conn.send(("stop",))
            except (OSError, AttributeError):
                pass
        try:
            collect_started = time.time()
            if readies:
                with console.status("closing connections and checking the store…"):
                    _collect(conns, processes, finals, "final", FINAL_TIMEOUT_S, problems, agg)
            timing["collect_s"] = round(time.time() - collect_started, 2)
        finally:
            for p in processes:
                p.join(timeout=10)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
            signal.signal(signal.SIGINT, previous_sigint)
    result = reporting.build(opts, settings, agg, sampler, readies, finals, problems, interrupted, timing)
    output.write(result, agg, sampler, out_dir)
    output.print_table(console, result)
    return result


class _Dead:
    """Stands in for a closed pipe end so `wait` skips it."""

    def fileno(self):
        raise OSError("closed")

    def send(self, _):
        raise OSError("closed")


def _collect(conns, processes, into: dict, kind: str, timeout: float, problems: list[str],
             agg: Aggregate | None = None) -> None:
    """Wait until every live worker has sent a message of `kind` (or an error, or died)."""
    deadline = time.time() + timeout
    pending = {i for i, c in enumerate(conns) if not isinstance(c, _Dead)}
    while pending and time.time() < deadline:
        live = [conns[i] for i in pending]
        for conn in wait_conns(live, timeout=0.5):
            i = conns.index(conn)
            try:
                message = conn.recv()
            except (EOFError, OSError):
                pending.discard(i)
                problems.append(f"generator {i} exited before its {kind} report "
                                f"(exit code {processes[i].exitcode})")
                continue
            if message[0] == kind:
                into[i] = message[1]
                pending.discard(i)
            elif message[0] == "error":
                pending.discard(i)
                problems.append(f"generator {i}: {message[1].strip().splitlines()[-1]}")
                print(message[1], file=sys.stderr)
            elif message[0] == "progress" and agg is not None:
                agg.progress(message[1])
        for i in list(pending):
            if not processes[i].is_alive() and not conns[i].poll():
                pending.discard(i)
                problems.append(f"generator {i} died before its {kind} report (exit code {processes[i].exitcode})")
    for i in pending:
        problems.append(f"generator {i}: no {kind} report within {timeout:.0f}s")


def _default_home() -> Path | None:
    try:
        from local import paths

        return paths.default_home()
    except ImportError:
        return None


def main(argv: list[str] | None = None, *, settings: Settings | None = None) -> int:
    """The command line (`python -m local.loadtest`, `invoke loadtest`). Exit status: 0 clean,
    1 loss / errors / disorder / store problems, 2 bad usage or a run that could not run."""
    try:
        opts = scenario.options_from_args(argv)
    except ValueError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    try:
        result = run(opts, settings)
    except RunError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    return 0 if result["verdict"]["ok"] else 1
