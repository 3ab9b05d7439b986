-- Auth: credentials, refresh-token families, TOTP, recovery codes, signing keys.
CREATE TABLE auth_credentials (
  user_id uuid PRIMARY KEY REFERENCES users (id),
  password_hash text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_refresh_tokens (
  id bigserial PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  family_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family_id);
CREATE INDEX auth_refresh_tokens_user ON auth_refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE auth_mfa (
  user_id uuid PRIMARY KEY REFERENCES users (id),
  secret_enc text NOT NULL,
  confirmed_at timestamptz,
  last_step bigint NOT NULL DEFAULT -1
);

CREATE TABLE auth_recovery_codes (
  user_id uuid NOT NULL REFERENCES users (id),
  code_hash bytea NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE auth_signing_keys (
  kid text PRIMARY KEY,
  private_enc text NOT NULL,
  public_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- A new key is published first and signs only from here on, so every verifier has fetched it
  -- by the time tokens carrying its kid appear.
  activates_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_signing_keys_activation ON auth_signing_keys (activates_at);
