import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, base64, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage } from '../helpers/fixtures.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp({
    NEGLABEL_RATE_LIMIT_PER_MINUTE: '40',
    NEGLABEL_MAX_RESPONSE_BYTES: '20000',
    NEGLABEL_MAX_PIXELS_PER_REQUEST: '120000',
    NEGLABEL_MAX_TEXT_CHARS_PER_REQUEST: '1000',
    NEGLABEL_MAX_IN_FLIGHT_PER_KEY: '1',
    NEGLABEL_BATCH_WINDOW_MS: '30',
  });
});
after(() => app.close());

const code = (result: { errors?: Array<{ extensions: { code: string } }> }) =>
  result.errors?.[0].extensions.code ?? 'ok';
const image = (file: string) => ({ data: base64(fixtureImage(file)) });

test('one encoder operation per request: aliases of embedTexts can no longer multiply the work', async () => {
  const aliased = `query { ${Array.from({ length: 20 }, (_, i) => `a${i}: embedTexts(texts: ["x"])`).join(' ')} }`;
  assert.equal(code(await app.graphql(aliased)), 'QUERY_TOO_COMPLEX');
  assert.equal(code(await app.graphql('{ embedTexts(texts: ["x"]) }')), 'ok');
});

test('per-request budgets: a response over the cap, pixels over the budget, text over the budget', async () => {
  const texts = Array.from({ length: 40 }, (_, i) => `text ${i}`);
  const big = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: texts });
  assert.equal(code(big), 'RESPONSE_TOO_LARGE');
  assert.equal(big.data, undefined);
  // three 224 x 224 images declare 150,528 pixels, over the budget of 120,000
  const pixels = await app.graphql('query($i: [ImageInput!]!) { embedImages(images: $i) }', {
    i: [image('images/rgb224.png'), image('images/rgb224b.png'), image('images/rgb224.jpg')],
  });
  assert.equal(code(pixels), 'REQUEST_BUDGET_EXCEEDED');
  const chars = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', {
    t: Array.from({ length: 3 }, () => 'y'.repeat(400)),
  });
  assert.equal(code(chars), 'REQUEST_BUDGET_EXCEEDED');
});

test('a key at its in-flight limit is told to wait; another key is not held up', async () => {
  const other = (await app.graphql('mutation { createApiKey(input: { name: "other", role: SCORER }) { key } }')).data
    .createApiKey.key;
  const batch = (headers?: Record<string, string>, salt = '') =>
    app.graphql(
      'query($i: [ImageInput!]!) { embedImages(images: $i) }',
      { i: [image('images/rgb224.png')].map((x) => ({ data: x.data + salt })) },
      headers,
    );
  const results = await Promise.all([batch(), batch(), batch(), batch({ authorization: `Bearer ${other}` })]);
  const codes = results.map(code);
  assert.ok(codes.slice(0, 3).includes('TOO_MANY_IN_FLIGHT'), codes.join());
  assert.ok(codes.slice(0, 3).includes('ok'), codes.join());
  assert.equal(codes[3], 'ok');
});

test(
  'the rate limit keys on the authenticated key, not the header spelling; bad tokens share the ' + 'address bucket',
  async () => {
    const limited = await startTestApp({ NEGLABEL_RATE_LIMIT_PER_MINUTE: '4', NEGLABEL_ENCODER_WORKERS: '1' });
    try {
      const status = async (authorization: string) =>
        (
          await fetch(`${limited.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization },
            body: '{"query":"{ me { name } }"}',
          })
        ).status;
      const spellings = [
        `Bearer ${ADMIN_KEY}`,
        `bearer ${ADMIN_KEY}`,
        `BEARER ${ADMIN_KEY}`,
        `Bearer   ${ADMIN_KEY}`,
        `bearer ${ADMIN_KEY}`,
      ];
      const seen = [];
      for (const spelling of spellings) seen.push(await status(spelling));
      assert.deepEqual(seen, [200, 200, 200, 200, 429]);
      const random = [];
      for (let i = 0; i < 5; i++) random.push(await status(`Bearer random-${i}`));
      assert.deepEqual(random, [200, 200, 200, 200, 429], 'unknown tokens are one caller: this address');
    } finally {
      await limited.close();
    }
  },
);
