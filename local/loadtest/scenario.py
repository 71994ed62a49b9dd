"""Scenarios (the old system's load tests as presets), options, and the plan of a run.

Presets (from the seed's JMeter plans): users, ramp-up seconds, messages per user.

    v1    500 users, 10 s ramp,  50 messages each
    v2  1,000 users, 30 s ramp,  50 messages each
    v4  3,000 users, 30 s ramp, 100 messages each, one long-lived connection each (the headline)
    soak 10,000 users, 60 s ramp, connections held 10 minutes, 0.05 msg/s per user (500 msg/s)
    smoke   6 users,  1 s ramp,   5 messages each

Every user keeps one connection for the whole run (as V4 did); V1/V2 differ only in size.
Any option given on the command line overrides the preset's value.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import urlsplit

PRESETS: dict[str, dict] = {
    "v1": {"users": 500, "ramp": 10.0, "messages": 50},
    "v2": {"users": 1000, "ramp": 30.0, "messages": 50},
    "v4": {"users": 3000, "ramp": 30.0, "messages": 100},
    # V4, but each user sends its 100 without waiting for acks (as far as the edge's flow window lets it)
    "burst": {"users": 3000, "ramp": 30.0, "messages": 100, "window": 100},
    "soak": {"users": 10000, "ramp": 60.0, "messages": 0, "hold": 600.0, "rate": 0.05},
    "smoke": {"users": 6, "ramp": 1.0, "messages": 5},
    "custom": {},
}

DEFAULT_EDGES = ("ws://127.0.0.1:8001/ws", "ws://127.0.0.1:8002/ws")
# How many users one generator process carries before another process is added. Measured:
# one process holds 5,000 idle connections easily and drives ~6,000 messages/s end to end
# (send + ack + 2 deliveries each) at ~80 % of a core; see docs/loadtest.md.
USERS_PER_PROC = 2500
MAX_AUTO_PROCS = 4


@dataclass
class Options:
    scenario: str = "custom"
    users: int = 100
    ramp: float = 5.0                 # seconds over which users connect (evenly)
    messages: int = 20                # per user; 0 = keep sending until the hold ends
    rate: float | None = None         # per-user sends per second (None: next send on ack)
    total_rate: float | None = None   # target sends per second for all users together
    window: int = 1                   # messages a user may have waiting for their ack
    room_size: int = 2                # members per room (customer, groomer, customer, ...)
    protocol: str = "json"            # json | stomp
    edges: tuple[str, ...] = DEFAULT_EDGES
    procs: int = 0                    # generator processes; 0 = automatic
    hold: float = 0.0                 # keep connections open this long after the ramp
    drain_timeout: float = 30.0       # after the last send: give up after this long without a delivery
    drain_max: float = 600.0          # ... or after this long in all
    ack_timeout: float = 30.0         # a message without ack after this is an error
    connect_timeout: float = 30.0     # connect + handshake + subscribe
    body_bytes: int = 64              # approximate body size (the stamp plus padding)
    origin: str | None = "http://127.0.0.1"
    out: str | None = None            # results directory
    home: str | None = None           # the stack's home (pid files for CPU/memory)
    store_check: bool = True          # read every room back from the store after the run
    progress: bool = True
    fail_on_duplicates: bool = False  # duplicates are allowed by the guarantees (at least once)
    yardstick: float = 5.0            # seconds for each raw rate (store, Kafka) before the load; 0: skip
    run_id: str = ""                  # prefix of this run's user and room ids

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = "lt" + format(int(time.time() * 1000) % (36 ** 7), "x")

    # derived -------------------------------------------------------------------------------
    @property
    def interval(self) -> float | None:
        """Seconds between one user's sends (None: as fast as its acks come back)."""
        if self.total_rate:
            return self.users / self.total_rate
        if self.rate:
            return 1.0 / self.rate
        return None

    @property
    def n_rooms(self) -> int:
        return math.ceil(self.users / self.room_size)

    @property
    def n_procs(self) -> int:
        if self.procs > 0:
            return min(self.procs, self.n_rooms)
        return max(1, min(MAX_AUTO_PROCS, math.ceil(self.users / USERS_PER_PROC), self.n_rooms))

    @property
    def planned_messages(self) -> int | None:
        return self.users * self.messages if self.messages else None

    def check(self) -> None:
        problems = []
        if self.users < 1:
            problems.append("--users must be at least 1")
        if self.room_size < 1:
            problems.append("--room-size must be at least 1")
        if self.messages < 0:
            problems.append("--messages must be 0 (unlimited, with --hold) or more")
        if self.messages == 0 and not self.hold:
            problems.append("--messages 0 (send until the end) needs --hold SECONDS")
        if self.window < 1:
            problems.append("--window must be at least 1")
        if self.protocol not in ("json", "stomp"):
            problems.append("--protocol must be json or stomp")
        if self.rate is not None and self.rate <= 0 or self.total_rate is not None and self.total_rate <= 0:
            problems.append("rates must be positive")
        if self.rate and self.total_rate:
            problems.append("give --rate (per user) or --total-rate, not both")
        if not self.edges:
            problems.append("no edges")
        for url in self.edges:
            try:
                parse_edge(url)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["edges"] = list(self.edges)
        data["interval_s"] = self.interval
        data["rooms"] = self.n_rooms
        data["generator_procs"] = self.n_procs
        return data


def parse_edge(url: str) -> tuple[str, int, str]:
    """ws://host:port/path → (host, port, path[?query])."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"edge URL must look like ws://host:port/path, got {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


# --- the plan: who is in which room, on which edge, in which process, starting when ------

@dataclass
class PlannedUser:
    idx: int
    user_id: str
    role: str
    edge: int           # index into Options.edges
    start_offset: float  # seconds after the run's start


@dataclass
class PlannedRoom:
    room_id: str
    members: list[PlannedUser] = field(default_factory=list)


def plan(opts: Options) -> list[list[PlannedRoom]]:
    """Rooms per generator process. Members of a room are consecutive in the ramp (so a room
    is complete soon after its first member connects), alternate customer/groomer, and sit
    on different edges (member j of room k on edge (k + j) mod E), so with two edges every
    delivery to the other member crosses edges. A room lives in one process."""
    procs = opts.n_procs
    out: list[list[PlannedRoom]] = [[] for _ in range(procs)]
    n_edges = len(opts.edges)
    step = opts.ramp / opts.users if opts.users else 0.0
    idx = 0
    for k in range(opts.n_rooms):
        room = PlannedRoom(f"{opts.run_id}-r{k}")
        for j in range(opts.room_size):
            if idx >= opts.users:
                break
            role = "customer" if j % 2 == 0 else "groomer"
            room.members.append(PlannedUser(idx, f"{opts.run_id}-u{idx}", role, (k + j) % n_edges, idx * step))
            idx += 1
        out[k % procs].append(room)
    return out


# --- command line --------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m local.loadtest",
        description="Load generator for tidings: simulated users on long-lived WebSocket "
                    "connections, measuring loss, errors, throughput and latency.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="presets: " + "; ".join(f"{k}: {v}" for k, v in PRESETS.items() if v)
               + "\nexit status: 0 = clean run, 1 = loss/errors/order or store problems, 2 = bad usage / setup failure")
    p.add_argument("scenario", nargs="?", default="custom", type=str.lower, choices=sorted(PRESETS),
                   help="preset (default custom: 100 users, 5 s ramp, 20 messages)")
    p.add_argument("--users", type=int, help="simulated users (one connection each)")
    p.add_argument("--ramp", type=float, help="seconds over which the users connect")
    p.add_argument("--messages", type=int, help="messages per user (0: until --hold ends)")
    p.add_argument("--rate", type=float, help="per-user sends per second (default: next send on ack)")
    p.add_argument("--total-rate", type=float, help="target sends per second across all users")
    p.add_argument("--window", type=int, help="messages a user may have awaiting ack (default 1)")
    p.add_argument("--room-size", type=int, help="members per room (default 2: customer + groomer)")
    p.add_argument("--protocol", choices=("json", "stomp"), help="client protocol (default json)")
    p.add_argument("--edges", help="comma-separated edge URLs (default: the stack's edges, "
                                   "else ws://127.0.0.1:8001/ws,ws://127.0.0.1:8002/ws)")
    p.add_argument("--procs", type=int, help="generator processes (default: one per 2,500 users, max 4)")
    p.add_argument("--hold", type=float, help="keep connections open this many seconds after the ramp")
    p.add_argument("--drain-timeout", type=float,
                   help="after the last send, wait for outstanding deliveries until none came for "
                        "this many seconds (default 30)")
    p.add_argument("--drain-max", type=float, help="... but at most this many seconds in all (default 600)")
    p.add_argument("--ack-timeout", type=float, help="seconds before a message without ack is an error (default 30)")
    p.add_argument("--connect-timeout", type=float, help="seconds to connect and subscribe (default 30)")
    p.add_argument("--body-bytes", type=int, help="approximate message body size (default 64)")
    p.add_argument("--origin", help="Origin header sent at the handshake (default http://127.0.0.1)")
    p.add_argument("--out", help="results directory (default loadtest-results/<timestamp>)")
    p.add_argument("--home", help="the stack's home for pid files (default $TIDINGS_HOME or .tidings)")
    p.add_argument("--no-store-check", dest="store_check", action="store_false", default=None,
                   help="skip reading the messages back from the store")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (CI logs)")
    p.add_argument("--fail-on-duplicates", action="store_true", default=None,
                   help="exit non-zero on duplicate deliveries too")
    p.add_argument("--yardstick", type=float, metavar="S",
                   help="measure the store's and Kafka's raw rates for S seconds each before the load "
                        "(default 5; 0 skips it)")
    return p


def options_from_args(argv: list[str] | None = None) -> Options:
    args = build_parser().parse_args(argv)
    values = dict(PRESETS[args.scenario])
    for name in ("users", "ramp", "messages", "rate", "total_rate", "window", "room_size", "protocol",
                 "procs", "hold", "drain_timeout", "drain_max", "ack_timeout", "connect_timeout", "body_bytes",
                 "origin", "out", "home", "store_check", "progress", "fail_on_duplicates", "yardstick"):
        value = getattr(args, name)
        if value is not None:
            values[name] = value
    if args.rate is not None or args.total_rate is not None:
        values["rate"] = args.rate
        values["total_rate"] = args.total_rate
    if args.edges:
        values["edges"] = tuple(u.strip() for u in args.edges.split(",") if u.strip())
    opts = Options(scenario=args.scenario, **values)
    if not args.edges:
        opts = replace(opts, edges=discover_edges(opts.home))
    opts.check()
    return opts


def discover_edges(home: str | None) -> tuple[str, ...]:
    """The public edge URLs of the local stack (its port map, run/ports.json), else the defaults."""
    import json
    from pathlib import Path

    try:
        from local import paths
        base = Path(home).expanduser().resolve() if home else paths.default_home()
        ports = json.loads((base / "run" / "ports.json").read_text())
    except (ImportError, OSError, ValueError):
        return DEFAULT_EDGES
    edges = []
    for name in sorted(ports):
        if name.startswith("edge"):
            labels = ports[name]
            port = labels.get("public") or next(iter(labels.values()), None)
            if port:
                edges.append(f"ws://127.0.0.1:{int(port)}/ws")
    return tuple(edges) or DEFAULT_EDGES


def default_out_dir() -> str:
    return os.path.join("loadtest-results", time.strftime("%Y%m%d-%H%M%S"))
