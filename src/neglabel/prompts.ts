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
 * A template ensemble's embedding: the mean of one label's embeddings under each template,
 * renormalized. Given unit vectors alone, the mean of those (as CLIP's zero-shot ensembles do);
 * given each vector's norm before normalization too, the mean of the raw embeddings (as CSP does),
 * which weighs a template by how strongly the text tower answered it.
 */
export function ensembleEmbedding(embeddings: readonly Float32Array[], rawNorms?: ArrayLike<number>): Float32Array {
  const dim = embeddings[0].length;
  const mean = new Float32Array(dim);
  embeddings.forEach((e, i) => {
    const weight = rawNorms ? rawNorms[i] : 1;
    for (let d = 0; d < dim; d++) mean[d] += weight * e[d];
  });
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += mean[d] * mean[d];
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let d = 0; d < dim; d++) mean[d] *= scale;
  return mean;
}
