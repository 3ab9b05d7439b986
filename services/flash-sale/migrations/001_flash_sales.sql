-- Flash-sale definitions. Stock, reservations and sales live in the cells' Redis; this is the control plane.
CREATE TABLE flash_sales (
  id text PRIMARY KEY,
  sku text NOT NULL,
  title text NOT NULL,
  price_minor bigint NOT NULL CHECK (price_minor >= 0),
  currency char(3) NOT NULL,
  stock integer NOT NULL CHECK (stock > 0),
  per_user_limit integer NOT NULL CHECK (per_user_limit > 0),
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  pow_difficulty integer NOT NULL DEFAULT 0 CHECK (pow_difficulty BETWEEN 0 AND 24),
  reservation_ttl_ms integer NOT NULL DEFAULT 600000,
  paused boolean NOT NULL DEFAULT false,
  ended_early_at timestamptz,
  loaded_at timestamptz,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX flash_sales_window ON flash_sales (ends_at, starts_at);

-- Idempotency-Key records of the admin API (create is a POST that must not run twice).
CREATE TABLE flash_sale_requests (
  scope text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  status integer NOT NULL,
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
