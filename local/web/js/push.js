// Web Push for the web client (issue 15): a service worker (/push-sw.js) and a PushManager
// subscription with the deployment's VAPID key (GET /api/push/config), registered as a device
// (PUT /api/devices). Browsers without service workers or the Push API are left alone; the
// permission is asked on the user's first click (browsers ignore prompts without a gesture).

export const SW_URL = '/push-sw.js';
export const APP_ID = 'web.tidings';

export function pushSupported(env = globalThis) {
  return Boolean(env.navigator && 'serviceWorker' in env.navigator && env.PushManager && env.Notification);
}

export function urlBase64ToUint8Array(text) {
  const b64 = (text + '='.repeat((4 - (text.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function sameKey(a, b) {
  if (!a) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

async function api(fetchImpl, base, token, method, path, body) {
  const response = await fetchImpl(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.error && data.error.message) || `${method} ${path}: HTTP ${response.status}`);
  return data;
}

function permission(env) {
  const current = env.Notification.permission;
  if (current !== 'default' || !env.document) return Promise.resolve(current);
  return new Promise((resolve) => {
    env.document.addEventListener('click', () => {
      Promise.resolve(env.Notification.requestPermission()).then(resolve, () => resolve('denied'));
    }, { once: true });
  });
}

// -> {status: 'unsupported' | 'unconfigured' | 'denied' | 'registered', device?}
export async function registerPush({ token, env = globalThis, apiBase = '/api', fetchImpl = env.fetch } = {}) {
  if (!pushSupported(env)) return { status: 'unsupported' };
  const config = await api(fetchImpl, apiBase, token, 'GET', '/push/config');
  if (!config || !config.vapidPublicKey) return { status: 'unconfigured' };
  if ((await permission(env)) !== 'granted') return { status: 'denied' };
  const registration = await env.navigator.serviceWorker.register(SW_URL);
  const key = urlBase64ToUint8Array(config.vapidPublicKey);
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options && subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();   // made with another deployment's key: the push service would refuse it
    subscription = null;
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  const device = await api(fetchImpl, apiBase, token, 'PUT', '/devices',
    { platform: 'webpush', appId: APP_ID, subscription: subscription.toJSON() });
  return { status: 'registered', device };
}
