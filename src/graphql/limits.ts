/**
 * Query-shape limits, checked at validation (before anything runs): selection depth, aliases and
 * total fields (a cost bound against alias floods and deep nesting). Fragments count where used.
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxFields: number;
  /** root fields that run the encoders: at most one of them per operation */
  heavyFields?: ReadonlySet<string>;
}

/**
 * Depth allowed inside __schema / __type: the standard introspection query (GraphiQL, code
 * generators) nests about 13 deep.
 */
const INTROSPECTION_DEPTH = 16;

export function queryLimitsRule(limits: QueryLimits) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    type Totals = { depth: number; introspectionDepth: number; aliases: number; fields: number; heavy: number };
    const measure = (
      set: SelectionSetNode,
      depth: number,
      seen: Set<string>,
      totals: Totals,
      introspection = false,
    ) => {
      if (introspection) totals.introspectionDepth = Math.max(totals.introspectionDepth, depth);
      else totals.depth = Math.max(totals.depth, depth);
      if (
        totals.fields > limits.maxFields ||
        totals.depth > limits.maxDepth ||
        totals.introspectionDepth > INTROSPECTION_DEPTH
      )
        return; // already over: stop walking
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          totals.fields++;
          if (selection.alias) totals.aliases++;
          if (depth === 1 && limits.heavyFields?.has(selection.name.value)) totals.heavy++;
          const enters =
            introspection ||
            (depth === 1 && (selection.name.value === '__schema' || selection.name.value === '__type'));
          if (selection.selectionSet) measure(selection.selectionSet, depth + 1, seen, totals, enters);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          measure(selection.selectionSet, depth, seen, totals, introspection);
        } else {
          const fragment = fragments.get(selection.name.value);
          if (fragment && !seen.has(fragment.name.value))
            measure(fragment.selectionSet, depth, new Set([...seen, fragment.name.value]), totals, introspection);
        }
      }
    };
    return {
      OperationDefinition(node) {
        const totals: Totals = { depth: 0, introspectionDepth: 0, aliases: 0, fields: 0, heavy: 0 };
        measure(node.selectionSet, 1, new Set(), totals);
        const problems: string[] = [];
        if (totals.depth > limits.maxDepth) problems.push(`depth over ${limits.maxDepth}`);
        if (totals.introspectionDepth > INTROSPECTION_DEPTH)
          problems.push(`introspection depth over ${INTROSPECTION_DEPTH}`);
        if (totals.heavy > 1)
          problems.push(
            `${totals.heavy} encoder operations (${[...(limits.heavyFields ?? [])].join(', ')}: one per request)`,
          );
        if (totals.aliases > limits.maxAliases) problems.push(`${totals.aliases} aliases (limit ${limits.maxAliases})`);
        if (totals.fields > limits.maxFields) problems.push(`over ${limits.maxFields} fields`);
        if (problems.length) {
          context.reportError(
            new GraphQLError(`The query is too large: ${problems.join(', ')}. Split it into smaller requests.`, {
              nodes: [node],
              extensions: { code: 'QUERY_TOO_COMPLEX' },
            }),
          );
        }
      },
    };
  };
}
