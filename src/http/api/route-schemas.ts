import { Type, type TSchema } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import { parseReference, parseRepoName, type Reference as ParsedReference, type RepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';

/**
 * Schema pieces and access rules that many /api/v1 route modules share, declared once: a closed
 * object (unknown fields are errors), an image reference, a platform, and "pull on the repository
 * named by the wildcard".
 */
export const strict = <T extends Record<string, TSchema>>(props: T) => Type.Object(props, { additionalProperties: false });
export const Reference = Type.String({ minLength: 1, maxLength: 200 });
export const Platform = Type.String({ pattern: '^[a-z0-9_-]+/[a-z0-9_-]+(/[a-z0-9_.-]+)?$', maxLength: 100 });
export const pull = (p: Record<string, string>): Access[] => [{ kind: 'repository', name: p['*'] ?? '', actions: ['pull'] }];

/** The repository of the wildcard and a tag or digest; BODY_INVALID when the reference is missing. */
export function imageTarget(params: Record<string, string>, reference: string | undefined): { repository: RepoName; ref: ParsedReference } {
  if (reference === undefined) throw new WharfError('BODY_INVALID', 'reference (a tag or digest) is required');
  return { repository: parseRepoName(params['*']), ref: parseReference(reference) };
}
