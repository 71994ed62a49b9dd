#!/usr/bin/env node
// The local S3: s3rver (from npm, local/stack/s3rver.py installs it), plus the two things of
// S3 that tidings relies on and s3rver does not do (docs/architecture.md, "Photo attachments"):
//
// 1. Signatures. s3rver checks no SigV4 signature at all and serves anonymous requests. Here a
//    request without credentials is refused (the bucket is private), and a presigned (query)
//    SigV4 request is verified like S3 does, signed headers included: a presigned PUT signs
//    Content-Type and Content-Length, so an upload of another size or type than the one the
//    HTTP function presigned fails with 403 SignatureDoesNotMatch, as on S3.
// 2. Event notifications. S3 sends ObjectCreated events of keys under a prefix to the check
//    function (iac: aws_s3_bucket_notification); here each one is POSTed to --notify, retried
//    like an asynchronous Lambda invoke (3 tries).
//
// usage: node s3_server.js --port N [--host ADDR] --directory DIR --bucket NAME --cors FILE
//                          --access-key K --secret-key S [--notify URL --notify-prefix P]
'use strict';

const crypto = require('crypto');
const http = require('http');
const S3rver = require('s3rver');

function args(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

const opts = args(process.argv);
const SKEW_MS = 15 * 60 * 1000;

function rfc3986(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

// The SigV4 signature of a presigned request as S3 computes it (payload UNSIGNED-PAYLOAD).
function presignedSignature(ctx, query, secret) {
  const [rawPath, rawQuery = ''] = ctx.originalUrl.split('?');
  const params = rawQuery.split('&').filter(Boolean).map(part => {
    const [k, v = ''] = part.split('=');
    return [decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' '))];
  }).filter(([k]) => k !== 'X-Amz-Signature');
  const canonicalQuery = params.map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const signed = query['X-Amz-SignedHeaders'].split(';');
  const headers = signed.map(name => `${name}:${String(ctx.get(name)).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [ctx.method, rawPath, canonicalQuery, headers, signed.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const [, date, region, service] = query['X-Amz-Credential'].split('/');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', query['X-Amz-Date'], scope,
    crypto.createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  let key = hmac('AWS4' + secret, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  return crypto.createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

function refuse(ctx, code, message) {
  ctx.status = 403;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  const origin = ctx.get('origin');
  if (origin) ctx.set('Access-Control-Allow-Origin', origin);   // so a page can read the refusal
}

async function signatures(ctx, next) {
  if (ctx.method === 'OPTIONS') return next();   // CORS preflight: s3rver answers from the bucket's CORS
  const query = ctx.query;
  if ('X-Amz-Signature' in query) {
    if (!String(query['X-Amz-Credential'] || '').startsWith(opts['access-key'] + '/')) {
      return refuse(ctx, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    }
    const given = String(query['X-Amz-Signature']);
    const wanted = presignedSignature(ctx, query, opts['secret-key']);
    if (given.length !== wanted.length || !crypto.timingSafeEqual(Buffer.from(given), Buffer.from(wanted))) {
      return refuse(ctx, 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.');
    }
    return next();   // s3rver checks X-Amz-Date + X-Amz-Expires itself
  }
  if (!ctx.get('authorization')) return refuse(ctx, 'AccessDenied', 'Access Denied');
  return next();     // header-signed: tidings' own functions, with the local keys
}

function notify(event, attempt = 1) {
  const body = Buffer.from(JSON.stringify(event));
  const req = http.request(opts.notify, { method: 'POST', headers: { 'content-type': 'application/json',
    'content-length': body.length }, timeout: 60000 }, res => {
    res.resume();
    if (res.statusCode >= 300) retry(event, attempt, `HTTP ${res.statusCode}`);
  });
  req.on('error', err => retry(event, attempt, err.message));
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.end(body);
}

function retry(event, attempt, why) {
  console.error(`notification of ${event.Records[0].s3.object.key} failed (${why}), try ${attempt}`);
  if (attempt < 3) setTimeout(() => notify(event, attempt + 1), 1000 * attempt);
}

async function main() {
  const server = new S3rver({
    port: Number(opts.port), address: opts.host || '127.0.0.1',   // 0.0.0.0 in a container directory: opts.directory, silent: false,
    vhostBuckets: false, configureBuckets: [{ name: opts.bucket, configs: [require('fs').readFileSync(opts.cors)] }],
  });
  server.middleware.unshift(signatures);   // before s3rver's own
  if (opts.notify) {
    const prefix = opts['notify-prefix'] || '';
    server.on('event', event => {
      const record = event.Records[0];
      if (record.eventName.startsWith('ObjectCreated:') && record.s3.object.key.startsWith(prefix)) notify(event);
    });
  }
  const { address, port } = await server.run();
  console.log(`s3 listening on ${address}:${port}, bucket ${opts.bucket}`);
}

main().catch(err => { console.error(err); process.exit(1); });
