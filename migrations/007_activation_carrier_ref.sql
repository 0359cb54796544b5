-- The key an activation's line carries at the carrier (its external reference, and part of the
-- line's idempotency key). Random, so it never repeats for another activation: not after the
-- database is re-created, not on a second environment sharing the carrier account. Retries and
-- resumes of one activation use the same key, so they find its line instead of making another.
ALTER TABLE activations ADD COLUMN carrier_ref uuid NOT NULL DEFAULT gen_random_uuid();
