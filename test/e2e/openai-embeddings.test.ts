/**
 * POST /v1/embeddings speaks OpenAI's embeddings format over real HTTP and returns exactly the
 * vectors the GraphQL embedTexts / embedImages queries return for the same inputs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { ADMIN_KEY, base64, startTestApp, type TestApp } from '../helpers/app.ts';
import { fixtureImage, reference } from '../helpers/fixtures.ts';

let app: TestApp;
let auditorKey: string;
before(async () => {
  app = await startTestApp();
  auditorKey = (await app.graphql('mutation { createApiKey(input: { name: "reader", role: AUDITOR }) { key } }')).data
    .createApiKey.key;
});
after(() => app.close());

async function embeddings(body: unknown, key: string | null = ADMIN_KEY) {
  const response = await fetch(`${app.url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const png = fixtureImage('images/rgb224.png');
const dataUri = `data:image/png;base64,${base64(png)}`;

test('texts and data: image URIs in one request, in order, equal to the GraphQL queries', async () => {
  const { status, body } = await embeddings({
    model: 'clip-tiny-random',
    input: ['a photo of a cat', dataUri, 'a dog'],
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.object, 'list');
  assert.equal(body.model, 'clip-tiny-random');
  assert.deepEqual(
    body.data.map((d: { object: string; index: number }) => [d.object, d.index]),
    [
      ['embedding', 0],
      ['embedding', 1],
      ['embedding', 2],
    ],
  );
  const graphql = await app.graphql('query($t: [String!]!) { texts: embedTexts(texts: $t) }', {
    t: ['a photo of a cat', 'a dog'],
  });
  const image = await app.graphql('query($i: [ImageInput!]!) { embedImages(images: $i) }', {
    i: [{ data: base64(png) }],
  });
  assert.deepEqual(body.data[0].embedding, graphql.data.texts[0]);
  assert.deepEqual(body.data[2].embedding, graphql.data.texts[1]);
  assert.deepEqual(body.data[1].embedding, image.data.embedImages[0]);
  // CLIP tokens of the texts: start and end tokens included, images count nothing
  assert.ok(
    body.usage.prompt_tokens >= 2 * 4 && body.usage.total_tokens === body.usage.prompt_tokens,
    JSON.stringify(body.usage),
  );
});

test('usage counts the tokens the model read, as the reference tokenizer splits them (cached or not)', async () => {
  // the Hugging Face tokenizer's ids (reference.json): a long text is cut at the context length
  const texts = reference.texts.slice(0, 20);
  const expected = texts.reduce((sum, t) => sum + t.ids.length, 0);
  for (const round of ['first', 'cached']) {
    const { status, body } = await embeddings({ input: texts.map((t) => t.text) });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.usage.prompt_tokens, expected, `${round}: ${JSON.stringify(body.usage)}`);
  }
});

test(
  'encoding_format base64 carries the same float32 values; a single string is one input; the ' + 'model defaults',
  async () => {
    const floats = await embeddings({ input: 'a red car' });
    const packed = await embeddings({ input: 'a red car', encoding_format: 'base64' });
    assert.equal(packed.status, 200);
    const bytes = Buffer.from(packed.body.data[0].embedding, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    assert.deepEqual(decoded, floats.body.data[0].embedding);
    assert.equal(floats.body.data.length, 1);
    assert.equal(floats.body.model, 'clip-tiny-random');
  },
);

test("errors come in OpenAI's shape with our stable codes and HTTP statuses", async () => {
  const cases: Array<[unknown, string | null, number, string]> = [
    [{ input: 'x' }, null, 401, 'UNAUTHENTICATED'],
    [{ input: 'x' }, 'not-a-key-at-all-0000', 401, 'UNAUTHENTICATED'],
    [{ input: 'x' }, auditorKey, 403, 'FORBIDDEN'],
    [{ input: 'x', model: 'no-such-model' }, ADMIN_KEY, 404, 'MODEL_NOT_FOUND'],
    [{ input: [] }, ADMIN_KEY, 400, 'BAD_USER_INPUT'],
    [{ input: [[101, 102]] }, ADMIN_KEY, 400, 'BAD_USER_INPUT'],
    [{ input: 'x', encoding_format: 'int8' }, ADMIN_KEY, 400, 'BAD_USER_INPUT'],
    [{ input: 'x', dimensions: 16 }, ADMIN_KEY, 400, 'BAD_USER_INPUT'],
    [{ input: 'x'.repeat(5000) }, ADMIN_KEY, 400, 'TEXT_TOO_LONG'],
    [{ input: 'data:image/png;base64,bm90IGFuIGltYWdl' }, ADMIN_KEY, 400, 'INVALID_IMAGE'],
  ];
  for (const [body, key, status, code] of cases) {
    const response = await embeddings(body, key);
    assert.equal(response.status, status, JSON.stringify([body, response.body]));
    assert.equal(response.body.error.code, code);
    assert.equal(typeof response.body.error.message, 'string');
    assert.ok(
      ['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error'].includes(
        response.body.error.type,
      ),
    );
  }
});

test('the embedTexts and embedImages mutations remain, deprecated, as aliases of the queries', async () => {
  const query = await app.graphql('{ embedTexts(texts: ["a cat"]) }');
  const mutation = await app.graphql('mutation { embedTexts(texts: ["a cat"]) }');
  assert.deepEqual(mutation.data.embedTexts, query.data.embedTexts);
  const introspection = await app.graphql(
    '{ __type(name: "Mutation") { fields(includeDeprecated: true) { name isDeprecated } } }',
  );
  const fields = introspection.data.__type.fields.filter((f: { name: string }) => f.name.startsWith('embed'));
  assert.deepEqual(fields, [
    { name: 'embedTexts', isDeprecated: true },
    { name: 'embedImages', isDeprecated: true },
  ]);
});

test('GET /v1/models lists the loaded models, as OpenAI clients look a model up', async () => {
  const response = await fetch(`${app.url}/v1/models`);
  assert.equal(response.status, 200);
  const body = (await response.json()) as { object: string; data: Array<{ id: string; object: string }> };
  assert.equal(body.object, 'list');
  assert.deepEqual(
    body.data.map((m) => [m.id, m.object]),
    [['clip-tiny-random', 'model']],
  );
  const one = await fetch(`${app.url}/v1/models/clip-tiny-random`);
  assert.deepEqual(await one.json(), { id: 'clip-tiny-random', object: 'model', created: 0, owned_by: 'neglabel' });
  const missing = await fetch(`${app.url}/v1/models/no-such-model`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'MODEL_NOT_FOUND');
});

test('/v1/embeddings requests are counted and timed in /metrics, refusals by their code', async () => {
  await embeddings({ input: 'counted' });
  await embeddings({ input: 'counted' }, null);
  const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
  const line = (pattern: RegExp) => text.split('\n').find((l) => pattern.test(l));
  assert.ok(line(/^neglabel_graphql_operations_total\{operation="POST \/v1\/embeddings",outcome="ok"/), text);
  assert.ok(line(/operation="POST \/v1\/embeddings",outcome="error",code="UNAUTHENTICATED"/), text);
  assert.ok(line(/^neglabel_graphql_operation_seconds_count\{operation="POST \/v1\/embeddings"\}/));
});

test('an unknown /v1 route or method answers a JSON error in OpenAI’s format, not an HTML page', async () => {
  for (const [method, route] of [
    ['GET', '/v1/completions'],
    ['GET', '/v1/embeddings'],
    ['POST', '/v1/models'],
    ['GET', '/v1/models/clip-tiny-random/extra'],
  ]) {
    const response = await fetch(`${app.url}${route}`, { method });
    assert.equal(response.status, 404, `${method} ${route}`);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { error: { type: string; code: string; message: string } };
    assert.equal(body.error.type, 'not_found_error');
    assert.equal(body.error.code, 'NOT_FOUND');
    assert.match(body.error.message, new RegExp(`${method} ${route.replaceAll('/', '\\/')}.*POST \\/v1\\/embeddings`));
  }
});

test('the official OpenAI client lists and retrieves models and embeds texts (its default base64)', async () => {
  const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: ADMIN_KEY, maxRetries: 0 });
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.deepEqual(models, ['clip-tiny-random']);
  assert.equal((await client.models.retrieve('clip-tiny-random')).id, 'clip-tiny-random');
  await assert.rejects(client.models.retrieve('no-such-model'), (error: unknown) => {
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
    return true;
  });

  const texts = ['a photo of a cat', 'a photo of a dog'];
  const answer = await client.embeddings.create({ model: 'clip-tiny-random', input: texts });
  const graphql = await app.graphql('query($t: [String!]!) { embedTexts(texts: $t) }', { t: texts });
  assert.equal(answer.data.length, 2);
  for (const [i, item] of answer.data.entries()) {
    assert.equal(item.index, i);
    const expected: number[] = graphql.data.embedTexts[i];
    assert.equal(item.embedding.length, expected.length);
    assert.ok(
      item.embedding.every((v, d) => Math.abs(v - expected[d]) < 1e-6),
      `text ${i}: the client's decoded vector is GraphQL's`,
    );
  }
  assert.ok(answer.usage.prompt_tokens > 0);

  const denied = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'not-a-key', maxRetries: 0 });
  await assert.rejects(denied.embeddings.create({ model: 'clip-tiny-random', input: 'x' }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
    return true;
  });
});
