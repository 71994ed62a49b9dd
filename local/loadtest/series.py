"""A benchmark figure as BENCHMARKS.md wants it: the same load test N times, each on a wiped
stack, and the median (min–max) of every figure, with the yardstick of each run.

    python -m local.loadtest.series v4 --runs 3 [-- any loadtest option ...]
    invoke bench -- v4 --runs 3

Each run: `invoke down --wipe`, `invoke up` (the environment's TIDINGS_* settings apply, as
for `invoke up`), then the load test into <out>/run-<i>/. The summary (summary.json and a
table) lists per figure the median and the range over the runs, the commit and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
from pathlib import Path

from local.paths import REPO_ROOT

FIGURES = {   # name -> path in the report
    "acked msgs/s": ("throughput", "acked_per_s_mean"),
    "drain msgs/s": ("throughput", "drain_msgs_per_s"),
    "store raw items/s": ("yardstick", "store", "per_s"),
    "kafka raw records/s": ("yardstick", "kafka", "per_s"),
    "drain / smaller raw": ("yardstick", "drain_fraction"),
    "ack p50 ms": ("latency_ms", "ack", "p50_ms"),
    "ack p99 ms": ("latency_ms", "ack", "p99_ms"),
    "delivery p50 ms": ("latency_ms", "delivery", "p50_ms"),
    "delivery p99 ms": ("latency_ms", "delivery", "p99_ms"),
    "connect+subscribe p99 ms": ("latency_ms", "connect_subscribe", "p99_ms"),
    "lost": ("deliveries", "lost"),
    "duplicates": ("deliveries", "duplicates"),
    "out of order": ("deliveries", "out_of_order"),
    "errors": ("messages", "errored"),
    "store missing": ("store", "missing"),
    "store duplicated": ("store", "duplicated"),
    # CPU per acked message (µs): all components, then the largest ones (BENCHMARKS.md)
    "cpu µs/msg all": ("resources", "cpu_us_per_message", "all"),
    "cpu µs/msg kafka": ("resources", "cpu_us_per_message", "kafka"),
    "cpu µs/msg dynalite": ("resources", "cpu_us_per_message", "dynalite"),
    "cpu µs/msg edge-a": ("resources", "cpu_us_per_message", "edge-a"),
    "cpu µs/msg edge-b": ("resources", "cpu_us_per_message", "edge-b"),
    "cpu µs/msg esm": ("resources", "cpu_us_per_message", "esm"),
    "cpu µs/msg notifier": ("resources", "cpu_us_per_message", "notifier"),
}


def _get(report: dict, path: tuple[str, ...]):
    value = report
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def summarise(reports: list[dict]) -> dict:
    out = {}
    for name, path in FIGURES.items():
        values = [v for v in (_get(r, path) for r in reports) if isinstance(v, (int, float))]
        if values:
            out[name] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                         "runs": values}
    return out


def _fmt(value: float) -> str:
    return f"{value:,.3f}" if abs(value) < 10 and value != int(value) else f"{value:,.0f}"


def _commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.loadtest.series", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="the load test's preset (v4, burst, v2, custom ...)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="default loadtest-results/series-<time>")
    args, rest = parser.parse_known_args(argv)
    rest = [a for a in rest if a != "--"]
    out = args.out or REPO_ROOT / "loadtest-results" / f"series-{args.scenario}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    reports, statuses = [], []
    for i in range(1, args.runs + 1):
        print(f"== run {i} of {args.runs}: wiping and starting the stack", flush=True)
        for command in (["down", "--wipe"], ["up"]):
            code = subprocess.call([sys.executable, "-m", "local.stack.stackctl", *command], cwd=REPO_ROOT)
            if code:
                print(f"`stackctl {' '.join(command)}` failed ({code})", file=sys.stderr)
                return 2
        run_dir = out / f"run-{i}"
        statuses.append(subprocess.call([sys.executable, "-m", "local.loadtest", args.scenario, *rest,
                                         "--out", str(run_dir), "--no-progress"], cwd=REPO_ROOT))
        report_path = run_dir / "report.json"
        if report_path.exists():
            reports.append(json.loads(report_path.read_text()))
    summary = {"scenario": args.scenario, "options": rest, "runs": len(reports), "exit_statuses": statuses,
               "commit": _commit(), "date": dt.date.today().isoformat(), "figures": summarise(reports)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{args.scenario} x{len(reports)} at {summary['commit']} on {summary['date']} "
          f"(median (min–max)); exit statuses {statuses}")
    for name, f in summary["figures"].items():
        print(f"  {name:28s} {_fmt(f['median']):>12s}  ({_fmt(f['min'])}–{_fmt(f['max'])})")
    print(f"summary: {out / 'summary.json'}")
    return 0 if statuses and all(s == 0 for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
