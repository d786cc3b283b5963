import { parseRepoName, parseReference, type Reference } from '../../domain/names.js';
import { WharfError, isWharfError } from '../../errors/wharf-error.js';
import { readBodyLimited } from '../body.js';
import type { V2Context } from './route-table.js';
import type { ManifestRecord } from '../../storage/metadata/metadata-store.js';

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
  if (ctx.options.deployPolicy) await enforceDeployPolicy(ctx, name, ref, m);
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

/**
 * Deploy policy at pull (issue 15): when the repository's policy says `enforceAtPull`, an image
 * manifest is served only when the policy passes; else 403 DENIED with the failed rules in the
 * detail, audited. Signatures, attestations and other artifacts (a subject or an artifactType,
 * cosign's `sha256-<hex>.sig|att` tags) are served as usual: verifiers must read them. A
 * principal named in the policy's breakGlassPrincipals is served anyway, and that is audited.
 * A dry-run policy serves and audits what it would have denied.
 */
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

async function enforceDeployPolicy(ctx: V2Context, repository: string, ref: Reference, m: ManifestRecord): Promise<void> {
  // an artifact: a referrer, or a manifest whose artifactType (its config media type when it has none) is not an image's
  if (m.subjectDigest || (m.artifactType && !IMAGE_CONFIG_TYPES.has(m.artifactType))) return;
  const tag = ref.kind === 'tag' ? ref.tag : undefined;
  if (tag !== undefined && /^sha256-[0-9a-f]{64}(\.[a-z]+)?$/.test(tag)) return;
  const principal = ctx.request.principal?.name ?? 'anonymous';
  const d = await ctx.options.deployPolicy!.pullCheck(repository, m.digest, tag, principal);
  if (!d || d.passed) return;
  const failed = d.rules.filter((r) => !r.passed).map((r) => ({ rule: r.rule, message: r.message }));
  const audit = (action: string, result: 'ok' | 'denied', status: number): void =>
    ctx.options.gate.audit(ctx.request, { action, repository, digest: m.digest, result, status, detail: { scope: d.scope, failed } });
  if (d.allowed) {
    audit('deploy-policy.pull-dryrun', 'ok', 200);
    return;
  }
  if (d.breakGlass) {
    audit('deploy-policy.break-glass', 'ok', 200);
    return;
  }
  audit('deploy-policy.pull', 'denied', 403);
  throw new WharfError('DENIED', `deploy policy (${d.scope}) denies ${repository}@${m.digest}: ${failed.map((f) => `${f.rule}: ${f.message}`).join('; ')}`.slice(0, 1000), { scope: d.scope, failed });
}
