// The App's rendering (js/app.js): the connection banner, members, typing, the history's top
// and the messages (keyed, in place), with their state and photos. A part of App (mixed in there).

import { $, clock, h } from './dom.js';
import { renderPhoto } from './attachments.js';  // photos (issue 16)
import { actionsFor, reactionChips, typingText } from './timeline.js';

const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '🐶', '✅'];

export class RenderPart {
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
