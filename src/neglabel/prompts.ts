/** Prompt templates: `{}` stands for the label, as in the NegLabel reference. */

export const DEFAULT_ID_PROMPT = 'the nice {}';
export const DEFAULT_ADJECTIVE_PROMPT = 'This is a {} photo';

/** Null when the template is usable, else what is wrong with it. */
export function promptTemplateProblem(template: string): string | null {
  const count = template.split('{}').length - 1;
  if (count !== 1) return `a prompt template must contain "{}" exactly once, e.g. "${DEFAULT_ID_PROMPT}"; got ${JSON.stringify(template)}`;
  return null;
}

export function applyPrompt(template: string, label: string): string {
  return template.replace('{}', label);
}
