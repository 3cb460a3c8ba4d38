-- CSP mining averages raw text embeddings: the corpus cache keeps each prompt's norm before
-- normalization beside its unit vector (rows cached before this have none and are encoded again
-- when CSP needs them).
ALTER TABLE "corpus_embeddings" ADD COLUMN "norm" REAL;
-- A set mined with its own ID-label embeddings (CSP's template ensemble) scores with them instead of
-- the taxonomy version's: row-major [labels, dim]. Null: the version's embeddings.
ALTER TABLE "negative_label_sets" ADD COLUMN "id_label_embeddings" REAL[];
