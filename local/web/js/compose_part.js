// The App's composer (js/app.js): sending a message or a photo, edits, deletes and reactions,
// replying and editing from the message menu. A part of App (mixed in there).

import { $, newClientMsgId } from './dom.js';
import { uploadPhoto } from './attachments.js';  // photos (issue 16)

export const CHANGE_VERBS = { edit: 'edited', delete: 'deleted', react: 'reacted' };

export class ComposePart {
  // --- composing ------------------------------------------------------------------------------
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
}
