// The HTTP API (docs/openapi.yaml) at /api on the page's origin, and the local dev login.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, { token, body, base = '' } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, 'network', `cannot reach the server (${err.message})`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    // the function's {"error": {code, message}} or the gateway's own {"message"}
    const err = data && data.error ? data.error : { code: `http_${response.status}`, message: data && data.message };
    throw new ApiError(response.status, err.code, err.message || `${method} ${path}: HTTP ${response.status}`);
  }
  return data;
}

export async function devLogin(userId, role) {
  return call('POST', '/dev/login', { body: { userId, role } });
}

const enc = encodeURIComponent;

export class Api {
  constructor(token, base = '/api') {
    this.token = token;
    this.base = base;
  }

  #call(method, path, body) {
    return call(method, path, { token: this.token, body, base: this.base });
  }

  me() { return this.#call('GET', '/me'); }
  rooms() { return this.#call('GET', '/rooms'); }
  createRoom(spec) { return this.#call('POST', '/rooms', spec); }
  room(roomId) { return this.#call('GET', `/rooms/${enc(roomId)}`); }
  addMember(roomId, userId, role) { return this.#call('POST', `/rooms/${enc(roomId)}/members`, { userId, role }); }

  // A page of history, ascending seq: the latest (no options), older ones (`cursor` = a
  // prevCursor, or `before`), newer ones (`after`).
  messages(roomId, { before, after, cursor, limit } = {}) {
    const q = new URLSearchParams();
    if (cursor) q.set('cursor', cursor);
    else {
      if (before !== undefined) q.set('before', String(before));
      if (after !== undefined) q.set('after', String(after));
    }
    if (limit) q.set('limit', String(limit));
    const qs = q.toString();
    return this.#call('GET', `/rooms/${enc(roomId)}/messages${qs ? `?${qs}` : ''}`);
  }

  markRead(roomId, seq) { return this.#call('PUT', `/rooms/${enc(roomId)}/read`, { seq }); }
  reads(roomId) { return this.#call('GET', `/rooms/${enc(roomId)}/read`); }
  presence(roomId) { return this.#call('GET', `/rooms/${enc(roomId)}/presence`); }

  // Photos (js/attachments.js): a presigned upload, and a photo's state and short-lived URLs.
  createAttachment(roomId, contentType, bytes) {
    return this.#call('POST', `/rooms/${enc(roomId)}/attachments`, { contentType, bytes });
  }
  attachment(roomId, attId) { return this.#call('GET', `/rooms/${enc(roomId)}/attachments/${enc(attId)}`); }
}
