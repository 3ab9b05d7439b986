-- Catalog products. PostgreSQL stands in for a search engine here: the attributes are a JSONB
-- document, `search` is a weighted full-text vector (title A, brand B, description C) and titles
-- carry trigram and prefix indexes for autocomplete. Only services/catalog/store.ts touches this.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE catalog_products (
  sku text PRIMARY KEY CHECK (sku ~ '^[A-Z0-9-]{3,40}$'),
  title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 5000),
  brand text NOT NULL DEFAULT '' CHECK (char_length(brand) <= 80),
  category text NOT NULL CHECK (category ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  price_minor bigint NOT NULL CHECK (price_minor >= 0 AND price_minor <= 9007199254740991),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(attributes) = 'object' AND octet_length(attributes::text) <= 16384),
  active boolean NOT NULL DEFAULT true,
  -- The user who created it (a seller replaces only their own products); NULL for seeded products.
  owner_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
      || setweight(to_tsvector('english', brand), 'B')
      || setweight(to_tsvector('english', description), 'C')
  ) STORED
);

CREATE INDEX catalog_products_search ON catalog_products USING gin (search);
CREATE INDEX catalog_products_title_trgm ON catalog_products USING gin (title gin_trgm_ops);
-- Left-anchored prefixes of any length (trigrams need three characters to be selective).
CREATE INDEX catalog_products_title_prefix ON catalog_products (lower(title) text_pattern_ops) WHERE active;
CREATE INDEX catalog_products_category ON catalog_products (category, sku) WHERE active;

-- Autocomplete in one round trip: titles starting with the prefix (btree), then titles holding a
-- word close to it (GIN trigram, `<%`). The function's own threshold (the default 0.6 misses a
-- single typo in an eight-letter word) applies to this call only. The prefix test is a byte-wise
-- range rather than LIKE: a function's statements are planned with unknown parameters, and only a
-- range keeps the btree index usable then. Fuzzy candidates are capped at 200 so a common word
-- (thousands of near matches) costs a bounded time, and are not looked for at all when the prefix
-- already fills the list.
CREATE FUNCTION catalog_suggest(prefix text, fuzzy boolean, max_rows int)
RETURNS TABLE (sku text, title text)
LANGUAGE sql STABLE
SET pg_trgm.word_similarity_threshold = 0.4
AS $$
  WITH by_prefix AS MATERIALIZED (
    SELECT p.sku, p.title, 0 AS tier, 1::real AS score FROM catalog_products p
    WHERE p.active AND lower(p.title) ~>=~ lower($1) AND lower(p.title) ~<~ (lower($1) || chr(1114111))
    ORDER BY lower(p.title) USING ~<~ LIMIT $3
  ), by_trigram AS (
    SELECT c.sku, c.title, 1 AS tier, word_similarity($1, c.title) AS score FROM (
      SELECT p.sku, p.title FROM catalog_products p
      WHERE $2 AND (SELECT count(*) FROM by_prefix) < $3 AND p.active AND $1 <% p.title LIMIT 200
    ) c
    ORDER BY score DESC, c.title LIMIT $3
  )
  SELECT s.sku, s.title FROM (SELECT * FROM by_prefix UNION ALL SELECT * FROM by_trigram) s
  GROUP BY s.sku, s.title ORDER BY min(s.tier), max(s.score) DESC, s.title LIMIT $3
$$;
