-- The bootstrap key is the operator's own secret (NEGLABEL_ADMIN_KEY), often a phrase: its first
-- characters were kept and listed to every admin as its "prefix". They are replaced by the name
-- of the variable, which identifies it as well and gives nothing of the secret away.
UPDATE "api_keys" SET "key_prefix" = 'NEGLABEL_ADMIN_KEY' WHERE "created_by" = 'NEGLABEL_ADMIN_KEY';
