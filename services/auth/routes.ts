/** HTTP routes of the auth service (`/v1/auth`). */
import { Type } from '@sinclair/typebox';
import type { RequestContext, RouteTarget } from '../kit/index.ts';
import type { AccessClaims } from '../user/index.ts';
import { UserErrors } from '../user/index.ts';
import type { AuthService } from './service.ts';
import type { SigningKeys } from './signing-keys.ts';

export interface AuthRouteDeps {
  auth: AuthService;
  keys: SigningKeys;
  authenticate: (ctx: RequestContext) => Promise<AccessClaims>;
}

const Credentials = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
const Login = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    totp: Type.Optional(Type.String({ minLength: 6, maxLength: 16 })),
  },
  { additionalProperties: false },
);
const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 20, maxLength: 200 }) },
  { additionalProperties: false },
);
const TotpBody = Type.Object(
  { totp: Type.String({ pattern: '^[0-9]{6}$' }) },
  { additionalProperties: false },
);
const TokenPair = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer(),
  tokenType: Type.Literal('Bearer'),
});

export function registerAuthRoutes(server: RouteTarget, deps: AuthRouteDeps): void {
  const tags = ['auth'];
  server.route(
    'POST',
    '/v1/auth/register',
    async (ctx) => ({
      status: 201,
      body: { userId: await deps.auth.register(ctx.body.email, ctx.body.password) },
    }),
    {
      tags,
      summary: 'Create an account',
      body: Credentials,
      response: { 201: Type.Object({ userId: Type.String() }) },
    },
  );
  server.route(
    'POST',
    '/v1/auth/login',
    async (ctx) => ({
      body: await deps.auth.login({
        email: ctx.body.email,
        password: ctx.body.password,
        totp: ctx.body.totp,
        ip: ctx.ip,
      }),
    }),
    {
      tags,
      summary: 'Log in; returns an access token and a refresh token',
      body: Login,
      response: { 200: TokenPair },
    },
  );
  server.route(
    'POST',
    '/v1/auth/refresh',
    async (ctx) => ({ body: await deps.auth.refresh(ctx.body.refreshToken) }),
    {
      tags,
      summary: 'Rotate a refresh token; reuse of a spent one revokes its family',
      body: RefreshBody,
      response: { 200: TokenPair },
    },
  );
  server.route(
    'POST',
    '/v1/auth/logout',
    async (ctx) => {
      await deps.auth.logout(ctx.body.refreshToken);
      return { status: 204 };
    },
    { tags, summary: 'End the session of a refresh token', body: RefreshBody },
  );
  server.route(
    'POST',
    '/v1/auth/revoke-all',
    async (ctx) => {
      const { userId } = await deps.authenticate(ctx);
      return { body: { revoked: await deps.auth.revokeAll(userId) } };
    },
    { auth: true, tags, summary: 'End every session of the caller' },
  );
  server.route(
    'GET',
    '/v1/auth/jwks',
    async () => ({ headers: { 'cache-control': 'max-age=60' }, body: await deps.keys.jwks() }),
    {
      tags,
      summary: 'Public keys that verify access tokens',
    },
  );
  server.route(
    'POST',
    '/v1/auth/mfa/enroll',
    async (ctx) => {
      const { userId } = await deps.authenticate(ctx);
      return { body: await deps.auth.enrollMfa(userId) };
    },
    { auth: true, tags, summary: 'Start TOTP enrollment: returns the secret and an otpauth URI' },
  );
  server.route(
    'POST',
    '/v1/auth/mfa/confirm',
    async (ctx) => {
      const { userId } = await deps.authenticate(ctx);
      return { body: await deps.auth.confirmMfa(userId, ctx.body.totp) };
    },
    {
      auth: true,
      tags,
      summary: 'Confirm TOTP with a code; returns single-use recovery codes',
      body: TotpBody,
    },
  );
  server.route(
    'POST',
    '/v1/auth/keys/rotate',
    async (ctx) => {
      const caller = await deps.authenticate(ctx);
      if (!caller.roles.includes('admin')) throw UserErrors.FORBIDDEN('Only an admin rotates signing keys');
      return { body: { kid: await deps.keys.rotate() } };
    },
    { auth: true, tags, summary: 'Rotate the token signing key (admin)' },
  );
}
