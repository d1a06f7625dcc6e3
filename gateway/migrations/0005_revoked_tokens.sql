-- gateway migration 5: tokens signed out of before they expire ("Logga ut"). Released migrations
-- are never edited.
--
-- A web session is the identity provider's token in a cookie; signing out must end it on every
-- gateway, not only forget the cookie in one browser (a copied cookie would go on working until
-- the token expires). Each gateway refuses the tokens listed here and reads new rows every second.
-- `token_sha256`: the SHA-256 of the whole token, never the token itself; `expires_at`: the
-- token's own `exp`, after which the row serves no purpose and is deleted.
CREATE TABLE revoked_tokens (
    token_sha256 bytea       PRIMARY KEY CHECK (length(token_sha256) = 32),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz NOT NULL DEFAULT statement_timestamp()
);

-- Each gateway reads the rows of the last seconds.
CREATE INDEX revoked_tokens_revoked_at_idx ON revoked_tokens (revoked_at);

REVOKE ALL ON revoked_tokens FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON revoked_tokens TO samplan_app;
