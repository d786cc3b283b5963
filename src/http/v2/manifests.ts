import { parseRepoName, parseReference, type Reference } from '../../domain/names.js';
import { WharfError, isWharfError } from '../../errors/wharf-error.js';
import { readBodyLimited } from '../body.js';
import type { V2Context } from './route-table.js';

/**
 * The reference of a read (GET, HEAD). One that is neither a valid tag nor a valid digest cannot
 * name a manifest, so it is simply not there: 404 MANIFEST_UNKNOWN, as the OCI conformance suite
 * expects of `/v2/<name>/manifests/.INVALID_MANIFEST_NAME`. Writes keep TAG_INVALID / DIGEST_INVALID.
 */
function readReference(input: string): Reference {
  try {
    return parseReference(input);
  } catch (err) {
    if (isWharfError(err, 'TAG_INVALID') || isWharfError(err, 'DIGEST_INVALID')) {
      throw new WharfError('MANIFEST_UNKNOWN', `manifest ${JSON.stringify(input.slice(0, 80))} is not a valid tag or digest, so no manifest has it`);
    }
    throw err;
  }
}

export async function getManifest(ctx: V2Context, head: boolean): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const ref = readReference(ctx.params[1]!);
  const m = await ctx.options.registry.getManifest(name, ref);
  ctx.reply
    .code(200)
    .header('content-type', m.mediaType)
    .header('docker-content-digest', m.digest)
    .header('etag', `"${m.digest}"`)
    .header('content-length', m.size);
  if (head) {
    await ctx.reply.send();
    return;
  }
  ctx.options.registry.notePulled(name, m.digest, m.size);
  await ctx.reply.send(m.content);
}

export async function putManifest(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const ref = parseReference(ctx.params[1]!);
  const limit = ctx.options.manifestBodyLimit;
  const body = await readBodyLimited(ctx.request, limit, () => {
    throw new WharfError('MANIFEST_INVALID', `manifest is larger than ${limit} bytes`);
  });
  const result = await ctx.options.registry.putManifest(name, ref, body, ctx.request.headers['content-type']);
  ctx.reply
    .code(201)
    .header('location', `${ctx.options.locationPrefix ?? ''}/v2/${name}/manifests/${result.digest}`)
    .header('docker-content-digest', result.digest)
    .header('content-length', 0);
  if (result.subject) ctx.reply.header('oci-subject', result.subject);
  await ctx.reply.send();
}

export async function deleteManifest(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const ref = parseReference(ctx.params[1]!);
  await ctx.options.registry.deleteManifest(name, ref);
  await ctx.reply.code(202).header('content-length', 0).send();
}
