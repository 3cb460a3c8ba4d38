/**
 * Images by multipart upload and by URL, over real HTTP: the same bytes score the same however
 * they arrive; uploads keep Apollo's CSRF preflight and a per-file limit; URLs are fetched only
 * from addresses allowed, at every redirect, within timeouts and a size cap.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

const SMALL = fixtureImage('images/rgb224.png');
const LARGE = fixtureImage('images/rgb640x480.png');
const MAX_UPLOAD = Math.floor((SMALL.length + LARGE.length) / 2);
const MAX_BODY = 4 << 20;

// the image host: 127.0.0.2 is allowed by the service under test, 127.0.0.1 is not
let images: http.Server;
let imagesBase: string;
let loopbackBase: string;
let loopback: http.Server;
let app: TestApp;
let taxonomyId: string;

/** fetches of /slow.png open at once, and the most seen */
const slow = { open: 0, most: 0 };

function serve(host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url!.split('?')[0];
    if (path === '/small.png') res.end(SMALL);
    else if (path === '/slow.png') {
      slow.most = Math.max(slow.most, ++slow.open);
      setTimeout(() => {
        slow.open--;
        res.end(SMALL);
      }, 100);
    } else if (path === '/large.png') res.end(LARGE);
    else if (path === '/redirect-public') res.writeHead(302, { location: '/small.png' }).end();
    else if (path === '/redirect-private') res.writeHead(302, { location: `${loopbackBase}/small.png` }).end();
    else if (path === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (path === '/stall') setTimeout(() => res.end(SMALL), 5000).unref();
    else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

before(async () => {
  images = await serve('127.0.0.2');
  loopback = await serve('127.0.0.1');
  imagesBase = `http://127.0.0.2:${(images.address() as AddressInfo).port}`;
  loopbackBase = `http://127.0.0.1:${(loopback.address() as AddressInfo).port}`;
  app = await startTestApp({
    NEGLABEL_ALLOW_PRIVATE_URLS: '127.0.0.2',
    NEGLABEL_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
    NEGLABEL_MAX_BODY_BYTES: String(MAX_BODY),
    NEGLABEL_URL_TIMEOUT_MS: '1000',
    NEGLABEL_URL_FETCH_PER_HOST: '2',
  });
  taxonomyId = await createMinedTaxonomy(app, 'sources');
});
after(async () => {
  images.closeAllConnections();
  loopback.closeAllConnections();
  images.close();
  loopback.close();
  await app.close();
});

const SCORE = 'mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { score imageHash filename recordId } }';
const BATCH = `mutation($i: ScoreImagesInput!) { scoreImageBatch(input: $i) { __typename
  ... on ImageScore { index filename score imageHash recordId }
  ... on ImageScoreFailure { index filename code message } } }`;
/** One answer of scoreImageBatch, either kind, as BATCH selects it. */
interface Outcome {
  __typename: 'ImageScore' | 'ImageScoreFailure';
  index: number;
  filename: string | null;
  code?: string;
  message?: string;
  score?: number;
  imageHash?: string;
  recordId?: string;
}
/** index, filename and code (or the type, for a score) of each answer */
const outline = (answers: Outcome[]) => answers.map((a) => [a.index, a.filename, a.code ?? a.__typename]);

/** A multipart request as curl -F builds it: operations, map, then the files. */
async function multipart(
  files: Array<{ name: string; bytes: Buffer }>,
  headers: Record<string, string> = {},
  query = SCORE,
) {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query,
      variables: { i: { taxonomyId, images: files.map(() => ({ file: null })) } },
    }),
  );
  form.set(
    'map',
    JSON.stringify(Object.fromEntries(files.map((_, i) => [String(i), [`variables.i.images.${i}.file`]]))),
  );
  files.forEach((f, i) => {
    form.set(String(i), new Blob([new Uint8Array(f.bytes)], { type: 'image/png' }), f.name);
  });
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function recordCount(): Promise<number> {
  return (await app.database.pool.query('SELECT count(*)::int AS n FROM scoring_records')).rows[0].n;
}

test('an upload scores as its base64 bytes do, keeps its name, needs the CSRF preflight, meets its limit', async () => {
  const base64 = await app.graphql(SCORE, { i: { taxonomyId, images: [{ data: SMALL.toString('base64') }] } });
  const uploaded = await multipart([{ name: 'cat.png', bytes: SMALL }], { 'apollo-require-preflight': 'true' });
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  const [fromFile] = uploaded.body.data.scoreImages;
  assert.equal(fromFile.score, base64.data.scoreImages[0].score);
  assert.equal(fromFile.imageHash, base64.data.scoreImages[0].imageHash);
  assert.equal(fromFile.filename, 'cat.png');

  const before = await recordCount();
  const noPreflight = await multipart([{ name: 'cat.png', bytes: SMALL }]);
  assert.equal(noPreflight.status, 400);
  assert.match(JSON.stringify(noPreflight.body), /preflight/i);
  const tooLarge = await multipart(
    [
      { name: 'ok.png', bytes: SMALL },
      { name: 'big.png', bytes: LARGE },
    ],
    { 'apollo-require-preflight': 'true' },
  );
  assert.equal(tooLarge.body.errors?.[0].extensions.code, 'IMAGE_TOO_LARGE', JSON.stringify(tooLarge.body));
  assert.equal(await recordCount(), before, 'a refused request records nothing');

  const both = await app.graphql(SCORE, {
    i: { taxonomyId, images: [{ data: SMALL.toString('base64'), url: `${imagesBase}/small.png` }] },
  });
  assert.equal(both.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  const none = await app.graphql(SCORE, { i: { taxonomyId, images: [{ filename: 'x.png' }] } });
  assert.equal(none.errors?.[0].extensions.code, 'INVALID_PARAMETER');
});

test('a URL on an allowed host is fetched, follows redirects, and its record keeps the URL', async () => {
  const base64 = await app.graphql(SCORE, { i: { taxonomyId, images: [{ data: SMALL.toString('base64') }] } });
  const url = `${imagesBase}/redirect-public`;
  const fetched = await app.graphql(SCORE, { i: { taxonomyId, images: [{ url }] } });
  assert.equal(fetched.errors, undefined, JSON.stringify(fetched.errors));
  assert.equal(fetched.data.scoreImages[0].score, base64.data.scoreImages[0].score);
  const record = await app.graphql('query($id: ID!) { scoringRecord(id: $id) { url } }', {
    id: fetched.data.scoreImages[0].recordId,
  });
  assert.equal(record.data.scoringRecord.url, url);
  // a password in a URL reaches the image host, never the history
  const withCredentials = `http://user:secret@127.0.0.2:${new URL(imagesBase).port}/small.png`;
  const scored = await app.graphql(SCORE, { i: { taxonomyId, images: [{ url: withCredentials }] } });
  const kept = await app.graphql('query($id: ID!) { scoringRecord(id: $id) { url } }', {
    id: scored.data.scoreImages[0].recordId,
  });
  assert.equal(kept.data.scoringRecord.url, `${imagesBase}/small.png`);
  // a signed URL's query (and fragment) reach the image host, never the history
  const signed = await app.graphql(SCORE, {
    i: { taxonomyId, images: [{ url: `${imagesBase}/small.png?X-Amz-Signature=secret&X-Amz-Expires=60#part` }] },
  });
  assert.equal(signed.errors, undefined, JSON.stringify(signed.errors));
  const stripped = await app.graphql('query($id: ID!) { scoringRecord(id: $id) { url } }', {
    id: signed.data.scoreImages[0].recordId,
  });
  assert.equal(stripped.data.scoringRecord.url, `${imagesBase}/small.png`);
});

test('a request naming many URLs on one host fetches at most NEGLABEL_URL_FETCH_PER_HOST at once', async () => {
  const urls = Array.from({ length: 6 }, (_, i) => ({ url: `${imagesBase}/slow.png?n=${i}` }));
  const { errors, data } = await app.graphql(SCORE, { i: { taxonomyId, images: urls } });
  assert.equal(errors, undefined, JSON.stringify(errors));
  assert.equal(data.scoreImages.length, 6);
  assert.equal(slow.most, 2);
});

test('URLs to private addresses, bad schemes, redirect loops, stalls and large files are refused', async () => {
  const before = await recordCount();
  const cases: Array<[string, string]> = [
    [`${loopbackBase}/small.png`, 'URL_NOT_ALLOWED'],
    [`http://localhost:${new URL(loopbackBase).port}/small.png`, 'URL_NOT_ALLOWED'],
    [`${imagesBase}/redirect-private`, 'URL_NOT_ALLOWED'],
    ['http://169.254.169.254/latest/meta-data/', 'URL_NOT_ALLOWED'],
    ['http://[::ffff:127.0.0.1]/x.png', 'URL_NOT_ALLOWED'],
    ['file:///etc/passwd', 'URL_NOT_ALLOWED'],
    ['not a url', 'INVALID_URL'],
    [`${imagesBase}/loop`, 'URL_FETCH_FAILED'],
    [`${imagesBase}/missing.png`, 'URL_FETCH_FAILED'],
    [`${imagesBase}/stall`, 'URL_TIMEOUT'],
    [`${imagesBase}/large.png`, 'IMAGE_TOO_LARGE'],
  ];
  for (const [url, code] of cases) {
    const { errors } = await app.graphql(SCORE, { i: { taxonomyId, images: [{ url }] } });
    assert.equal(errors?.[0].extensions.code, code, `${url}: ${JSON.stringify(errors)}`);
    assert.equal(errors?.[0].extensions.field, 'images');
  }
  assert.equal(await recordCount(), before);
});

test('scoreImageBatch answers a bad image with its code in its place and scores the rest, however sent', async () => {
  const before = await recordCount();
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect/></svg>');
  const sent = [
    { data: SMALL.toString('base64'), filename: 'small.png' },
    { data: svg.toString('base64'), filename: 'logo.svg' },
    { url: `${loopbackBase}/small.png` },
    { url: `${imagesBase}/missing.png` },
    { url: `${imagesBase}/small.png` },
    { data: 'not base64 %%%' },
  ];
  const { data, errors } = await app.graphql(BATCH, { i: { taxonomyId, images: sent } });
  assert.equal(errors, undefined, JSON.stringify(errors));
  const answers: Outcome[] = data.scoreImageBatch;
  assert.deepEqual(outline(answers), [
    [0, 'small.png', 'ImageScore'],
    [1, 'logo.svg', 'INVALID_IMAGE'],
    [2, null, 'URL_NOT_ALLOWED'],
    [3, null, 'URL_FETCH_FAILED'],
    [4, null, 'ImageScore'],
    [5, null, 'INVALID_BASE64'],
  ]);
  assert.match(answers[1].message ?? '', /^images\[1\] \(logo\.svg\): /);
  assert.equal(answers[0].imageHash, answers[4].imageHash, 'the same bytes by base64 and by URL');
  assert.equal(answers[0].score, answers[4].score);
  // the two scored images, and only they, are in the history under the ids they were answered with
  assert.equal(await recordCount(), before + 2);
  const { rows } = await app.database.pool.query<{ id: string; image_hash: string; source_url: string | null }>(
    'SELECT id::text, image_hash, source_url FROM scoring_records WHERE id = ANY($1::bigint[]) ORDER BY id',
    [[answers[0].recordId, answers[4].recordId]],
  );
  assert.deepEqual(
    rows.map((r) => [r.id, r.image_hash, r.source_url]),
    [
      [answers[0].recordId, answers[0].imageHash, null],
      [answers[4].recordId, answers[4].imageHash, `${imagesBase}/small.png`],
    ],
  );

  // an upload over the per-file limit fails alone, under its file's name
  const uploaded = await multipart(
    [
      { name: 'ok.png', bytes: SMALL },
      { name: 'big.png', bytes: LARGE },
    ],
    { 'apollo-require-preflight': 'true' },
    BATCH,
  );
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  assert.deepEqual(outline(uploaded.body.data.scoreImageBatch), [
    [0, 'ok.png', 'ImageScore'],
    [1, 'big.png', 'IMAGE_TOO_LARGE'],
  ]);
  assert.equal(await recordCount(), before + 3);

  // an error of the request itself still fails it whole, and records nothing
  const both = await app.graphql(BATCH, {
    i: { taxonomyId, images: [sent[0], { data: SMALL.toString('base64'), url: `${imagesBase}/small.png` }] },
  });
  assert.equal(both.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  assert.equal(await recordCount(), before + 3);
});

/**
 * A multipart request whose body is never finished: it declares `declared` bytes (or is chunked)
 * and sends only its start, so an answer proves the server decided without reading the files.
 */
function unfinishedUpload(headers: Record<string, string>, declared?: number, send = 64 * 1024) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    let sent = 0;
    const boundary = 'neglabel-boundary';
    const start =
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n` +
      JSON.stringify({ query: SCORE, variables: { i: { taxonomyId, images: [{ file: null }] } } }) +
      `\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.i.images.0.file"]}` +
      `\r\n--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.png"\r\n` +
      'Content-Type: image/png\r\n\r\n';
    const request = http.request(`${app.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        ...(declared === undefined ? {} : { 'content-length': String(declared) }),
        ...headers,
      },
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) });
      });
    });
    request.on('error', (error) =>
      request.destroyed
        ? undefined
        : reject(new Error(`${JSON.stringify({ headers, declared, send })}: ${error.message} after ${sent} bytes`)),
    );
    request.write(start);
    // the file's bytes, in pieces, as long as the server reads them
    const pump = () => {
      while (sent < send) {
        sent += 16 * 1024;
        if (!request.write(Buffer.alloc(16 * 1024, 1))) return request.once('drain', pump);
      }
    };
    pump();
  });
}

test('no byte of a file is read before the caller, its role and the CSRF preflight are checked; the body is bounded', {
  timeout: 60_000,
}, async () => {
  const preflight = { 'apollo-require-preflight': 'true' };
  const huge = 1 << 30;
  const anonymous = await unfinishedUpload(preflight, huge);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  const wrongKey = await unfinishedUpload({ ...preflight, authorization: 'Bearer not-a-key' }, huge);
  assert.equal(wrongKey.status, 401);
  const auditor = (await app.graphql('mutation { createApiKey(input: { name: "reader", role: AUDITOR }) { key } }'))
    .data.createApiKey.key;
  const asAuditor = await unfinishedUpload({ ...preflight, authorization: `Bearer ${auditor}` }, huge);
  assert.equal(asAuditor.status, 403);
  const crossSite = await unfinishedUpload({ authorization: `Bearer ${ADMIN_KEY}` }, huge);
  assert.equal(crossSite.status, 400);
  assert.match(crossSite.body.errors[0].message, /CSRF/);
  // an admin's body over the bound: refused from its declared length, or cut as it streams
  const declaredTooLarge = await unfinishedUpload({ ...preflight, authorization: `Bearer ${ADMIN_KEY}` }, huge);
  assert.equal(declaredTooLarge.status, 413);
  assert.equal(declaredTooLarge.body.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
  // the cut comes at the bound plus 1 MiB for the fields; the half MiB past it fits in what the
  // server still reads after answering (more would reset the connection before the answer is read)
  const chunked = await unfinishedUpload(
    { ...preflight, authorization: `Bearer ${ADMIN_KEY}` },
    undefined,
    MAX_BODY + (3 << 19),
  );
  assert.equal(chunked.status, 413);
});

test('a JSON body declared over the limit is refused at once and its connection closed, not drained', {
  timeout: 30_000,
}, async () => {
  const closed = await new Promise<{ status: number; closedBy: 'server' | 'timeout' }>((resolve) => {
    const request = http.request(`${app.url}/graphql`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': String(1 << 30),
        authorization: `Bearer ${ADMIN_KEY}`,
      },
    });
    request.on('error', () => {});
    request.on('response', (response) => {
      response.resume();
      const timer = setTimeout(() => {
        request.destroy();
        resolve({ status: response.statusCode!, closedBy: 'timeout' });
      }, 3000);
      request.socket!.once('close', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode!, closedBy: 'server' });
      });
    });
    request.write('{"query": "');
    request.write('x'.repeat(64 * 1024));
  });
  assert.deepEqual(closed, { status: 413, closedBy: 'server' });
});
