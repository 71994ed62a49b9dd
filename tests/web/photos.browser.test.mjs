// Photos in headless Chromium against the real local stack (issue 16): the customer on edge 0
// picks a photo, it uploads straight to the local S3 with a progress bar, and the groomer on
// edge 1 sees its thumbnail once the check is done and opens it full size; a fake image is
// shown to both as rejected, a file that is no photo is refused before any upload, and a
// reload shows the photo from history.
// Run through pytest (tests/web/test_browser.py::test_photos_in_chromium), which writes the
// files: TIDINGS_WEB_PHOTO (a PNG, PHOTO_W x PHOTO_H), TIDINGS_WEB_FAKE_PHOTO (text named .png),
// TIDINGS_WEB_NOT_PHOTO (a .txt).
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';

import { env, launchPair, openRoom, screenshot, signInAndShareRoom, steps, unique } from './lib.mjs';

const customer = unique('cust');
const groomer = unique('groom');
const roomId = unique('photo');
const VIEWPORT = { width: 1000, height: 700 };
const PHOTO = env('TIDINGS_WEB_PHOTO');
const FAKE = env('TIDINGS_WEB_FAKE_PHOTO');
const NOT_PHOTO = env('TIDINGS_WEB_NOT_PHOTO');
const [PHOTO_W, PHOTO_H] = env('TIDINGS_WEB_PHOTO_SIZE').split('x').map(Number);

let browser;
let pageC;   // the customer (uploads), on edge 0
let pageG;   // the groomer, on edge 1
let pageErrors = () => [];

const step = steps('photos-', () => [['customer', pageC], ['groomer', pageG]]);

// The photo figure of the message whose text is `caption`: {status, thumb: natural size, note},
// and the message's own send state (`send`: pending, sent or failed; `sendNote`: its line).
async function photoOf(page, caption) {
  return page.evaluate((text) => {
    const el = [...document.querySelectorAll('#messages .msg')].find((m) => m.querySelector('.text').textContent === text);
    const fig = el && el.querySelector('.photo');
    if (!fig || fig.hidden) return null;
    const img = fig.querySelector('img.thumb');
    return { status: fig.dataset.status, note: fig.querySelector('.photo-note')?.textContent ?? null,
      thumb: img && img.complete && img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : null,
      seq: el.dataset.seq ?? null, send: el.dataset.status ?? null,
      sendNote: el.querySelector('.status')?.textContent ?? null };
  }, caption);
}

async function until(page, caption, predicate, what, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let last = null;
  while (Date.now() < deadline) {
    last = await photoOf(page, caption);
    if (last && predicate(last)) return last;
    await page.waitForTimeout(150);
  }
  throw new Error(`${what}: still ${JSON.stringify(last)}`);
}

async function watchProgress(page) {
  await page.evaluate(() => {
    window.progressLog = [];
    const bar = document.getElementById('upload-progress');
    new MutationObserver(() => window.progressLog.push([bar.hidden, bar.value]))
      .observe(bar, { attributes: true, attributeFilter: ['hidden'] });
  });
}

describe('photos: upload with progress, thumbnail for the other member, full size, rejections', () => {
  before(async () => {
    ({ browser, pageC, pageG, pageErrors } = await launchPair(VIEWPORT));
  });

  after(async () => {
    if (browser) await browser.close();
  });

  step('both sign in; the customer creates a room with the groomer', async () => {
    await signInAndShareRoom(pageC, pageG, { customer, groomer, roomId, name: 'Photos of Rex' });
  });

  step('the customer sends a photo with a caption: the upload shows its progress', async () => {
    await watchProgress(pageC);
    await pageC.getByLabel('Message', { exact: true }).fill('Rex after his bath');
    await pageC.locator('#photo-input').setInputFiles(PHOTO);
    const mine = await until(pageC, 'Rex after his bath', (p) => p.seq !== null, 'the photo message is stored');
    assert.notEqual(mine, null);
    const log = await pageC.evaluate(() => window.progressLog);
    assert.deepEqual(log[0], [false, 0], `the bar was shown empty first: ${JSON.stringify(log)}`);
    assert.deepEqual(log.at(-1), [true, 100], `the bar was full when hidden: ${JSON.stringify(log)}`);
  });

  step('the groomer sees the thumbnail once checked, and opens it full size', async () => {
    const seen = await until(pageG, 'Rex after his bath', (p) => p.status === 'ready' && p.thumb, 'the thumbnail loads');
    assert.equal(Math.max(...seen.thumb), 320, `a 320 px thumbnail, not the photo: ${seen.thumb}`);
    await screenshot(pageG, 'photos-01-groomer-thumbnail');
    await pageG.getByRole('button', { name: 'Open the photo full size' }).click();
    const viewer = pageG.locator('#photo-viewer');
    await viewer.waitFor({ state: 'visible' });
    await pageG.waitForFunction(() => document.querySelector('#photo-viewer img.full').naturalWidth > 0);
    const full = await pageG.evaluate(() => {
      const img = document.querySelector('#photo-viewer img.full');
      return [img.naturalWidth, img.naturalHeight];
    });
    assert.deepEqual(full, [PHOTO_W, PHOTO_H]);
    await screenshot(pageG, 'photos-02-groomer-full-size');
    await viewer.getByRole('button', { name: 'Close' }).click();
    await viewer.waitFor({ state: 'hidden' });
  });

  step('a fake image uploads but is shown as rejected, or its send is refused', async () => {
    // The photo check and the chat worker race: a message stored before the check rejects its
    // photo is shown to both with the photo rejected; a send the worker reads after the
    // rejection is refused (a rejected photo cannot be sent) and only its sender sees it, not
    // sent, with the reason. Never a photo, always the reason.
    await pageC.getByLabel('Message', { exact: true }).fill('not really a photo');
    await pageC.locator('#photo-input').setInputFiles(FAKE);
    const mine = await until(pageC, 'not really a photo', (p) => p.status === 'rejected' || p.send === 'failed',
      'the rejection shows');
    if (mine.send === 'failed') {
      assert.match(mine.sendNote, /Not sent: .*was rejected: .*magic bytes/);
      assert.equal(mine.thumb, null);
      await pageG.waitForTimeout(1000);
      assert.equal(await photoOf(pageG, 'not really a photo'), null);
      return;
    }
    for (const page of [pageG, pageC]) {
      const fake = await until(page, 'not really a photo', (p) => p.status === 'rejected', 'the rejection shows');
      assert.match(fake.note, /Photo not shown: .*magic bytes/);
      assert.equal(fake.thumb, null);
    }
  });

  step('a file that is no photo is refused before any upload', async () => {
    await pageC.locator('#photo-input').setInputFiles(NOT_PHOTO);
    await pageC.waitForFunction(() => /Photo not sent: .* is not a JPEG, PNG, WebP or HEIC photo/
      .test(document.getElementById('room-notice').textContent));
    assert.equal(await pageC.locator('#messages .msg').count(), 2);
  });

  step('after a reload the groomer gets the photo from history', async () => {
    await pageG.reload();
    await pageG.waitForSelector('body[data-conn="online"]', { timeout: 20000 });
    await openRoom(pageG, roomId);
    await until(pageG, 'Rex after his bath', (p) => p.status === 'ready' && p.thumb, 'the thumbnail from history');
    assert.deepEqual(pageErrors(), []);
  });
});
