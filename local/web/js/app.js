// The tidings web client: sign in, my rooms, a room (history, live messages, typing, read by,
// who is online). Plain DOM; state lives here, the connection in live.js, each room's
// messages in timeline.js. See docs/web-client.md.

import { Api, ApiError, devLogin } from './api.js';
import { PhotoStates, renderPhoto, uploadPhoto } from './attachments.js';  // photos (issue 16)
import { fetchServerConfig, readConfig } from './config.js';
import { registerPush } from './push.js';  // push notifications (issue 15)
import { Live, loadStomp } from './live.js';
import { Timeline, TypingSet, actionsFor, backoff, reactionChips, resumeSeq, typingText } from './timeline.js';

const PAGE_SIZE = 30;
const SESSION_KEY = 'tidings.session';
const ROOMS_POLL_MS = 15000;
const READS_POLL_MS = 5000;
const PRESENCE_POLL_MS = 20000;
const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '🐶', '✅'];
const CHANGE_VERBS = { edit: 'edited', delete: 'deleted', react: 'reacted' };

const $ = (id) => document.getElementById(id);

// --- small DOM helpers ------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function clock(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function newClientMsgId() {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `w-${Date.now().toString(36)}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

// --- the app ----------------------------------------------------------------------------------

class App {
  constructor(config) {
    this.config = config;
    this.session = null;      // {token, userId, role, expiresAt}
    this.api = null;
    this.live = null;
    this.rooms = new Map();   // roomId -> summary {roomId, name, lastSeq, readSeq, unread, lastMessage, ...}
    this.timelines = new Map();
    this.typing = new Map();  // roomId -> TypingSet
    this.current = null;      // the open room id
    this.details = new Map(); // roomId -> {members, online:Set, reads:Map}
    this.msgEls = new Map();  // key -> <li> of the open room
    this.loadingOlder = false;
    this.composing = null;     // {mode: 'reply' | 'edit', roomId, messageId, label}
    this.changes = new Map();  // clientMsgId -> {roomId, kind} of my edits / deletes / reactions in flight
    this.timers = [];
    this.markRead = debounce(() => this.doMarkRead(), 250);
    this.refreshReads = debounce(() => this.loadReads(), 600);
    this.refreshPresence = debounce(() => this.loadPresence(), 300);
  }

  // --- session ---------------------------------------------------------------------------------
  boot() {
    $('signin').addEventListener('submit', (e) => { e.preventDefault(); this.signIn(); });
    $('signout').addEventListener('click', () => this.signOut());
    $('retry').addEventListener('click', () => this.live && this.live.retryNow());
    $('refresh-rooms').addEventListener('click', () => this.api && this.loadRooms().catch((e) => this.handleAuth(e)));
    window.addEventListener('focus', () => this.api && this.loadRooms().catch((e) => this.handleAuth(e)));
    $('create-room').addEventListener('submit', (e) => { e.preventDefault(); this.createRoom(); });
    $('add-member').addEventListener('submit', (e) => { e.preventDefault(); this.addMember(); });
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    $('photo-input').addEventListener('change', (e) => this.sendPhoto(e.target.files[0]));
    const input = $('message-input');
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); }
    });
    input.addEventListener('input', () => { if (this.live && this.current && input.value.trim()) this.live.typing(this.current); });
    $('history').addEventListener('scroll', () => { if ($('history').scrollTop < 80) this.loadOlder(); });
    $('compose-cancel').addEventListener('click', () => this.compose(null));
    input.addEventListener('keydown', (e) => { if (e.key === 'Escape' && this.composing) this.compose(null); });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.markRead(); });
    window.addEventListener('hashchange', () => this.openFromHash());

    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null'); } catch { saved = null; }
    if (saved && saved.token && saved.expiresAt * 1000 > Date.now() + 60000) this.start(saved);
    else this.showSignIn();
  }

  showSignIn(message = '') {
    $('signin-view').hidden = false;
    $('chat-view').hidden = true;
    $('whoami').hidden = true;
    $('banner').hidden = true;
    $('conn').textContent = '';
    $('signin-error').textContent = message;
    $('signin-user').focus();
  }

  async signIn() {
    const userId = $('signin-user').value.trim();
    const role = $('signin-role').value;
    $('signin-error').textContent = '';
    try {
      const session = await devLogin(userId, role);
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      await this.start(session);
    } catch (err) {
      $('signin-error').textContent = err.status === 404
        ? 'The dev login is off (the gateway runs without TIDINGS_LOCAL_MODE=true).'
        : `Cannot sign in: ${err.message}`;
    }
  }

  async signOut() {
    this.session = null;
    sessionStorage.removeItem(SESSION_KEY);
    await this.stopAll();
    history.replaceState(null, '', window.location.pathname + window.location.search);
    this.showSignIn();
  }

  async stopAll() {
    this.timers.forEach(clearInterval);
    this.timers = [];
    if (this.live) await this.live.stop();
    this.live = null;
    this.api = null;
    this.photos = null;
    this.rooms.clear();
    this.timelines.clear();
    this.details.clear();
    this.typing.clear();
    this.current = null;
    this.msgEls.clear();
    $('messages').replaceChildren();
    $('rooms').replaceChildren();
  }

  async start(session) {
    this.session = session;
    this.api = new Api(session.token);
    this.photos = new PhotoStates(this.api, () => this.renderMessages());
    $('signin-view').hidden = true;
    $('chat-view').hidden = false;
    $('whoami').hidden = false;
    $('me').textContent = `${session.userId} (${session.role})`;
    document.body.dataset.user = session.userId;
    try {
      await this.loadRooms();
    } catch (err) {
      if (this.handleAuth(err)) return;
      this.fatal(`Cannot load your rooms: ${err.message}`);
    }
    let stomp;
    try {
      stomp = await loadStomp();
    } catch (err) {
      this.fatal(err.message);
      return;
    }
    this.live = new Live({
      stomp,
      edges: this.config.edges,
      edgeIndex: this.config.edgeIndex,
      token: session.token,
      backoff: (attempt) => backoff(attempt),
      lastSeq: (roomId) => this.lastSeq(roomId),
      onState: (state) => this.renderConnection(state),
      onMessage: (roomId, body) => this.onMessage(roomId, body),
      onSignal: (roomId, kind, body) => this.onSignal(roomId, kind, body),
      onReceipt: (id) => this.onReceipt(id),
      onRejected: (info) => this.onRejected(info),
      onConnected: () => this.onConnected(),
      onUnauthorized: () => this.expired(),
      onRoomLost: (roomId, reason) => this.forgetRoom(roomId, reason),
      debug: this.config.debug ? (t) => console.debug('[stomp]', t) : null,
    });
    registerPush({ token: session.token }).catch((e) => console.warn('push:', e.message));  // issue 15
    for (const roomId of this.rooms.keys()) this.live.watch(roomId);
    this.live.start();
    this.timers.push(setInterval(() => this.loadRooms().catch((e) => this.handleAuth(e)), ROOMS_POLL_MS));
    this.timers.push(setInterval(() => { if (this.current && !document.hidden) this.loadReads(); }, READS_POLL_MS));
    this.timers.push(setInterval(() => { if (this.current) this.loadPresence(); }, PRESENCE_POLL_MS));
    this.timers.push(setInterval(() => { this.renderTyping(); this.renderBannerCountdown(); }, 1000));
    // the token ends: back to the sign-in form (a minute early, before the edge closes with 4001)
    this.timers.push(setTimeout(() => this.expired(), Math.max(0, session.expiresAt * 1000 - Date.now() - 60000)));
    this.openFromHash();
  }

  handleAuth(err) {
    if (err instanceof ApiError && err.status === 401) {
      this.expired();
      return true;
    }
    return false;
  }

  expired() {
    if (!this.session) return;
    this.session = null;
    sessionStorage.removeItem(SESSION_KEY);
    this.stopAll().then(() => this.showSignIn('Your session expired: sign in again.'));
  }

  fatal(text) {
    $('fatal').textContent = text;
    $('fatal').hidden = false;
  }

  // --- rooms --------------------------------------------------------------------------------
  timeline(roomId) {
    let tl = this.timelines.get(roomId);
    if (!tl) {
      tl = new Timeline(roomId, this.session.userId);
      this.timelines.set(roomId, tl);
    }
    return tl;
  }

  // where a (re)subscription resumes: see timeline.resumeSeq
  lastSeq(roomId) {
    return resumeSeq(this.timelines.get(roomId), this.rooms.get(roomId)?.lastSeq);
  }

  async loadRooms() {
    const api = this.api;
    if (!api) return;
    const data = await api.rooms();
    if (api !== this.api) return;   // signed out meanwhile
    const listed = new Set(data.rooms.map((r) => r.roomId));
    for (const roomId of [...this.rooms.keys()]) {
      if (!listed.has(roomId)) this.forgetRoom(roomId, 'removed', false);
    }
    for (const r of data.rooms) {
      const known = this.rooms.get(r.roomId);
      if (!known) {
        this.rooms.set(r.roomId, { ...r });
        if (this.live) this.live.watch(r.roomId);
        continue;
      }
      // what the server says, without going back on what arrived live meanwhile
      const lastSeq = Math.max(known.lastSeq, r.lastSeq);
      const readSeq = Math.max(known.readSeq, r.readSeq);
      const lastMessage = (known.lastMessage?.seq || 0) > (r.lastMessage?.seq || 0) ? known.lastMessage : r.lastMessage;
      Object.assign(known, r, { lastSeq, readSeq, lastMessage, unread: Math.max(0, lastSeq - readSeq) });
    }
    this.renderRooms();
  }

  // No longer a member (removed, or the room is gone): out of the list and the live connection.
  forgetRoom(roomId, reason, render = true) {
    if (!this.rooms.delete(roomId)) return;
    this.live?.unwatch(roomId);
    if (this.current === roomId) {
      this.current = null;
      window.location.hash = '';
      this.fatal(`You can no longer read room ${roomId} (${reason}).`);
    }
    if (render) this.renderRooms();
  }

  renderRooms() {
    if (!this.session) return;
    const list = $('rooms');
    const focused = document.activeElement?.dataset?.roomId;   // keep keyboard focus across the re-render
    const rooms = [...this.rooms.values()].sort((a, b) => (activity(b) - activity(a)) || a.roomId.localeCompare(b.roomId));
    $('rooms-empty').hidden = rooms.length > 0;
    const items = rooms.map((r) => {
      const last = r.lastMessage ? `${r.lastMessage.senderId === this.session.userId ? 'You' : r.lastMessage.senderId}: ${r.lastMessage.body}` : 'No messages yet';
      const unread = r.roomId === this.current && !document.hidden ? 0 : r.unread;
      return h('li', {},
        h('button', {
          type: 'button', class: 'room-item', 'data-room-id': r.roomId, 'data-unread': unread,
          'aria-current': r.roomId === this.current ? 'true' : null,
          onclick: () => { window.location.hash = `room=${encodeURIComponent(r.roomId)}`; },
        },
        h('span', { class: 'room-name', text: r.name || r.roomId }),
        unread > 0 ? h('span', { class: 'badge', 'aria-label': `${unread} unread`, text: unread > 99 ? '99+' : String(unread) }) : null,
        h('span', { class: 'room-last', text: last })));
    });
    list.replaceChildren(...items);
    if (focused) list.querySelector(`.room-item[data-room-id="${CSS.escape(focused)}"]`)?.focus();
  }

  async createRoom() {
    const name = $('room-name').value.trim();
    const roomId = $('room-id').value.trim();
    const member = $('room-member').value.trim();
    const spec = { name };
    if (roomId) spec.roomId = roomId;
    if (member) spec.members = [{ userId: member, role: $('room-member-role').value }];
    $('create-error').textContent = '';
    try {
      const room = await this.api.createRoom(spec);
      this.rooms.set(room.roomId, { roomId: room.roomId, name: room.name, createdBy: room.createdBy, createdAt: room.createdAt,
        role: this.session.role, lastSeq: room.lastSeq, readSeq: 0, unread: 0, lastMessage: null });
      this.details.set(room.roomId, { members: room.members, online: new Set(), reads: new Map() });
      this.live?.watch(room.roomId);
      $('create-room').reset();
      $('new-room').open = false;
      window.location.hash = `room=${encodeURIComponent(room.roomId)}`;
      this.renderRooms();
    } catch (err) {
      if (!this.handleAuth(err)) $('create-error').textContent = err.message;
    }
  }

  async addMember() {
    const userId = $('member-id').value.trim();
    const role = $('member-role').value;
    const roomId = this.current;
    $('member-status').textContent = '';
    try {
      const res = await this.api.addMember(roomId, userId, role);
      $('member-status').textContent = `${res.userId} is a member (${res.role}).`;
      $('member-id').value = '';
      await this.loadRoomInfo(roomId);
    } catch (err) {
      if (!this.handleAuth(err)) $('member-status').textContent = `Not added: ${err.message}`;
    }
  }

  // --- a room -------------------------------------------------------------------------------
  openFromHash() {
    const m = /^#room=(.+)$/.exec(window.location.hash);
    const roomId = m ? decodeURIComponent(m[1]) : null;
    if (roomId && roomId !== this.current) this.openRoom(roomId);
  }

  async openRoom(roomId) {
    this.current = roomId;
    this.msgEls.clear();
    $('messages').replaceChildren();
    $('no-room').hidden = true;
    $('room-body').hidden = false;
    $('member-status').textContent = '';
    const summary = this.rooms.get(roomId);
    $('room-title').textContent = summary?.name || roomId;
    this.renderRooms();
    this.renderMembers();
    this.renderTyping();
    this.live?.watch(roomId);
    const tl = this.timeline(roomId);
    try {
      if (tl.prevCursor === undefined) tl.addPage(await this.api.messages(roomId, { limit: PAGE_SIZE }));
    } catch (err) {
      if (this.handleAuth(err)) return;
      $('history-top').replaceChildren(h('p', { class: 'error', text: `Cannot load messages: ${err.message}` }));
    }
    if (this.current !== roomId) return;
    this.renderMessages({ toBottom: true });
    this.markRead();
    await Promise.all([this.loadRoomInfo(roomId), this.loadReads(), this.loadPresence()]);
  }

  async loadOlder() {
    const roomId = this.current;
    const tl = roomId && this.timelines.get(roomId);
    if (!tl || !tl.prevCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    this.renderHistoryTop();
    const box = $('history');
    try {
      const page = await this.api.messages(roomId, { cursor: tl.prevCursor, limit: PAGE_SIZE });
      if (this.current !== roomId) return;
      const before = box.scrollHeight - box.scrollTop;
      tl.addPage(page, { older: true });
      this.renderMessages();
      box.scrollTop = box.scrollHeight - before;   // keep the message that was in view in view
    } catch (err) {
      this.handleAuth(err);
    } finally {
      this.loadingOlder = false;
      this.renderHistoryTop();
    }
  }

  async loadRoomInfo(roomId) {
    try {
      const room = await this.api.room(roomId);
      const d = this.detail(roomId);
      d.members = room.members;
      if (roomId === this.current) this.renderMembers();
    } catch (err) { this.handleAuth(err); }
  }

  detail(roomId) {
    let d = this.details.get(roomId);
    if (!d) { d = { members: [], online: new Set(), reads: new Map() }; this.details.set(roomId, d); }
    return d;
  }

  async loadReads() {
    const roomId = this.current;
    if (!roomId) return;
    try {
      const data = await this.api.reads(roomId);
      const d = this.detail(roomId);
      d.reads = new Map(data.reads.map((r) => [r.userId, r.readSeq]));
      if (roomId === this.current) this.renderMessages();
    } catch (err) { this.handleAuth(err); }
  }

  async loadPresence() {
    const roomId = this.current;
    if (!roomId) return;
    try {
      const data = await this.api.presence(roomId);
      this.detail(roomId).online = new Set(data.online);
      if (roomId === this.current) this.renderMembers();
    } catch (err) { this.handleAuth(err); }
  }

  async doMarkRead() {
    const roomId = this.current;
    const summary = roomId && this.rooms.get(roomId);
    if (!summary || document.hidden) return;
    const seq = this.timeline(roomId).lastSeq;
    if (seq <= summary.readSeq) {
      if (summary.unread) { summary.unread = 0; this.renderRooms(); }
      return;
    }
    try {
      const mark = await this.api.markRead(roomId, seq);
      summary.readSeq = Math.max(summary.readSeq, mark.readSeq);
      summary.lastSeq = Math.max(summary.lastSeq, mark.lastSeq);
      summary.unread = Math.max(0, summary.lastSeq - summary.readSeq);
      this.detail(roomId).reads.set(this.session.userId, summary.readSeq);
      this.renderRooms();
    } catch (err) { this.handleAuth(err); }
  }

  // --- live events --------------------------------------------------------------------------
  onConnected() {
    // what is still waiting for a RECEIPT goes again, with the same client message id
    for (const [roomId, tl] of this.timelines) {
      for (const entry of tl.unconfirmed()) {
        this.live.send(roomId, entry.clientMsgId, entry.content, entry.replyTo, entry.attachment);
      }
    }
    this.loadRooms().catch((e) => this.handleAuth(e));
    if (this.current) { this.loadPresence(); this.loadReads(); }
  }

  onMessage(roomId, body) {
    if (!this.session) return;
    const tl = this.timeline(roomId);
    if (!tl.add(body)) return;   // a duplicate (catch-up overlap, redelivery)
    const summary = this.rooms.get(roomId);
    if (summary) {
      summary.lastSeq = Math.max(summary.lastSeq, body.seq);
      if ((summary.lastMessage?.seq || 0) < body.seq) {
        summary.lastMessage = { seq: body.seq, senderId: body.senderId, senderRole: body.senderRole,
          body: String(body.content).slice(0, 200), sentAt: body.sentAt };
      }
      summary.unread = Math.max(0, summary.lastSeq - summary.readSeq);
    }
    this.typing.get(roomId)?.stop(body.senderId);
    if (roomId === this.current) {
      this.renderMessages({ follow: true });
      this.renderTyping();
      this.markRead();
      this.refreshReads();
    }
    this.renderRooms();
  }

  onSignal(roomId, kind, body) {
    if (kind === 'typing') {
      if (body.userId === this.session.userId) return;
      let set = this.typing.get(roomId);
      if (!set) { set = new TypingSet(4000); this.typing.set(roomId, set); }
      set.seen(body.userId);
      if (roomId === this.current) this.renderTyping();
    } else if (kind === 'presence') {
      if (roomId === this.current) this.refreshPresence();
    } else if (kind === 'attachment') {   // a photo's check is done: show it (or why not)
      this.photos?.checked(body);
    } else if (kind === 'edited' || kind === 'deleted' || kind === 'reaction') {
      const tl = this.timeline(roomId);
      if (body.clientMsgId && this.changes.has(body.clientMsgId)) this.changes.delete(body.clientMsgId);
      if (tl.applyChange(kind, body)) {
        const summary = this.rooms.get(roomId);
        if (summary?.lastMessage?.seq === body.seq && kind !== 'reaction') {
          summary.lastMessage = { ...summary.lastMessage, body: kind === 'deleted' ? '' : String(body.body).slice(0, 200),
            deleted: kind === 'deleted' || undefined };
          this.renderRooms();
        }
        if (this.composing && this.composing.messageId === body.messageId && kind === 'deleted') this.compose(null);
        if (roomId === this.current) this.renderMessages();
      }
    }
  }

  onReceipt(clientMsgId) {
    for (const [roomId, tl] of this.timelines) {
      if (tl.receipted(clientMsgId)) {
        if (roomId === this.current) this.renderMessages();
        return;
      }
    }
  }

  onRejected({ roomId, ref, code, message }) {
    const change = ref && this.changes.get(ref);
    if (change) {   // an edit / delete / reaction the server refused: nothing changed
      this.changes.delete(ref);
      if (roomId === this.current) this.notice(`Not ${CHANGE_VERBS[change.kind]}: ${message} (${code})`);
      return;
    }
    const tl = this.timelines.get(roomId);
    if (tl && ref && tl.failed(ref, `${code}: ${message}`) && roomId === this.current) this.renderMessages();
  }

  send(attachment = null, caption = null) {
    const input = $('message-input');
    const content = caption ?? input.value.trim();
    const roomId = this.current;
    if (!content || !roomId) return;
    const composing = this.composing && this.composing.roomId === roomId ? this.composing : null;
    if (composing?.mode === 'edit') {
      if (this.change(roomId, 'edit', { messageId: composing.messageId, content })) {
        input.value = '';
        this.compose(null);
      }
      return;
    }
    const replyTo = composing?.mode === 'reply' ? composing.messageId : null;
    const tl = this.timeline(roomId);
    const id = newClientMsgId();
    tl.queue(id, content, Date.now(), replyTo, attachment);
    input.value = '';
    this.compose(null);
    this.renderMessages({ toBottom: true });
    this.live?.send(roomId, id, content, replyTo, attachment);   // not connected: it stays pending and goes on reconnect
    this.live?.typingDone();
  }

  // A photo picked: uploaded straight to S3 (progress shown), then sent with the text typed
  // so far as its caption (or the file's name).
  async sendPhoto(file) {
    const roomId = this.current;
    if (!file || !roomId || !this.api) return;
    const bar = $('upload-progress');
    bar.value = 0;
    bar.hidden = false;
    $('upload-status').textContent = `Uploading ${file.name}…`;
    try {
      const photo = await uploadPhoto(this.api, roomId, file, (done) => { bar.value = Math.round(done * 100); });
      $('upload-status').textContent = '';
      if (this.current === roomId) this.send(photo, $('message-input').value.trim() || `📷 ${file.name}`);
    } catch (err) {
      $('upload-status').textContent = '';
      this.notice(`Photo not sent: ${err.message}`);
    } finally {
      bar.hidden = true;
      $('photo-input').value = '';
    }
  }

  // An edit / delete / reaction: applied by the server in the room's order; the `edited` /
  // `deleted` / `reaction` event updates the view, a refusal shows a notice.
  change(roomId, kind, body) {
    const id = newClientMsgId();
    if (!this.live || !this.live.change(roomId, kind, id, body)) {
      this.notice(`Not ${CHANGE_VERBS[kind]}: not connected, try again when the connection is back`);
      return false;
    }
    this.changes.set(id, { roomId, kind });
    this.notice('');
    return true;
  }

  // The composer's context: replying to or editing a message (null: a plain new message).
  compose(context) {
    this.composing = context;
    const box = $('compose-context');
    box.hidden = !context;
    $('compose-label').textContent = context ? context.label : '';
    $('message-input').placeholder = context?.mode === 'edit' ? 'Edit your message (Enter saves, Esc cancels)'
      : 'Write a message (Enter sends, Shift+Enter for a new line)';
    if (context) $('message-input').focus();
  }

  notice(text) {
    if ($('room-notice').textContent !== text) $('room-notice').textContent = text;
  }

  messageAction(action, m, extra) {
    const roomId = this.current;
    if (!roomId) return;
    const who = m.senderId === this.session.userId ? 'yourself' : m.senderId;
    if (action === 'reply') {
      this.compose({ mode: 'reply', roomId, messageId: m.messageId, label: `Replying to ${who}: ${m.content.slice(0, 100)}` });
    } else if (action === 'edit') {
      $('message-input').value = m.content;
      this.compose({ mode: 'edit', roomId, messageId: m.messageId, label: 'Editing your message' });
    } else if (action === 'delete') {
      if (window.confirm('Delete this message for everyone?')) this.change(roomId, 'delete', { messageId: m.messageId });
    } else if (action === 'react') {
      this.change(roomId, 'react', { messageId: m.messageId, emoji: extra });
    }
  }

  // --- rendering ----------------------------------------------------------------------------
  renderConnection(state) {
    document.body.dataset.conn = state.status;
    const edgeNo = this.config.edges.indexOf(state.edge);
    const where = this.config.edges.length > 1 ? ` · edge ${edgeNo}` : '';
    const label = { idle: '', connecting: 'Connecting…', online: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' }[state.status];
    $('conn').textContent = label ? `${label}${where}` : '';
    $('conn').dataset.status = state.status;
    this.connState = state;
    $('banner').hidden = !(state.status === 'reconnecting' || state.status === 'offline');
    this.renderBannerCountdown();
  }

  renderBannerCountdown() {
    const state = this.connState;
    if (!state || $('banner').hidden) return;
    let text;
    if (state.status === 'offline') {
      text = 'You are offline. Messages you write are kept and go out when the connection is back.';
    } else if (state.retryAt) {
      const secs = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      text = `Connection lost${state.reason ? ` (${state.reason})` : ''}. Reconnecting ${secs > 0 ? `in ${secs} s` : 'now'}…`;
    } else {
      text = 'Connection lost. Reconnecting…';
    }
    if ($('banner-text').textContent !== text) $('banner-text').textContent = text;
  }

  renderMembers() {
    const roomId = this.current;
    if (!roomId || !this.session) return;
    const d = this.detail(roomId);
    const online = d.online;
    const members = [...d.members].sort((a, b) => a.userId.localeCompare(b.userId));
    $('members').replaceChildren(...members.map((m) => {
      const on = online.has(m.userId);
      return h('li', { class: on ? 'member online' : 'member', 'data-user': m.userId, 'data-online': on ? 'true' : 'false' },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        h('span', { text: m.userId === this.session.userId ? `${m.userId} (you)` : m.userId }),
        h('span', { class: 'role', text: m.role }),
        h('span', { class: 'sr-only', text: on ? ', online' : ', offline' }));
    }));
    const count = members.filter((m) => online.has(m.userId)).length;
    $('online-count').textContent = members.length ? `${count} of ${members.length} online` : '';
  }

  renderTyping() {
    const roomId = this.current;
    const users = roomId && this.typing.get(roomId) ? this.typing.get(roomId).active() : [];
    const text = typingText(users);
    if ($('typing').textContent !== text) $('typing').textContent = text;
  }

  renderHistoryTop() {
    const tl = this.current && this.timelines.get(this.current);
    const top = $('history-top');
    if (!tl || tl.prevCursor === undefined) { top.replaceChildren(); return; }
    if (this.loadingOlder) top.replaceChildren(h('p', { class: 'hint', text: 'Loading older messages…' }));
    else if (tl.prevCursor) top.replaceChildren(h('button', { type: 'button', class: 'link', text: 'Load older messages', onclick: () => this.loadOlder() }));
    else top.replaceChildren(h('p', { class: 'hint', text: 'This is the beginning of the conversation.' }));
  }

  // What a message's changes show: the latest text or the tombstone, "(edited)", the quote it
  // replies with, its reactions, and its menu (reply, react, edit, delete).
  renderMessageState(el, m, roomId) {
    const me = this.session.userId;
    const text = el.querySelector('.text');
    const shown = m.deleted ? 'This message was deleted.' : m.content;
    if (text.textContent !== shown) text.textContent = shown;
    el.classList.toggle('deleted', Boolean(m.deleted));
    el.querySelector('.edited').hidden = !m.editedAt;
    const quote = el.querySelector('.quote');
    const q = m.replyTo;
    const quoteText = !q ? '' : q.deleted ? `${q.senderId || 'someone'}: a deleted message` : `${q.senderId}: ${q.quote}`;
    quote.hidden = !q;
    if (quote.textContent !== quoteText) quote.textContent = quoteText;
    if (q) quote.dataset.replyTo = q.messageId;
    const ref = m.attachment;
    renderPhoto(el.querySelector('.photo'), ref, ref && m.seq !== null ? this.photos.state(roomId, ref.attId) : null, h);
    const chips = reactionChips(m.reactions, me);
    const box = el.querySelector('.reactions');
    const sig = JSON.stringify(chips);
    if (box.dataset.sig !== sig) {
      box.dataset.sig = sig;
      box.replaceChildren(...chips.map((c) => h('button', {
        type: 'button', class: 'chip', 'aria-pressed': c.mine ? 'true' : 'false', 'data-emoji': c.emoji,
        'aria-label': `${c.emoji} ${c.count}${c.mine ? ', yours: take it back' : ''}`, text: `${c.emoji} ${c.count}`,
        onclick: () => this.messageAction('react', m, c.emoji) })));
    }
    box.hidden = chips.length === 0;
    const can = actionsFor(m, me, { creator: this.rooms.get(roomId)?.createdBy ?? null,
      editWindowMs: this.config.editWindowMs ?? 900000 });
    let menu = el.querySelector('.actions');
    if (!menu && can.reply) {
      menu = h('details', { class: 'actions' },
        h('summary', { 'aria-label': 'Message actions', title: 'Message actions', text: '⋯' }),
        h('div', { class: 'menu', role: 'group', 'aria-label': 'Message actions' },
          h('button', { type: 'button', 'data-action': 'reply', text: 'Reply' }),
          h('button', { type: 'button', 'data-action': 'edit', text: 'Edit' }),
          h('button', { type: 'button', 'data-action': 'delete', text: 'Delete' }),
          h('span', { class: 'quick', role: 'group', 'aria-label': 'React' },
            ...QUICK_REACTIONS.map((e) => h('button', { type: 'button', 'data-action': 'react', 'data-emoji': e,
              'aria-label': `React ${e}`, text: e })))));
      el.querySelector('.meta').append(menu);
    }
    if (menu) {
      menu.hidden = !can.reply;
      menu.querySelector('[data-action="edit"]').hidden = !can.edit;
      menu.querySelector('[data-action="delete"]').hidden = !can.delete;
      menu.onclick = (e) => {
        const button = e.target.closest('button[data-action]');
        if (!button) return;
        menu.open = false;
        this.messageAction(button.dataset.action, this.timeline(roomId).bySeq.get(m.seq) || m, button.dataset.emoji);
      };
    }
  }

  // Keyed, in-place updates: an element per message, kept across renders (a pending message
  // becomes "sent" in place; the log region announces only additions).
  renderMessages({ toBottom = false, follow = false } = {}) {
    const roomId = this.current;
    if (!roomId || !this.session) return;
    const box = $('history');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const me = this.session.userId;
    const reads = this.detail(roomId).reads;
    const list = $('messages');
    const items = this.timeline(roomId).visible();
    const keep = new Set();
    let prev = null;
    for (const m of items) {
      const mine = m.senderId === me;
      const key = mine && m.clientMsgId ? `c:${m.clientMsgId}` : `m:${m.messageId}`;
      keep.add(key);
      let el = this.msgEls.get(key);
      if (!el) {
        el = h('li', { class: mine ? 'msg mine' : 'msg' },
          h('div', { class: 'meta' },
            h('span', { class: 'sender', text: mine ? 'You' : m.senderId }),
            m.senderRole ? h('span', { class: 'role', text: m.senderRole }) : null,
            h('time', {}),
            h('span', { class: 'edited', hidden: true, text: '(edited)' })),
          h('blockquote', { class: 'quote', hidden: true }),
          h('figure', { class: 'photo', hidden: true }),
          h('p', { class: 'text' }),
          h('div', { class: 'reactions', hidden: true }),
          mine ? h('p', { class: 'status' }) : null);
        this.msgEls.set(key, el);
      }
      this.renderMessageState(el, m, roomId);
      el.dataset.key = key;
      if (m.seq !== null) { el.dataset.seq = m.seq; el.dataset.messageId = m.messageId; }
      if (m.clientMsgId) el.dataset.clientMsgId = m.clientMsgId;
      el.dataset.sender = m.senderId;
      const t = el.querySelector('time');
      if (m.sentAt && t.dateTime !== new Date(m.sentAt).toISOString()) {
        t.dateTime = new Date(m.sentAt).toISOString();
        t.textContent = clock(m.sentAt);
      }
      if (mine) {
        const readers = m.seq === null ? [] : [...reads].filter(([u, s]) => u !== me && s >= m.seq).map(([u]) => u).sort();
        const status = m.status === 'failed' ? 'failed' : m.status;
        if (el.dataset.status !== status) el.dataset.status = status;
        let text = status === 'pending' ? 'Sending…' : status === 'failed' ? `Not sent: ${m.error}` : 'Sent';
        if (readers.length) text += ` · Read by ${readers.join(', ')}`;
        const st = el.querySelector('.status');
        if (st.textContent !== text) st.textContent = text;
        el.dataset.readBy = readers.join(',');
      } else if (el.dataset.status !== 'sent') {
        el.dataset.status = 'sent';
      }
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== el) list.insertBefore(el, want);
      prev = el;
    }
    for (const [key, el] of this.msgEls) {
      if (!keep.has(key)) { el.remove(); this.msgEls.delete(key); }
    }
    this.renderHistoryTop();
    if (toBottom || (follow && atBottom)) box.scrollTop = box.scrollHeight;
  }
}

function activity(r) {
  return r.lastMessage?.sentAt || r.createdAt || 0;
}

const app = new App(readConfig(await fetchServerConfig()));
window.tidingsApp = app;   // for debugging in the console
app.boot();
