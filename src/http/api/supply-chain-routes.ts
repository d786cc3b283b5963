import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import type { DeployPolicyService } from '../../features/deploy-policy/deploy-policy-service.js';
import type { SigningService } from '../../features/signing/signing-service.js';
import { parseReference, parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { Reference, pull, strict } from './route-schemas.js';

/**
 * Supply chain (issue 15): signatures of an image (pull access: they are read from the
 * repository), attestors and deploy policies (the registry's trust decisions: admins), and the
 * policy check of one image (pull on the repository, or authenticated for a foreign image).
 */
const Pem = Type.String({ minLength: 1, maxLength: 16 * 1024 });
const admin = (): Access[] => [{ kind: 'registry', action: 'admin' }];

function signingOf(o: ApiContext['options']): SigningService {
  if (!o.signing) throw new WharfError('UNAVAILABLE', 'signature verification is not enabled on this instance');
  return o.signing;
}
function policyOf(o: ApiContext['options']): DeployPolicyService {
  if (!o.deployPolicy) throw new WharfError('UNAVAILABLE', 'deploy policies are not enabled on this instance');
  return o.deployPolicy;
}

export const SUPPLY_CHAIN_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.signatures.list',
    method: 'GET',
    url: '/api/v1/signatures/*',
    summary: "An image's signatures and attestations (cosign .sig/.att tags, Sigstore bundle and Notation referrers): who signed, with what, and which attestors verify each",
    access: pull,
    query: strict({ reference: Reference }),
    handle: async (ctx) => signingOf(ctx.options).list(parseRepoName(ctx.params['*']), parseReference(ctx.query.reference)),
  },
  {
    id: 'api.signatures.verify',
    method: 'POST',
    url: '/api/v1/verifications/*',
    summary: 'Verify an image against one attestor, an ad-hoc PEM public key, or every attestor; verified is true when one signature verifies',
    access: pull,
    body: strict({ reference: Reference, attestor: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })), publicKey: Type.Optional(Pem) }),
    handle: async (ctx) => {
      if (ctx.body.attestor !== undefined && ctx.body.publicKey !== undefined) throw new WharfError('BODY_INVALID', 'give attestor or publicKey, not both');
      return signingOf(ctx.options).verify(parseRepoName(ctx.params['*']), parseReference(ctx.body.reference), { attestor: ctx.body.attestor, publicKey: ctx.body.publicKey });
    },
  },
  {
    id: 'api.attestors.list',
    method: 'GET',
    url: '/api/v1/attestors',
    summary: 'The attestors (trusted signing identities)',
    access: () => [{ kind: 'authenticated' }],
    handle: async (ctx) => ({ items: await signingOf(ctx.options).listAttestors() }),
  },
  {
    id: 'api.attestors.get',
    method: 'GET',
    url: '/api/v1/attestors/:name',
    summary: 'One attestor',
    access: () => [{ kind: 'authenticated' }],
    handle: async (ctx) => signingOf(ctx.options).getAttestor(ctx.params.name!),
  },
  {
    id: 'api.attestors.put',
    method: 'PUT',
    url: '/api/v1/attestors/:name',
    summary: 'Create or replace an attestor: PEM public keys (ECDSA P-256/P-384, RSA, Ed25519) and/or x509 roots with trusted identities (Notation)',
    access: admin,
    body: strict({
      description: Type.Optional(Type.String({ maxLength: 500 })),
      publicKeys: Type.Optional(Type.Array(Pem, { maxItems: 16 })),
      x509Roots: Type.Optional(Type.Array(Pem, { maxItems: 16 })),
      trustedIdentities: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 32 })),
    }),
    audit: 'attestor.put',
    handle: async (ctx) => (await signingOf(ctx.options).putAttestor(ctx.params.name!, ctx.body, ctx.request.principal.name)).attestor,
  },
  {
    id: 'api.attestors.delete',
    method: 'DELETE',
    url: '/api/v1/attestors/:name',
    summary: 'Delete an attestor (policies that require it then fail)',
    access: admin,
    status: 204,
    audit: 'attestor.delete',
    handle: async (ctx) => signingOf(ctx.options).deleteAttestor(ctx.params.name!),
  },
  {
    id: 'api.deploy-policies.list',
    method: 'GET',
    url: '/api/v1/deploy-policies',
    summary: 'Every deploy policy, by scope',
    access: () => [{ kind: 'authenticated' }],
    handle: async (ctx) => ({ items: await policyOf(ctx.options).list() }),
  },
  {
    id: 'api.deploy-policies.get',
    method: 'GET',
    url: '/api/v1/deploy-policy',
    summary: 'The deploy policy of a scope: "*" (the registry), "team-a/*" (a namespace) or a repository',
    access: () => [{ kind: 'authenticated' }],
    query: strict({ scope: Type.String({ minLength: 1, maxLength: 255 }) }),
    handle: async (ctx) => policyOf(ctx.options).get(ctx.query.scope),
  },
  {
    id: 'api.deploy-policies.put',
    method: 'PUT',
    url: '/api/v1/deploy-policy',
    summary: 'Set the deploy policy of a scope from its YAML (or JSON) text; problems are answered with JSON pointers',
    access: admin,
    query: strict({ scope: Type.String({ minLength: 1, maxLength: 255 }) }),
    body: strict({ policy: Type.String({ minLength: 1, maxLength: 64 * 1024 }) }),
    audit: 'deploy-policy.put',
    handle: async (ctx) => policyOf(ctx.options).put(ctx.query.scope, ctx.body.policy, ctx.request.principal.name),
  },
  {
    id: 'api.deploy-policies.delete',
    method: 'DELETE',
    url: '/api/v1/deploy-policy',
    summary: 'Delete the deploy policy of a scope',
    access: admin,
    query: strict({ scope: Type.String({ minLength: 1, maxLength: 255 }) }),
    status: 204,
    audit: 'deploy-policy.delete',
    handle: async (ctx) => policyOf(ctx.options).delete(ctx.query.scope),
  },
  {
    id: 'api.deploy-policies.check',
    method: 'POST',
    url: '/api/v1/deploy-policy-checks/*',
    summary: "Judge an image of this repository (tag or digest) by its deploy policy, or by a draft policy given inline (nothing stored): every rule's result",
    access: pull,
    body: strict({ reference: Reference, policy: Type.Optional(Type.String({ minLength: 1, maxLength: 64 * 1024 })) }),
    handle: async (ctx) => {
      const repository = parseRepoName(ctx.params['*']);
      const ref = parseReference(ctx.body.reference);
      const image = ref.kind === 'tag' ? `${repository}:${ref.tag}` : `${repository}@${ref.digest}`;
      return policyOf(ctx.options).check(image, { local: true, ...(ctx.body.policy !== undefined ? { policySource: ctx.body.policy } : {}) });
    },
  },
];
