import type { Access, V2Route } from './route-table.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { cancelUpload, deleteBlob, getBlob, getUploadStatus, patchUpload, putUpload, startUpload } from './blobs.js';
import { catalog, listTags, referrers } from './listings.js';

/**
 * Every /v2 route, in match order, with the access it needs. Repository names contain slashes,
 * so the name is the greedy first group and the fixed suffix anchors the match (a repository may
 * even be called `x/blobs/uploads`). The authorization matrix test walks this table.
 */
const NAME = '(.+)';
const repo =
  (...actions: ('pull' | 'push' | 'delete')[]) =>
  (params: string[]): Access[] => [{ kind: 'repository', name: params[0] ?? '', actions }];

export const V2_ROUTES: readonly V2Route[] = [
  { id: 'catalog', method: 'GET', pattern: /^\/v2\/_catalog$/, access: () => [{ kind: 'registry', action: 'catalog' }], handle: catalog },
  { id: 'manifest.get', method: 'GET', pattern: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`), access: repo('pull'), handle: (c) => getManifest(c, false) },
  { id: 'manifest.head', method: 'HEAD', pattern: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`), access: repo('pull'), handle: (c) => getManifest(c, true) },
  { id: 'manifest.put', method: 'PUT', pattern: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`), access: repo('push'), audit: 'manifest.push', handle: putManifest },
  { id: 'manifest.delete', method: 'DELETE', pattern: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`), access: repo('delete'), audit: 'manifest.delete', handle: deleteManifest },
  {
    id: 'upload.start',
    method: 'POST',
    pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/?$`),
    access: repo('pull', 'push'),
    // a mount reads the source: asked for in the challenge, checked by the handler (blobs.ts), and
    // without it the caller gets an upload session, never a 401 and never the blob
    optionalAccess: (_params, query) => {
      const from = query.get('from');
      return query.has('mount') && from !== null ? [{ kind: 'repository', name: from, actions: ['pull'] }] : [];
    },
    audit: 'blob.push',
    handle: startUpload,
  },
  { id: 'upload.status', method: 'GET', pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/([^/]+)$`), access: repo('push'), handle: getUploadStatus },
  { id: 'upload.patch', method: 'PATCH', pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/([^/]+)$`), access: repo('push'), handle: patchUpload },
  { id: 'upload.put', method: 'PUT', pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/([^/]+)$`), access: repo('push'), audit: 'blob.push', handle: putUpload },
  { id: 'upload.cancel', method: 'DELETE', pattern: new RegExp(`^/v2/${NAME}/blobs/uploads/([^/]+)$`), access: repo('push'), handle: cancelUpload },
  { id: 'blob.get', method: 'GET', pattern: new RegExp(`^/v2/${NAME}/blobs/([^/]+)$`), access: repo('pull'), handle: (c) => getBlob(c, false) },
  { id: 'blob.head', method: 'HEAD', pattern: new RegExp(`^/v2/${NAME}/blobs/([^/]+)$`), access: repo('pull'), handle: (c) => getBlob(c, true) },
  { id: 'blob.delete', method: 'DELETE', pattern: new RegExp(`^/v2/${NAME}/blobs/([^/]+)$`), access: repo('delete'), audit: 'blob.delete', handle: deleteBlob },
  { id: 'tags.list', method: 'GET', pattern: new RegExp(`^/v2/${NAME}/tags/list$`), access: repo('pull'), handle: listTags },
  { id: 'referrers', method: 'GET', pattern: new RegExp(`^/v2/${NAME}/referrers/([^/]+)$`), access: repo('pull'), handle: referrers },
];

export interface RouteMatch {
  route: V2Route;
  params: string[];
}

/** Finds the route for a path; `allowed` lists the methods the path supports when none matches the method. */
export function matchV2Route(method: string, path: string): RouteMatch | { allowed: string[] } | undefined {
  const allowed: string[] = [];
  for (const route of V2_ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method === method) return { route, params: m.slice(1) };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}
