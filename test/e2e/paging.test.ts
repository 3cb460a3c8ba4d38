/** Relay page info on every connection: forward pages say where they start and whether items precede them. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp();
  for (const name of ['paging a', 'paging b', 'paging c']) {
    const created = await app.graphql(
      'mutation($n: String!) { createTaxonomy(input: { name: $n, labels: ["x"] }) { id } }',
      {
        n: name,
      },
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  }
});
after(() => app.close());

const PAGE = 'edges { cursor node { id } } pageInfo { hasNextPage endCursor hasPreviousPage startCursor }';

for (const [field, selection] of [
  ['taxonomies', `query($f: Int!, $a: String) { page: taxonomies(first: $f, after: $a) { ${PAGE} } }`],
  ['auditLog', `query($f: Int!, $a: String) { page: auditLog(first: $f, after: $a) { ${PAGE} } }`],
] as const) {
  test(`${field}: a first page has no previous page, the next has one; start and end cursors frame each`, async () => {
    const read = async (first: number, after: string | null) => {
      const { data, errors } = await app.graphql(selection, { f: first, a: after });
      assert.equal(errors, undefined, JSON.stringify(errors));
      return data.page;
    };
    const first = await read(2, null);
    assert.equal(first.edges.length, 2);
    assert.deepEqual(first.pageInfo, {
      hasNextPage: true,
      endCursor: first.edges[1].cursor,
      hasPreviousPage: false,
      startCursor: first.edges[0].cursor,
    });
    const second = await read(1, first.pageInfo.endCursor);
    assert.equal(second.edges.length, 1);
    assert.equal(second.pageInfo.hasPreviousPage, true);
    assert.equal(second.pageInfo.startCursor, second.edges[0].cursor);
    assert.notEqual(second.edges[0].node.id, first.edges[1].node.id, 'the next page starts after the cursor');
    const empty = await read(0, null);
    assert.deepEqual(empty.pageInfo, { hasNextPage: true, endCursor: null, hasPreviousPage: false, startCursor: null });
  });
}
