import { WharfError } from '../errors/wharf-error.js';
import { parseDigest, type Digest } from './digest.js';

/**
 * Repository names and tags, with the grammar of the OCI distribution-spec ("Pulling manifests").
 * Names are limited to 255 characters, the limit clients impose on host + "/" + name.
 */
export type RepoName = string & { readonly __brand: 'RepoName' };
export type Tag = string & { readonly __brand: 'Tag' };

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function parseRepoName(input: unknown): RepoName {
  if (typeof input !== 'string' || input.length === 0) {
    throw new WharfError('NAME_INVALID', 'repository name is missing');
  }
  if (input.length > MAX_NAME_LENGTH) {
    throw new WharfError('NAME_INVALID', `repository name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_RE.test(input)) {
    throw new WharfError(
      'NAME_INVALID',
      `repository name ${JSON.stringify(input.slice(0, 80))} is invalid: use lower-case components of [a-z0-9] joined by . _ __ - and /`,
    );
  }
  return input as RepoName;
}

export function parseTag(input: unknown): Tag {
  if (typeof input !== 'string' || !TAG_RE.test(input)) {
    throw new WharfError(
      'TAG_INVALID',
      `tag ${JSON.stringify(String(input).slice(0, 80))} is invalid: up to 128 of [a-zA-Z0-9_.-], not starting with . or -`,
    );
  }
  return input as Tag;
}

/** A manifest reference: either a tag or a digest. */
export type Reference = { kind: 'tag'; tag: Tag } | { kind: 'digest'; digest: Digest };

export function parseReference(input: string): Reference {
  if (input.includes(':')) return { kind: 'digest', digest: parseDigest(input) };
  return { kind: 'tag', tag: parseTag(input) };
}

export function referenceToString(ref: Reference): string {
  return ref.kind === 'tag' ? ref.tag : ref.digest;
}
