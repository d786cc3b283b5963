import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import type { PypiService } from '../../features/pypi/pypi-service.js';
import type { PypiFileRecord } from '../../features/pypi/sql-pypi-store.js';
import { parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { strict } from './route-schemas.js';

/**
 * Python package repositories (issue 17) in the management API: list a repository's files, yank
 * and un-yank a version (PEP 592: pip skips it unless pinned exactly), delete a project or a
 * version. The repository name has slashes, so it comes last: `/api/v1/pypi/{action}/<repo>`,
 * with the project and version in the query or body.
 */
const Project = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._-]+$' });
const Version = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._+!-]+$' });

function pypiOf(ctx: ApiContext): PypiService {
  if (!ctx.options.pypi) throw new WharfError('UNAVAILABLE', 'Python package repositories are not available on this instance');
  return ctx.options.pypi;
}

/** One file as the API shows it (client/wharf-client.ts PypiFileInfo). */
function view(f: PypiFileRecord) {
  return {
    project: f.project,
    name: f.displayName,
    version: f.version,
    filename: f.filename,
    packagetype: f.packagetype,
    digest: f.digest,
    size: f.size,
    requiresPython: f.requiresPython,
    summary: f.summary,
    yanked: f.yankedReason !== null,
    yankedReason: f.yankedReason,
    uploadedBy: f.uploadedBy,
    uploadedAt: new Date(f.uploadedAt).toISOString(),
  };
}

const on = (actions: ('pull' | 'push' | 'delete')[]) => (p: Record<string, string>): Access[] => [{ kind: 'repository', name: p['*'] ?? '', actions }];
const repo = (ctx: ApiContext): string => parseRepoName(ctx.params['*']);

export const PYPI_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.pypi.files',
    method: 'GET',
    url: '/api/v1/pypi/files/*',
    summary: "A Python package repository's files (or one project's), with versions, hashes, sizes, yanks and uploaders",
    access: on(['pull']),
    query: strict({ project: Type.Optional(Project) }),
    handle: async (ctx) => ({ items: (await pypiOf(ctx).list(repo(ctx), ctx.query.project)).map(view) }),
  },
  {
    id: 'api.pypi.findings',
    method: 'GET',
    url: '/api/v1/pypi/findings/*',
    summary: "Vulnerabilities of a Python package repository's releases (or a project's, or one version's), matched now against the imported OSV PyPI data",
    access: on(['pull']),
    query: strict({ project: Type.Optional(Project), version: Type.Optional(Version) }),
    handle: async (ctx) => pypiOf(ctx).findings(repo(ctx), ctx.query.project, ctx.query.version),
  },
  {
    id: 'api.pypi.yank',
    method: 'POST',
    url: '/api/v1/pypi/yank/*',
    summary: 'Yank every file of a version (PEP 592; pip ignores it unless pinned with ==), with a reason; yanked: false un-yanks',
    access: on(['push']),
    body: strict({ project: Project, version: Version, yanked: Type.Optional(Type.Boolean()), reason: Type.Optional(Type.String({ maxLength: 1024 })) }),
    audit: 'pypi.yank',
    handle: async (ctx) => {
      const { project, version, reason } = ctx.body as { project: string; version: string; yanked?: boolean; reason?: string };
      const yank = (ctx.body as { yanked?: boolean }).yanked !== false;
      if (!yank && reason !== undefined) throw new WharfError('BODY_INVALID', 'a reason goes with a yank, not an un-yank');
      return pypiOf(ctx).setYanked(repo(ctx), project, version, yank ? (reason ?? '') : null);
    },
  },
  {
    id: 'api.pypi.delete',
    method: 'DELETE',
    url: '/api/v1/pypi/files/*',
    summary: 'Delete a project, or one version of it (GC reclaims the bytes); the file names stay usable again',
    access: on(['delete']),
    query: strict({ project: Project, version: Type.Optional(Version) }),
    audit: 'pypi.delete',
    handle: async (ctx) => pypiOf(ctx).delete(repo(ctx), ctx.query.project, ctx.query.version),
  },
];
