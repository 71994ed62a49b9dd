// The App's rooms (js/app.js): my room list, creating rooms and adding members, opening a
// room, its history pages, members, read marks and presence. A part of App (mixed in there).

import { $, h } from './dom.js';
import { Timeline, resumeSeq } from './timeline.js';

export const PAGE_SIZE = 30;

export class RoomsPart {
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
}

function activity(r) {
  return r.lastMessage?.sentAt || r.createdAt || 0;
}
