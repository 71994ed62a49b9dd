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

  // A history page (ascending seq). Returns how many messages were new. History is the final
  // state, so messages already held take the page's version (edits, deletion, reactions).
  addPage(page, { older = false } = {}) {
    let added = 0;
    for (const item of page.items || []) {
      if (this.add(item)) added += 1;
      else this.refresh(item);
    }
    if (older || this.prevCursor === undefined) this.prevCursor = page.prevCursor ?? null;
    const first = page.items && page.items.length ? page.items[0].seq : null;
    if (first !== null && (this.loadedFrom === null || first < this.loadedFrom)) this.loadedFrom = first;
    return added;
  }

  // A held message as the store has it now (a history item): its state, not its place.
  refresh(raw) {
    const msg = normalize(raw, this.roomId);
    const held = msg && this.bySeq.get(msg.seq);
    if (!held || held.messageId !== msg.messageId) return false;
    this.bySeq.set(msg.seq, msg);
    return true;
  }

  // A change of a stored message (an `edited` / `deleted` / `reaction` event: the message's
  // state after it). Returns true when something shown changed. A deletion also removes the
  // quote of that message from the replies held, even when the message itself is not held.
  applyChange(kind, event) {
    let changed = false;
    const msg = this.bySeq.get(event.seq);
    const held = msg && msg.messageId === event.messageId ? msg : null;
    if (kind === 'deleted') {
      if (held && !held.deleted) {
        Object.assign(held, { deleted: true, content: '', reactions: {}, editedAt: null, attachment: null });
        changed = true;
      }
      for (const other of this.bySeq.values()) {
        if (other.replyTo && other.replyTo.messageId === event.messageId && !other.replyTo.deleted) {
          other.replyTo = { messageId: other.replyTo.messageId, seq: other.replyTo.seq,
            senderId: other.replyTo.senderId, deleted: true };
          changed = true;
        }
      }
    } else if (held && !held.deleted && kind === 'edited' && (event.version || 0) >= (held.version || 1)) {
      Object.assign(held, { content: event.body ?? held.content, editedAt: event.editedAt ?? null,
        version: event.version || 2 });
      changed = true;
    } else if (held && !held.deleted && kind === 'reaction' && event.reactions && typeof event.reactions === 'object') {
      held.reactions = event.reactions;
      changed = true;
    }
    return changed;
  }

  // My message, before the edge has it (`replyTo`: the messageId it answers).
  queue(clientMsgId, content, now = Date.now(), replyTo = null, attachment = null) {
    const entry = { clientMsgId, content, status: 'pending', createdAt: now, error: null, replyTo, attachment };
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
      replyTo: e.replyTo ? this.quoteOf(e.replyTo) : null, reactions: {}, deleted: false, editedAt: null,
      attachment: e.attachment || null,
    }));
    return stored.concat(waiting);
  }

  // What a reply shows of the message it answers, from what is held (a pending reply).
  quoteOf(messageId) {
    for (const m of this.bySeq.values()) {
      if (m.messageId === messageId) {
        return m.deleted ? { messageId, seq: m.seq, senderId: m.senderId, deleted: true }
          : { messageId, seq: m.seq, senderId: m.senderId, quote: m.content.slice(0, 100) };
      }
    }
    return { messageId, seq: null, senderId: null, quote: '' };
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

// A stored message from either source: history items have `body`, STOMP bodies `content`;
// both carry its state now (docs/protocol.md): replyTo, editedAt/version, deleted, reactions.
export function normalize(raw, roomId) {
  if (!raw || typeof raw !== 'object' || !Number.isInteger(raw.seq)) return null;
  const room = raw.roomId ?? raw.room ?? roomId;
  const deleted = raw.deleted === true;
  return {
    roomId: room,
    seq: raw.seq,
    messageId: raw.messageId || `${room}:${raw.seq}`,
    clientMsgId: raw.clientMsgId ?? null,
    senderId: raw.senderId,
    senderRole: raw.senderRole,
    content: deleted ? '' : (raw.content ?? raw.body ?? ''),
    sentAt: raw.sentAt ?? null,
    editedAt: deleted ? null : (raw.editedAt ?? null),
    version: raw.version ?? 1,
    deleted,
    reactions: !deleted && raw.reactions && typeof raw.reactions === 'object' ? raw.reactions : {},
    replyTo: raw.replyTo && typeof raw.replyTo === 'object' ? raw.replyTo : null,
    attachment: !deleted && raw.attachment && typeof raw.attachment === 'object' ? raw.attachment : null,
  };
}

// The reactions of a message as chips: [{emoji, count, mine}] in the order they came.
export function reactionChips(reactions, me) {
  return Object.entries(reactions || {})
    .filter(([, users]) => Array.isArray(users) && users.length > 0)
    .map(([emoji, users]) => ({ emoji, count: users.length, mine: users.includes(me) }));
}

// Which actions the message menu offers `me` on a stored message (the server decides anyway).
export function actionsFor(msg, me, { creator = null, editWindowMs = 900000, now = Date.now() } = {}) {
  if (!msg || msg.seq === null || msg.deleted) return { reply: false, react: false, edit: false, delete: false };
  const mine = msg.senderId === me;
  return {
    reply: true,
    react: true,
    edit: mine && (msg.sentAt === null || now - msg.sentAt <= editWindowMs),
    delete: mine || (creator !== null && creator === me),
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
