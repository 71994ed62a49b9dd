// Helpers for the browser tests: configuration from the environment (tests/web/test_browser.py
// sets it), launching Debian's chromium with playwright-core, and page-level helpers that talk
// to the web client only through its markup (labels, roles, data attributes).
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { it } from 'node:test';

export function env(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new Error(`${name} is not set (run the browser tests through pytest tests/web)`);
    return fallback;
  }
  return value;
}

export const config = {
  baseUrl: env('TIDINGS_WEB_URL'),                          // the gateway: page at /, API at /api
  edges: env('TIDINGS_EDGES').split(',').filter(Boolean),   // two edges' ws://host:port/ws (what /config.json says)
  // a second gateway whose /config.json lists a dead edge first, then edge 1
  deadFirstUrl: env('TIDINGS_WEB_URL_DEAD_FIRST'),
  chromium: env('TIDINGS_CHROMIUM', '/usr/bin/chromium'),
  nodeModules: env('TIDINGS_WEB_NODE_MODULES'),               // local/stack/browser.py's npm cache
  artifacts: env('TIDINGS_WEB_ARTIFACTS', 'artifacts/web'),
  docsScreenshot: process.env.TIDINGS_DOCS_SCREENSHOT || '',  // set: also write the README's screenshot there
};

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function playwright() {
  const require = createRequire(join(config.nodeModules, 'noop.js'));
  return require('playwright-core');
}

export async function launch() {
  const { chromium } = playwright();
  mkdirSync(config.artifacts, { recursive: true });
  return chromium.launch({ executablePath: config.chromium, args: CHROMIUM_ARGS, timeout: 60000 });
}

// The page takes its edges from its gateway's /config.json; the URL only picks where to start.
export function pageUrl(edgeIndex, baseUrl = config.baseUrl) {
  return `${baseUrl}/?edge=${edgeIndex}`;
}

export function unique(prefix) {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function screenshot(page, name) {
  const path = join(config.artifacts, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

// A browser with a customer's and a groomer's page, each in a context of its own, and
// `pageErrors()`: what both pages logged that looks wrong (watchErrors).
export async function launchPair(viewport) {
  const browser = await launch();
  const ctxC = await browser.newContext({ viewport });
  const ctxG = await browser.newContext({ viewport });
  const pageC = await ctxC.newPage();
  const pageG = await ctxG.newPage();
  for (const ctx of [ctxC, ctxG]) ctx.setDefaultTimeout(15000);
  const errC = watchErrors(pageC, 'customer');
  const errG = watchErrors(pageG, 'groomer');
  return { browser, ctxC, ctxG, pageC, pageG, pageErrors: () => [...errC, ...errG] };
}

// `step(name, fn)` for tests whose steps build on each other: after a failure the next steps
// are skipped rather than failing one timeout at a time, and the failing step leaves a
// screenshot of each page `pages()` names ([who, page] pairs), `FAILED-<prefix><step>-<who>`.
export function steps(prefix, pages) {
  let failedStep = null;
  return function step(name, fn, timeout = 60000) {
    it(name, { timeout }, async (t) => {
      if (failedStep) {
        t.skip(`an earlier step failed: ${failedStep}`);
        return;
      }
      try {
        await fn();
      } catch (err) {
        failedStep = name;
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40);
        for (const [who, page] of pages()) {
          if (page && !page.isClosed()) await screenshot(page, `FAILED-${prefix}${slug}-${who}`).catch(() => {});
        }
        throw err;
      }
    });
  };
}

// Everything the page logs that looks wrong (uncaught errors, console errors) is collected, so a
// test can assert there was none.
export function watchErrors(page, label) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`${label} console: ${msg.text()}`); });
  return errors;
}

export async function signIn(page, userId, role) {
  await page.getByLabel('User id', { exact: true }).fill(userId);
  await page.getByLabel('Role', { exact: true }).selectOption(role);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('body[data-conn="online"]', { timeout: 20000 });
}

export async function openRoom(page, roomId) {
  await page.locator(`.room-item[data-room-id="${roomId}"]`).click();
  await page.waitForFunction((id) => document.getElementById('room-body').hidden === false
    && document.querySelector(`.room-item[data-room-id="${id}"][aria-current="true"]`)
    && document.getElementById('history-top').textContent !== '', roomId, { timeout: 10000 });
}

// The first steps of a two-user test: both pages open their own edge and sign in, the customer
// creates a room with the groomer, and the groomer opens it.
export async function signInAndShareRoom(pageC, pageG, { customer, groomer, roomId, name }) {
  await pageC.goto(pageUrl(0));
  await pageG.goto(pageUrl(1));
  await signIn(pageC, customer, 'customer');
  await signIn(pageG, groomer, 'groomer');
  await createRoomWith(pageC, groomer, roomId, name);
  await refreshRooms(pageG, roomId);
  await openRoom(pageG, roomId);
}

// The customer's page creates a room with the groomer as a member, and has it open.
export async function createRoomWith(page, groomer, roomId, name) {
  await page.getByText('New room').click();
  await page.getByLabel('Room name').fill(name);
  await page.getByLabel('Room id (optional)').fill(roomId);
  await page.getByLabel('Member user id', { exact: true }).fill(groomer);
  await page.getByLabel('Member role', { exact: true }).selectOption('groomer');
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.waitForFunction((id) => document.querySelector(`.room-item[data-room-id="${id}"][aria-current="true"]`),
    roomId);
}

export async function refreshRooms(page, roomId) {
  await page.getByRole('button', { name: 'Refresh my rooms' }).click();
  await page.locator(`.room-item[data-room-id="${roomId}"]`).waitFor({ timeout: 10000 });
}

// Records every data-status a message of mine passes through (pending → sent), by its key.
export async function recordStatuses(page) {
  await page.evaluate(() => {
    window.statusLog = {};
    const note = (el) => {
      if (!el.matches || !el.matches('.msg.mine')) return;
      const key = el.dataset.key;
      const log = (window.statusLog[key] ||= []);
      if (log[log.length - 1] !== el.dataset.status) log.push(el.dataset.status);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes') note(r.target);
        for (const n of r.addedNodes || []) note(n);
      }
    }).observe(document.getElementById('messages'), { childList: true, subtree: true, attributes: true,
      attributeFilter: ['data-status'] });
  });
}

export async function statusesOf(page, text) {
  return page.evaluate((t) => {
    const el = [...document.querySelectorAll('.msg.mine')].find((e) => e.querySelector('.text').textContent === t);
    return el ? window.statusLog[el.dataset.key] || [] : null;
  }, text);
}

export async function send(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

export async function waitSent(page, text, timeout = 15000) {
  await page.waitForFunction((t) => [...document.querySelectorAll('.msg.mine')]
    .some((e) => e.querySelector('.text').textContent === t && e.dataset.status === 'sent'), text, { timeout });
}

export async function waitText(page, text, timeout = 15000) {
  await page.waitForFunction((t) => [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === t),
    text, { timeout });
}

// The shown messages: [{seq, id, text, sender, status}] in DOM order.
export async function shown(page) {
  return page.$$eval('#messages .msg', (els) => els.map((e) => ({
    seq: e.dataset.seq === undefined ? null : Number(e.dataset.seq),
    id: e.dataset.messageId || null,
    text: e.querySelector('.text').textContent,
    sender: e.dataset.sender,
    status: e.dataset.status,
  })));
}

// The room's whole history from the HTTP API, with the page's own token.
export async function apiHistory(page, roomId) {
  return page.evaluate(async (id) => {
    const { token } = JSON.parse(sessionStorage.getItem('tidings.session'));
    const items = [];
    let url = `/api/rooms/${encodeURIComponent(id)}/messages?after=0&limit=200`;
    for (;;) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const page = await res.json();
      items.push(...page.items);
      if (!page.nextCursor || page.items.length === 0) break;
      url = `/api/rooms/${encodeURIComponent(id)}/messages?cursor=${encodeURIComponent(page.nextCursor)}&limit=200`;
    }
    return items.map((m) => ({ seq: m.seq, id: m.messageId, text: m.body, sender: m.senderId }));
  }, roomId);
}

export async function unreadOf(page, roomId) {
  return page.evaluate((id) => {
    const b = document.querySelector(`.room-item[data-room-id="${id}"]`);
    if (!b) return null;
    const badge = b.querySelector('.badge');
    return { attr: Number(b.dataset.unread), badge: badge ? badge.textContent : null };
  }, roomId);
}

// Records the connection states the page goes through (body[data-conn]) and the banner's texts.
export async function recordConnection(page) {
  await page.evaluate(() => {
    window.connLog = [document.body.dataset.conn];
    window.bannerLog = [];
    new MutationObserver(() => {
      const s = document.body.dataset.conn;
      if (window.connLog[window.connLog.length - 1] !== s) window.connLog.push(s);
    }).observe(document.body, { attributes: true, attributeFilter: ['data-conn'] });
    new MutationObserver(() => {
      const text = document.getElementById('banner-text').textContent;
      if (text && !document.getElementById('banner').hidden) window.bannerLog.push(text);
    }).observe(document.getElementById('banner'), { attributes: true, childList: true, subtree: true, characterData: true });
  });
}
