// Unit tests of local/web/js/push.js and local/web/push-sw.js (no browser, no stack):
// node --test tests/web/push.test.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';

import { APP_ID, SW_URL, pushSupported, registerPush, urlBase64ToUint8Array } from '../../local/web/js/push.js';

const KEY = 'BJHNPc62CCir-PTum1TSdAbL6hg6Rsb_MK3gdjXaMNzbAfv7iP9icRcRVOVpox-52Ntr5rKjeF_dPyR9ueyqiDw';

function fakeEnv({ permission = 'granted', existing = null, vapid = KEY } = {}) {
  const calls = [];
  const subscription = (key) => ({
    options: { applicationServerKey: key.buffer },
    toJSON: () => ({ endpoint: 'https://push.example/wp/1', expirationTime: null, keys: { p256dh: 'p', auth: 'a' } }),
    unsubscribe: async () => { calls.push(['unsubscribe']); return true; },
  });
  const pushManager = {
    getSubscription: async () => existing && subscription(urlBase64ToUint8Array(existing)),
    subscribe: async (opts) => { calls.push(['subscribe', opts.userVisibleOnly]); return subscription(opts.applicationServerKey); },
  };
  const env = {
    navigator: { serviceWorker: { register: async (url) => { calls.push(['register', url]); return { pushManager }; } } },
    PushManager: function PushManager() {},
    Notification: { permission, requestPermission: async () => { calls.push(['ask']); return 'granted'; } },
    fetch: async (url, init) => {
      calls.push([init.method, url, init.body && JSON.parse(init.body), init.headers.authorization]);
      const body = url.endsWith('/push/config') ? { platforms: ['webpush'], vapidPublicKey: vapid }
        : { deviceId: 'd1', platform: 'webpush', appId: APP_ID };
      return { ok: true, status: 200, json: async () => body };
    },
  };
  return { env, calls };
}

test('without service workers or the Push API nothing is asked or sent', async () => {
  assert.equal(pushSupported({ navigator: {} }), false);
  const { env, calls } = fakeEnv();
  delete env.PushManager;
  assert.deepEqual(await registerPush({ token: 't', env }), { status: 'unsupported' });
  assert.deepEqual(calls, []);
});

test('subscribes with the VAPID key and registers the subscription as a webpush device', async () => {
  const { env, calls } = fakeEnv();
  const result = await registerPush({ token: 'tok', env });
  assert.equal(result.status, 'registered');
  assert.deepEqual(calls[0], ['GET', '/api/push/config', undefined, 'Bearer tok']);
  assert.deepEqual(calls[1], ['register', SW_URL]);
  assert.deepEqual(calls[2], ['subscribe', true]);
  const [method, url, body] = calls[3];
  assert.equal(method, 'PUT');
  assert.equal(url, '/api/devices');
  assert.deepEqual(body, { platform: 'webpush', appId: APP_ID,
    subscription: { endpoint: 'https://push.example/wp/1', expirationTime: null, keys: { p256dh: 'p', auth: 'a' } } });
});

test('a subscription made with another key is replaced; one with this key is reused', async () => {
  const other = fakeEnv({ existing: KEY.replace('BJ', 'BK') });
  await registerPush({ token: 't', env: other.env });
  assert.deepEqual(other.calls.map((c) => c[0]), ['GET', 'register', 'unsubscribe', 'subscribe', 'PUT']);
  const same = fakeEnv({ existing: KEY });
  await registerPush({ token: 't', env: same.env });
  assert.deepEqual(same.calls.map((c) => c[0]), ['GET', 'register', 'PUT']);
});

test('denied permission or no VAPID key: no subscription', async () => {
  const denied = fakeEnv({ permission: 'denied' });
  assert.deepEqual(await registerPush({ token: 't', env: denied.env }), { status: 'denied' });
  assert.deepEqual(denied.calls.map((c) => c[0]), ['GET']);
  const off = fakeEnv({ vapid: null });
  assert.deepEqual(await registerPush({ token: 't', env: off.env }), { status: 'unconfigured' });
});

test('the permission is asked on the first click, not before', async () => {
  const { env, calls } = fakeEnv({ permission: 'default' });
  let click;
  env.document = { addEventListener: (type, fn, opts) => { assert.equal(type, 'click'); assert.equal(opts.once, true); click = fn; } };
  const pending = registerPush({ token: 't', env });
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(!calls.some((c) => c[0] === 'ask'));
  click();
  assert.equal((await pending).status, 'registered');
  assert.ok(calls.some((c) => c[0] === 'ask'));
});

test('the service worker shows the push, collapsed by room tag, and sets the badge', async () => {
  const handlers = {};
  const shown = [];
  const badges = [];
  const self = {
    addEventListener: (type, fn) => { handlers[type] = fn; },
    registration: { showNotification: async (title, opts) => { shown.push([title, opts]); } },
    navigator: { setAppBadge: async (n) => { badges.push(n); } },
    clients: { matchAll: async () => [], openWindow: async (url) => { shown.push(['open', url]); } },
  };
  vm.runInNewContext(readFileSync(new URL('../../local/web/push-sw.js', import.meta.url), 'utf8'), { self });
  const waits = [];
  const payload = { title: 'Rex', body: 'ann: hi', badge: 3, tag: 'room-1', data: { roomId: 'room-1', seq: '4' } };
  handlers.push({ data: { json: () => payload }, waitUntil: (p) => waits.push(p) });
  await Promise.all(waits);
  // (objects from the worker's own realm: compared as JSON)
  assert.deepEqual(JSON.parse(JSON.stringify(shown[0])),
    ['Rex', { body: 'ann: hi', tag: 'room-1', data: { roomId: 'room-1', seq: '4' } }]);
  assert.deepEqual(badges, [3]);
  let closed = false;
  handlers.notificationclick({ notification: { data: { roomId: 'room 1' }, close: () => { closed = true; } },
    waitUntil: (p) => waits.push(p) });
  await Promise.all(waits);
  assert.ok(closed);
  assert.deepEqual(shown[1], ['open', '/?room=room%201']);
});
