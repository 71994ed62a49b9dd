"""A room's stream of seqs on one connection: duplicates dropped, live events buffered during
a catch-up, a seq jump turned into a fill from the store."""

from __future__ import annotations

from websocket_edge.protocol import ServerEvent
from websocket_edge.sequencing import RoomStream


def ev(seq):
    return ServerEvent({"type": "message", "room": "r", "seq": seq})


def test_room_stream_drops_duplicates_and_buffers():
    s = RoomStream()
    assert [e.seq for e in s.live(ev(5))] == [5]
    assert s.live(ev(5)) == [] and s.live(ev(4)) == []
    s.begin_catch_up(2)
    assert s.live(ev(6)) == []                    # buffered
    assert [s.stored(ev(n)) for n in (3, 4, 3)] == [True, True, False]
    out, gap = s.finish_catch_up()
    assert gap and out == []                      # 5 is missing between 4 and 6
    assert s.stored(ev(5))
    out, gap = s.finish_catch_up()
    assert not gap and [e.seq for e in out] == [6] and not s.catching_up


def test_room_stream_forced_and_abandoned():
    s = RoomStream()
    s.begin_catch_up(0)
    s.live(ev(3))
    out, gap = s.finish_catch_up(force=True)
    assert not gap and [e.seq for e in out] == [3]
    s.begin_catch_up(3)
    s.live(ev(5))
    s.live(ev(4))
    assert [e.seq for e in s.abandon_catch_up()] == [4, 5]


def test_room_stream_turns_a_seq_jump_into_a_fill_from_the_store():
    from websocket_edge.protocol import ServerEvent
    from websocket_edge.sequencing import RoomStream

    def ev(seq):
        return ServerEvent({"type": "message", "room": "r", "seq": seq})

    stream = RoomStream()
    assert [e.seq for e in stream.live(ev(1))] == [1]
    assert stream.live(ev(4)) == [] and stream.take_fill() and not stream.take_fill()
    assert stream.live(ev(5)) == []                      # buffered while the fill reads the store
    assert [e.seq for e in (ev(2), ev(3)) if stream.stored(e)] == [2, 3]
    out, gap = stream.finish_catch_up()
    assert [e.seq for e in out] == [4, 5] and not gap
    assert [e.seq for e in stream.live(ev(6))] == [6]    # contiguous again: no fill
    assert not stream.take_fill()
