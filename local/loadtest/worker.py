"""A generator process: many simulated users on one asyncio loop.

Protocol with the parent (`run.py`), over a multiprocessing Pipe, as tuples:

    parent → worker: ("start", t0_wall, stop_sending_at_wall | None)   ("stop",)
    worker → parent: ("ready", info)  ("progress", snapshot)  ("done", info)
                     ("final", result)  ("error", text)

Progress snapshots carry the seconds completed since the last one (counts and log-bucket
latency histograms per second, see stats.Second), the open connections, and this
process's own CPU % and RSS. Raw latency samples never leave the process.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import psutil

from functions.settings import Settings
from local.loadtest import codec as codecs
from local.loadtest import setup
from local.loadtest.client import User
from local.loadtest.model import Room, RoomMember
from local.loadtest.scenario import Options, PlannedRoom, parse_edge
from local.loadtest.stats import Counters, Second

TICK_S = 1.0
MISSING_EXAMPLES = 10


class Generator:
    def __init__(self, opts: Options, rooms: list[PlannedRoom], settings: Settings, conn, index: int):
        self.opts = opts
        self.planned_rooms = rooms
        self.settings = settings
        self.conn = conn
        self.index = index
        self.codec = codecs.CODECS[opts.protocol]
        stamp_len = 40
        self.padding = "x" * max(0, opts.body_bytes - stamp_len)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.rooms: list[Room] = []
        self.users: list[User] = []
        self.seconds: dict[int, Second] = {}
        self._cur_k = -1
        self._cur: Second | None = None
        self.t0 = 0.0
        self.open_connections = 0
        self.finished = 0
        self.stopping = False
        self.stop_sending = False
        self.stop_sending_at: float | None = None
        self.all_finished_at: float | None = None
        self.last_delivery_at = 0.0
        self.done_sent = False
        self.timed_out: set[str] = set()
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)
        self.cpu_samples: list[float] = []
        self.control: asyncio.Queue = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ recording
    def sec(self, now: float) -> Second:
        k = int(now - self.t0)
        if k == self._cur_k:
            return self._cur  # type: ignore[return-value]
        second = self.seconds.get(k)
        if second is None:
            second = self.seconds[k] = Second()
        self._cur_k, self._cur = k, second
        return second

    def count(self, name: str, n: int = 1) -> None:
        self.sec(time.time()).counts.add(name, n)

    def not_sent(self, n: int) -> None:
        if n > 0:
            self.count("messages.not_sent", n)

    # ------------------------------------------------------------------ users and rooms
    def build(self, tokens: dict[str, str]) -> None:
        interval = self.opts.interval
        edges = [parse_edge(url) for url in self.opts.edges]
        for planned in self.planned_rooms:
            room = Room(planned.room_id)
            for pu in planned.members:
                user = User(self, pu.idx, pu.user_id, pu.role, room, edges[pu.edge], tokens[pu.user_id],
                            self.opts.messages, interval)
                user.start_offset = pu.start_offset
                room.members.append(user)
                self.users.append(user)
            room.pending = len(room.members)
            self.rooms.append(room)

    def room_ready(self, room: Room) -> None:
        for user in room.members:
            user.begin_sending()

    def user_finished(self, user: RoomMember) -> None:
        self.finished += 1
        if self.finished >= len(self.users) and self.all_finished_at is None:
            self.all_finished_at = time.time()

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.control = asyncio.Queue()
        self.loop.add_reader(self.conn.fileno(), self._read_control)
        command = await self.control.get()
        if command[0] == "stop":
            self._send(("final", self.result(stopped_before_start=True)))
            return
        _, self.t0, self.stop_sending_at = command
        loop_t0 = self.loop.time() + (self.t0 - time.time())
        for user in self.users:
            self.loop.call_at(loop_t0 + user.start_offset, user.start)
        ticker = self.loop.create_task(self._ticker())
        while True:
            command = await self.control.get()
            if command[0] == "stop":
                break
        ticker.cancel()
        await self._shutdown()

    def _read_control(self) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            message = ("stop",)
            self.loop.remove_reader(self.conn.fileno())
        self.control.put_nowait(message)

    def _send(self, message) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, OSError):
            pass

    async def _ticker(self) -> None:
        next_tick = self.loop.time() + TICK_S
        while True:
            await asyncio.sleep(max(0.0, next_tick - self.loop.time()))
            next_tick += TICK_S
            now = time.time()
            try:
                self._tick(now)
            except Exception:  # noqa: BLE001 - a bug here must be seen, not hang the run
                self._send(("error", traceback.format_exc()))

    def _tick(self, now: float) -> None:
        if self.stop_sending_at is not None and now >= self.stop_sending_at and not self.stop_sending:
            self.stop_sending = True
            for user in self.users:
                user.stop_sending()
        limit = self.opts.ack_timeout
        for user in self.users:
            if user.inflight:
                user.check_timeouts(now, limit)
        self._send(("progress", self.snapshot(now, final=False)))
        if not self.done_sent and self.all_finished_at is not None:
            # Wait for outstanding deliveries while they keep coming: give up only after
            # --drain-timeout seconds without any delivery (or --drain-max in all).
            drained = self.deliveries_complete()
            quiet = now - max(self.all_finished_at, self.last_delivery_at)
            if drained or quiet >= self.opts.drain_timeout or now - self.all_finished_at >= self.opts.drain_max:
                self.done_sent = True
                self._send(("done", {"drained": drained, "at": now,
                                     "drain_s": round(now - self.all_finished_at, 2)}))

    def snapshot(self, now: float, final: bool) -> dict:
        current = int(now - self.t0)
        ready = [k for k in self.seconds if final or k < current]
        seconds = {k: self.seconds.pop(k).to_dict() for k in sorted(ready)}
        if self._cur_k in ready:
            self._cur_k, self._cur = -1, None
        cpu = self.proc.cpu_percent(None)
        self.cpu_samples.append(cpu)
        try:
            rss = self.proc.memory_info().rss
        except psutil.Error:
            rss = 0
        return {"index": self.index, "pid": os.getpid(), "seconds": seconds, "open": self.open_connections,
                "finished": self.finished, "users": len(self.users), "cpu": cpu, "rss": rss,
                "all_finished": self.all_finished_at is not None}

    def deliveries_complete(self) -> bool:
        for room in self.rooms:
            acked = room.acked
            for user in room.members:
                if not user.subscribed_ok or user.dropped:
                    continue
                if len(user.received) < len(acked) or not acked <= user.received:
                    return False
        return True

    async def _shutdown(self) -> None:
        self.stopping = True
        self.stop_sending = True
        for user in self.users:
            user.stop_sending()
        for user in self.users:
            user.close()
        deadline = self.loop.time() + 5.0
        while self.open_connections > 0 and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        for user in self.users:
            if user.ws is not None and user.ws.transport is not None and not user.ws.transport.is_closing():
                user.ws.abort()
        await asyncio.sleep(0)
        self._send(("progress", self.snapshot(time.time(), final=True)))
        result = self.result()
        if self.opts.store_check:
            try:
                result["store"] = await self.loop.run_in_executor(None, self.store_check)
            except Exception as exc:  # noqa: BLE001 - report it, do not lose the run's figures
                result["store"] = {"error": f"{type(exc).__name__}: {exc}"}
        self._send(("final", result))

    # ------------------------------------------------------------------ results
    def result(self, stopped_before_start: bool = False) -> dict:
        c = Counters()
        examples = []
        for room in self.rooms:
            acked = room.acked
            receivers = 0
            for user in room.members:
                if not user.subscribed_ok:
                    continue
                receivers += 1
                missing = acked - user.received
                if missing:
                    c.add("lost_on_dropped_connections" if user.dropped else "lost", len(missing))
                    for cmid in list(missing)[:2]:
                        if len(examples) < MISSING_EXAMPLES:
                            examples.append({"room": room.id, "receiver": user.user_id, "clientMsgId": cmid})
                extra = user.received - acked
                if extra:
                    c.add("delivered_not_acked", len(extra))
            c.add("expected", len(acked) * receivers)
            c.add("acked_in_rooms", len(acked))
        return {"index": self.index, "loss": dict(c), "missing_examples": examples,
                "cpu_samples": self.cpu_samples, "users": len(self.users), "rooms": len(self.rooms),
                "stopped_before_start": stopped_before_start}

    def store_check(self) -> dict:
        """Read every room of this process back (messages by seq) and match the acked ids."""
        check = setup.StoreCheck(self.settings)
        rooms = [room for room in self.rooms if room.acked or room.started]
        out = Counters()
        examples = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            for room, found in zip(rooms, pool.map(lambda r: check.room(r.id), rooms)):
                res = check.compare(room.acked, found)
                out.merge(res["counts"])
                for item in res["examples"]:
                    if len(examples) < MISSING_EXAMPLES:
                        examples.append({"room": room.id, **item})
        out.add("rooms_checked", len(rooms))
        return {"counts": dict(out), "examples": examples}


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft


def main(index: int, opts: Options, rooms: list[PlannedRoom], settings_env: dict[str, str], conn) -> None:
    """Entry point of a spawned generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C and stops us cleanly
    try:
        fd_limit = raise_fd_limit()
        settings = Settings.from_env(settings_env)
        gen = Generator(opts, rooms, settings, conn, index)
        started = time.time()
        tokens = setup.tokens_for(settings, [u for r in rooms for u in r.members], ttl_s=setup.token_ttl(opts))
        setup.create_rooms(settings, rooms)
        gen.build(tokens)
        need = len(gen.users) + 64
        conn.send(("ready", {"index": index, "pid": os.getpid(), "users": len(gen.users), "rooms": len(rooms),
                             "setup_s": round(time.time() - started, 3), "fd_limit": fd_limit,
                             "fd_ok": fd_limit >= need}))
        asyncio.run(gen.run())
    except Exception:  # noqa: BLE001 - tell the parent instead of dying silently
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        try:
            conn.close()
        except OSError:
            pass
