-- Optional prompt-template ensembles for ID labels: each label's embedding is the renormalized
-- mean of its embeddings under every template. Empty = the single prompt_template.
ALTER TABLE "taxonomy_versions" ADD COLUMN "prompt_templates" TEXT[] NOT NULL DEFAULT '{}';
