-- A frozen adaptive memory keeps the policy it was frozen under (maxSize, maxFraction,
-- maxCallerShare), so a restart with other NEGLABEL_MEMORY_* settings cannot change its members.
-- Memories frozen before this column existed take the running service's policy, as they did.
ALTER TABLE "taxonomies" ADD COLUMN "memory_frozen_policy" JSONB;
