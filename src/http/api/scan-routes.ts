import { Type } from '@sinclair/typebox';
import type { Readable } from 'node:stream';
import type { ScanService } from '../../features/scan/scan-service.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { Platform, Reference, imageTarget, pull, strict } from './route-schemas.js';

/**
 * Vulnerability scanning and SBOMs (features/scan). Reading a report or an SBOM needs pull on the
 * repository; running a scan too (it reads only what the caller may pull and writes only data
 * derived from it); attaching an SBOM to the image pushes an artifact, so it needs push; the
 * vulnerability data is the registry's, so importing it needs an admin.
 */
const Format = Type.Union([Type.Literal('spdx'), Type.Literal('cyclonedx')]);

/** the most an import request may send (OSV's largest per-ecosystem archives are a few hundred MB) */
export const VULNDB_IMPORT_MAX_BYTES = 2 * 1024 ** 3;

function scanOf(options: ApiContext['options']): ScanService {
  if (!options.scan) throw new WharfError('UNAVAILABLE', 'vulnerability scanning is not enabled on this instance');
  return options.scan;
}

export const SCAN_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.scan.run',
    method: 'POST',
    url: '/api/v1/scans/*',
    summary: 'Scan an image (tag or digest): inventory its layers (once per image digest) and match the vulnerability data; answers the report',
    access: pull,
    body: strict({ reference: Reference, force: Type.Optional(Type.Boolean()), platform: Type.Optional(Platform) }),
    audit: 'scan.run',
    handle: async (ctx) => {
      const { repository, ref } = imageTarget(ctx.params, ctx.body.reference);
      return scanOf(ctx.options).scan(repository, ref, { force: ctx.body.force, platform: ctx.body.platform });
    },
  },
  {
    id: 'api.scan.get',
    method: 'GET',
    url: '/api/v1/scans/*',
    summary: "An image's last scan report: findings (id, aliases, package, installed and fixed version, severity, layer), counts per severity, OS, CUDA stack",
    access: pull,
    query: strict({ reference: Reference, platform: Type.Optional(Platform) }),
    handle: async (ctx) => {
      const { repository, ref } = imageTarget(ctx.params, ctx.query.reference);
      return scanOf(ctx.options).report(repository, ref, ctx.query.platform);
    },
  },
  {
    id: 'api.sbom.get',
    method: 'GET',
    url: '/api/v1/sbom/*',
    summary: 'The SBOM of an image as SPDX 2.3 or CycloneDX 1.6 JSON (scans it first when it has no inventory)',
    access: pull,
    query: strict({ reference: Reference, format: Type.Optional(Format), platform: Type.Optional(Platform) }),
    handle: async (ctx) => {
      const { repository, ref } = imageTarget(ctx.params, ctx.query.reference);
      const sbom = await scanOf(ctx.options).sbom(repository, ref, ctx.query.format ?? 'spdx', ctx.query.platform);
      ctx.reply.header('content-type', sbom.mediaType);
      return JSON.stringify(sbom.document, null, 2);
    },
  },
  {
    id: 'api.sbom.attach',
    method: 'POST',
    url: '/api/v1/sbom/*',
    summary: 'Attach the SBOM to the image as an OCI artifact whose subject is the image (listed by the referrers API)',
    access: (p) => [{ kind: 'repository', name: p['*'] ?? '', actions: ['pull', 'push'] }],
    body: strict({ reference: Reference, format: Type.Optional(Format), platform: Type.Optional(Platform) }),
    status: 201,
    audit: 'sbom.attach',
    handle: async (ctx) => {
      const { repository, ref } = imageTarget(ctx.params, ctx.body.reference);
      return scanOf(ctx.options).attachSbom(repository, ref, ctx.body.format ?? 'spdx', ctx.body.platform);
    },
  },
  {
    id: 'api.vulndb.status',
    method: 'GET',
    url: '/api/v1/vulndb',
    summary: 'The vulnerability database: advisory count and the latest imports (source, when, newest record)',
    access: () => [{ kind: 'authenticated' }],
    handle: async (ctx) => scanOf(ctx.options).vulndbStatus(),
  },
  {
    id: 'api.vulndb.import',
    method: 'POST',
    url: '/api/v1/vulndb/imports',
    summary: 'Import OSV records: an OSV zip archive (application/zip) or one record per line (application/x-ndjson); stored inventories are re-matched',
    access: () => [{ kind: 'registry', action: 'admin' }],
    query: strict({ source: Type.String({ minLength: 1, maxLength: 200 }) }),
    rawBody: { contentTypes: ['application/zip', 'application/x-ndjson'], maxBytes: VULNDB_IMPORT_MAX_BYTES },
    status: 201,
    audit: 'vulndb.import',
    handle: async (ctx) => {
      const type = (ctx.request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      return scanOf(ctx.options).importOsvStream(ctx.query.source, type === 'application/zip' ? 'zip' : 'ndjson', ctx.body as Readable, VULNDB_IMPORT_MAX_BYTES);
    },
  },
];
