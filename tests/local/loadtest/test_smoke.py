"""`invoke loadtest`'s generator against the real local stack (Kafka, dynalite, esm, two edges).

A tiny run per protocol: 6 users in rooms of 2 (customer and groomer on different edges), 5
messages each. The tool's own bookkeeping must add up and the run must be clean: no loss,
no errors, in order, every acked message stored once. No timing assertions.
"""

from __future__ import annotations

import json
import uuid

import pytest

from local.loadtest.run import main, run
from local.loadtest.scenario import Options

pytestmark = pytest.mark.slow

USERS, ROOM_SIZE, MESSAGES = 6, 2, 5


def edge_urls(stack) -> list[str]:
    names = sorted(n for n in stack.components if n.startswith("edge"))
    assert len(names) >= 2, f"the stack should have two edges, has {names}"
    return [f"ws://127.0.0.1:{stack.port(n, 'public')}/ws" for n in names]


def check_report(report: dict, protocol: str) -> None:
    conn, msgs, dl, st = report["connections"], report["messages"], report["deliveries"], report["store"]
    assert report["options"]["protocol"] == protocol
    # the tool's books add up
    assert conn["attempted"] == USERS
    assert conn["opened"] + conn["failed"] == conn["attempted"]
    assert msgs["sent"] == msgs["acked"] + msgs["errored"]
    assert msgs["sent"] + msgs["not_sent"] == USERS * MESSAGES
    assert dl["expected"] == msgs["acked"] * ROOM_SIZE     # the sender receives its own messages too
    assert dl["unique"] == dl["expected"] - dl["lost"] + dl["delivered_not_acked"]
    assert dl["received"] == dl["unique"] + dl["duplicates"] + dl["seq_conflicts"] + dl["foreign"]
    assert report["latency_ms"]["ack"]["count"] == msgs["acked"]
    assert report["latency_ms"]["delivery"]["count"] == dl["unique"]
    assert sum(p["acked"] for p in report["timeseries"]) == msgs["acked"]
    # and the run is clean
    assert conn["opened"] == USERS and conn["failed"] == 0 and conn["dropped"] == 0
    assert msgs["acked"] == USERS * MESSAGES and msgs["errored"] == 0, msgs
    assert dl["lost"] == 0, dl["missing_examples"]
    assert dl["out_of_order"] == 0 and dl["seq_conflicts"] == 0 and dl["foreign"] == 0
    assert st["checked"] and st["rooms_checked"] == USERS // ROOM_SIZE, st
    assert st["missing"] == 0 and st["duplicated"] == 0, st["examples"]
    assert st["stored"] == msgs["acked"] + st["stored_not_acked"]
    assert report["verdict"] == {"ok": True, "reasons": []}
    # the stack's components were found for the CPU/memory figures
    assert {"edge-a", "edge-b", "generator"} <= set(report["resources"]["components"])
    # and what each costs per acked message: every component's CPU seconds, summed in `all`
    cost = report["resources"]["cpu_us_per_message"]
    assert cost["edge-a"] > 0 and cost["edge-b"] > 0 and cost["generator"] > 0
    parts = sum(v for k, v in cost.items() if k != "all")
    assert abs(cost["all"] - parts) <= 0.1 * len(cost)   # rounding only
    seconds = report["resources"]["components"]["edge-a"]["cpu_s"]
    assert abs(cost["edge-a"] - seconds / report["messages"]["acked"] * 1e6) <= cost["edge-a"] * 0.02 + 1
    # `invoke bench` finds every figure it summarises in the report
    from local.loadtest.series import FIGURES, summarise

    found = summarise([report, report])
    assert set(found) >= set(FIGURES) - {"store raw items/s", "kafka raw records/s", "drain / smaller raw"}, \
        set(FIGURES) - set(found)
    assert found["delivery p99 ms"]["median"] == report["latency_ms"]["delivery"]["p99_ms"]


def test_cli_json(local_stack, tmp_path):
    """The command line `invoke loadtest` runs: edges and settings found from the stack's home."""
    out = tmp_path / "json"
    status = main(["smoke", "--users", str(USERS), "--room-size", str(ROOM_SIZE), "--messages", str(MESSAGES),
                   "--ramp", "1", "--home", str(local_stack.home), "--out", str(out), "--no-progress",
                   "--yardstick", "0.5"])
    report = json.loads((out / "report.json").read_text())
    assert report["target"]["edges"] == edge_urls(local_stack)
    check_report(report, "json")
    # the yardstick: both raw rates measured before the load, the drain set against the smaller
    ys = report["yardstick"]
    assert ys["store"]["items"] > 0 and ys["store"]["per_s"] > 0, ys
    assert ys["kafka"]["records"] > 0 and ys["kafka"]["per_s"] > 0, ys
    assert ys["smaller_per_s"] == min(ys["store"]["per_s"], ys["kafka"]["per_s"])
    assert ys["drain_fraction"] == round(report["throughput"]["drain_msgs_per_s"] / ys["smaller_per_s"], 3)
    assert report["latency_ms"]["connect_subscribe"]["count"] == USERS
    assert status == 0
    assert (out / "chart.png").stat().st_size > 10_000


def test_stomp(local_stack, tmp_path):
    opts = Options(scenario="smoke", users=USERS, room_size=ROOM_SIZE, messages=MESSAGES, ramp=1.0,
                   protocol="stomp", edges=tuple(edge_urls(local_stack)), home=str(local_stack.home),
                   out=str(tmp_path / "stomp"), progress=False, run_id=f"lt{uuid.uuid4().hex[:8]}", yardstick=0)
    report = run(opts, local_stack.settings)
    check_report(report, "stomp")
    assert (tmp_path / "stomp" / "report.json").exists() and report["yardstick"] is None
