// Class: token transport (web client). Run by tests/security/test_token_transport.py.
// The page takes its edges from the server only, and its Live connection sends the token in
// the STOMP CONNECT frame, never in a URL.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fetchServerConfig, readConfig } from '../../local/web/js/config.js';
import { Live } from '../../local/web/js/live.js';

const page = (search) => ({ search, protocol: 'http:', hostname: 'chat.example' });

test('?edges= in the page URL is ignored; the server list is used', () => {
  const server = { edges: ['ws://127.0.0.1:8001/ws', 'ws://127.0.0.1:8002/ws'] };
  const config = readConfig(server, page('?edges=ws://attacker:9999/ws&edge=1'));
  assert.deepEqual(config.edges, server.edges);
  assert.equal(config.edgeIndex, 1);
});

test('no server list: the page host only, never a URL parameter', () => {
  const config = readConfig({}, page('?edges=ws://attacker:9999/ws'));
  assert.deepEqual(config.edges, ['ws://chat.example:8001/ws']);
});

test('entries that are not ws(s) URLs are dropped', () => {
  const config = readConfig({ edges: ['javascript:alert(1)', 42, 'wss://edge.example/ws'] }, page(''));
  assert.deepEqual(config.edges, ['wss://edge.example/ws']);
});

test('fetchServerConfig reads /config.json (relative to the page), {} when it fails', async () => {
  let asked = null;
  const ok = await fetchServerConfig(async (url) => { asked = url; return { ok: true, json: async () => ({ edges: ['ws://e/ws'] }) }; });
  assert.equal(asked, 'config.json');
  assert.deepEqual(ok, { edges: ['ws://e/ws'] });
  assert.deepEqual(await fetchServerConfig(async () => { throw new Error('offline'); }), {});
});

test('Live connects with the token in CONNECT, not in the URL', () => {
  globalThis.window = new EventTarget();
  const made = [];
  class FakeClient {
    constructor(config) { this.config = config; made.push(config); }
    activate() {}
    deactivate() {}
  }
  const live = new Live({
    stomp: { Client: FakeClient, Versions: class { constructor(v) { this.v = v; } } },
    edges: ['ws://127.0.0.1:8001/ws'], edgeIndex: 0, token: 'header.payload.sig',
    backoff: () => 1000, lastSeq: () => null,
  });
  live.start();
  assert.equal(made.length, 1);
  assert.equal(made[0].brokerURL, 'ws://127.0.0.1:8001/ws');
  assert.ok(!made[0].brokerURL.includes('header.payload.sig'));
  assert.deepEqual(made[0].connectHeaders, { Authorization: 'Bearer header.payload.sig' });
});
