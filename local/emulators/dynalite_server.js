#!/usr/bin/env node
// The local store: dynalite (from npm, local/stack/dynalite.py installs it), with the one change
// tidings needs of it. dynalite answers an error on a request's stream by throwing
// (`req.on('error', function (err) { throw err })`), so a client that is killed while it sends
// a request (ECONNRESET: a worker under `kill -9` in the chaos tests, a crashed Lambda) ends the
// store for everyone. A request whose client is gone has nobody to answer, and nothing of it has
// been written (dynalite acts only on a whole body): here it is logged and dropped instead.
//
// usage: node dynalite_server.js [dynalite's own options: --host, --port, --path, --createTableMs ...]
'use strict';

const dynalite = require('dynalite');
const minimist = require('minimist');

const argv = minimist(process.argv.slice(2));
const server = dynalite(argv);

const handlers = server.listeners('request');
server.removeAllListeners('request');
server.on('request', (req, res) => {
  const on = req.on;
  const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  req.on = function (event, listener) {
    if (event !== 'error') return on.call(this, event, listener);
    return on.call(this, event, (err) => {
      console.error('[dynalite_server] request from %s dropped: %s', peer, err.code || err.message);
    });
  };
  for (const handler of handlers) handler.call(server, req, res);
});

server.listen(argv.port || 4567, argv.host || undefined, () => {
  const address = server.address();
  console.log('Dynalite listening at: http://%s:%s', argv.host || 'localhost', address.port);
});
