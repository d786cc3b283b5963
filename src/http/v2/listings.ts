import { parseDigest } from '../../domain/digest.js';
import { isMediaTypeString } from '../../domain/media-types.js';
import { parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { Page, PageRequest } from '../../storage/metadata/metadata-store.js';
import type { V2Context } from './route-table.js';

/** `n` and `last` per the distribution spec; n absent means "as many as the server allows". */
function pageRequest(ctx: V2Context): PageRequest | 'empty' {
  const { maxPageSize } = ctx.options.pagination;
  const n = ctx.query.get('n');
  const last = ctx.query.get('last');
  let limit = maxPageSize;
  if (n !== null) {
    if (!/^\d+$/.test(n)) throw new WharfError('PAGINATION_INVALID', `n=${JSON.stringify(n.slice(0, 20))} is not a number`);
    // any larger n is clamped, however many digits it has (Number() of a long one is just big)
    limit = Math.min(Number(n), maxPageSize);
    if (limit === 0) return 'empty';
  }
  if (last !== null && last.length > 256) throw new WharfError('PAGINATION_INVALID', 'last is too long');
  return { limit, after: last ?? undefined };
}

function linkHeader(path: string, page: Page<string>, limit: number): string | undefined {
  if (!page.more || page.items.length === 0) return undefined;
  const last = page.items[page.items.length - 1]!;
  return `<${path}?n=${limit}&last=${encodeURIComponent(last)}>; rel="next"`;
}

export async function listTags(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const req = pageRequest(ctx);
  // n=0 still answers 404 for an unknown repository, so it goes to the store too
  const page = await ctx.options.registry.listTags(name, req === 'empty' ? { limit: 0 } : req);
  const link = req === 'empty' ? undefined : linkHeader(`/v2/${name}/tags/list`, page, req.limit);
  if (link) ctx.reply.header('link', link);
  await ctx.reply.code(200).header('content-type', 'application/json').send({ name, tags: page.items });
}

export async function catalog(ctx: V2Context): Promise<void> {
  const req = pageRequest(ctx);
  const page = req === 'empty' ? { items: [], more: false } : await visibleCatalogPage(ctx, req);
  const link = req === 'empty' ? undefined : linkHeader('/v2/_catalog', page, req.limit);
  if (link) ctx.reply.header('link', link);
  await ctx.reply.code(200).header('content-type', 'application/json').send({ repositories: page.items });
}

/**
 * A catalog page holding only repositories the caller may pull: pages of the store are read and
 * filtered until `limit` visible names are found or the store has no more.
 */
async function visibleCatalogPage(ctx: V2Context, req: PageRequest): Promise<Page<string>> {
  const items: string[] = [];
  let after = req.after;
  for (;;) {
    const need = req.limit - items.length;
    const page = await ctx.options.registry.catalog({ limit: Math.max(need, Math.min(req.limit, 500)), after });
    const visible = await ctx.options.gate.visible(ctx.request.principal, page.items);
    items.push(...visible.slice(0, need));
    if (visible.length > need) return { items, more: true };
    if (!page.more) return { items, more: false };
    if (items.length === req.limit) return { items, more: true };
    after = page.items[page.items.length - 1];
  }
}

export async function referrers(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const subject = parseDigest(ctx.params[1]);
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  if (artifactType !== undefined && !isMediaTypeString(artifactType)) {
    throw new WharfError('UNSUPPORTED', `artifactType ${JSON.stringify(String(artifactType).slice(0, 80))} is not a media type`);
  }
  const { index, filtersApplied } = await ctx.options.registry.referrers(name, subject, artifactType);
  if (filtersApplied.length > 0) ctx.reply.header('oci-filters-applied', filtersApplied.join(','));
  // a Buffer, not a string: Fastify would append "; charset=utf-8" to a string's Content-Type, and
  // the spec (and strict clients) want exactly the index media type
  await ctx.reply.code(200).header('content-type', index.mediaType).send(Buffer.from(JSON.stringify(index)));
}
