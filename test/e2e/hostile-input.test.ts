import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { ADMIN_KEY, base64, createMinedTaxonomy, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp({ NEGLABEL_MAX_IMAGE_PIXELS: '4000000' });
});
after(() => app.close());

/** A structurally valid PNG declaring width x height, with almost no pixel data (a "bomb" header). */
function pngDeclaring(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(10))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const embed = (images: Array<{ data: string }>) =>
  app.graphql('query($i: [ImageInput!]!) { embedImages(images: $i) }', { i: images });

test('hostile images are refused with stable codes and the process keeps serving', async () => {
  const base = sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 99, b: 199 } } });
  const formats = {
    jpeg: await base.clone().jpeg().toBuffer(),
    png: await base.clone().png().toBuffer(),
    webp: await base.clone().webp().toBuffer(),
    gif: await base.clone().gif().toBuffer(),
  };
  const cases: Array<[string, Buffer | string, string]> = [];
  for (const [name, bytes] of Object.entries(formats)) {
    cases.push([`truncated ${name}`, bytes.subarray(0, Math.floor(bytes.length / 3)), 'INVALID_IMAGE']);
    const corrupt = Buffer.from(bytes);
    for (let i = 20; i < corrupt.length; i += 7) corrupt[i] ^= 0x5a;
    cases.push([`corrupt ${name}`, corrupt, 'INVALID_IMAGE']);
  }
  cases.push(
    ['zero bytes', Buffer.alloc(0), 'INVALID_IMAGE'],
    ['PNG declaring 100000 x 100000', pngDeclaring(100_000, 100_000), 'IMAGE_TOO_LARGE'],
    ['PNG declaring 3000 x 3000 over a 4M pixel limit', pngDeclaring(3000, 3000), 'IMAGE_TOO_LARGE'],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'), 'INVALID_IMAGE'],
    ['PDF', Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF'), 'INVALID_IMAGE'],
    ['HTML', Buffer.from('<html><body>hi</body></html>'), 'INVALID_IMAGE'],
    ['invalid base64', '!!!not base64!!!', 'INVALID_BASE64'],
  );
  for (const [name, bytes, code] of cases) {
    const { errors } = await embed([{ data: typeof bytes === 'string' ? bytes : base64(bytes) }]);
    assert.equal(errors?.[0].extensions.code, code, `${name}: ${JSON.stringify(errors)}`);
  }
  for (const bytes of Object.values(formats)) assert.equal((await embed([{ data: base64(bytes) }])).errors, undefined);
  const { data } = await app.graphql('{ health { status } }');
  assert.equal(data.health.status, 'ok');
});

test(
  'hostile requests: wrong content type, malformed JSON, deep nesting, alias floods, oversized ' + 'batches',
  async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Bearer ${ADMIN_KEY}` },
        body,
      });
    const wrongType = await post('{ health { status } }', 'text/plain');
    assert.ok(wrongType.status >= 400 && wrongType.status < 500);
    const malformed = await post('{"query": ');
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).errors[0].extensions.code, 'BAD_REQUEST');

    const deep =
      `{ taxonomies { edges { node { versions { activeNegativeSet { taxonomyVersion { activeNegativeSet { ` +
      `taxonomyVersion { activeNegativeSet { taxonomyVersion { activeNegativeSet { taxonomyVersion { id } } } } } } ` +
      `} } } } } } }`;
    assert.equal((await app.graphql(deep)).errors?.[0].extensions.code, 'QUERY_TOO_COMPLEX');
    const aliases = `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: health { status }`).join(' ')} }`;
    assert.equal((await app.graphql(aliases)).errors?.[0].extensions.code, 'QUERY_TOO_COMPLEX');
    const fragmentLoop = 'query { health { ...A } } fragment A on Health { ...B } fragment B on Health { ...A }';
    assert.ok((await app.graphql(fragmentLoop)).errors?.length);

    const many = Array.from({ length: 300 }, () => ({ data: base64(fixtureImage('images/tiny8.png')) }));
    assert.equal((await embed(many)).errors?.[0].extensions.code, 'BATCH_TOO_LARGE');
    assert.equal((await app.graphql('{ health { status } }')).data.health.status, 'ok');
  },
);

test(
  'hostile labels: 100k labels work, more are refused, control characters refused, mixed scripts and SQL kept ' +
    'verbatim',
  async () => {
    const count = async () => (await app.graphql('{ taxonomies { totalCount } }')).data.taxonomies.totalCount;
    const before = await count();
    const huge = Array.from({ length: 100_000 }, (_, i) => `label ${i}`);
    const big = await app.graphql(
      'mutation($l: [String!]!) { createTaxonomy(input: { name: "huge", labels: $l }) { latestVersion { ' +
        'labelCount } } }',
      { l: huge },
    );
    assert.equal(big.data?.createTaxonomy.latestVersion.labelCount, 100_000, JSON.stringify(big.errors));
    const tooMany = await app.graphql(
      'mutation($l: [String!]!) { createTaxonomy(input: { name: "too-many", labels: $l }) { id } }',
      { l: [...huge, 'one more'] },
    );
    assert.equal(tooMany.errors?.[0].extensions.code, 'TOO_MANY_LABELS');
    const control = await app.graphql(
      'mutation { createTaxonomy(input: { name: "ctl", labels: ["ok", "bad\\u0007label"] }) { id } }',
    );
    assert.equal(control.errors?.[0].extensions.code, 'INVALID_LABEL');
    const odd = ['猫 cat', 'Ελληνικά', "'; DROP TABLE taxonomies; --", 'Robert"); DELETE FROM scoring_records;--'];
    const created = await app.graphql(
      'mutation($l: [String!]!) { createTaxonomy(input: { name: "odd; DROP TABLE x", labels: $l }) { name ' +
        'latestVersion { labels } } }',
      { l: odd },
    );
    assert.deepEqual(created.data.createTaxonomy, { name: 'odd; DROP TABLE x', latestVersion: { labels: odd } });
    assert.equal(await count(), before + 2);
  },
);

test('a caller over the rate limit gets 429 RATE_LIMITED', async () => {
  const limited = await startTestApp({ NEGLABEL_RATE_LIMIT_PER_MINUTE: '5', NEGLABEL_ENCODER_WORKERS: '1' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await fetch(`${limited.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ health { status } }' }),
      });
      statuses.push(response.status);
      if (response.status === 429) assert.equal((await response.json()).errors[0].extensions.code, 'RATE_LIMITED');
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
  } finally {
    await limited.close();
  }
});

test(
  'hostile texts: over-long texts refused; a 2 MB word in a shared batch fails nobody; a gzip ' + 'bomb is refused',
  async () => {
    const tooLong = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', {
      t: ['fine', 'x'.repeat(2001)],
    });
    assert.equal(tooLong.errors?.[0].extensions.code, 'TEXT_TOO_LONG');
    assert.equal(tooLong.errors?.[0].extensions.index, 1);

    // a server that lets 2 MB texts reach the tokenizer: before, the attacker's word overflowed the
    // stack and failed the whole shared batch, other callers' texts included
    const lenient = await startTestApp({
      NEGLABEL_MAX_TEXT_CHARS: '3000000',
      NEGLABEL_MAX_TEXT_CHARS_PER_REQUEST: '3000000',
      NEGLABEL_BATCH_WINDOW_MS: '50',
      NEGLABEL_ENCODER_WORKERS: '1',
      NEGLABEL_MAX_IN_FLIGHT_PER_KEY: '0',
    });
    try {
      const others = Array.from({ length: 20 }, (_, i) =>
        lenient.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: [`an ordinary caption ${i}`] }),
      );
      const attack = lenient.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', {
        t: ['z'.repeat(2_000_000)],
      });
      const results = await Promise.all([attack, ...others]);
      assert.deepEqual(
        results.map((r) => r.errors?.[0].extensions.code ?? 'ok'),
        results.map(() => 'ok'),
      );
    } finally {
      await lenient.close();
    }

    // 200 MB of JSON whitespace gzips to about 200 KB: the body limit counts decompressed bytes
    const { gzipSync } = await import('node:zlib');
    const bomb = gzipSync(
      Buffer.concat([
        Buffer.from('{"query": "{ health { status } }"'),
        Buffer.alloc(200 * 1024 * 1024, 0x20),
        Buffer.from('}'),
      ]),
    );
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${ADMIN_KEY}` },
      body: bomb,
    });
    assert.equal(response.status, 413);
    assert.equal((await response.json()).errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    assert.equal((await app.graphql('{ health { status } }')).data.health.status, 'ok');
  },
);

test(
  'hostile names, filenames and ids: NUL refused with a code, filenames cleaned and capped, malformed ids ' + 'refused',
  async () => {
    const nul = await app.graphql(
      'mutation($n: String!) { createTaxonomy(input: { name: $n, labels: ["a"] }) { id } }',
      {
        n: 'bad\u0000name',
      },
    );
    assert.equal(nul.errors?.[0].extensions.code, 'INVALID_PARAMETER');
    const key = await app.graphql('mutation($n: String!) { createApiKey(input: { name: $n, role: SCORER }) { key } }', {
      n: 'k\u0000',
    });
    assert.equal(key.errors?.[0].extensions.code, 'INVALID_PARAMETER');
    const dashes = await app.graphql(
      'query($f: ScoringRecordFilter) { scoringRecords(filter: $f) { edges { cursor } } }',
      { f: { taxonomyId: '-'.repeat(36) } },
    );
    assert.equal(dashes.errors?.[0].extensions.code, 'BAD_USER_INPUT');
    assert.match(dashes.errors![0].message, /not a taxonomy id/);

    const taxonomyId = await createMinedTaxonomy(app, 'filenames');
    // a right-to-left override makes "photo\u202Egpj.exe" display as "photoexe.jpg"
    const names = ['photo\u202Egpj.exe', `${'x'.repeat(400)}.png`, '\u0007\u0008'];
    const scored = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { filename } }', {
      i: {
        taxonomyId,
        images: names.map((filename) => ({ data: base64(fixtureImage('images/tiny8.png')), filename })),
      },
    });
    assert.equal(scored.errors, undefined, JSON.stringify(scored.errors));
    assert.deepEqual(
      scored.data.scoreImages.map((r: { filename: string | null }) => r.filename),
      ['photogpj.exe', 'x'.repeat(255), null],
    );
  },
);

test('a NUL anywhere in an operation is refused before it runs, with the place it was found', async () => {
  // before, these reached PostgreSQL (which refuses NUL in text) and came back INTERNAL_SERVER_ERROR
  const records = 'query($f: ScoringRecordFilter) { scoringRecords(filter: $f) { edges { cursor } } }';
  const inFilter = await app.graphql(records, { f: { caller: 'a\u0000b' } });
  assert.equal(inFilter.errors?.[0].extensions.code, 'INVALID_PARAMETER', JSON.stringify(inFilter));
  assert.equal(inFilter.errors?.[0].extensions.field, 'variables.f.caller');
  const literal = await app.graphql('{ scoringRecords(filter: { caller: "a\\u0000b" }) { edges { cursor } } }');
  assert.equal(literal.errors?.[0].extensions.code, 'INVALID_PARAMETER', JSON.stringify(literal));
  const filename = await app.graphql('query($i: [ImageInput!]!) { embedImages(images: $i) }', {
    i: [{ data: base64(fixtureImage('images/tiny8.png')), filename: 'nul\u0000byte.png' }],
  });
  assert.equal(filename.errors?.[0].extensions.code, 'INVALID_PARAMETER');
  assert.equal(filename.errors?.[0].extensions.field, 'variables.i[0].filename');
  const template = await app.graphql(
    'mutation($t: [String!]) { createTaxonomy(input: { name: "nul-template", labels: ["a"], promptTemplates: $t }) ' +
      '{ id } }',
    { t: ['a photo of a {}.\u0000'] },
  );
  assert.equal(template.errors?.[0].extensions.code, 'INVALID_PARAMETER', JSON.stringify(template));
  const taxonomies = await app.graphql('{ taxonomies { edges { node { name } } } }');
  assert.ok(!taxonomies.data.taxonomies.edges.some((e: { node: { name: string } }) => e.node.name === 'nul-template'));
});

test('a subscription, a persisted-query hash and a cut-short upload get codes, not internal errors', async () => {
  // subscriptions are served over WebSocket (subscriptions.test.ts); over HTTP POST, a code
  const subscription = await app.graphql('subscription($t: ID!) { scoringRecordAdded(taxonomyId: $t) { id } }', {
    t: '00000000-0000-4000-8000-000000000000',
  });
  assert.equal(subscription.errors?.[0].extensions.code, 'OPERATION_NOT_SUPPORTED', JSON.stringify(subscription));
  assert.match(subscription.errors![0].message, /WebSocket/);
  const persisted = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({
      query: '{ health { status } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: '00' } },
    }),
  });
  const persistedBody = (await persisted.json()) as any;
  assert.equal(
    persistedBody.errors?.[0].extensions.code,
    'PERSISTED_QUERY_NOT_SUPPORTED',
    JSON.stringify(persistedBody),
  );

  // a multipart body whose file part stops before its closing boundary
  const operations = JSON.stringify({
    query: 'query($f: Upload!) { embedImages(images: [{ file: $f }]) }',
    variables: { f: null },
  });
  const body =
    `--XX\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
    `--XX\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.f"]}\r\n` +
    `--XX\r\nContent-Disposition: form-data; name="0"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n` +
    'abc';
  const cut = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'multipart/form-data; boundary=XX',
      'apollo-require-preflight': '1',
      authorization: `Bearer ${ADMIN_KEY}`,
    },
    body,
  });
  const cutBody = (await cut.json()) as any;
  assert.equal(cutBody.errors?.[0].extensions.code, 'UPLOAD_INCOMPLETE', JSON.stringify(cutBody));
  assert.equal((await app.graphql('{ health { status } }')).data.health.status, 'ok');
});

test('prototype names under /assets are not assets: 404, not 500', async () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const response = await fetch(`${app.url}/assets/${name}`);
    assert.equal(response.status, 404, name);
  }
  assert.equal((await fetch(`${app.url}/assets/console.css`)).status, 200);
});

test('invisible characters that disguise a name are refused: names, labels, key names, idempotency keys', async () => {
  const createTaxonomy = (name: string, labels: string[]) =>
    app.graphql('mutation($n: String!, $l: [String!]!) { createTaxonomy(input: { name: $n, labels: $l }) { id } }', {
      n: name,
      l: labels,
    });
  const code = (result: any) => result.errors?.[0].extensions.code ?? 'ok';
  // a right-to-left override, a zero-width space, a right-to-left isolate, a word joiner
  assert.equal(code(await createTaxonomy('birds\u202Eexe', ['a'])), 'INVALID_PARAMETER');
  assert.equal(code(await createTaxonomy('bi\u200Brds', ['a'])), 'INVALID_PARAMETER');
  assert.equal(code(await createTaxonomy('labels-disguised', ['cat', 'do\u2067g'])), 'INVALID_LABEL');
  assert.equal(code(await createTaxonomy('labels-word-joiner', ['ca\u2060t'])), 'INVALID_LABEL');
  // the zero-width non-joiner is part of Persian spelling: kept in labels
  assert.equal(code(await createTaxonomy('persian', ['گربه\u200Cها', 'dog'])), 'ok');
  const key = (name: string) =>
    app.graphql('mutation($n: String!) { createApiKey(input: { name: $n, role: SCORER }) { key } }', { n: name });
  // "ad\u200Cmin" reads as "admin": in an identifier the joiners are refused too
  assert.equal(code(await key('ad\u200Cmin')), 'INVALID_PARAMETER');
  assert.equal(code(await key('ops\u200F')), 'INVALID_PARAMETER');
  const taxonomyId = await createMinedTaxonomy(app, 'idempotency-invisible');
  const scored = await app.graphql('mutation($i: ScoreImagesInput!) { scoreImages(input: $i) { recordId } }', {
    i: { taxonomyId, idempotencyKey: 'order-\u200B42', images: [{ data: base64(fixtureImage('images/tiny8.png')) }] },
  });
  assert.equal(code(scored), 'INVALID_PARAMETER');
});
