"""The STOMP 1.2 frame codec's properties: round trips, fuzzing, arbitrary splits, linear time on
huge inputs, and a cross-check against stomp.py, a real client library (examples: test_stomp.py)."""

from __future__ import annotations

import time

import stomp.protocol
import stomp.utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from websocket_edge import stomp as s
from websocket_edge import stomp_destinations as d
from websocket_edge import stomp_handshake as h
from websocket_edge.stomp import HEARTBEAT, Frame, Heartbeat, Parser, StompError
from stomp_codec_kit import feed_all, frames_of, one


# --- properties -------------------------------------------------------------------------

ESCAPED = sorted(s.COMMANDS - s.UNESCAPED_COMMANDS)
UNESCAPED = sorted(s.UNESCAPED_COMMANDS)
any_name = st.text(min_size=1, max_size=12).filter(lambda n: n != "content-length")
tricky_text = st.text(alphabet=st.sampled_from(":\\\r\n\x00 aé€😀c"), max_size=12)
any_value = st.one_of(st.text(max_size=30), tricky_text)
plain_name = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":\r\n"), min_size=1, max_size=12).filter(
    lambda n: n != "content-length")
plain_value = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30)
bodies = st.one_of(st.binary(max_size=200), st.binary(max_size=20).map(lambda b: b + b"\x00\n\x00" + b))


@st.composite
def frames(draw):
    if draw(st.booleans()):
        command, names, values = draw(st.sampled_from(ESCAPED)), st.one_of(any_name, tricky_text.filter(
            lambda n: n not in ("", "content-length"))), any_value
    else:
        command, names, values = draw(st.sampled_from(UNESCAPED)), plain_name, plain_value
    headers = draw(st.lists(st.tuples(names, values), max_size=6))
    return Frame(command, headers, draw(bodies))


def as_parsed(frame):
    """What parsing the serialized frame gives: the serializer appends content-length."""
    extra = [("content-length", str(len(frame.body)))] if frame.body else []
    return Frame(frame.command, list(frame.headers) + extra, frame.body)


@settings(max_examples=400, deadline=500)
@given(frames())
def test_serialize_then_parse_round_trips(frame):
    assert s.parse(s.serialize(frame)) == [as_parsed(frame)]


@settings(max_examples=200, deadline=500)
@given(st.sampled_from(ESCAPED), st.lists(st.tuples(any_name, any_value), max_size=4),
       st.binary(max_size=100).map(lambda b: b.replace(b"\x00", b"")))
def test_body_without_content_length_round_trips(command, headers, body):
    data = s.serialize(Frame(command, headers)).removesuffix(b"\x00") + body + b"\x00"
    assert s.parse(data) == [Frame(command, headers, body)]


@settings(max_examples=300, deadline=500)
@given(st.lists(st.one_of(frames(), st.just(HEARTBEAT)), max_size=6), st.data())
def test_any_split_of_a_stream_gives_the_same_frames(items, data):
    stream = b"".join(s.HEARTBEAT_BYTES if item is HEARTBEAT else s.serialize(item) for item in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    parser, out = Parser(), []
    for start, end in zip([0] + cuts, cuts + [len(stream)]):
        out += parser.feed(stream[start:end])
    expected = [as_parsed(item) for item in items if item is not HEARTBEAT]
    assert frames_of(out) == frames_of(s.parse(stream)) == expected
    assert not parser.pending
    if items and items[0] is HEARTBEAT:
        assert out[0] is HEARTBEAT


def run_everything(data):
    """Parse `data` whole and in chunks with small limits; only StompError may escape."""
    for parse in (lambda: s.parse(data), lambda: s.parse(data, version="1.0"),
                  lambda: feed_all(Parser(max_body=50, max_headers=3, max_line=40), data, 7)):
        try:
            for item in parse():
                assert isinstance(item, (Frame, Heartbeat))
        except StompError as exc:
            assert isinstance(exc.message, str) and exc.message
            assert exc.receipt_id is None or isinstance(exc.receipt_id, str)


@settings(max_examples=1000, deadline=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_only_raise_stomp_error(data):
    run_everything(data)


@settings(max_examples=600, deadline=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames(), min_size=1, max_size=3), st.data())
def test_mutated_frames_only_raise_stomp_error(items, data):
    stream = bytearray(b"".join(s.serialize(item) for item in items))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(stream)))
        junk = data.draw(st.sampled_from([b"\x00", b"\n", b"\r", b":", b"\\", b"\\t", b"\xff", b"9" * 12,
                                          b"content-length:3\n", b"receipt:r\n", b"SEND\n"]))
        if data.draw(st.booleans()):
            stream[at:at] = junk
        else:
            del stream[at:at + len(junk)]
    run_everything(bytes(stream))


def test_huge_inputs_finish_quickly_and_bounded():
    started = time.perf_counter()
    for data in [b"\n" * 1_000_000, b"SEND\n" + b"a:b\n" * 100_000, b"SEND\n\n" + b"x" * 1_000_000,
                 b"SEND\nx:" + b"\\" * 1_000_000, b"SEND\n\n\x00" * 100_000]:
        try:
            s.parse(data)
        except StompError:
            pass
    # A quadratic parse of these would take hours; a generous bound tells that apart even on a
    # slow, shared machine (this one has run 5x slower on some days).
    assert time.perf_counter() - started < 60


# --- cross-check with stomp.py, a real client library -------------------------------------

class CapturingTransport:
    """Just enough of a stomp.py transport for its protocol object to build frames."""
    current_host_and_port = ("localhost", 61613)
    vhost = None

    def __init__(self):
        self.frames = []

    def set_listener(self, name, listener):
        pass

    def transmit(self, frame):
        self.frames.append(frame)


def stomp_py():
    transport = CapturingTransport()
    protocol = stomp.protocol.Protocol12(transport)
    return protocol, lambda: stomp.utils.pack(stomp.utils.convert_frame(transport.frames[-1]))


# stomp.py escapes header values but not names: keep names clean for it.
stomp_py_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":\r\n\\"), max_size=10).map(lambda n: "x-" + n)


@settings(max_examples=300, deadline=500)
@given(st.text(max_size=30), st.dictionaries(stomp_py_names, any_value, max_size=5), st.binary(max_size=200))
def test_frames_encoded_by_stomp_py_parse_the_same(destination, headers, body):
    protocol, encoded = stomp_py()
    protocol.send(destination, body, headers=dict(headers), receipt="r:1")
    frame = one(encoded())
    assert frame.command == "SEND"
    assert frame.get("destination") == destination
    assert frame.get("receipt") == "r:1"
    assert all(frame.get(name) == value for name, value in headers.items())
    assert frame.body == body
    assert frame.get("content-length") == (str(len(body)) if body else None)


def test_client_frames_of_stomp_py():
    protocol, encoded = stomp_py()
    protocol.connect("user", "pa:ss\\t", headers={"heart-beat": "1000,2000"})
    frame = one(encoded())
    assert frame.command == "STOMP" and frame.get("passcode") == "pa:ss\\t"  # not unescaped
    assert h.negotiate_version(frame.get("accept-version"), "v12.stomp") == "1.2"
    assert h.negotiate_heartbeat(frame.get("heart-beat"), 5000, 5000) == (5000, 5000)
    protocol.connect("user", "pw", with_connect_command=True)
    assert one(encoded()).command == "CONNECT"
    protocol.subscribe("/sub/chat/r1", id="s:1", ack="client-individual")
    frame = one(encoded())
    assert (frame.command, d.parse_subscribe_destination(frame.get("destination")), frame.get("id")) == \
        ("SUBSCRIBE", "r1", "s:1")
    protocol.unsubscribe("s:1")
    assert one(encoded()).get("id") == "s:1"
    for call, command in [(lambda: protocol.ack("m\n1", receipt="a"), "ACK"),
                          (lambda: protocol.nack("m\n1"), "NACK"),
                          (lambda: protocol.begin("t1"), "BEGIN"), (lambda: protocol.commit("t1"), "COMMIT"),
                          (lambda: protocol.abort("t1"), "ABORT")]:
        call()
        frame = one(encoded())
        assert frame.command == command
        assert frame.get("id", "m\n1") == "m\n1" and frame.get("transaction", "t1") == "t1"


@settings(max_examples=300, deadline=500)
@given(st.sampled_from(["MESSAGE", "RECEIPT", "ERROR"]), st.lists(st.tuples(any_name, any_value), max_size=6),
       st.binary(max_size=200))
def test_our_frames_parse_the_same_in_stomp_py(command, headers, body):
    data = s.serialize(Frame(command, headers, body))
    theirs = stomp.utils.parse_frame(data[:-1])  # its transport strips the NUL before parsing
    assert theirs.cmd == command
    ours = one(data)
    for name, _ in headers:
        assert theirs.headers[name] == ours.get(name)
    assert theirs.body == body
