"""The KRaft controller quorum of a running cluster: who leads, who follows, how far behind.

confluent-kafka (2.16) has no ``describe_metadata_quorum`` and the ``kafka-metadata-quorum``
tool is not among the broker's jars, so this sends Kafka's DescribeQuorum request (API key
55, version 1) itself, over a plain socket, to one broker after another until one answers
(a broker forwards it to the active controller). What the Java Admin API's
``describeMetadataQuorum`` returns, in ~100 lines and without a JVM.
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from dataclasses import dataclass

API_KEY = 55          # DescribeQuorum
API_VERSION = 1       # flexible (compact) encoding; v1 adds the fetch timestamps
METADATA_TOPIC = "__cluster_metadata"
_CORRELATION = itertools.count(1)


class QuorumUnavailable(RuntimeError):
    """No broker answered, or none could reach an active controller (no quorum)."""


@dataclass(frozen=True)
class Replica:
    node_id: int
    log_end_offset: int
    last_fetch_ms: int          # -1: never fetched (or this is the leader)
    last_caught_up_ms: int


@dataclass(frozen=True)
class Quorum:
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voters: tuple[Replica, ...]
    observers: tuple[Replica, ...]

    @property
    def followers(self) -> tuple[Replica, ...]:
        return tuple(v for v in self.voters if v.node_id != self.leader_id)

    def lag(self, replica: Replica) -> int:
        """Records of the metadata log the replica still lacks (0: caught up)."""
        return max(0, self.high_watermark - replica.log_end_offset)


# --- encoding ---------------------------------------------------------------------------

def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _compact_string(text: str) -> bytes:
    raw = text.encode()
    return _uvarint(len(raw) + 1) + raw


def request(correlation_id: int, client_id: str = "tidings-status") -> bytes:
    client = client_id.encode()
    header = struct.pack(">hhih", API_KEY, API_VERSION, correlation_id, len(client)) + client + b"\x00"
    body = (_uvarint(2) + _compact_string(METADATA_TOPIC)        # one topic
            + _uvarint(2) + struct.pack(">i", 0) + b"\x00"         # one partition: 0
            + b"\x00" + b"\x00")                                   # topic tags, request tags
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


# --- decoding ---------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        value = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value[0]

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def string(self) -> str:
        n = self.uvarint() - 1
        text = self.data[self.pos:self.pos + max(n, 0)].decode()
        self.pos += max(n, 0)
        return text

    def array(self, item) -> list:
        return [item() for _ in range(self.uvarint() - 1)]

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()


def _replica(r: _Reader) -> Replica:
    replica = Replica(r.take(">i"), r.take(">q"), r.take(">q"), r.take(">q"))
    r.tags()
    return replica


def parse(data: bytes) -> Quorum:
    """The body after the 4-byte size: response header v1, then DescribeQuorumResponse v1."""
    r = _Reader(data)
    r.take(">i")                 # correlation id
    r.tags()
    error = r.take(">h")
    if error:
        raise QuorumUnavailable(f"DescribeQuorum error code {error}")
    partitions = []
    for _ in range(r.uvarint() - 1):
        r.string()               # topic name
        for _ in range(r.uvarint() - 1):
            index, p_error = r.take(">i"), r.take(">h")
            leader, epoch, hwm = r.take(">i"), r.take(">i"), r.take(">q")
            voters, observers = r.array(lambda: _replica(r)), r.array(lambda: _replica(r))
            r.tags()
            partitions.append((index, p_error, Quorum(leader, epoch, hwm, tuple(voters), tuple(observers))))
        r.tags()
    for index, p_error, quorum in partitions:
        if index == 0:
            if p_error:
                raise QuorumUnavailable(f"DescribeQuorum partition error code {p_error}")
            return quorum
    raise QuorumUnavailable("DescribeQuorum answered without the metadata partition")


def _exchange(host: str, port: int, timeout: float) -> bytes:
    correlation = next(_CORRELATION)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(request(correlation))
        size = struct.unpack(">i", _recv(sock, 4))[0]
        return _recv(sock, size)


def _recv(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def describe(bootstrap: str, timeout: float = 3.0) -> Quorum:
    """The quorum, asked of each broker of ``bootstrap`` ("host:port,...") in turn."""
    errors = []
    deadline = time.monotonic() + timeout * max(1, bootstrap.count(",") + 1)
    for address in (a.strip() for a in bootstrap.split(",") if a.strip()):
        host, _, port = address.rpartition(":")
        try:
            return parse(_exchange(host, int(port), max(0.2, min(timeout, deadline - time.monotonic()))))
        except (OSError, QuorumUnavailable, struct.error, IndexError) as exc:
            errors.append(f"{address}: {exc}")
    raise QuorumUnavailable("; ".join(errors) or "no broker address")
