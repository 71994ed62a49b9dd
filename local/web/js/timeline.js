// One room's messages as the client knows them: stored ones (from history pages and live
// MESSAGE frames, deduplicated by messageId) and my own not yet stored ("pending" until the
// RECEIPT says Kafka has them, then "sent"). Pure: no DOM, no network; tests/web/unit.test.mjs.

export class Timeline {
  constructor(roomId, me) {
    this.roomId = roomId;
    this.me = me;
    this.bySeq = new Map();        // seq -> stored message
    this.ids = new Set();          // messageIds seen (duplicates are dropped)
    this.outbox = new Map();       // clientMsgId -> {clientMsgId, content, status, createdAt, error}
    this.prevCursor = undefined;   // undefined: no page loaded; null: the room's first message is loaded
    this.loadedFrom = null;        // lowest seq of the contiguous block a history page started
  }

  get lastSeq() {
    let max = 0;
    for (const seq of this.bySeq.keys()) if (seq > max) max = seq;
    return max;
  }

  // A stored message (history item or live MESSAGE body). Returns false for a duplicate.
  add(raw) {
    const msg = normalize(raw, this.roomId);
    if (!msg || this.ids.has(msg.messageId) || this.bySeq.has(msg.seq)) return false;
    this.ids.add(msg.messageId);
    this.bySeq.set(msg.seq, msg);
    if (msg.senderId === this.me && msg.clientMsgId && this.outbox.has(msg.clientMsgId)) {
      this.outbox.delete(msg.clientMsgId);   // the echo of my own message: stored, so sent
    }
    return true;
  }

  // A history page (ascending seq). Returns how many messages were new.
  addPage(page, { older = false } = {}) {
    let added = 0;
    for (const item of page.items || []) if (this.add(item)) added += 1;
    if (older || this.prevCursor === undefined) this.prevCursor = page.prevCursor ?? null;
    const first = page.items && page.items.length ? page.items[0].seq : null;
    if (first !== null && (this.loadedFrom === null || first < this.loadedFrom)) this.loadedFrom = first;
    return added;
  }

  // My message, before the edge has it.
  queue(clientMsgId, content, now = Date.now()) {
    const entry = { clientMsgId, content, status: 'pending', createdAt: now, error: null };
    this.outbox.set(clientMsgId, entry);
    return entry;
  }

  receipted(clientMsgId) {
    const entry = this.outbox.get(clientMsgId);
    if (entry && entry.status !== 'failed') entry.status = 'sent';
    return Boolean(entry);
  }

  failed(clientMsgId, error) {
    const entry = this.outbox.get(clientMsgId);
    if (entry) { entry.status = 'failed'; entry.error = error; }
    return Boolean(entry);
  }

  // Messages still waiting for a RECEIPT (sent again, with the same client message id, after a reconnect).
  unconfirmed() {
    return [...this.outbox.values()].filter((e) => e.status === 'pending');
  }

  // What to show: the contiguous block of stored messages that ends at the newest one (a gap
  // is never papered over: older messages below a hole are not shown until it is filled), then
  // my messages not stored yet, oldest first.
  visible() {
    const seqs = [...this.bySeq.keys()].sort((a, b) => a - b);
    let start = seqs.length;
    while (start > 0 && (start === seqs.length || seqs[start - 1] === seqs[start] - 1)) start -= 1;
    const stored = seqs.slice(start).map((seq) => ({ kind: 'stored', status: 'sent', error: null, ...this.bySeq.get(seq) }));
    const waiting = [...this.outbox.values()].sort((a, b) => a.createdAt - b.createdAt).map((e) => ({
      kind: 'outbox', roomId: this.roomId, senderId: this.me, content: e.content, clientMsgId: e.clientMsgId,
      status: e.status, error: e.error, sentAt: e.createdAt, seq: null, messageId: null,
    }));
    return stored.concat(waiting);
  }

  // True when no gap separates the shown block from the room's first message or the loaded page.
  hasGap() {
    const seqs = [...this.bySeq.keys()].sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i += 1) if (seqs[i] !== seqs[i - 1] + 1) return true;
    return false;
  }
}

// Where a (re)subscription resumes (`after-seq`) for a room. A room whose messages we hold
// resumes from the last one we hold, never from the rooms list's lastSeq: the list may have moved
// on while the socket was down, and resuming from it would leave a hole. A room we hold nothing
// of resumes from the list's lastSeq (its history comes from the API when it is opened).
export function resumeSeq(timeline, listedLastSeq) {
  if (timeline && (timeline.bySeq.size > 0 || timeline.prevCursor !== undefined)) return timeline.lastSeq;
  return listedLastSeq || 0;
}

// A stored message from either source: history items have `body`, STOMP bodies `content`.
export function normalize(raw, roomId) {
  if (!raw || typeof raw !== 'object' || !Number.isInteger(raw.seq)) return null;
  const room = raw.roomId ?? raw.room ?? roomId;
  return {
    roomId: room,
    seq: raw.seq,
    messageId: raw.messageId || `${room}:${raw.seq}`,
    clientMsgId: raw.clientMsgId ?? null,
    senderId: raw.senderId,
    senderRole: raw.senderRole,
    content: raw.content ?? raw.body ?? '',
    sentAt: raw.sentAt ?? null,
  };
}

// Reconnect delays: exponential from `base`, capped at `max`, with jitter so that clients an
// edge dropped together do not all come back at the same moment.
export function backoff(attempt, { base = 500, max = 15000, random = Math.random } = {}) {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

// Who is typing, each entry expiring `ttl` ms after its last typing event.
export class TypingSet {
  constructor(ttl = 4000) {
    this.ttl = ttl;
    this.until = new Map();   // userId -> expiry (ms)
  }

  seen(userId, now = Date.now()) {
    this.until.set(userId, now + this.ttl);
  }

  stop(userId) {
    this.until.delete(userId);
  }

  active(now = Date.now()) {
    for (const [user, until] of this.until) if (until <= now) this.until.delete(user);
    return [...this.until.keys()].sort();
  }
}

export function typingText(users) {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}
