/**
 * The README's workflow block is what a new user pastes into GraphiQL: it must be one document of
 * named operations, each valid against schema.graphql, with the variables the text above it names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSchema, Kind, parse, validate, type OperationDefinitionNode } from 'graphql';

const readme = readFileSync('README.md', 'utf8');
const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));

function workflowBlock(): string {
  const section = readme.slice(readme.indexOf('## Workflow'));
  return /```graphql\n([\s\S]*?)```/.exec(section)![1];
}

test("the README's workflow is one document of uniquely named operations, valid against the schema", () => {
  const document = parse(workflowBlock());
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  assert.ok(operations.length >= 15, `${operations.length} operations`);
  const names = operations.map((o) => o.name?.value);
  assert.deepEqual(
    names.filter((n) => n === undefined),
    [],
    'every operation is named',
  );
  // validate() also refuses two operations of one name and an anonymous one beside named ones
  assert.deepEqual(
    validate(schema, document).map((e) => e.message),
    [],
  );
  const variables = new Set(operations.flatMap((o) => o.variableDefinitions?.map((v) => v.variable.name.value) ?? []));
  const intro = readme.slice(
    readme.indexOf('## Workflow'),
    readme.indexOf('```graphql', readme.indexOf('## Workflow')),
  );
  for (const name of variables) assert.match(intro, new RegExp(`\`\\$${name}\``), `$${name} is explained`);
});
