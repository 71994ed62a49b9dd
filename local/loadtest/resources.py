"""CPU and memory of the stack's components and of the generator, sampled once a second.

Components are found by the stack's pid files (``<home>/run/<name>.pid``, JSON with pid and
create time; a component is its process plus all its descendants: gunicorn's worker, the
JVM, node). Without pid files, by command line (kafka.Kafka, dynalite, gunicorn/edge,
local.emulators.esm). CPU % is per core (100 = one core busy; this machine has os.cpu_count()).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

# command-line fragments → component name, for stacks started without pid files
_PATTERNS = (
    ("kafka.Kafka", "kafka"),
    ("dynalite", "dynalite"),
    ("local.emulators.esm", "esm"),
    ("websocket_edge", "edge"),
    ("gunicorn", "edge"),
)


class Sampler:
    def __init__(self, home: Path | None, generator_pids: list[int] | None = None):
        self.home = home
        self.generator_pids = list(generator_pids or [])
        self._procs: dict[int, psutil.Process] = {}
        self.series: dict[str, list[tuple[int, float, int]]] = {}   # name -> [(second, cpu, rss)]
        # name -> CPU seconds since prime(), from each process's own counters (exact, whatever the
        # sampling gaps; a process that ends between samples loses at most its last second)
        self.cpu_seconds: dict[str, float] = {}
        self._cpu_total: dict[int, float] = {}    # pid -> user+system seconds when last read
        self.sources = "none"
        self._roots: dict[str, list[int]] = self._discover()

    def _discover(self) -> dict[str, list[int]]:
        roots: dict[str, list[int]] = {}
        run = self.home / "run" if self.home else None
        if run and run.is_dir():
            for pid_file in sorted(run.glob("*.pid")):
                try:
                    record = json.loads(pid_file.read_text())
                    pid = int(record["pid"])
                    proc = psutil.Process(pid)
                    if abs(proc.create_time() - float(record.get("create_time", proc.create_time()))) > 1.0:
                        continue   # a recycled pid
                except (OSError, ValueError, KeyError, TypeError, psutil.Error):
                    continue
                roots.setdefault(pid_file.stem, []).append(pid)
            if roots:
                self.sources = f"pid files in {run}"
                return roots
        me = os.getpid()
        mine = set(self.generator_pids) | {me}
        for proc in psutil.process_iter(["pid", "cmdline", "ppid"]):
            try:
                if proc.info["pid"] in mine or proc.info["ppid"] in mine:
                    continue
                cmd = " ".join(proc.info["cmdline"] or [])
            except psutil.Error:
                continue
            for fragment, name in _PATTERNS:
                if fragment in cmd:
                    if name == "edge" and proc.info["ppid"] and _cmd(proc.info["ppid"]).count("gunicorn"):
                        break   # a gunicorn worker: counted under its master
                    roots.setdefault(name, []).append(proc.info["pid"])
                    break
        self.sources = "command lines" if roots else "none found"
        return roots

    def _proc(self, pid: int) -> psutil.Process | None:
        proc = self._procs.get(pid)
        if proc is None:
            try:
                proc = psutil.Process(pid)
                proc.cpu_percent(None)   # first call primes the counter
            except psutil.Error:
                return None
            self._procs[pid] = proc
        return proc

    def _measure(self, pids: list[int], with_children: bool, name: str | None = None) -> tuple[float, int]:
        cpu, rss = 0.0, 0
        seen = set()
        for pid in pids:
            root = self._proc(pid)
            if root is None:
                continue
            members = [root]
            if with_children:
                try:
                    members += root.children(recursive=True)
                except psutil.Error:
                    pass
            for member in members:
                if member.pid in seen:
                    continue
                seen.add(member.pid)
                proc = self._proc(member.pid)
                if proc is None:
                    continue
                try:
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                except psutil.Error:
                    self._procs.pop(member.pid, None)
                    continue
                total = times.user + times.system
                previous = self._cpu_total.get(member.pid)
                self._cpu_total[member.pid] = total
                if name is not None and previous is not None:
                    self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + (total - previous)
        return cpu, rss

    def prime(self) -> None:
        for name, pids in self._roots.items():
            self._measure(pids, True)
        self._measure(self.generator_pids, False)
        self._measure([os.getpid()], False)
        psutil.cpu_percent(None)

    def _measure_all(self) -> dict[str, tuple[float, int]]:
        out = {name: self._measure(pids, True, name) for name, pids in self._roots.items()}
        out["generator"] = self._measure(self.generator_pids, False, "generator")
        out["generator-parent"] = self._measure([os.getpid()], False, "generator-parent")
        return out

    def sample(self, second: int) -> dict[str, tuple[float, int]]:
        out = self._measure_all()
        try:
            out["machine"] = (psutil.cpu_percent(None) * (os.cpu_count() or 1),
                              psutil.virtual_memory().used)
        except psutil.Error:
            pass
        for name, (cpu, rss) in out.items():
            self.series.setdefault(name, []).append((second, round(cpu, 1), rss))
        return out

    def count(self) -> None:
        """Add the CPU seconds spent since the last sample, without a point in the series."""
        self._measure_all()

    def summary(self) -> dict:
        """Per component: mean and max CPU % (per core) and max RSS in MiB, over the samples
        taken while the run was under way."""
        out = {}
        for name, samples in self.series.items():
            if not samples:
                continue
            cpus = [s[1] for s in samples]
            out[name] = {"cpu_mean": round(sum(cpus) / len(cpus), 1), "cpu_max": round(max(cpus), 1),
                         "rss_max_mib": round(max(s[2] for s in samples) / 2**20, 1),
                         "samples": len(samples), "cpu_s": round(self.cpu_seconds.get(name, 0.0), 2)}
        return out

    def cpu_per_message(self, messages: int) -> dict[str, float]:
        """µs of CPU per message, per component and for all of them (`all`): on a machine whose
        cores every component shares, what a message costs decides throughput and latency."""
        if messages <= 0:
            return {}
        out = {name: round(seconds / messages * 1e6, 1) for name, seconds in sorted(self.cpu_seconds.items())}
        out["all"] = round(sum(self.cpu_seconds.values()) / messages * 1e6, 1)
        return out


def _cmd(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""
