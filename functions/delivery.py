"""Posting server events to the edges' delivery API (contracts: the @connections contract).

`Deliverer.deliver` makes one batched `POST {edgeUrl}/@connections` per edge (split only
when a batch exceeds `max_post_bytes`), edges in parallel over a keep-alive pool. An
unreachable or failing edge is logged and counted, never raised: its clients reconnect to
another edge and catch up from the store. Connection ids the edge answers 410 for are
returned, so the caller can forget them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import orjson
import urllib3

from functions import contracts
from functions.logs import get_logger
from functions.settings import Settings

log = get_logger("tidings.delivery")

GONE = 410
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

Item = tuple[Sequence[str], dict]  # (connection ids, server event)


class EdgeUnreachable(ConnectionError):
    """No answer from an edge after the retries (single-connection form only)."""


def _chunks(items: list[Item], max_bytes: int) -> list[list[tuple[list[str], dict, int]]]:
    """Split items into POST bodies of at most ~max_bytes, keeping their order."""
    chunks: list[list] = [[]]
    size = 0
    for ids, event in items:
        n = len(orjson.dumps(event)) + 40 * len(ids) + 32
        if chunks[-1] and size + n > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append((list(ids), event, n))
        size += n
    return chunks if chunks[0] else []


class Deliverer:
    def __init__(self, settings: Settings, *, max_workers: int = 8, retries: int = 2,
                 backoff_s: float = 0.05, connect_timeout_s: float = 1.0, read_timeout_s: float = 5.0,
                 max_post_bytes: int = 1_000_000, pool: urllib3.PoolManager | None = None, sleep=time.sleep):
        self.secret = settings.delivery_secret
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_post_bytes = max_post_bytes
        self.timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
        self.pool = pool or urllib3.PoolManager(num_pools=64, maxsize=max_workers, retries=False)
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="deliver")
        self._sleep = sleep
        self.stats: Counter = Counter()

    def close(self) -> None:
        self.executor.shutdown(wait=False)
        self.pool.clear()

    def _headers(self, content_type: str) -> dict[str, str]:
        return {"Content-Type": content_type, contracts.DELIVERY_SECRET_HEADER: self.secret}

    def _post(self, url: str, body: bytes, content_type: str = "application/json"):
        """POST with retries on 429/5xx and network errors. Returns the last response, or
        None when the edge never answered."""
        response = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self.pool.request("POST", url, body=body, headers=self._headers(content_type),
                                             timeout=self.timeout, retries=False)
            except urllib3.exceptions.HTTPError as exc:
                log.warning("edge_unreachable", url=url, attempt=attempt, error=repr(exc))
                self.stats["network_errors"] += 1
                response = None
                continue
            if response.status not in RETRY_STATUSES:
                return response
            self.stats["retried_status"] += 1
        return response

    # --- the batched form -----------------------------------------------------------------
    def deliver(self, per_edge: Mapping[str, Sequence[Item]]) -> set[str]:
        """Post each edge's items (in order) to it. Returns the connection ids answered 410."""
        jobs = [(edge, list(items)) for edge, items in per_edge.items() if items]
        if not jobs:
            return set()
        if len(jobs) == 1:
            results = [self._deliver_edge(*jobs[0])]
        else:
            results = list(self.executor.map(lambda job: self._deliver_edge(*job), jobs))
        return set().union(*results)

    def _deliver_edge(self, edge_url: str, items: list[Item]) -> set[str]:
        gone: set[str] = set()
        url = edge_url.rstrip("/") + contracts.DELIVERY_PATH
        try:
            for chunk in _chunks(items, self.max_post_bytes):
                if not self._post_chunk(url, chunk, gone):
                    self.stats["edges_failed"] += 1
                    return gone  # later chunks would fail too; the clients catch up from the store
        except Exception:  # never let one edge fail the batch
            log.exception("delivery_failed", url=url)
            self.stats["edges_failed"] += 1
        return gone

    def _post_chunk(self, url: str, chunk: list, gone: set[str]) -> bool:
        pending = [(ids, event) for ids, event, _n in chunk]
        for round_ in range(self.retries + 1):
            response = self._post(url, contracts.delivery_batch(pending))
            if response is None:
                log.error("edge_unreachable", url=url, items=len(pending))
                return False
            if response.status != 200:
                log.error("edge_refused", url=url, status=response.status, items=len(pending))
                self.stats[f"status_{response.status}"] += 1
                return False
            self.stats["posts"] += 1
            self.stats["items"] += len(pending)
            try:
                results = orjson.loads(response.data or b"{}").get("results") or {}
            except (orjson.JSONDecodeError, AttributeError):
                results = {}
            gone.update(cid for cid, status in results.items() if status == GONE)
            busy = {cid for cid, status in results.items() if status == 429}
            if not busy:
                return True
            # Retry, for the busy connections only, the items addressed to them.
            self.stats["busy"] += len(busy)
            pending = [([c for c in ids if c in busy], event) for ids, event in pending
                       if any(c in busy for c in ids)]
            if round_ < self.retries:
                self._sleep(self.backoff_s * 2 ** round_)
        log.warning("connections_busy", url=url, connections=len({c for ids, _e in pending for c in ids}))
        return True

    # --- the single-connection form (API Gateway's PostToConnection) -----------------------
    def post_to_connection(self, edge_url: str, connection_id: str, data: bytes | str | dict) -> int:
        """POST raw data to one connection. Returns the edge's status (200, 410 gone, …);
        raises EdgeUnreachable if the edge never answered."""
        if isinstance(data, dict):
            body, content_type = contracts.encode(data), "application/json"
        elif isinstance(data, str):
            body, content_type = data.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            body, content_type = bytes(data), "application/octet-stream"
        url = f"{edge_url.rstrip('/')}{contracts.DELIVERY_PATH}/{quote(connection_id, safe='')}"
        response = self._post(url, body, content_type)
        if response is None:
            raise EdgeUnreachable(edge_url)
        return response.status
