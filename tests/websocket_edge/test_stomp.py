"""The STOMP 1.2 frame codec of the WebSocket edge: examples for every rule, its limits, and
serializing (properties and the cross-check against stomp.py: test_stomp_properties.py)."""

from __future__ import annotations

import time

import pytest

from websocket_edge import stomp as s
from websocket_edge.stomp import HEARTBEAT, Frame, Heartbeat, Parser, StompError
from stomp_codec_kit import feed_all, frames_of, one


# --- parsing examples -------------------------------------------------------------------

def test_parses_a_send_frame():
    frame = one(b"SEND\ndestination:/pub/chat/send/r1\nreceipt:42\n\nhello\x00")
    assert frame == Frame("SEND", [("destination", "/pub/chat/send/r1"), ("receipt", "42")], b"hello")
    assert frame.get("receipt") == "42"
    assert frame.get("missing") is None
    assert frame.get("missing", "x") == "x"
    assert frame.text() == "hello"


def test_accepts_str_input():
    assert one("SEND\ndestination:/x\n\nhé\x00").body == "hé".encode()


@pytest.mark.parametrize("command", sorted(s.COMMANDS))
def test_every_command_of_stomp_10_11_12(command):
    assert one(f"{command}\n\n\x00".encode()).command == command


@pytest.mark.parametrize("data", [b"HELLO\n\n\x00", b"send\n\n\x00", b"SEND \n\n\x00", b"\x00", b"\rSEND\n\n\x00"])
def test_unknown_command_is_an_error(data):
    with pytest.raises(StompError, match="unknown command"):
        s.parse(data)


def test_commands_can_be_restricted_to_client_frames():
    for data in [b"MESSAGE\n\n\x00", b"MESSAGE", b"CONNECTED\n"]:
        with pytest.raises(StompError, match="unknown command"):
            Parser(commands=s.CLIENT_COMMANDS).feed(data)
    assert one(b"SEND\n\n\x00", commands=s.CLIENT_COMMANDS).command == "SEND"


def test_cr_lf_line_endings():
    frame = one(b"SEND\r\ndestination:/d\r\nreceipt:r\r\n\r\nbody\x00")
    assert frame.headers == [("destination", "/d"), ("receipt", "r")]
    assert frame.body == b"body"


def test_header_escapes_are_decoded():
    frame = one(b"SEND\na\\cb:x\\\\y\\nz\\rw\\c\n\n\x00")
    assert frame.headers == [("a:b", "x\\y\nz\rw:")]


@pytest.mark.parametrize("bad", [b"x:a\\tb", b"x:a\\", b"x\\q:a", b"x:\\\\\\"])
def test_undefined_escape_is_fatal(bad):
    with pytest.raises(StompError, match="escape"):
        s.parse(b"SEND\n" + bad + b"\n\n\x00")


@pytest.mark.parametrize("command", ["CONNECT", "STOMP", "CONNECTED"])
def test_connect_frames_are_not_unescaped(command):
    frame = one(f"{command}\nlogin:a\\cb\npasscode:x\\ty:z\n\n\x00".encode())
    assert frame.headers == [("login", "a\\cb"), ("passcode", "x\\ty:z")]


def test_stomp_10_is_not_unescaped():
    assert one(b"SEND\nx:a\\tb\n\n\x00", version="1.0").headers == [("x", "a\\tb")]


def test_first_of_repeated_headers_wins():
    frame = one(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\x00")
    assert frame.get("foo") == "World"
    assert frame.headers == [("foo", "World"), ("foo", "Hello")]


def test_colon_in_a_value_is_accepted():
    assert one(b"SEND\nx:a:b\n\n\x00").get("x") == "a:b"


def test_content_length_body_may_contain_nul():
    frame = one(b"SEND\ncontent-length:5\n\na\x00b\x00c\x00")
    assert frame.body == b"a\x00b\x00c"


def test_content_length_zero_and_first_content_length_wins():
    assert one(b"SEND\ncontent-length:0\n\n\x00").body == b""
    assert one(b"SEND\ncontent-length:2\ncontent-length:5\n\nab\x00").body == b"ab"


def test_without_content_length_body_ends_at_first_nul():
    items = s.parse(b"SEND\n\nab\x00SEND\n\ncd\x00")
    assert [f.body for f in items] == [b"ab", b"cd"]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1.5", b" 3", b"\xc2\xb2", b"9999999999999"])
def test_invalid_content_length(length):
    with pytest.raises(StompError, match="content-length") as exc:
        s.parse(b"SEND\nreceipt:r9\ncontent-length:" + length + b"\n\nabc\x00")
    assert exc.value.receipt_id == "r9"


def test_content_length_not_followed_by_nul():
    with pytest.raises(StompError, match="NUL") as exc:
        s.parse(b"SEND\nreceipt:r1\ncontent-length:2\n\nabc\x00")
    assert exc.value.receipt_id == "r1"


def test_several_frames_and_heartbeats_in_one_message():
    data = b"\n\r\nSEND\ndestination:/a\n\n1\x00\n\nSEND\ndestination:/b\n\n2\x00\r\n"
    items = s.parse(data)
    assert items[0] is HEARTBEAT
    assert [(f.get("destination"), f.body) for f in items[1:]] == [("/a", b"1"), ("/b", b"2")]


def test_bare_heartbeats():
    assert s.parse(b"\n") == [HEARTBEAT]
    assert s.parse(b"\r\n\n\r\n") == [HEARTBEAT]  # one run, one marker
    assert isinstance(HEARTBEAT, Heartbeat)
    assert s.parse(b"") == []


def test_heartbeat_after_a_frame_in_a_later_message_is_reported():
    parser = Parser()
    assert frames_of(parser.feed(b"SEND\n\nx\x00\n"))  # trailer of the frame: skipped
    assert parser.feed(b"\n") == [HEARTBEAT]
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\n") == [HEARTBEAT]


def test_header_problems():
    with pytest.raises(StompError, match="malformed header"):
        s.parse(b"SEND\nno-colon\n\n\x00")
    with pytest.raises(StompError, match="malformed header"):
        s.parse(b"SEND\n:empty-name\n\n\x00")
    with pytest.raises(StompError, match="UTF-8"):
        s.parse(b"SEND\nx:\xff\n\n\x00")


def test_truncated_frame_is_an_error_for_parse():
    for data in [b"SEND", b"SEND\n", b"SEND\nx:y\n\nbody", b"SEND\ncontent-length:3\n\nab"]:
        with pytest.raises(StompError, match="incomplete"):
            s.parse(data)
    with pytest.raises(StompError) as exc:
        s.parse(b"SEND\nreceipt:r5\n\nbody")
    assert exc.value.receipt_id == "r5"


def test_body_text_must_be_valid():
    frame = one(b"SEND\nreceipt:r\n\n\xff\x00")
    with pytest.raises(StompError) as exc:
        frame.text()
    assert exc.value.receipt_id == "r"


# --- limits -----------------------------------------------------------------------------

def test_too_many_headers_carries_the_receipt():
    headers = b"receipt:rc-1\n" + b"".join(b"h%d:v\n" % i for i in range(64))
    with pytest.raises(StompError, match="too many headers") as exc:
        s.parse(b"SEND\n" + headers + b"\n\x00")
    assert exc.value.receipt_id == "rc-1"
    one(b"SEND\n" + b"".join(b"h%d:v\n" % i for i in range(64)) + b"\n\x00")  # 64 is fine
    with pytest.raises(StompError, match="too many headers"):
        s.parse(b"SEND\na:1\nb:2\nc:3\n\n\x00", max_headers=2)


def test_header_line_too_long():
    ok = b"x:" + b"v" * (8192 - 2)
    assert one(b"SEND\nreceipt:r2\n" + ok + b"\r\n\n\x00").get("x") == "v" * 8190
    with pytest.raises(StompError, match="longer than 8192") as exc:
        s.parse(b"SEND\nreceipt:r2\n" + ok + b"v\n\n\x00")
    assert exc.value.receipt_id == "r2"


def test_header_line_too_long_is_detected_before_its_end_arrives():
    parser = Parser(max_line=100)
    parser.feed(b"SEND\nreceipt:r3\nx:")
    with pytest.raises(StompError, match="longer than 100") as exc:
        for _ in range(10):
            parser.feed(b"v" * 20)
    assert exc.value.receipt_id == "r3"
    with pytest.raises(StompError, match="already failed"):
        parser.feed(b"\n\n\x00")


def test_command_line_too_long_has_no_receipt():
    with pytest.raises(StompError) as exc:
        Parser(max_line=50).feed(b"S" * 60)
    assert exc.value.receipt_id is None


def test_body_too_large_with_content_length():
    with pytest.raises(StompError, match="body larger than 10 bytes") as exc:
        s.parse(b"SEND\nreceipt:r4\ncontent-length:11\n\n" + b"x" * 11 + b"\x00", max_body=10)
    assert exc.value.receipt_id == "r4"
    assert one(b"SEND\ncontent-length:10\n\n" + b"x" * 10 + b"\x00", max_body=10).body == b"x" * 10


def test_body_too_large_without_content_length_is_detected_early():
    assert one(b"SEND\n\n" + b"x" * 10 + b"\x00", max_body=10).body == b"x" * 10
    parser = Parser(max_body=1000)
    parser.feed(b"SEND\nreceipt:r6\n\n")
    with pytest.raises(StompError, match="body larger") as exc:
        for _ in range(100):
            parser.feed(b"x" * 100)
    assert exc.value.receipt_id == "r6"


def test_default_body_limit_is_64k():
    assert len(one(b"SEND\n\n" + b"x" * 65536 + b"\x00").body) == 65536
    with pytest.raises(StompError, match="body larger than 65536"):
        s.parse(b"SEND\n\n" + b"x" * 65537 + b"\x00")


def test_receipt_of_a_frame_with_a_bad_escape():
    with pytest.raises(StompError, match="escape") as exc:
        s.parse(b"SEND\nx:\\t\nreceipt:r\\c7\n\n\x00")
    assert exc.value.receipt_id == "r:7"
    with pytest.raises(StompError) as exc:
        s.parse(b"SEND\nreceipt:r\\t7\n\n\x00")
    assert exc.value.receipt_id is None


def test_byte_at_a_time_stays_linear():
    data = b"SEND\n" + b"x:" + b"v" * 8000 + b"\n\n" + b"b" * 60000 + b"\x00"
    started = time.perf_counter()
    frames = frames_of(feed_all(Parser(), data, 1))
    assert time.perf_counter() - started < 60   # quadratic: hours; linear: ~1 s (5x on a slow day)
    assert len(frames) == 1 and len(frames[0].body) == 60000


# --- serializing and server frames ------------------------------------------------------

def test_serialize_escapes_and_adds_content_length():
    frame = Frame("MESSAGE", [("a:b", "x\\y\nz\rw:"), ("content-length", "999")], b"a\x00b")
    assert s.serialize(frame) == b"MESSAGE\na\\cb:x\\\\y\\nz\\rw\\c\ncontent-length:3\n\na\x00b\x00"


def test_serialize_without_body_has_no_content_length():
    assert s.serialize(Frame("RECEIPT", [("receipt-id", "7")])) == b"RECEIPT\nreceipt-id:7\n\n\x00"


def test_serialize_does_not_escape_connected_frames():
    data = s.serialize(s.connected("1.2", heart_beat=(10000, 20000), server="tidings/0.1", session="s:1"))
    assert data == b"CONNECTED\nversion:1.2\nheart-beat:10000,20000\nserver:tidings/0.1\nsession:s:1\n\n\x00"
    assert s.serialize(Frame("CONNECTED", [("x", "a\nb")])) == b"CONNECTED\nx:a b\n\n\x00"
    with pytest.raises(ValueError):
        s.serialize(Frame("CONNECTED", [("a:b", "x")]))


def test_serialize_for_older_versions():
    frame = Frame("MESSAGE", [("k", "a:b\r\nc\\")])
    assert s.serialize(frame, version="1.1") == b"MESSAGE\nk:a\\cb\r\\nc\\\\\n\n\x00"
    assert s.serialize(frame, version="1.0") == b"MESSAGE\nk:a:b  c\\\n\n\x00"


def test_serialize_rejects_unknown_commands():
    with pytest.raises(ValueError):
        s.serialize(Frame("HELLO"))


def test_message_builder():
    frame = s.message("/sub/chat/r1", "sub-0", "r1:5", '{"a":"é"}', "application/json",
                      [("seq", "5"), ("ack", "a:1")])
    assert frame.command == "MESSAGE"
    assert frame.headers == [("destination", "/sub/chat/r1"), ("message-id", "r1:5"), ("subscription", "sub-0"),
                             ("content-type", "application/json"), ("seq", "5"), ("ack", "a:1")]
    assert frame.body == '{"a":"é"}'.encode()
    back = one(s.serialize(frame))
    assert back.get("ack") == "a:1" and back.get("content-length") == str(len(frame.body))


def test_receipt_and_error_builders():
    assert s.receipt("r-1") == Frame("RECEIPT", [("receipt-id", "r-1")])
    assert s.error("bad frame") == Frame("ERROR", [("message", "bad frame")])
    frame = s.error("bad\nframe", "details", receipt_id="r-2", extra_headers=[("version", "1.2")])
    assert frame.get("receipt-id") == "r-2" and frame.get("version") == "1.2"
    assert frame.get("content-type") == "text/plain;charset=utf-8"
    assert one(s.serialize(frame)).get("message") == "bad\nframe"
    try:
        s.parse(b"SEND\nreceipt:q\nx:\\t\n\n\x00")
    except StompError as exc:
        assert s.error(str(exc), receipt_id=exc.receipt_id).get("receipt-id") == "q"


def test_heartbeat_bytes():
    assert s.parse(s.HEARTBEAT_BYTES) == [HEARTBEAT]
