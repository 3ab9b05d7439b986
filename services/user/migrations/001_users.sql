-- Users: personal data only as AES-GCM ciphertext; lookups by email through a keyed hash.
CREATE TABLE users (
  id uuid PRIMARY KEY,
  email_index text UNIQUE,
  email_enc text,
  phone_enc text,
  display_name text,
  preferences jsonb NOT NULL DEFAULT '{}'::jsonb,
  roles text[] NOT NULL DEFAULT ARRAY['buyer'],
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'erased')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  erased_at timestamptz,
  CHECK (roles <@ ARRAY['buyer', 'seller', 'operator', 'admin'])
);
