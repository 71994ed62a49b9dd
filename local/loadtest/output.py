"""Writing a finished load-test report: report.json, the chart (chart.png, matplotlib) and
the table printed at the end of a run. `report.build` makes the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table


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
    per_message = report["resources"].get("cpu_us_per_message", {})
    for col in ("component", "cpu mean", "cpu max", "cpu µs/msg", "rss max MiB"):
        rt.add_column(col, justify="right" if col != "component" else "left")
    for name, s in report["resources"]["components"].items():
        cost = per_message.get(name)
        rt.add_row(name, f"{s['cpu_mean']:.0f}", f"{s['cpu_max']:.0f}", "-" if cost is None else f"{cost:,.0f}",
                   f"{s['rss_max_mib']:,.0f}")
    for p in report["generator"]["per_proc"]:
        rt.add_row(f"  generator {p['index']} ({p['users']} users)",
                   "-" if p["cpu_mean"] is None else f"{p['cpu_mean']:.0f}",
                   "-" if p["cpu_max"] is None else f"{p['cpu_max']:.0f}", "-", f"{p['rss_mib']:,.0f}")
    if "all" in per_message:
        rt.add_row("all of the above", "", "", f"{per_message['all']:,.0f}", "")
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
