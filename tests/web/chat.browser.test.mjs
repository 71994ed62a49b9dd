// The web client in headless Chromium against the real local stack: a customer on edge 0 and a
// groomer on edge 1, each in their own browser context. Run through pytest (tests/web/test_browser.py),
// which installs what is needed and passes the URLs in the environment.
//
// The steps build on each other (one room, one conversation), so they run in order.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { after, before, describe } from 'node:test';

import {
  apiHistory, config, createRoomWith, launchPair, openRoom, pageUrl, recordConnection, recordStatuses, refreshRooms, screenshot, send,
  shown, signIn, statusesOf, steps, unique, unreadOf, waitSent, waitText,
} from './lib.mjs';

const customer = unique('cust');
const groomer = unique('groom');
const roomId = unique('rex');
const otherRoomId = unique('misc');
const VIEWPORT = { width: 1000, height: 640 };

let browser;
let ctxC;
let ctxG;
let pageC;   // the customer, on edge 0
let pageG;   // the groomer, on edge 1
let pageErrors = () => [];   // uncaught errors and console errors of both pages

const step = steps('', () => [['customer', pageC], ['groomer', pageG]]);

// No gap, no duplicate: the stored messages shown are consecutive seqs, each once, and equal to
// the room's history from the API.
async function assertGapless(page) {
  const stored = (await shown(page)).filter((m) => m.seq !== null);
  const seqs = stored.map((m) => m.seq);
  assert.equal(new Set(stored.map((m) => m.id)).size, stored.length, `duplicate messages shown: ${seqs}`);
  for (let i = 1; i < seqs.length; i += 1) assert.equal(seqs[i], seqs[i - 1] + 1, `gap or disorder in ${seqs}`);
  const api = await apiHistory(page, roomId);
  const tail = api.slice(api.length - stored.length);
  assert.deepEqual(stored.map((m) => [m.seq, m.text, m.sender]), tail.map((m) => [m.seq, m.text, m.sender]));
  assert.equal(seqs[seqs.length - 1], api[api.length - 1].seq, 'the newest message is shown');
  return stored;
}

describe('the web client in Chromium, customer and groomer on two edges', () => {
  before(async () => {
    ({ browser, ctxC, ctxG, pageC, pageG, pageErrors } = await launchPair(VIEWPORT));
  });

  after(async () => {
    if (browser) await browser.close();
  });

  step('both sign in (dev login) and connect over STOMP, each to their own edge', async () => {
    await pageC.goto(pageUrl(0));
    await pageG.goto(pageUrl(1));
    await signIn(pageC, customer, 'customer');
    await signIn(pageG, groomer, 'groomer');
    assert.match(await pageC.locator('#conn').textContent(), /Connected · edge 0/);
    assert.match(await pageG.locator('#conn').textContent(), /Connected · edge 1/);
    assert.equal(await pageC.locator('#me').textContent(), `${customer} (customer)`);
  });

  step('the customer creates a room with the groomer; the groomer finds it in their rooms', async () => {
    await createRoomWith(pageC, groomer, roomId, 'Grooming for Rex');
    assert.equal(await pageC.locator('#room-title').textContent(), 'Grooming for Rex');
    await refreshRooms(pageG, roomId);
    await openRoom(pageG, roomId);
  });

  step('chat both ways: each sees the other, my messages go pending → sent', async () => {
    await recordStatuses(pageC);
    await recordStatuses(pageG);
    await send(pageC, 'Hi! Is 10:00 ok for Rex?');
    await waitSent(pageC, 'Hi! Is 10:00 ok for Rex?');
    await waitText(pageG, 'Hi! Is 10:00 ok for Rex?');
    await send(pageG, 'Yes, see you at 10.');
    await waitSent(pageG, 'Yes, see you at 10.');
    await waitText(pageC, 'Yes, see you at 10.');
    assert.deepEqual(await statusesOf(pageC, 'Hi! Is 10:00 ok for Rex?'), ['pending', 'sent']);
    assert.deepEqual(await statusesOf(pageG, 'Yes, see you at 10.'), ['pending', 'sent']);
    for (const page of [pageC, pageG]) {
      const msgs = await shown(page);
      assert.deepEqual(msgs.map((m) => [m.seq, m.text]), [[1, 'Hi! Is 10:00 ok for Rex?'], [2, 'Yes, see you at 10.']]);
    }
    // the other's message is on the left, mine on the right, with the sender named
    assert.equal(await pageG.locator('.msg:not(.mine) .sender').first().textContent(), customer);
  });

  step('the page is usable by role and name (what assistive technology sees)', async () => {
    await pageC.getByRole('navigation', { name: 'My rooms' }).getByRole('button', { name: /Grooming for Rex/ }).waitFor();
    assert.equal(await pageC.getByRole('button', { name: /Grooming for Rex/ }).getAttribute('aria-current'), 'true');
    const log = pageC.getByRole('log', { name: 'Grooming for Rex' });
    assert.equal(await log.getAttribute('aria-live'), 'polite');
    assert.equal(await log.getByRole('listitem').count(), 2);
    assert.equal(await pageC.getByRole('list', { name: 'Members' }).getByRole('listitem').count(), 2);
    await pageC.getByRole('textbox', { name: 'Message' }).waitFor();
    await pageC.getByRole('button', { name: 'Send' }).waitFor();
    assert.equal(await pageC.getByRole('status').filter({ hasText: 'Connected' }).count(), 1);
    // the composer works from the keyboard alone: Tab to the box, type, Enter
    await pageG.getByRole('textbox', { name: 'Message' }).focus();
    await pageG.keyboard.type('Typed with the keyboard');
    await pageG.keyboard.press('Enter');
    await waitSent(pageG, 'Typed with the keyboard');
    await waitText(pageC, 'Typed with the keyboard');
  });

  step('typing: "X is typing…" shows on the other side and goes away by itself', async () => {
    await pageG.getByLabel('Message', { exact: true }).pressSequentially('Bring his', { delay: 30 });
    await pageC.waitForFunction((g) => document.getElementById('typing').textContent === `${g} is typing…`, groomer,
      { timeout: 10000 });
    await screenshot(pageC, '03-customer-sees-typing');
    await pageC.waitForFunction(() => document.getElementById('typing').textContent === '', null, { timeout: 10000 });
    await pageG.getByLabel('Message', { exact: true }).fill('');
  });

  step('who is online and "read by" from read marks', async () => {
    await pageC.waitForSelector(`#members li[data-user="${groomer}"][data-online="true"]`, { timeout: 15000 });
    await pageG.waitForSelector(`#members li[data-user="${customer}"][data-online="true"]`, { timeout: 15000 });
    // the groomer has the room open, so the customer's message shows as read by them
    await pageC.waitForFunction((g) => [...document.querySelectorAll('.msg.mine')]
      .some((e) => e.dataset.readBy === g && e.querySelector('.status').textContent === `Sent · Read by ${g}`),
    groomer, { timeout: 15000 });
    await pageG.getByLabel('Message', { exact: true }).pressSequentially('Bring his', { delay: 30 });
    await pageC.waitForFunction((g) => document.getElementById('typing').textContent === `${g} is typing…`, groomer);
    await screenshot(pageG, '02-groomer');
    const shot = await screenshot(pageC, '01-customer');
    if (config.docsScreenshot) copyFileSync(shot, config.docsScreenshot);
    await pageG.getByLabel('Message', { exact: true }).fill('');
  });

  step('unread badges: they grow while the customer is elsewhere and clear when the room is viewed', async () => {
    // the customer moves to another room
    await pageC.getByText('New room').click();
    await pageC.getByLabel('Room name').fill('Other things');
    await pageC.getByLabel('Room id (optional)').fill(otherRoomId);
    await pageC.getByRole('button', { name: 'Create room' }).click();
    await pageC.waitForFunction((id) => document.querySelector(`.room-item[data-room-id="${id}"][aria-current="true"]`),
      otherRoomId);
    for (const text of ['Rex is ready', 'He was very good', 'Pick up any time']) {
      await send(pageG, text);
      await waitSent(pageG, text);
    }
    await pageC.waitForFunction((id) => document.querySelector(`.room-item[data-room-id="${id}"]`).dataset.unread === '3',
      roomId, { timeout: 15000 });
    assert.deepEqual(await unreadOf(pageC, roomId), { attr: 3, badge: '3' });
    assert.match(await pageC.locator(`.room-item[data-room-id="${roomId}"] .room-last`).textContent(),
      new RegExp(`${groomer}: Pick up any time`));
    assert.equal(await pageC.locator(`.room-item[data-room-id="${roomId}"] .badge`).getAttribute('aria-label'), '3 unread');
    await screenshot(pageC, '04-unread-badge');
    await openRoom(pageC, roomId);
    await waitText(pageC, 'Pick up any time');
    await pageC.waitForFunction((id) => document.querySelector(`.room-item[data-room-id="${id}"]`).dataset.unread === '0',
      roomId);
    // the read mark is on the server: after a reload the badge stays cleared (once the mark is written)
    await pageC.waitForFunction(async (id) => {
      const { token } = JSON.parse(sessionStorage.getItem('tidings.session'));
      const r = await (await fetch('/api/rooms', { headers: { authorization: `Bearer ${token}` } })).json();
      return r.rooms.find((x) => x.roomId === id).unread === 0;
    }, roomId, { timeout: 10000 });
    await pageC.reload();
    await pageC.waitForSelector('body[data-conn="online"]', { timeout: 20000 });
    assert.deepEqual(await unreadOf(pageC, roomId), { attr: 0, badge: null });
    assert.equal(await pageC.locator(`.room-item[data-room-id="${otherRoomId}"] .badge`).count(), 0);
  });

  step('reload restores the history; older pages load when scrolling up', async () => {
    // 40 more messages: more than a page (30)
    for (let i = 1; i <= 40; i += 1) await send(pageG, `Note ${i}`);
    await waitSent(pageG, 'Note 40', 30000);
    await waitText(pageC, 'Note 40', 30000);
    const before = await shown(pageC);
    await pageC.reload();
    await pageC.waitForSelector('body[data-conn="online"]', { timeout: 20000 });
    await pageC.waitForFunction(() => document.querySelectorAll('#messages .msg').length > 0);
    assert.equal(await pageC.locator('#room-title').textContent(), 'Grooming for Rex', 'the open room comes back');
    const firstPage = await shown(pageC);
    assert.equal(firstPage.length, 30, 'one page of history');
    assert.deepEqual(firstPage, before.slice(before.length - 30));
    await pageC.getByRole('button', { name: 'Load older messages' }).waitFor();
    // scroll to the top until the beginning shows up
    for (let i = 0; i < 10; i += 1) {
      if (await pageC.getByText('This is the beginning of the conversation.').count()) break;
      await pageC.locator('#history').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
      await pageC.waitForTimeout(300);
    }
    await pageC.getByText('This is the beginning of the conversation.').waitFor({ timeout: 5000 });
    const all = await assertGapless(pageC);
    assert.equal(all[0].seq, 1);
    assert.deepEqual(all.map((m) => m.text), before.map((m) => m.text));
    await pageC.locator('#history').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  });

  step('offline and back: a banner, then catch-up with no gap and no duplicate; what I wrote offline goes out', async () => {
    await recordConnection(pageC);
    await recordStatuses(pageC);
    await ctxC.setOffline(true);
    await pageC.getByRole('alert').filter({ hasText: 'You are offline' }).waitFor({ timeout: 10000 });
    for (const text of ['While you were away 1', 'While you were away 2', 'While you were away 3']) {
      await send(pageG, text);
      await waitSent(pageG, text);
    }
    await send(pageC, 'Sorry, I was offline');
    await pageC.waitForSelector('.msg.mine[data-status="pending"]');
    assert.equal(await pageC.locator('.msg.mine[data-status="pending"] .status').textContent(), 'Sending…');
    await screenshot(pageC, '05-offline-banner');
    await pageC.waitForTimeout(1000);
    assert.equal(await pageC.getByText('While you were away 1').count(), 0, 'nothing arrives while offline');
    await ctxC.setOffline(false);
    await waitText(pageC, 'While you were away 3');
    await waitSent(pageC, 'Sorry, I was offline');
    await pageC.waitForSelector('#banner', { state: 'hidden' });
    await waitText(pageG, 'Sorry, I was offline');
    const connLog = await pageC.evaluate(() => window.connLog);
    assert.equal(connLog[0], 'online');
    assert.ok(connLog.includes('offline'), `went offline: ${connLog}`);
    assert.equal(connLog[connLog.length - 1], 'online');
    assert.deepEqual(await statusesOf(pageC, 'Sorry, I was offline'), ['pending', 'sent']);
    await assertGapless(pageC);
    await assertGapless(pageG);
    const mine = (await shown(pageG)).filter((m) => m.text === 'Sorry, I was offline');
    assert.equal(mine.length, 1, 'the message written offline is stored once');
    await screenshot(pageC, '06-caught-up');
  });

  step('the socket drops under live traffic: reconnect with backoff and catch up', async () => {
    await recordConnection(pageC);
    const sending = (async () => {
      for (let i = 1; i <= 10; i += 1) {
        await send(pageG, `Live ${i}`);
        await pageG.waitForTimeout(100);
      }
      await waitSent(pageG, 'Live 10', 20000);
    })();
    try {
      await pageG.waitForTimeout(250);
      // the socket goes away without the app asking (as when an edge restarts)
      await pageC.evaluate(() => window.tidingsApp.live.client.webSocket.close(4000, 'test'));
    } finally {
      await sending;
    }
    await waitText(pageC, 'Live 10', 20000);
    await pageC.waitForSelector('body[data-conn="online"]');
    const connLog = await pageC.evaluate(() => window.connLog);
    assert.ok(connLog.includes('reconnecting'), `reconnected: ${connLog}`);
    await assertGapless(pageC);
  });

  step('an edge that does not answer: banner, backoff, then the next edge, with the history caught up', async () => {
    // the customer on a second device whose first edge is a dead address
    const ctx = await browser.newContext({ viewport: VIEWPORT });
    ctx.setDefaultTimeout(15000);
    try {
      const page = await ctx.newPage();
      await page.goto(pageUrl(0, config.deadFirstUrl));   // its /config.json: [ws://127.0.0.1:9/ws, edge 1]
      await recordConnection(page);
      const started = Date.now();
      await signIn(page, customer, 'customer');
      const took = Date.now() - started;
      assert.match(await page.locator('#conn').textContent(), /Connected · edge 1/);
      const log = await page.evaluate(() => ({ conn: window.connLog, banner: window.bannerLog }));
      assert.deepEqual(log.conn.filter((s, i, a) => a.indexOf(s) === i), ['idle', 'connecting', 'reconnecting', 'online'],
        `states: ${log.conn}`);
      assert.ok(log.banner.some((t) => /Connection lost \(no connection to the server\)\. Reconnecting in \d s/.test(t)),
        `banner: ${log.banner}`);
      // three attempts on the dead edge with growing delays (0.25-0.5 s, 0.5-1 s, 1-2 s) before the move
      assert.ok(took > 1700, `moved on after ${took} ms`);
      await openRoom(page, roomId);
      await waitText(page, 'Live 10');
      await assertGapless(page);
    } finally {
      await ctx.close();
    }
  });

  step('sign out and in again: the rooms come back, read', async () => {
    await pageC.getByRole('button', { name: 'Sign out' }).click();
    await pageC.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await pageC.evaluate(() => sessionStorage.getItem('tidings.session')), null);
    assert.equal(await pageC.locator('#messages .msg').count(), 0, 'nothing of the last user is left on the page');
    await signIn(pageC, customer, 'customer');
    await pageC.locator(`.room-item[data-room-id="${roomId}"]`).waitFor();
    assert.deepEqual(await unreadOf(pageC, roomId), { attr: 0, badge: null });
    await openRoom(pageC, roomId);
    await waitText(pageC, 'Live 10');
  });

  step('the groomer leaves: the customer sees them go offline', async () => {
    await ctxG.close();
    pageG = null;
    await pageC.waitForSelector(`#members li[data-user="${groomer}"][data-online="false"]`, { timeout: 30000 });
  });

  step('no errors in the pages', async () => {
    const bad = pageErrors().filter((e) => !/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(e));
    assert.deepEqual(bad, []);
  });
});
