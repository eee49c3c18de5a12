// `make stack`'s CloudFront: what template.yaml's distribution does, in front of the bucket
// (moto) and the serve function (the Lambda emulator), so the S3-first path runs locally too.
//
// - Every request runs the template's viewer-request function (client tokens and their scopes,
//   the `+` rewrite), before the cache, as on CloudFront.
// - Only GET and HEAD; the query string is neither forwarded nor part of the cache key, and no
//   viewer header reaches an origin (the distribution's cache policy forwards none). Except on
//   `/index`, whose behaviour does not cache and forwards the query string.
// - `*/@v/list`, `*/@latest`, `/index` and a checksum database's lookups, `latest`, `supported`
//   and partial tiles go to the serve function. Everything else (artifacts, full checksum
//   database tiles) goes to the bucket first, with a SigV4-signed GET (origin access control),
//   and to the serve function when the bucket answers 403 or 404 or cannot be reached (the
//   origin group's failover).
// - GET answers are kept for as long as their Cache-Control says (the cache policy has default
//   TTL 0), in memory, within the bounds below: successes and redirects, and the errors
//   CloudFront caches, since it keeps an error for the max-age it carries too (its
//   ErrorCachingMinTTL, 0 in the template for each, applies only to an error that says nothing).
// - Status, headers and body are passed through, streamed; redirects are not followed.
// - Each answer says where it came from: `x-piraeus-edge: bucket|serve|cache`, or `function`
//   when the viewer-request function answered (401, 403, /healthz) or failed, `edge` for a
//   refused method.
//
// Not like CloudFront: no TLS, no compression, no 60 s origin timeout (the emulator runs a
// fetch inside the request that triggers it), and the function URL is not signed (the
// emulator does not check IAM).
//
// Node.js standard library only. Usage, from scripts/stack.sh:
//   node scripts/edge.mjs --listen 127.0.0.1:PORT --function FILE --bucket URL --serve URL
//     [--auth-file FILE]
// --bucket is the bucket's path-style URL (http://127.0.0.1:5055/piraeus-local), signed with the
// standard AWS_* credentials and region; --serve is the serve function's URL.

import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';

import { authFileStore, compile } from './cloudfront-function.mjs';

const { values: options } = parseArgs({
  options: {
    listen: { type: 'string' },
    function: { type: 'string' },
    bucket: { type: 'string' },
    serve: { type: 'string' },
    'auth-file': { type: 'string' },
  },
});
for (const required of ['listen', 'function', 'bucket', 'serve']) {
  if (options[required] === undefined) {
    console.error(`edge: --${required} is required`);
    process.exit(2);
  }
}

const handler = compile(
  readFileSync(options.function, 'utf8'),
  authFileStore(options['auth-file']),
);
const bucket = new URL(options.bucket);
const serve = new URL(options.serve);

// CloudFront keeps an object at most the cache policy's MaxTTL.
const MAX_TTL_SECONDS = 31536000;
// Larger answers are streamed and not kept, so a big zip never sits in memory.
const MAX_ENTRY_BYTES = 4 * 1024 * 1024;
const MAX_CACHE_BYTES = 64 * 1024 * 1024;
// The statuses CloudFront may keep: its cacheable successes and redirects, and the 4xx and 5xx
// it caches.
const KEPT_STATUSES = new Set([
  200, 203, 300, 301, 302, 307, 308, 410, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504,
]);
// Connection-level headers describe one hop, not the answer.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

// ---------------------------------------------------------------------------------------------
// The cache: URI -> {status, headers, body, storedAt, expiresAt}, least recently used first.
// ---------------------------------------------------------------------------------------------
const cache = new Map();
let cachedBytes = 0;

function cacheLookup(key) {
  const entry = cache.get(key);
  if (entry === undefined) {
    return undefined;
  }
  cache.delete(key);
  if (entry.expiresAt <= Date.now()) {
    cachedBytes -= entry.body.length;
    return undefined;
  }
  cache.set(key, entry);
  return entry;
}

function cacheStore(key, entry) {
  const previous = cache.get(key);
  if (previous !== undefined) {
    cache.delete(key);
    cachedBytes -= previous.body.length;
  }
  cache.set(key, entry);
  cachedBytes += entry.body.length;
  for (const [oldest, evicted] of cache) {
    if (cachedBytes <= MAX_CACHE_BYTES) {
      break;
    }
    cache.delete(oldest);
    cachedBytes -= evicted.body.length;
  }
}

// Seconds a shared cache may keep the answer; 0 for no-store, no-cache, private or no max-age.
function freshSeconds(cacheControl) {
  const directives = new Map();
  for (const part of (cacheControl ?? '').split(',')) {
    const [name, value] = part.trim().toLowerCase().split('=');
    directives.set(name, value);
  }
  if (['no-store', 'no-cache', 'private'].some((name) => directives.has(name))) {
    return 0;
  }
  const seconds = Number(directives.get('s-maxage') ?? directives.get('max-age'));
  return Number.isInteger(seconds) && seconds > 0 ? Math.min(seconds, MAX_TTL_SECONDS) : 0;
}

// ---------------------------------------------------------------------------------------------
// Origins
// ---------------------------------------------------------------------------------------------
const sha256Hex = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
const EMPTY_PAYLOAD = sha256Hex('');

// AWS Signature Version 4 for a request without a body, as origin access control signs.
function signedHeaders(method, host, path) {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const time = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = time.slice(0, 8);
  const headers = { host, 'x-amz-content-sha256': EMPTY_PAYLOAD, 'x-amz-date': time };
  if (process.env.AWS_SESSION_TOKEN) {
    headers['x-amz-security-token'] = process.env.AWS_SESSION_TOKEN;
  }
  const names = Object.keys(headers).sort();
  const canonical = [
    method, path, '',
    ...names.map((name) => `${name}:${headers[name]}`), '',
    names.join(';'), EMPTY_PAYLOAD,
  ].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', time, scope, sha256Hex(canonical)].join('\n');
  let key = hmac(`AWS4${process.env.AWS_SECRET_ACCESS_KEY ?? ''}`, day);
  for (const part of [region, 's3', 'aws4_request']) {
    key = hmac(key, part);
  }
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID ?? ''}/${scope}, `
    + `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

// The object key the bucket holds for a URI (the artifact keys are the GOPROXY paths, decoded),
// as a path S3 reads back to that key: each byte but the unreserved ones escaped. Undefined
// where S3 would not answer with an object: an empty key or a "folder" (a listing, 403 without
// s3:ListBucket), or a URI that does not decode.
function bucketPath(uri) {
  let key;
  try {
    key = decodeURIComponent(uri.slice(1));
  } catch {
    return undefined;
  }
  if (key === '' || key.endsWith('/')) {
    return undefined;
  }
  const escaped = key.split('/').map((segment) => encodeURIComponent(segment)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  return `${bucket.pathname.replace(/\/$/, '')}/${escaped.join('/')}`;
}

// `path` is sent as it is: no dot segments resolved, so every key stays inside the bucket.
function request(origin, path, method, headers) {
  return new Promise((resolve, reject) => {
    // No keep-alive: moto answers one request at a time, and an idle kept connection would
    // hold it.
    const outgoing = http.request({
      hostname: origin.hostname, port: origin.port, path, method, headers, agent: false,
    }, resolve);
    outgoing.on('error', reject);
    outgoing.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

// template.yaml's behaviours for a checksum database's changing answers, which the bucket never
// holds (it holds only full tiles): /sumdb/*/lookup/*, /sumdb/*/latest, /sumdb/*/supported and
// /sumdb/*.p/* (partial tiles) go to the serve function.
const SUMDB_SERVE_ONLY = [
  /^\/sumdb\/.*\/lookup\/.*$/s, /^\/sumdb\/.*\/latest$/s, /^\/sumdb\/.*\/supported$/s,
  /^\/sumdb\/.*\.p\/.*$/s,
];

// CloudFront's event for a viewer-request function: lower-case header names, duplicates in
// multiValue. Cookies are left out: the distribution forwards none and the function reads none.
function viewerRequestEvent(incoming, path, query) {
  const headers = {};
  for (const [name, values] of Object.entries(incoming.headersDistinct)) {
    if (name === 'cookie') {
      continue;
    }
    headers[name] = values.length > 1
      ? { value: values[0], multiValue: values.map((value) => ({ value })) }
      : { value: values[0] };
  }
  const querystring = {};
  for (const [name, value] of new URLSearchParams(query)) {
    querystring[name] ??= { value };
  }
  return {
    version: '1.0',
    context: { eventType: 'viewer-request' },
    viewer: { ip: incoming.socket.remoteAddress },
    request: { method: incoming.method, uri: path, querystring, headers, cookies: {} },
  };
}

function sendText(response, status, text, source) {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-piraeus-edge': source,
  });
  response.end(text);
}

// A response the function generated instead of passing the request on.
function sendGenerated(response, generated) {
  const headers = { 'x-piraeus-edge': 'function' };
  for (const [name, header] of Object.entries(generated.headers ?? {})) {
    headers[name] = header.multiValue ? header.multiValue.map((one) => one.value) : header.value;
  }
  const body = generated.body;
  const bytes = typeof body === 'string' ? Buffer.from(body)
    : body ? Buffer.from(body.data, body.encoding === 'base64' ? 'base64' : 'utf8')
      : Buffer.alloc(0);
  response.writeHead(generated.statusCode, generated.statusDescription, headers);
  response.end(bytes);
}

function forwardedHeaders(upstream, source) {
  const headers = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (!HOP_BY_HOP.has(name)) {
      headers[name] = value;
    }
  }
  headers['x-piraeus-edge'] = source;
  return headers;
}

// Streams an origin's answer to the client, keeping a copy when it may be cached (never with
// an undefined key: a behaviour that does not cache).
function relay(upstream, response, method, key, source) {
  const headers = forwardedHeaders(upstream, source);
  response.writeHead(upstream.statusCode, headers);
  const seconds = freshSeconds(upstream.headers['cache-control']);
  const declared = Number(upstream.headers['content-length'] ?? 0);
  if (key !== undefined && method === 'GET' && KEPT_STATUSES.has(upstream.statusCode)
      && seconds > 0 && declared <= MAX_ENTRY_BYTES) {
    const chunks = [];
    let length = 0;
    upstream.on('data', (chunk) => {
      length += chunk.length;
      if (length <= MAX_ENTRY_BYTES) {
        chunks.push(chunk);
      }
    });
    upstream.on('end', () => {
      if (length <= MAX_ENTRY_BYTES) {
        const storedAt = Date.now();
        delete headers['x-piraeus-edge'];
        cacheStore(key, {
          status: upstream.statusCode, headers, body: Buffer.concat(chunks), storedAt,
          expiresAt: storedAt + seconds * 1000,
        });
      }
    });
  }
  return new Promise((resolve) => {
    pipeline(upstream, response, () => resolve());
  });
}

function sendCached(response, method, entry) {
  response.writeHead(entry.status, {
    ...entry.headers,
    age: String(Math.floor((Date.now() - entry.storedAt) / 1000)),
    'x-piraeus-edge': 'cache',
  });
  response.end(method === 'GET' ? entry.body : undefined);
}

async function answer(incoming, response) {
  const [path, query = ''] = incoming.url.split(/\?(.*)/s);
  const method = incoming.method;
  if (method !== 'GET' && method !== 'HEAD') {
    // What CloudFront answers for a method the behaviour does not allow.
    sendText(response, 403, 'edge: only GET and HEAD are allowed\n', 'edge');
    return 'refused';
  }
  let result;
  try {
    result = await handler(viewerRequestEvent(incoming, path, query));
  } catch (error) {
    console.error(`edge: the viewer-request function failed: ${error.stack}`);
    sendText(response, 503, 'edge: the viewer-request function failed\n', 'function');
    return 'function failed';
  }
  if (result.statusCode !== undefined) {
    sendGenerated(response, result);
    return 'function';
  }
  const uri = result.uri;
  // template.yaml's `/index` behaviour: the serve function only, CachingDisabled, and the
  // origin request policy forwards the query string.
  const feed = uri === '/index';
  const cached = feed ? undefined : cacheLookup(uri);
  if (cached !== undefined) {
    sendCached(response, method, cached);
    return 'cache';
  }
  const serveOnly = feed || path.endsWith('/@v/list') || path.endsWith('/@latest')
    || SUMDB_SERVE_ONLY.some((pattern) => pattern.test(path));
  const fromBucket = serveOnly ? undefined : bucketPath(uri);
  if (fromBucket !== undefined) {
    try {
      const upstream = await request(
        bucket, fromBucket, method, signedHeaders(method, bucket.host, fromBucket),
      );
      if (upstream.statusCode !== 403 && upstream.statusCode !== 404) {
        await relay(upstream, response, method, uri, 'bucket');
        return 'bucket';
      }
      upstream.resume();
    } catch (error) {
      console.error(`edge: the bucket did not answer, trying the serve function: ${error.message}`);
    }
  }
  const target = feed && query !== '' ? `${uri}?${query}` : uri;
  let upstream;
  try {
    upstream = await request(serve, `${serve.pathname.replace(/\/$/, '')}${target}`, method, {});
  } catch (error) {
    sendText(response, 502, `edge: the serve function did not answer: ${error.message}\n`, 'serve');
    return 'serve failed';
  }
  await relay(upstream, response, method, feed ? undefined : uri, 'serve');
  return 'serve';
}

const server = http.createServer((incoming, response) => {
  const started = Date.now();
  answer(incoming, response).then((source) => {
    console.error(`edge: ${incoming.method} ${incoming.url} ${response.statusCode} ${source} `
      + `${Date.now() - started}ms`);
  }, (error) => {
    console.error(`edge: ${incoming.method} ${incoming.url} failed: ${error.stack}`);
    response.destroy();
  });
});
const separator = options.listen.lastIndexOf(':');
server.listen(Number(options.listen.slice(separator + 1)), options.listen.slice(0, separator), () => {
  console.error(`edge: listening on http://${options.listen}`);
});
