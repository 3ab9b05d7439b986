/** Settings of the catalog service, validated at start. */
import { Type } from '@sinclair/typebox';
import { loadEnvConfig, Port } from '../kit/index.ts';

export const CatalogEnv = Type.Object({
  TITAN_CATALOG_PORT: Port(8103),
  TITAN_DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  TITAN_AUTH_JWKS_URL: Type.String({ default: 'http://127.0.0.1:8101/v1/auth/jwks' }),
  TITAN_AUTH_ISSUER: Type.String({ default: 'titan-auth' }),
  TITAN_AUTH_AUDIENCE: Type.String({ default: 'titan' }),
});

export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
export const loadCatalogConfig = (env: NodeJS.ProcessEnv = process.env) => loadEnvConfig(CatalogEnv, env);
