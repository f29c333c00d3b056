-- The name a person gave when signing up directly (/register): kept with the verification
-- link's token, so that it reaches the contact only once the address is proved.
ALTER TABLE account_tokens ADD COLUMN name TEXT;
