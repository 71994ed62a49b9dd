"""The run's figures: the report dict (→ JSON), the terminal table, the PNG chart, the
progress view while it runs. What each figure means: docs/loadtest.md."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from local.loadtest.stats import Counters, LogHistogram

REPORT_VERSION = 1


def make_console() -> Console:
    return Console(highlight=False)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000.0
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


class ProgressView:
    """A rich progress bar (or a plain status line every 5 s when progress is off)."""

    def __init__(self, console: Console, opts, enabled: bool = True):
        self.console = console
        self.opts = opts
        self.enabled = enabled and console.is_terminal
        self.plain = enabled and not console.is_terminal
        self.by_messages = bool(opts.planned_messages)
        self.total = opts.planned_messages or max(1.0, opts.ramp + opts.hold)
        self.progress: Progress | None = None
        self.task = None
        self._last_plain = 0.0
        self._last = (0.0, 0)

    def __enter__(self) -> "ProgressView":
        if self.enabled:
            self.progress = Progress(SpinnerColumn(), BarColumn(bar_width=24), TaskProgressColumn(), TimeElapsedColumn(),
                                     TextColumn("{task.fields[info]}"), console=self.console, transient=False)
            self.progress.__enter__()
            self.task = self.progress.add_task("load", total=self.total, info="starting…")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def line(self, agg, elapsed: float) -> str:
        c = agg.counts
        acked = c.get("acked", 0)
        prev_t, prev_acked = self._last
        rate = (acked - prev_acked) / (elapsed - prev_t) if elapsed > prev_t else 0.0
        self._last = (elapsed, acked)
        errors = c.get("messages.errored", 0)
        failed = c.get("connections.failed", 0) + c.get("connections.dropped", 0)
        return (f"conn {sum(agg.open)}/{self.opts.users}" + (f" ✗{failed}" if failed else "")
                + f" │ sent {c.get('sent', 0):,} ack {acked:,} ({rate:,.0f}/s) err {errors}"
                f" │ dlv {c.get('delivered_unique', 0):,}/~{acked * self.opts.room_size:,}"
                f" │ p99 ack {_ms(agg.ack.percentile(99))} dlv {_ms(agg.delivery.percentile(99))} ms")

    def update(self, agg, elapsed: float) -> None:
        if self.progress is None and not self.plain:
            return
        info = self.line(agg, elapsed)
        c = agg.counts
        if self.by_messages:
            completed = c.get("acked", 0) + c.get("messages.errored", 0) + c.get("messages.not_sent", 0)
        else:
            completed = min(elapsed, self.total)
        if self.progress is not None:
            self.progress.update(self.task, completed=completed, info=info)
        elif time.time() - self._last_plain >= 5.0:
            self._last_plain = time.time()
            self.console.print(f"[{elapsed:6.0f}s] {info}", highlight=False)


def _sub(counts: Counters, prefix: str) -> dict[str, int]:
    return {k[len(prefix):]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def build(opts, settings, agg, sampler, readies: dict, finals: dict, problems: list[str],
          interrupted: bool, timing: dict) -> dict:
    c = agg.counts
    loss = Counters()
    store = Counters()
    store_errors, store_examples, missing_examples = [], [], []
    store_checked = bool(opts.store_check)
    for final in finals.values():
        loss.merge(final.get("loss", {}))
        missing_examples += final.get("missing_examples", [])
        st = final.get("store")
        if st is None:
            continue
        if "error" in st:
            store_errors.append(st["error"])
        else:
            store.merge(st.get("counts", {}))
            store_examples += st.get("examples", [])
    if len(finals) < len(readies) and opts.store_check:
        store_errors.append(f"{len(readies) - len(finals)} generator(s) sent no store check")

    series = timeseries(agg)
    active_sent = [p for p in series if p["sent"]]
    active_acked = [p for p in series if p["acked"]]
    active_deliv = [p for p in series if p["delivered"]]
    window = (active_acked[-1]["t"] - active_sent[0]["t"] + 1) if active_sent and active_acked else 0
    dwindow = (active_deliv[-1]["t"] - active_sent[0]["t"] + 1) if active_sent and active_deliv else 0
    lost = loss.get("lost", 0)
    lost_dropped = loss.get("lost_on_dropped_connections", 0)
    report = {
        "tool": "tidings loadtest",
        "report_version": REPORT_VERSION,
        "scenario": opts.scenario,
        "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "options": opts.to_dict(),
        "target": {"edges": list(opts.edges), "kafka": settings.kafka_bootstrap,
                   "dynamodb": settings.dynamodb_endpoint or "AWS", "table_prefix": settings.table_prefix},
        "clock": "all stamps are time.time() on this one machine (sender and receiver share the clock)",
        "timing": timing,
        "interrupted": interrupted,
        "connections": {
            "attempted": c.get("connections.attempted", 0),
            "opened": c.get("connections.opened", 0),
            "subscribed": c.get("subscriptions.ok", 0),
            "failed": c.get("connections.failed", 0),
            "failed_by_reason": _sub(c, "connect_fail."),
            "dropped": c.get("connections.dropped", 0),
            "dropped_by_reason": _sub(c, "drop_reason."),
            "peak_open": agg.peak_open,
        },
        "messages": {
            "planned": opts.planned_messages,
            "sent": c.get("sent", 0),
            "acked": c.get("acked", 0),
            "errored": c.get("messages.errored", 0),
            "errors_by_code": _sub(c, "errors."),
            "unsolicited_errors_by_code": _sub(c, "errors_unsolicited."),
            "not_sent": c.get("messages.not_sent", 0),
            "late_acks": c.get("messages.late_acks", 0),
            "unknown_acks": c.get("messages.unknown_acks", 0),
        },
        "deliveries": {
            "expected": loss.get("expected", 0),
            "received": c.get("delivered", 0),
            "unique": c.get("delivered_unique", 0),
            "lost": lost + lost_dropped,
            "lost_on_live_connections": lost,
            "lost_on_dropped_connections": lost_dropped,
            "duplicates": c.get("duplicates", 0),
            "out_of_order": c.get("out_of_order", 0),
            "seq_conflicts": c.get("seq_conflicts", 0),
            "foreign": c.get("delivered_foreign", 0),
            "delivered_not_acked": loss.get("delivered_not_acked", 0),
            "missing_examples": missing_examples[:10],
        },
        "throughput": {
            "window_s": window,
            "acked_per_s_mean": round(c.get("acked", 0) / window, 1) if window else 0.0,
            "acked_per_s_peak": max((p["acked"] for p in series), default=0),
            "delivered_per_s_mean": round(c.get("delivered", 0) / dwindow, 1) if dwindow else 0.0,
            "delivered_per_s_peak": max((p["delivered"] for p in series), default=0),
            # the pipeline's drain: messages stored and delivered to every member, per second,
            # from the first send to the last delivery
            "drain_msgs_per_s": round(c.get("delivered_unique", 0) / opts.room_size / dwindow, 1) if dwindow else 0.0,
        },
        "latency_ms": {"ack": agg.ack.summary(), "delivery": agg.delivery.summary(),
                       "connect_subscribe": agg.subscribe.summary()},
        "resources": {"source": sampler.sources, "cpu_unit": f"% of one core ({os.cpu_count()} cores)",
                      "components": sampler.summary()},
        "generator": {
            "procs": len(readies) or len(agg.open),
            "per_proc": [{"index": i, "pid": readies.get(i, {}).get("pid"),
                          "users": readies.get(i, {}).get("users"),
                          "setup_s": readies.get(i, {}).get("setup_s"),
                          "cpu_mean": round(sum(s) / len(s), 1) if s else None,
                          "cpu_max": max(s) if s else None,
                          "rss_mib": round(agg.rss[i] / 2**20, 1)}
                         for i, s in enumerate(agg.proc_cpu)],
        },
        "store": {
            "checked": store_checked and not store_errors,
            "rooms_checked": store.get("rooms_checked", 0),
            "stored": store.get("stored", 0),
            "missing": store.get("missing", 0),
            "duplicated": store.get("duplicated", 0),
            "stored_not_acked": store.get("stored_not_acked", 0),
            "seq_gaps": store.get("seq_gaps", 0),
            "examples": store_examples[:10],
            "errors": store_errors,
        } if store_checked else {"checked": False},
        "timeseries": series,
        "problems": problems,
    }
    report["yardstick"] = yardstick_figures(timing.pop("yardstick", None), report["throughput"]["drain_msgs_per_s"])
    report["verdict"] = verdict(report, opts)
    return report


def yardstick_figures(measured: dict | None, drain: float) -> dict | None:
    """The raw rates measured before the load, and the drain as a fraction of the smaller."""
    if not measured:
        return None
    smaller = measured["smaller_per_s"]
    return {**measured, "drain_msgs_per_s": drain,
            "drain_fraction": round(drain / smaller, 3) if smaller else None}


def timeseries(agg) -> list[dict]:
    out = []
    if not agg.seconds:
        return out
    opens = dict(agg.open_series)
    last_open = 0
    for k in range(min(agg.seconds), max(agg.seconds) + 1):
        second = agg.seconds.get(k)
        counts = second.counts if second else {}
        last_open = opens.get(k, last_open)
        point = {"t": k, "sent": counts.get("sent", 0), "acked": counts.get("acked", 0),
                 "delivered": counts.get("delivered", 0),
                 "errors": counts.get("messages.errored", 0), "open": last_open}
        for name, hist in (("ack", second.ack if second else LogHistogram()),
                           ("delivery", second.delivery if second else LogHistogram())):
            for q in (50, 90, 99):
                value = hist.percentile(q)
                point[f"{name}_p{q}_ms"] = None if value is None else round(value * 1000, 3)
            point[f"{name}_max_ms"] = round(hist.max * 1000, 3) if hist.n else None
        out.append(point)
    return out


def verdict(report: dict, opts) -> dict:
    reasons = []
    conn, msgs, dl = report["connections"], report["messages"], report["deliveries"]
    if conn["failed"]:
        reasons.append(f"{conn['failed']} connection(s) failed: {conn['failed_by_reason']}")
    if conn["dropped"]:
        reasons.append(f"{conn['dropped']} connection(s) dropped: {conn['dropped_by_reason']}")
    if msgs["errored"]:
        reasons.append(f"{msgs['errored']} message(s) errored: {msgs['errors_by_code']}")
    if msgs["not_sent"]:
        reasons.append(f"{msgs['not_sent']} planned message(s) not sent")
    if dl["lost"]:
        waited = report["timing"].get("drain_s")
        if report["interrupted"] or waited is None:
            reasons.append(f"{dl['lost']} of {dl['expected']} deliveries not received before the run ended")
        else:
            reasons.append(f"{dl['lost']} of {dl['expected']} deliveries lost: not received {waited:g} s "
                           f"after the last send (the drain ends after {opts.drain_timeout:g} s without "
                           f"a delivery, or after --drain-max {opts.drain_max:g} s)")
    if dl["out_of_order"]:
        reasons.append(f"{dl['out_of_order']} deliveries out of room order")
    if dl["seq_conflicts"] or dl["foreign"]:
        reasons.append(f"{dl['seq_conflicts']} seq conflicts, {dl['foreign']} deliveries for another room")
    if opts.fail_on_duplicates and dl["duplicates"]:
        reasons.append(f"{dl['duplicates']} duplicate deliveries")
    st = report["store"]
    if opts.store_check:
        if st.get("errors"):
            reasons.append(f"store check incomplete: {st['errors'][0]}")
        if st.get("missing"):
            reasons.append(f"{st['missing']} acked message(s) missing from the store")
        if st.get("duplicated"):
            reasons.append(f"{st['duplicated']} message(s) stored more than once")
    if msgs["acked"] == 0 and not reasons:
        reasons.append("nothing was acked")
    if report["interrupted"]:
        reasons.append("interrupted")
    reasons += report["problems"]
    return {"ok": not reasons, "reasons": reasons}


# --------------------------------------------------------------------------- output

def write(report: dict, agg, sampler, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    report["files"] = {"json": str(out_dir / "report.json"), "chart": str(out_dir / "chart.png")}
    resources_series = {name: [[t, cpu, round(rss / 2**20, 1)] for t, cpu, rss in samples]
                        for name, samples in sampler.series.items()}
    report["resources"]["series"] = resources_series
    try:
        chart(report, out_dir / "chart.png")
    except Exception as exc:  # noqa: BLE001 - a missing chart must not hide the figures
        report["files"]["chart"] = None
        report["problems"].append(f"chart not drawn: {type(exc).__name__}: {exc}")
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = report["timeseries"]
    fig, axes = plt.subplots(3, 1, figsize=(12, 11), sharex=True)
    t = [p["t"] for p in series]
    ax = axes[0]
    ax.plot(t, [p["sent"] for p in series], label="sent/s", lw=1, alpha=0.7)
    ax.plot(t, [p["acked"] for p in series], label="acked/s", lw=1.5)
    ax.plot(t, [p["delivered"] for p in series], label="delivered/s", lw=1.5)
    if any(p["errors"] for p in series):
        ax.plot(t, [p["errors"] for p in series], label="errors/s", lw=1, color="red")
    ax.set_ylabel("per second")
    ax.set_title(f"tidings loadtest {report['scenario']}: {report['options']['users']} users, "
                 f"{report['options']['protocol']}; acked {report['messages']['acked']:,}, "
                 f"lost {report['deliveries']['lost']:,}, errors {report['messages']['errored']:,}")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    twin.plot(t, [p["open"] for p in series], label="open connections", color="grey", ls="--", lw=1)
    twin.set_ylabel("open connections")
    lines = ax.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)

    ax = axes[1]
    for key, style in (("ack_p50_ms", ("C0", "-")), ("ack_p99_ms", ("C0", ":")),
                       ("delivery_p50_ms", ("C1", "-")), ("delivery_p99_ms", ("C1", ":"))):
        pts = [(p["t"], p[key]) for p in series if p[key] is not None]
        if pts:
            ax.plot([a for a, _ in pts], [b for _, b in pts], color=style[0], ls=style[1], lw=1.3,
                    label=key.replace("_ms", "").replace("_", " "))
    if ax.get_legend_handles_labels()[0]:
        ax.set_yscale("log")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_ylabel("latency (ms, log), per second")
    ax.grid(alpha=0.3, which="both")

    ax = axes[2]
    comps = report["resources"].get("series", {})
    for name, samples in sorted(comps.items()):
        if name == "machine" or not samples:
            continue
        ax.plot([s[0] for s in samples], [s[1] for s in samples], lw=1.2, label=name)
    if "machine" in comps:
        ax.plot([s[0] for s in comps["machine"]], [s[1] for s in comps["machine"]], color="black",
                ls="--", lw=1, label="machine")
    ax.set_ylabel(f"CPU % (100 = one core of {os.cpu_count()})")
    ax.set_xlabel("seconds since start")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _lat_row(table: Table, name: str, s: dict) -> None:
    f = lambda v: "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:,.0f}")  # noqa: E731
    table.add_row(name, f"{s['count']:,}", f(s["p50_ms"]), f(s["p90_ms"]), f(s["p99_ms"]), f(s["p99.9_ms"]),
                  f(s["max_ms"]))


def print_table(console: Console, report: dict) -> None:
    conn, msgs, dl, tp = report["connections"], report["messages"], report["deliveries"], report["throughput"]
    t = Table(title=f"tidings loadtest — {report['scenario']}", show_header=True, header_style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("detail")
    t.add_row("connections opened / attempted", f"{conn['opened']:,} / {conn['attempted']:,}",
              f"peak open {conn['peak_open']:,}")
    t.add_row("connections failed / dropped", f"{conn['failed']:,} / {conn['dropped']:,}",
              _short({**conn["failed_by_reason"], **conn["dropped_by_reason"]}))
    t.add_row("messages sent", f"{msgs['sent']:,}", f"planned {msgs['planned']:,}" if msgs["planned"] else "")
    t.add_row("acked", f"{msgs['acked']:,}", f"late {msgs['late_acks']}" if msgs["late_acks"] else "")
    t.add_row("errored", f"{msgs['errored']:,}", _short(msgs["errors_by_code"]))
    if msgs["not_sent"]:
        t.add_row("not sent", f"{msgs['not_sent']:,}", "users that failed or dropped")
    t.add_row("deliveries expected / received", f"{dl['expected']:,} / {dl['unique']:,}",
              f"{dl['received']:,} frames incl. duplicates")
    t.add_row("lost", f"{dl['lost']:,}", f"on dropped connections {dl['lost_on_dropped_connections']:,}"
              if dl["lost_on_dropped_connections"] else "")
    t.add_row("duplicates / out of order", f"{dl['duplicates']:,} / {dl['out_of_order']:,}",
              f"delivered but not acked {dl['delivered_not_acked']}" if dl["delivered_not_acked"] else "")
    t.add_row("acked/s mean / peak", f"{tp['acked_per_s_mean']:,.0f} / {tp['acked_per_s_peak']:,}",
              f"over {tp['window_s']} s")
    t.add_row("delivered/s mean / peak", f"{tp['delivered_per_s_mean']:,.0f} / {tp['delivered_per_s_peak']:,}", "")
    t.add_row("drain (msgs stored + delivered/s)", f"{tp['drain_msgs_per_s']:,.0f}", "first send to last delivery")
    ys = report.get("yardstick")
    if ys:
        t.add_row("yardstick: store / Kafka raw /s", f"{ys['store']['per_s']:,.0f} / {ys['kafka']['per_s']:,.0f}",
                  f"BatchWriteItem {ys['store']['item_bytes']} B items x{ys['store']['threads']} threads; "
                  f"produce+consume {ys['kafka']['record_bytes']} B records")
        t.add_row("drain / smaller raw rate", f"{(ys['drain_fraction'] or 0) * 100:.0f} %", f"of the {ys['smaller']}'s")
    st = report["store"]
    if st.get("checked") or st.get("errors"):
        t.add_row("store: missing / duplicated", f"{st.get('missing', 0):,} / {st.get('duplicated', 0):,}",
                  f"{st.get('stored', 0):,} stored in {st.get('rooms_checked', 0):,} rooms"
                  + (f"; {st['errors'][0]}" if st.get("errors") else ""))
    console.print(t)
    lt = Table(title="latency (ms, one clock: time.time())", header_style="bold")
    for col in ("", "count", "p50", "p90", "p99", "p99.9", "max"):
        lt.add_column(col, justify="right" if col else "left")
    _lat_row(lt, "connect → subscribed", report["latency_ms"]["connect_subscribe"])
    _lat_row(lt, "send → ack", report["latency_ms"]["ack"])
    _lat_row(lt, "send → delivery", report["latency_ms"]["delivery"])
    console.print(lt)
    rt = Table(title=f"CPU / memory ({report['resources']['cpu_unit']}; found by {report['resources']['source']})",
               header_style="bold")
    for col in ("component", "cpu mean", "cpu max", "rss max MiB"):
        rt.add_column(col, justify="right" if col != "component" else "left")
    for name, s in report["resources"]["components"].items():
        rt.add_row(name, f"{s['cpu_mean']:.0f}", f"{s['cpu_max']:.0f}", f"{s['rss_max_mib']:,.0f}")
    for p in report["generator"]["per_proc"]:
        rt.add_row(f"  generator {p['index']} ({p['users']} users)",
                   "-" if p["cpu_mean"] is None else f"{p['cpu_mean']:.0f}",
                   "-" if p["cpu_max"] is None else f"{p['cpu_max']:.0f}", f"{p['rss_mib']:,.0f}")
    console.print(rt)
    v = report["verdict"]
    if v["ok"]:
        stored = "stored once" if report["store"].get("checked") else "store NOT checked"
        console.print(f"[bold green]PASS[/]: no loss, no errors, in order, {stored}")
    else:
        console.print("[bold red]FAIL[/]:")
        for reason in v["reasons"]:
            console.print(f"  - {reason}", highlight=False)
    files = report.get("files", {})
    console.print(f"report: {files.get('json')}  chart: {files.get('chart')}", highlight=False)


def _short(d: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in list(d.items())[:4])
