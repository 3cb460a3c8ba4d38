/**
 * Query-shape limits, checked at validation (before anything runs): selection depth, aliases and
 * total fields (a cost bound against alias floods and deep nesting). Fragments count where used.
 */
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from 'graphql';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxFields: number;
}

export function queryLimitsRule(limits: QueryLimits) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const measure = (set: SelectionSetNode, depth: number, seen: Set<string>, totals: { depth: number; aliases: number; fields: number }) => {
      totals.depth = Math.max(totals.depth, depth);
      if (totals.fields > limits.maxFields || totals.depth > limits.maxDepth) return; // already over: stop walking
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          totals.fields++;
          if (selection.alias) totals.aliases++;
          if (selection.selectionSet) measure(selection.selectionSet, depth + 1, seen, totals);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          measure(selection.selectionSet, depth, seen, totals);
        } else {
          const fragment = fragments.get(selection.name.value);
          if (fragment && !seen.has(fragment.name.value)) measure(fragment.selectionSet, depth, new Set([...seen, fragment.name.value]), totals);
        }
      }
    };
    return {
      OperationDefinition(node) {
        const totals = { depth: 0, aliases: 0, fields: 0 };
        measure(node.selectionSet, 1, new Set(), totals);
        const problems: string[] = [];
        if (totals.depth > limits.maxDepth) problems.push(`depth over ${limits.maxDepth}`);
        if (totals.aliases > limits.maxAliases) problems.push(`${totals.aliases} aliases (limit ${limits.maxAliases})`);
        if (totals.fields > limits.maxFields) problems.push(`over ${limits.maxFields} fields`);
        if (problems.length) {
          context.reportError(new GraphQLError(`The query is too large: ${problems.join(', ')}. Split it into smaller requests.`, { nodes: [node], extensions: { code: 'QUERY_TOO_COMPLEX' } }));
        }
      },
    };
  };
}
