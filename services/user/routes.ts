/** HTTP routes of the user service (`/v1/users`). */
import { Type } from '@sinclair/typebox';
import type { RequestContext, RouteTarget } from '../kit/index.ts';
import type { AccessClaims } from './auth-port.ts';
import { isRole, ROLES, type Role } from './domain/profile.ts';
import { UserErrors } from './errors.ts';
import type { UserStore } from './store.ts';

export interface UserRouteDeps {
  users: UserStore;
  /** Verifies the request's bearer token (provided by the auth service's verifier). */
  authenticate: (ctx: RequestContext) => Promise<AccessClaims>;
  /** Erases the user everywhere personal data or credentials live (user rows and auth credentials). */
  erase: (userId: string) => Promise<void>;
}

const ProfileSchema = Type.Object({
  id: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  displayName: Type.Union([Type.String(), Type.Null()]),
  preferences: Type.Record(Type.String(), Type.Unknown()),
  roles: Type.Array(Type.String()),
  status: Type.String(),
  createdAt: Type.String(),
});

const PatchSchema = Type.Object(
  {
    displayName: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 80 }), Type.Null()])),
    phone: Type.Optional(Type.Union([Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$' }), Type.Null()])),
    preferences: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 64 }),
        Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]),
        {
          maxProperties: 50,
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const RolesSchema = Type.Object(
  {
    roles: Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), {
      minItems: 1,
      maxItems: 4,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);

export function registerUserRoutes(server: RouteTarget, deps: UserRouteDeps): void {
  const tags = ['users'];
  server.route(
    'GET',
    '/v1/users/me',
    async (ctx) => {
      const { userId } = await deps.authenticate(ctx);
      return { body: await deps.users.get(userId) };
    },
    { auth: true, tags, summary: 'The caller profile', response: { 200: ProfileSchema } },
  );
  server.route(
    'PATCH',
    '/v1/users/me',
    async (ctx) => {
      const { userId } = await deps.authenticate(ctx);
      return { body: await deps.users.update(userId, ctx.body) };
    },
    {
      auth: true,
      tags,
      summary: 'Update profile and preferences',
      body: PatchSchema,
      response: { 200: ProfileSchema },
    },
  );
  server.route(
    'DELETE',
    '/v1/users/me',
    async (ctx) => {
      const { userId } = await deps.authenticate(ctx);
      await deps.erase(userId);
      return { status: 204 };
    },
    { auth: true, tags, summary: 'Erase my personal data (GDPR); the account stops working' },
  );
  server.route(
    'PUT',
    '/v1/users/:id/roles',
    async (ctx) => {
      const caller = await deps.authenticate(ctx);
      if (!caller.roles.includes('admin')) throw UserErrors.FORBIDDEN('Only an admin changes roles');
      const roles = ctx.body.roles.filter(isRole) as Role[];
      return { body: await deps.users.setRoles(ctx.params.id!, roles) };
    },
    {
      auth: true,
      tags,
      summary: 'Set a user roles (admin only)',
      params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) }),
      body: RolesSchema,
      response: { 200: ProfileSchema },
    },
  );
}
