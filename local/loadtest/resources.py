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

    def _measure(self, pids: list[int], with_children: bool) -> tuple[float, int]:
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
                except psutil.Error:
                    self._procs.pop(member.pid, None)
        return cpu, rss

    def prime(self) -> None:
        for name, pids in self._roots.items():
            self._measure(pids, True)
        self._measure(self.generator_pids, False)
        self._measure([os.getpid()], False)
        psutil.cpu_percent(None)

    def sample(self, second: int) -> dict[str, tuple[float, int]]:
        out = {}
        for name, pids in self._roots.items():
            out[name] = self._measure(pids, True)
        out["generator"] = self._measure(self.generator_pids, False)
        out["generator-parent"] = self._measure([os.getpid()], False)
        try:
            out["machine"] = (psutil.cpu_percent(None) * (os.cpu_count() or 1),
                              psutil.virtual_memory().used)
        except psutil.Error:
            pass
        for name, (cpu, rss) in out.items():
            self.series.setdefault(name, []).append((second, round(cpu, 1), rss))
        return out

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
                         "samples": len(samples)}
        return out


def _cmd(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""
