"""The run's figures: the report dict (→ JSON, written with the chart and the terminal table
by output.py) and the progress view while it runs. What each figure means: docs/loadtest.md."""

from __future__ import annotations

import datetime as _dt
import os
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

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
                      "components": sampler.summary(),
                      "cpu_us_per_message": sampler.cpu_per_message(c.get("acked", 0))},
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
