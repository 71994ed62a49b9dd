// The tidings web client: sign in, my rooms, a room (history, live messages, typing, read by,
// who is online). Plain DOM; state lives here, the connection in live.js, each room's
// messages in timeline.js. See docs/web-client.md.

// App's methods are split by subject into parts mixed in below (rooms_part.js, compose_part.js,
// render_part.js), so that no module grows past ~400 lines (issue 17).

import { ApiError, Api, devLogin } from './api.js';
import { PhotoStates } from './attachments.js';  // photos (issue 16)
import { ComposePart, CHANGE_VERBS } from './compose_part.js';
import { fetchServerConfig, readConfig } from './config.js';
import { $, debounce } from './dom.js';
import { registerPush } from './push.js';  // push notifications (issue 15)
import { Live, loadStomp } from './live.js';
import { RenderPart } from './render_part.js';
import { RoomsPart } from './rooms_part.js';
import { TypingSet, backoff } from './timeline.js';

const SESSION_KEY = 'tidings.session';
const ROOMS_POLL_MS = 15000;
const READS_POLL_MS = 5000;
const PRESENCE_POLL_MS = 20000;

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

}

for (const part of [RoomsPart, ComposePart, RenderPart]) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name !== 'constructor') Object.defineProperty(App.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name));
  }
}

const app = new App(readConfig(await fetchServerConfig()));
window.tidingsApp = app;   // for debugging in the console
app.boot();
