"""A room's dedup window: resends found by digest, replays by offset, only while in the window."""

from functions import tables
from functions.room_state import RoomState


def test_lookups_find_the_newest_entry_and_forget_what_left_the_window():
    state = RoomState()
    size = tables.DEDUP_WINDOW
    for seq in range(1, size + 1):
        state.append(seq, f"d{seq}", 100 + seq)
    assert (state.seq_of("d1"), state.seq_at(101)) == (1, 1)
    state.append(size + 1, "d1", 100 + size + 1)   # the same digest again (it had left no trace yet)
    assert state.seq_of("d1") == size + 1          # the newest wins
    assert state.seq_at(101) is None               # seq 1 left the window: its offset too
    state.append(size + 2, "d-new", 100 + size + 2)
    assert state.seq_of("d2") is None and state.seq_at(102) is None
    assert state.seq_of("d3") == 3 and state.last_seq == size + 2
    assert len(state.recent) == size


def test_an_evicted_entry_does_not_take_a_newer_duplicate_with_it():
    state = RoomState()
    state.append(1, "same", 10)
    for seq in range(2, tables.DEDUP_WINDOW + 1):
        state.append(seq, f"d{seq}", 10 + seq)
    state.append(tables.DEDUP_WINDOW + 1, "same", 999)   # seq 1 ("same") is evicted now
    assert state.seq_of("same") == tables.DEDUP_WINDOW + 1


def test_from_items_and_a_window_given_to_the_constructor_are_indexed():
    items = [{"seq": s, "senderId": "ann", "clientMsgId": f"m{s}", "offset": 40 + s} for s in (3, 2, 1)]
    state = RoomState.from_items(items)
    assert state.last_seq == 3 and state.seq_at(42) == 2
    copy = RoomState(last_seq=3, recent=state.recent)
    assert copy.seq_at(43) == 3 and copy.seq_of(state.recent[0][0]) == 1
