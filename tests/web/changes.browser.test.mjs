// The message menu in headless Chromium against the real local stack (issue 16): a customer on
// edge 0 and a groomer on edge 1 reply with a quote, react, edit and delete, and see each
// other's changes live; a refused change says why; a reload shows the final state from history.
// Run through pytest (tests/web/test_browser.py::test_message_menu_in_chromium).
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { launchPair, openRoom, screenshot, send, signInAndShareRoom, steps, unique, waitSent,
  waitText } from './lib.mjs';

const customer = unique('cust');
const groomer = unique('groom');
const roomId = unique('bath');
const VIEWPORT = { width: 1000, height: 700 };
const QUESTION = 'Can Rex get a bath?';
const EDITED = 'Can Rex get a bath and a trim?';
const ANSWER = 'Yes, bath included';

let browser;
let pageC;   // the customer (the room's creator), on edge 0
let pageG;   // the groomer, on edge 1
let pageErrors = () => [];
let questionId = null;

const step = steps('changes-', () => [['customer', pageC], ['groomer', pageG]]);

const message = (page, id) => page.locator(`#messages .msg[data-message-id="${id}"]`);

async function menu(page, id, action, emoji) {
  const msg = message(page, id);
  await msg.getByRole('button', { name: 'Message actions' }).or(msg.locator('summary[aria-label="Message actions"]'))
    .first().click();
  const button = emoji ? msg.getByRole('button', { name: `React ${emoji}` }) : msg.getByRole('button', { name: action, exact: true });
  await button.click();
}

async function stateOf(page, id) {
  return page.evaluate((mid) => {
    const el = document.querySelector(`#messages .msg[data-message-id="${mid}"]`);
    if (!el) return null;
    const quote = el.querySelector('.quote');
    return {
      text: el.querySelector('.text').textContent,
      edited: !el.querySelector('.edited').hidden,
      deleted: el.classList.contains('deleted'),
      quote: quote.hidden ? null : quote.textContent,
      chips: [...el.querySelectorAll('.reactions .chip')].map((c) => [c.textContent, c.getAttribute('aria-pressed')]),
      canEdit: !el.querySelector('[data-action="edit"]')?.hidden,
      canDelete: !el.querySelector('[data-action="delete"]')?.hidden,
    };
  }, id);
}

async function until(page, id, predicate, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last = null;
  while (Date.now() < deadline) {
    last = await stateOf(page, id);
    if (last && predicate(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: still ${JSON.stringify(last)}`);
}

describe('the message menu: reply, react, edit, delete across two users and two edges', () => {
  before(async () => {
    ({ browser, pageC, pageG, pageErrors } = await launchPair(VIEWPORT));
    for (const page of [pageC, pageG]) page.on('dialog', (dialog) => dialog.accept());
  });

  after(async () => {
    if (browser) await browser.close();
  });

  step('both sign in; the customer creates a room with the groomer and asks', async () => {
    await signInAndShareRoom(pageC, pageG, { customer, groomer, roomId, name: 'Bath for Rex' });
    await send(pageC, QUESTION);
    await waitSent(pageC, QUESTION);
    await waitText(pageG, QUESTION);
    questionId = `${roomId}:1`;
    assert.equal((await stateOf(pageG, questionId)).text, QUESTION);
  });

  step('the groomer replies from the menu: both see the quote', async () => {
    await menu(pageG, questionId, 'Reply');
    assert.match(await pageG.locator('#compose-label').textContent(), new RegExp(`Replying to ${customer}: ${QUESTION.replace('?', '\\?')}`));
    await send(pageG, ANSWER);
    await waitSent(pageG, ANSWER);
    await waitText(pageC, ANSWER);
    for (const page of [pageC, pageG]) {
      const reply = await until(page, `${roomId}:2`, (s) => s.quote !== null, 'the reply shows its quote');
      assert.equal(reply.quote, `${customer}: ${QUESTION}`);
    }
    assert.equal(await pageG.locator('#compose-context').isHidden(), true);
  });

  step('the groomer reacts: both see the count, only the groomer as theirs', async () => {
    await menu(pageG, questionId, null, '👍');
    await until(pageG, questionId, (s) => s.chips.length === 1, 'the groomer sees the reaction');
    const seen = await until(pageC, questionId, (s) => s.chips.length === 1, 'the customer sees the reaction');
    assert.deepEqual(seen.chips, [['👍 1', 'false']]);
    assert.deepEqual((await stateOf(pageG, questionId)).chips, [['👍 1', 'true']]);
    // the customer adds theirs with the chip: 2
    await message(pageC, questionId).locator('.chip').click();
    await until(pageG, questionId, (s) => s.chips[0]?.[0] === '👍 2', 'both reactions counted');
  });

  step('only the sender may edit; a refused edit says why and changes nothing', async () => {
    const groomersView = await stateOf(pageG, questionId);
    assert.equal(groomersView.canEdit, false);
    assert.equal(groomersView.canDelete, false);   // not theirs, and not the room's creator
    // the server refuses it even when a client asks anyway
    await pageG.evaluate(([room, id]) => window.tidingsApp.change(room, 'edit', { messageId: id, content: 'mine now' }),
      [roomId, questionId]);
    await pageG.waitForFunction(() => /Not edited: only the sender may edit a message \(forbidden\)/
      .test(document.getElementById('room-notice').textContent));
    assert.equal((await stateOf(pageC, questionId)).text, QUESTION);
  });

  step('the customer edits from the menu: both see the new text, marked edited', async () => {
    const customersView = await stateOf(pageC, questionId);
    assert.equal(customersView.canEdit, true);
    await menu(pageC, questionId, 'Edit');
    const box = pageC.getByLabel('Message', { exact: true });
    assert.equal(await box.inputValue(), QUESTION);
    await box.fill(EDITED);
    await box.press('Enter');
    for (const page of [pageC, pageG]) {
      const state = await until(page, questionId, (s) => s.text === EDITED, 'the edit arrives');
      assert.equal(state.edited, true);
    }
    await screenshot(pageG, 'changes-01-groomer');
  });

  step('the customer deletes: a tombstone for both, the quote goes too', async () => {
    await menu(pageC, questionId, 'Delete');
    for (const page of [pageC, pageG]) {
      const state = await until(page, questionId, (s) => s.deleted, 'the deletion arrives');
      assert.equal(state.text, 'This message was deleted.');
      assert.deepEqual(state.chips, []);
      const reply = await until(page, `${roomId}:2`, (s) => /a deleted message/.test(s.quote || ''), 'the quote goes');
      assert.equal(reply.quote, `${customer}: a deleted message`);
    }
  });

  step('after a reload the history shows the final state', async () => {
    await pageG.reload();
    await pageG.waitForSelector('body[data-conn="online"]', { timeout: 20000 });
    await openRoom(pageG, roomId);
    const question = await until(pageG, questionId, (s) => s.deleted, 'the tombstone from history');
    assert.equal(question.text, 'This message was deleted.');
    assert.equal((await stateOf(pageG, `${roomId}:2`)).quote, `${customer}: a deleted message`);
    assert.deepEqual(pageErrors(), []);
  });
});
