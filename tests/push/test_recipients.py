"""Unit tests of the pure rules: who gets a push, what it says, how retries wait."""

from __future__ import annotations

from functions.push.recipients import GENERIC_BODY, choose, text
from functions.push.sending import Notification, Outcome, Result, retry_after_s, with_retries

NOW = 1_700_000_000_000


def msg(seq: int, sender: str, body: str = "hi") -> dict:
    return {"roomId": "r", "seq": seq, "senderId": sender, "body": body}


def member(user: str, **attrs) -> dict:
    return {"roomId": "r", "userId": user, **attrs}


def chosen(messages, members, online=()):
    return {r.user_id: r.message["seq"] for r in choose(messages, members, set(online), NOW)}


def test_latest_message_not_their_own_to_each_offline_member():
    messages = [msg(5, "ann"), msg(6, "bob"), msg(7, "ann")]
    assert chosen(messages, [member("ann"), member("bob"), member("cat")]) == {"ann": 6, "bob": 7, "cat": 7}
    assert chosen([msg(5, "ann")], [member("ann")]) == {}                      # never the sender


def test_online_muted_read_and_awaiting_read_get_none():
    messages = [msg(9, "ann")]
    members = [member("on"), member("muted", mutedUntil=NOW + 1), member("unmuted", mutedUntil=NOW - 1),
               member("read", readSeq=9), member("waiting", readSeq=3, pushedSeq=4),
               member("caught-up", readSeq=4, pushedSeq=4), member("retried", readSeq=3, pushedSeq=9)]
    assert chosen(messages, members, online={"on"}) == {"unmuted": 9, "caught-up": 9}


def test_text_with_and_without_preview():
    long = "word " * 100
    title, body = text(msg(1, "ann", "see\nyou  at 3"), "Rex", preview=True)
    assert (title, body) == ("Rex", "ann: see you at 3")
    assert len(text(msg(1, "ann", long), "Rex", preview=True)[1]) <= len("ann: ") + 120
    assert text(msg(1, "ann", "secret"), None, preview=False) == ("tidings", GENERIC_BODY)


def test_collapse_key_fits_apns_and_topic_fits_rfc8030():
    short = Notification("room-1", 1, "room-1:1", "ann", "t", "b", 0)
    long = Notification("r" * 128, 1, "x", "ann", "t", "b", 0)
    assert short.collapse_key == "room-1" and len(long.collapse_key.encode()) <= 64
    assert len(short.topic) <= 32 and short.topic.isalnum()


def test_retry_after_forms():
    assert retry_after_s("3") == 3.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_with_retries_backs_off_then_gives_up():
    answers = iter([Result(Outcome.RETRY_LATER, 503), Result(Outcome.RETRY_LATER, None), Result(Outcome.SENT, 200)])
    slept = []
    assert with_retries(lambda: next(answers), max_attempts=3, cap_s=30, sleep=slept.append).outcome is Outcome.SENT
    assert len(slept) == 2 and 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0
    calls = []
    result = with_retries(lambda: calls.append(1) or Result(Outcome.RETRY_LATER, 500), max_attempts=2, cap_s=30,
                          sleep=lambda s: None)
    assert result.outcome is Outcome.RETRY_LATER and len(calls) == 2
    dead = with_retries(lambda: Result(Outcome.DEAD, 410), max_attempts=3, cap_s=30, sleep=slept.append)
    assert dead.outcome is Outcome.DEAD
