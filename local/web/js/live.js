// The live connection: STOMP 1.2 over WebSocket to one edge (docs/stomp.md), with
// @stomp/stompjs for the framing and heart-beats and our own reconnect loop:
//
// - one stompjs Client per attempt (its own reconnect is off), so every attempt starts clean;
// - backoff with jitter between attempts (timeline.backoff), "retry now" on demand and when the
//   browser says it is online again; the browser going offline drops the socket at once;
// - on every CONNECTED: SUBSCRIBE each watched room with `after-seq` = the last seq seen, so the
//   edge replays what was missed (no gap) before the live ones; duplicates are the caller's to
//   drop by messageId; then the caller sends what is still unconfirmed, with the same
//   client-msg-id (the server stores a resend once);
// - SEND with `receipt` = `client-msg-id`: the RECEIPT says Kafka has it.
// - typing: SEND to `/pub/chat/typing/{roomId}` (fanned out, never stored, no receipt).
// - changes: SEND to `/pub/chat/edit|delete|react/{roomId}` with a receipt, like messages.

const STOMP_MODULE = '../vendor/stompjs/index.js';
const ROOM_ID = /^[A-Za-z0-9_.:-]{1,128}$/;   // functions/contracts.py ROOM_ID (JS `$`: end only)

export async function loadStomp() {
  try {
    return await import(STOMP_MODULE);
  } catch (err) {
    throw new Error('The STOMP client is not installed: run `python -m local.stack.browser vendor` '
      + `(it copies @stomp/stompjs into local/web/vendor/). ${err.message}`);
  }
}

// What a close means, in words, for the banner (docs/protocol.md "Close codes").
export function closeReason(evt) {
  const code = evt && evt.code;
  const known = {
    1000: 'closed', 1001: 'idle for too long', 1006: 'no connection to the server', 1011: 'server error',
    1012: 'the server restarts', 1013: 'the server dropped a slow connection', 4001: 'session expired',
  };
  return known[code] || (evt && evt.reason) || (code ? `closed with code ${code}` : 'connection lost');
}

export class Live {
  // opts: {stomp, edges, edgeIndex, token, lastSeq(roomId), backoff(attempt),
  //        onState(state), onMessage(roomId, body), onSignal(roomId, kind, body),
  //        onReceipt(clientMsgId), onRejected(info), onConnected(), onUnauthorized(),
  //        onRoomLost(roomId, reason), debug(text)}
  constructor(opts) {
    this.o = opts;
    this.rooms = new Set();
    this.subs = new Map();        // roomId -> stompjs subscription (of the current client)
    this.client = null;
    this.attempt = 0;             // failed attempts in a row
    this.timer = null;
    this.stopped = true;
    this.state = { status: 'idle', edge: this.edge(), attempt: 0, retryAt: null, reason: null };
    this.lastTyping = 0;
    this.onOffline = () => this.drop('the browser is offline');
    this.onOnline = () => this.retryNow();
  }

  edge() {
    return this.o.edges[this.o.edgeIndex % this.o.edges.length];
  }

  setState(change) {
    this.state = { ...this.state, ...change, edge: this.edge(), attempt: this.attempt };
    this.o.onState?.(this.state);
  }

  debug(text) {
    this.o.debug?.(text);
  }

  start() {
    this.stopped = false;
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  async stop() {
    this.stopped = true;
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    this.subs.clear();
    if (client) await client.deactivate();
    this.setState({ status: 'idle', retryAt: null });
  }

  get connected() {
    return Boolean(this.client && this.client.connected && this.state.status === 'online');
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || this.client) return;
    if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      this.setState({ status: 'offline', retryAt: null, reason: 'the browser is offline' });
      return;   // the `online` event brings us back
    }
    const { Client, Versions } = this.o.stomp;
    // The token travels in the CONNECT frame, never in the URL (access logs, proxies, history).
    let error = null;
    const client = new Client({
      brokerURL: this.edge(),
      connectHeaders: { Authorization: `Bearer ${this.o.token}` },
      stompVersions: new Versions(['1.2']),   // subprotocol v12.stomp
      reconnectDelay: 0,                      // our loop reconnects (backoff + jitter)
      connectionTimeout: 10000,
      heartbeatIncoming: 10000,
      heartbeatOutgoing: 10000,
      discardWebsocketOnCommFailure: true,    // a lost heart-beat drops the socket at once
      debug: (text) => this.debug(text),
      onConnect: () => {
        if (this.client !== client) return;
        this.attempt = 0;
        this.subs.clear();
        for (const room of this.rooms) this.subscribe(room);
        this.setState({ status: 'online', retryAt: null, reason: null });
        this.o.onConnected?.();
      },
      onStompError: (frame) => {
        const code = frame.headers.message || 'error';
        error = `${code}: ${frame.body || ''}`.trim();
        this.debug(`ERROR frame ${error}`);
        if (code === 'unauthorized') this.o.onUnauthorized?.();
        // A room we may no longer read (removed, or refused at SUBSCRIBE): stop watching it, so the
        // reconnect does not subscribe to it again and lose the connection for every other room.
        const room = frame.headers['tidings-ref'];
        const removed = frame.headers['tidings-event'] === 'unsubscribed';
        if (room && this.rooms.has(room) && (removed || code === 'forbidden' || code === 'unknown_room')) {
          this.rooms.delete(room);
          this.o.onRoomLost?.(room, frame.headers['tidings-reason'] || code);
        }
        const receipt = frame.headers['receipt-id'];
        if (receipt) this.debug(`send ${receipt} refused, it stays pending and is sent again after reconnecting`);
      },
      onWebSocketClose: (evt) => {
        if (this.client !== client) return;
        this.client = null;
        this.subs.clear();
        client.deactivate();   // no reconnect of its own
        if (this.stopped) return;
        this.scheduleRetry(error || closeReason(evt));
      },
    });
    this.client = client;
    this.setState({ status: this.attempt ? 'reconnecting' : 'connecting', retryAt: null });
    client.activate();
  }

  scheduleRetry(reason) {
    this.attempt += 1;
    // every third failed attempt in a row moves on to the next edge (when there is more than one)
    if (this.o.edges.length > 1 && this.attempt % 3 === 0) this.o.edgeIndex += 1;
    const delay = this.o.backoff(this.attempt - 1);
    const status = typeof navigator !== 'undefined' && navigator.onLine === false ? 'offline' : 'reconnecting';
    this.setState({ status, retryAt: status === 'offline' ? null : Date.now() + delay, reason });
    if (status !== 'offline') this.timer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.stopped) return;
    if (this.client) return;   // connecting or connected already
    this.connect();
  }

  // Drop the socket now (the browser went offline, or the user asked); the loop reconnects.
  drop(reason) {
    const client = this.client;
    if (!client) {
      if (reason && this.state.status !== 'online') this.setState({ reason });
      return;
    }
    this.client = null;
    this.subs.clear();
    client.deactivate({ force: true });
    this.scheduleRetry(reason);
  }

  watch(roomId) {
    if (this.rooms.has(roomId) || !ROOM_ID.test(roomId)) return;   // an id the edge would refuse
    this.rooms.add(roomId);
    if (this.connected) this.subscribe(roomId);
  }

  unwatch(roomId) {
    if (!this.rooms.delete(roomId)) return;
    const sub = this.subs.get(roomId);
    this.subs.delete(roomId);
    if (sub && this.connected) {
      try { sub.unsubscribe(); } catch (err) { this.debug(`unsubscribe failed: ${err.message}`); }
    }
  }

  subscribe(roomId) {
    const client = this.client;
    const headers = { id: `room-${roomId}`, ack: 'auto' };
    const after = this.o.lastSeq(roomId);
    if (Number.isInteger(after) && after >= 0) headers['after-seq'] = String(after);
    const sub = client.subscribe(`/sub/chat/${roomId}`, (frame) => {
      if (this.client !== client) return;
      let body;
      try { body = JSON.parse(frame.body); } catch { return; }
      const kind = frame.headers['tidings-event'];
      if (!kind) this.o.onMessage(roomId, body);
      else if (kind === 'error') this.o.onRejected?.({ roomId, ...body });
      else this.o.onSignal?.(roomId, kind, body);
    }, headers);
    this.subs.set(roomId, sub);
  }

  // Returns false when not connected (the caller keeps it pending and sends it after reconnecting).
  // `replyTo`: the messageId it answers, or null; `attachment`: {key} of a photo uploaded, or null.
  send(roomId, clientMsgId, content, replyTo = null, attachment = null) {
    const body = { content };
    if (replyTo) body.replyTo = replyTo;
    if (attachment) body.attachment = { key: attachment.key };
    return this.publish(`/pub/chat/send/${roomId}`, clientMsgId, body);
  }

  // An edit / delete / react (`kind`) of a stored message: {messageId, content?, emoji?}.
  change(roomId, kind, clientMsgId, body) {
    if (!['edit', 'delete', 'react'].includes(kind)) throw new Error(`not a change: ${kind}`);
    return this.publish(`/pub/chat/${kind}/${roomId}`, clientMsgId, body);
  }

  publish(destination, clientMsgId, body) {
    if (!this.connected) return false;
    const client = this.client;
    try {
      client.watchForReceipt(clientMsgId, () => {
        if (this.client === client) this.o.onReceipt(clientMsgId);
      });
      client.publish({
        destination,
        headers: { 'content-type': 'application/json', receipt: clientMsgId, 'client-msg-id': clientMsgId },
        body: JSON.stringify(body),
      });
      return true;
    } catch (err) {
      this.debug(`publish failed: ${err.message}`);
      return false;
    }
  }

  // --- typing ------------------------------------------------------------------------------
  typing(roomId, minIntervalMs = 2000) {
    const now = Date.now();
    if (!this.connected || now - this.lastTyping < minIntervalMs) return false;
    this.lastTyping = now;
    try {
      this.client.publish({ destination: `/pub/chat/typing/${roomId}` });
      return true;
    } catch (err) {
      this.debug(`typing not sent: ${err.message}`);
      return false;
    }
  }

  // A message went out: the next keystroke starts a new typing burst and is signalled at once.
  typingDone() {
    this.lastTyping = 0;
  }
}
