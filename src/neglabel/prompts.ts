/** Prompt templates: `{}` stands for the label, as in the NegLabel reference. */

export const DEFAULT_ID_PROMPT = 'the nice {}';
export const DEFAULT_ADJECTIVE_PROMPT = 'This is a {} photo';

/** Null when the template is usable, else what is wrong with it. */
export function promptTemplateProblem(template: string): string | null {
  const count = template.split('{}').length - 1;
  if (count !== 1)
    return (
      `a prompt template must contain "{}" exactly once, e.g. "${DEFAULT_ID_PROMPT}"; got ` +
      `${JSON.stringify(template)}`
    );
  return null;
}

export function applyPrompt(template: string, label: string): string {
  // a function replacer: a label such as "$&" must not be read as a replacement pattern
  return template.replace('{}', () => label);
}

/**
 * A template ensemble's embedding: the mean of the L2-normalized embeddings of one label under
 * each template, renormalized (as CLIP's zero-shot ensembles do).
 */
export function ensembleEmbedding(embeddings: readonly Float32Array[]): Float32Array {
  const dim = embeddings[0].length;
  const mean = new Float32Array(dim);
  for (const e of embeddings) for (let d = 0; d < dim; d++) mean[d] += e[d];
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += mean[d] * mean[d];
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let d = 0; d < dim; d++) mean[d] *= scale;
  return mean;
}
