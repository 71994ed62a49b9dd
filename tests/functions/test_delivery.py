import socket
import time

import orjson
import pytest

from functions import contracts
from functions.delivery import Deliverer, EdgeUnreachable


@pytest.fixture
def deliverer(settings):
    d = Deliverer(settings, backoff_s=0.001, connect_timeout_s=0.5, read_timeout_s=2)
    yield d
    d.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_post_per_edge_in_order_with_the_secret(deliverer, edge_factory, settings):
    a, b = edge_factory(), edge_factory()
    events = [{"type": "message", "seq": n} for n in range(5)]
    gone = deliverer.deliver({
        a.url: [(["c1", "c2"], events[0]), (["c1"], events[1]), (["c2"], events[2])],
        b.url: [(["c3"], events[3]), (["c3", "c4"], events[4])],
    })
    assert gone == set()
    assert len(a.posts) == 1 and len(b.posts) == 1
    post = a.posts[0]
    assert post["path"] == contracts.DELIVERY_PATH
    assert post["headers"][contracts.DELIVERY_SECRET_HEADER] == settings.delivery_secret
    assert orjson.loads(post["body"]) == {"items": [
        {"connectionIds": ["c1", "c2"], "data": events[0]},
        {"connectionIds": ["c1"], "data": events[1]},
        {"connectionIds": ["c2"], "data": events[2]}]}
    assert a.events_for("c1") == [events[0], events[1]]
    assert b.events_for("c4") == [events[4]]


def test_gone_ids_are_returned(deliverer, edge_factory):
    a, b = edge_factory(), edge_factory()
    a.gone.add("c2")
    b.gone.add("c9")
    gone = deliverer.deliver({a.url: [(["c1", "c2"], {"type": "x"})], b.url: [(["c9"], {"type": "x"})]})
    assert gone == {"c2", "c9"}


def test_unreachable_edge_does_not_fail_the_batch(deliverer, edge):
    dead = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    edge.gone.add("c2")
    gone = deliverer.deliver({dead: [(["c1"], {"type": "x"})], edge.url: [(["c2"], {"type": "x"})]})
    assert gone == {"c2"}
    assert deliverer.stats["edges_failed"] == 1 and deliverer.stats["network_errors"] == 3
    assert time.monotonic() - started < 5


def test_5xx_and_429_are_retried(deliverer, edge):
    edge.fail_next = [503, 429]
    assert deliverer.deliver({edge.url: [(["c1"], {"type": "x"})]}) == set()
    assert [p["status"] for p in edge.posts] == [503, 429, 200]
    edge.clear()
    edge.fail_next = [500, 500, 500]  # more than the retries: given up, not raised
    assert deliverer.deliver({edge.url: [(["c1"], {"type": "x"})]}) == set()
    assert len(edge.posts) == 3 and edge.batches == []


def test_busy_connections_get_their_items_again(deliverer, edge):
    edge.busy_once.add("c2")
    deliverer.deliver({edge.url: [(["c1", "c2"], {"n": 1}), (["c1"], {"n": 2}), (["c2"], {"n": 3})]})
    assert edge.batches[1] == [{"connectionIds": ["c2"], "data": {"n": 1}}, {"connectionIds": ["c2"], "data": {"n": 3}}]
    assert edge.events_for("c1") == [{"n": 1}, {"n": 2}]


def test_wrong_secret_is_not_retried(settings, edge):
    d = Deliverer(settings.__class__(delivery_secret="wrong"), backoff_s=0.001)
    try:
        assert d.deliver({edge.url: [(["c1"], {"type": "x"})]}) == set()
        assert len(edge.posts) == 1 and d.stats["status_403"] == 1
    finally:
        d.close()


def test_large_batches_are_split_in_order(settings, edge):
    d = Deliverer(settings, max_post_bytes=2000)
    try:
        items = [([f"c{n % 3}"], {"n": n, "body": "x" * 300}) for n in range(20)]
        d.deliver({edge.url: items})
        assert len(edge.batches) > 1
        assert [item["data"]["n"] for batch in edge.batches for item in batch] == list(range(20))
    finally:
        d.close()


def test_post_to_connection(deliverer, edge):
    edge.gone.add("gone/1")
    assert deliverer.post_to_connection(edge.url, "c1", {"type": "x"}) == 200
    assert deliverer.post_to_connection(edge.url, "gone/1", b"raw") == 410
    assert edge.posts[0]["path"] == "/@connections/c1" and orjson.loads(edge.posts[0]["body"]) == {"type": "x"}
    assert edge.posts[1]["path"] == "/@connections/gone%2F1" and edge.posts[1]["body"] == b"raw"
    with pytest.raises(EdgeUnreachable):
        deliverer.post_to_connection(f"http://127.0.0.1:{_free_port()}", "c1", "text")
