// Unit tests of local/web/js/timeline.js (no browser, no stack): node --test tests/web/timeline.test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Timeline, TypingSet, actionsFor, backoff, normalize, reactionChips, resumeSeq, typingText } from '../../local/web/js/timeline.js';

const msg = (seq, extra = {}) => ({ roomId: 'r', seq, messageId: `r:${seq}`, senderId: 'bob', senderRole: 'groomer',
  content: `m${seq}`, sentAt: 1000 + seq, clientMsgId: `c${seq}`, ...extra });

test('history items (body) and STOMP bodies (content) normalize to the same message', () => {
  const fromHistory = normalize({ roomId: 'r', seq: 3, messageId: 'r:3', body: 'hi', senderId: 'a', senderRole: 'customer',
    sentAt: 5, storedAt: 6, clientMsgId: 'x' });
  const fromStomp = normalize({ roomId: 'r', seq: 3, messageId: 'r:3', content: 'hi', senderId: 'a', senderRole: 'customer',
    sentAt: 5, clientMsgId: 'x' });
  assert.deepEqual(fromHistory, fromStomp);
  assert.equal(normalize({ seq: 'x' }), null);
  assert.equal(normalize({ seq: 2 }, 'room').messageId, 'room:2');
});

test('duplicates by messageId are dropped', () => {
  const tl = new Timeline('r', 'me');
  assert.equal(tl.add(msg(1)), true);
  assert.equal(tl.add(msg(1)), false);
  assert.equal(tl.add({ ...msg(1), content: 'other' }), false);
  assert.deepEqual(tl.visible().map((m) => m.seq), [1]);
});

test('pages and live messages merge into one ordered block; older pages extend it', () => {
  const tl = new Timeline('r', 'me');
  tl.add(msg(11));   // live before the first page
  tl.addPage({ items: [msg(8), msg(9), msg(10), msg(11)], prevCursor: 'p1' });
  tl.add(msg(12));
  assert.deepEqual(tl.visible().map((m) => m.seq), [8, 9, 10, 11, 12]);
  assert.equal(tl.prevCursor, 'p1');
  tl.addPage({ items: [msg(5), msg(6), msg(7)], prevCursor: null }, { older: true });
  assert.deepEqual(tl.visible().map((m) => m.seq), [5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(tl.prevCursor, null);
  assert.equal(tl.lastSeq, 12);
});

test('a hole is never shown as if it were not there: only the newest contiguous block', () => {
  const tl = new Timeline('r', 'me');
  tl.add(msg(1));
  tl.add(msg(2));
  tl.add(msg(5));
  tl.add(msg(6));
  assert.equal(tl.hasGap(), true);
  assert.deepEqual(tl.visible().map((m) => m.seq), [5, 6]);
  tl.add(msg(3));
  tl.add(msg(4));
  assert.equal(tl.hasGap(), false);
  assert.deepEqual(tl.visible().map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
});

test('my message: pending, sent on RECEIPT, replaced by the stored one (same clientMsgId) without a duplicate', () => {
  const tl = new Timeline('r', 'me');
  tl.add(msg(1));
  tl.queue('w-1', 'hello', 50);
  let shown = tl.visible();
  assert.deepEqual(shown.map((m) => [m.seq, m.status, m.clientMsgId]), [[1, 'sent', 'c1'], [null, 'pending', 'w-1']]);
  assert.deepEqual(tl.unconfirmed().map((e) => e.clientMsgId), ['w-1']);
  tl.receipted('w-1');
  assert.equal(tl.visible()[1].status, 'sent');
  assert.deepEqual(tl.unconfirmed(), []);
  tl.add(msg(2, { senderId: 'me', clientMsgId: 'w-1', content: 'hello' }));
  shown = tl.visible();
  assert.deepEqual(shown.map((m) => [m.seq, m.status, m.clientMsgId]), [[1, 'sent', 'c1'], [2, 'sent', 'w-1']]);
});

test('the stored echo may overtake the RECEIPT; a rejection marks the message failed', () => {
  const tl = new Timeline('r', 'me');
  tl.queue('w-2', 'x');
  tl.add(msg(1, { senderId: 'me', clientMsgId: 'w-2' }));
  assert.equal(tl.receipted('w-2'), false);   // already stored: nothing left to confirm
  assert.deepEqual(tl.visible().map((m) => m.status), ['sent']);
  tl.queue('w-3', 'y');
  tl.failed('w-3', 'forbidden: not a member');
  assert.deepEqual(tl.visible().map((m) => [m.status, m.error]), [['sent', null], ['failed', 'forbidden: not a member']]);
  assert.deepEqual(tl.unconfirmed(), []);
});

test('backoff grows exponentially with jitter, capped', () => {
  const lo = (a) => backoff(a, { random: () => 0 });
  const hi = (a) => backoff(a, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3].map(hi), [500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1, 2, 3].map(lo), [250, 500, 1000, 2000]);
  assert.equal(hi(20), 15000);
  assert.equal(lo(20), 7500);
});

test('typing entries expire', () => {
  const set = new TypingSet(4000);
  set.seen('bob', 1000);
  set.seen('al', 2000);
  assert.deepEqual(set.active(3000), ['al', 'bob']);
  assert.deepEqual(set.active(5500), ['al']);
  assert.deepEqual(set.active(6000), []);
  assert.equal(typingText(['bob']), 'bob is typing…');
  assert.equal(typingText(['al', 'bob']), 'al and bob are typing…');
  assert.equal(typingText(['a', 'b', 'c']), '3 people are typing…');
  assert.equal(typingText([]), '');
});

test('resubscribing resumes from what we hold, not from a rooms list that moved on meanwhile', () => {
  assert.equal(resumeSeq(undefined, 7), 7);                 // never seen: the list's lastSeq
  assert.equal(resumeSeq(new Timeline('r', 'me'), 7), 7);
  const empty = new Timeline('r', 'me');
  empty.addPage({ items: [], prevCursor: null });            // opened, room was empty
  assert.equal(resumeSeq(empty, 7), 0);
  const tl = new Timeline('r', 'me');
  tl.addPage({ items: [msg(1), msg(2), msg(3)], prevCursor: null });
  assert.equal(resumeSeq(tl, 9), 3);                          // 4..9 come in the catch-up: no hole
});

// --- issue 16: edits, deletions, reactions, replies ------------------------------------------------

test('a message keeps its state: edited, deleted (no text), reactions, quote', () => {
  const edited = normalize({ roomId: 'r', seq: 1, body: 'new', editedAt: 9, version: 2, reactions: { '👍': ['a'] } });
  assert.equal(edited.content, 'new');
  assert.equal(edited.editedAt, 9);
  assert.deepEqual(edited.reactions, { '👍': ['a'] });
  const gone = normalize({ roomId: 'r', seq: 2, content: null, deleted: true, deletedBy: 'a' });
  assert.equal(gone.deleted, true);
  assert.equal(gone.content, '');
  const reply = normalize({ seq: 3, body: 'yes', replyTo: { messageId: 'r:1', seq: 1, senderId: 'a', quote: 'q' } }, 'r');
  assert.equal(reply.replyTo.quote, 'q');
});

test('changes apply to the message they name; a deletion also removes quotes of it', () => {
  const tl = new Timeline('r', 'me');
  tl.add(msg(1));
  tl.add(msg(2, { replyTo: { messageId: 'r:1', seq: 1, senderId: 'bob', quote: 'm1' } }));
  assert.equal(tl.applyChange('edited', { seq: 1, messageId: 'r:1', body: 'm1!', editedAt: 5, version: 2 }), true);
  assert.equal(tl.bySeq.get(1).content, 'm1!');
  // an older version arriving late does not win
  assert.equal(tl.applyChange('edited', { seq: 1, messageId: 'r:1', body: 'stale', editedAt: 4, version: 1 }), false);
  assert.equal(tl.applyChange('reaction', { seq: 1, messageId: 'r:1', reactions: { '🐶': ['me'] } }), true);
  assert.deepEqual(reactionChips(tl.bySeq.get(1).reactions, 'me'), [{ emoji: '🐶', count: 1, mine: true }]);
  assert.equal(tl.applyChange('deleted', { seq: 1, messageId: 'r:1' }), true);
  assert.equal(tl.bySeq.get(1).deleted, true);
  assert.equal(tl.bySeq.get(1).content, '');
  assert.deepEqual(tl.bySeq.get(1).reactions, {});
  assert.deepEqual(tl.bySeq.get(2).replyTo, { messageId: 'r:1', seq: 1, senderId: 'bob', deleted: true });
  // a change of another message, or of one not held, changes nothing
  assert.equal(tl.applyChange('edited', { seq: 7, messageId: 'r:7', body: 'x', version: 2 }), false);
  assert.equal(tl.applyChange('edited', { seq: 1, messageId: 'other:1', body: 'x', version: 3 }), false);
});

test('a history page refreshes the state of messages already held', () => {
  const tl = new Timeline('r', 'me');
  tl.add(msg(1));
  assert.equal(tl.addPage({ items: [{ ...msg(1), content: undefined, body: 'fixed', editedAt: 3, version: 2 }],
    prevCursor: null }), 0);
  assert.equal(tl.bySeq.get(1).content, 'fixed');
});

test('the menu offers edit to the sender within the window, delete to the sender or the creator', () => {
  const mine = normalize(msg(1, { senderId: 'me', sentAt: 1000 }));
  const theirs = normalize(msg(2, { senderId: 'bob', sentAt: 1000 }));
  assert.deepEqual(actionsFor(mine, 'me', { now: 1000 + 60000 }), { reply: true, react: true, edit: true, delete: true });
  assert.equal(actionsFor(mine, 'me', { now: 1000 + 900001 }).edit, false);
  assert.deepEqual(actionsFor(theirs, 'me', { now: 2000 }), { reply: true, react: true, edit: false, delete: false });
  assert.equal(actionsFor(theirs, 'me', { creator: 'me', now: 2000 }).delete, true);
  assert.equal(actionsFor({ ...theirs, deleted: true }, 'me', { creator: 'me' }).reply, false);
});

test('a pending reply shows the quote of the message it answers', () => {
  const tl = new Timeline('r', 'me');
  tl.add(msg(1, { content: 'x'.repeat(150) }));
  tl.queue('c-1', 'answer', 5, 'r:1');
  const [, pending] = tl.visible();
  assert.equal(pending.replyTo.quote, 'x'.repeat(100));
  assert.deepEqual(tl.unconfirmed().map((e) => e.replyTo), ['r:1']);
});
