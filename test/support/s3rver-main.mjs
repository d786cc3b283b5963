// A local S3-compatible server for the tests: s3rver (npm), in its own process, on 127.0.0.1.
//
//   node --openssl-legacy-provider test/support/s3rver-main.mjs <directory> <bucket>...
//
// prints "listening <port>" once it serves. s3rver 3.7.1 is a real S3-protocol HTTP server (SigV4,
// path-style, multipart uploads, ranges, ListObjectsV2), but it lacks or gets wrong a few things
// Wharf's S3 blob store relies on. They are completed here, on s3rver's own filesystem store, so
// the store under test talks plain S3 and nothing in src/ knows it is not AWS:
//   - AbortMultipartUpload (DELETE ?uploadId): answered 405 by s3rver;
//   - UploadPartCopy (PUT ?partNumber&uploadId with x-amz-copy-source): answered 501;
//   - ListMultipartUploads (GET /bucket?uploads) and ListParts (GET /bucket/key?uploadId): 501 /
//     not routed by s3rver (Distribution's S3 driver resumes uploads with them; the benchmark's
//     scale-out backend runs Distribution against this server);
//   - ListObjects with delimiter "/" leaves out a common prefix that holds only deeper keys
//     (a/b/c/obj under prefix a/: s3rver prunes a/b/c before it sees obj, so a/b/ is missing),
//     which Distribution's tag listing relies on;
//   - GET with Range "bytes=N-0" style ends of 0 ("bytes=0-0" returned the whole object);
//   - ListObjectsV2 continuation tokens use DES, which needs OpenSSL's legacy provider (hence the
//     flag above; without it every truncated listing is a 500).
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem.js');
const S3Object = require('s3rver/lib/models/object.js');

const [directory, ...buckets] = process.argv.slice(2);
if (!directory || buckets.length === 0) {
  console.error('usage: s3rver-main.mjs <directory> <bucket>...');
  process.exit(2);
}

// s3rver reads `options.end || Infinity`, so a range ending at byte 0 became the whole object.
FilesystemStore.prototype.getObject = async function getObject(bucket, key, options) {
  let metadata;
  try {
    metadata = await this.getMetadata(bucket, key);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  const lastByte = Math.max(0, Number(metadata['content-length']) - 1);
  const ranged = options !== undefined && (options.start !== undefined || options.end !== undefined);
  const range = { start: options?.start ?? 0, end: Math.min(options?.end ?? Infinity, lastByte) };
  if (range.start < 0 || range.end < range.start || (ranged && Number(metadata['content-length']) === 0)) {
    const object = new S3Object(bucket, key, null, metadata);
    if (ranged) object.range = range;
    return object;
  }
  const content = await new Promise((resolve, reject) => {
    const stream = createReadStream(this.getResourcePath(bucket, key, 'object'), range)
      .on('error', reject)
      .on('open', () => resolve(stream));
  });
  const object = new S3Object(bucket, key, content, metadata);
  if (ranged) object.range = range;
  return object;
};

// Common prefixes for delimiter "/": every subdirectory of the prefix's directory whose name
// continues the prefix is one (s3rver removes directories that deleting an object empties).
const listObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function listObjectsWithPrefixes(bucket, options) {
  const result = await listObjects.call(this, bucket, options);
  if (options?.delimiter !== '/') return result;
  const prefix = options.prefix ?? '';
  const startAfter = options.startAfter ?? '';
  const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const dir = join(this.getBucketPath(bucket), ...dirKey.split('/').filter(Boolean));
  const prefixes = new Set(result.commonPrefixes);
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {}
  for (const name of names) {
    if (name.startsWith('._S3rver') || !statSync(join(dir, name)).isDirectory()) continue;
    const common = `${dirKey}${name}/`;
    if (common.startsWith(prefix) && common > startAfter) prefixes.add(common);
  }
  return { ...result, commonPrefixes: [...prefixes].sort() };
};

const xml = (ctx, status, body) => {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
};
const noSuchUpload = (ctx, uploadId) =>
  xml(ctx, 404, `<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${uploadId}</UploadId></Error>`);

const esc = (s) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** ListMultipartUploads: every open upload of the bucket whose key starts with `prefix` (no paging). */
async function listUploads(ctx, bucket) {
  const store = ctx.app.store;
  const root = store.getResourcePath(bucket, undefined, 'uploads');
  const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
  const entries = [];
  for (const id of existsSync(root) ? await readdir(root) : []) {
    let key;
    try {
      key = (await readFile(join(root, id, 'key'))).toString();
    } catch {
      continue; // being created or removed
    }
    if (!key.startsWith(prefix)) continue;
    const initiated = (await stat(join(root, id))).birthtime.toISOString();
    entries.push({ key, id, initiated });
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
  xml(
    ctx,
    200,
    `<ListMultipartUploadsResult><Bucket>${esc(bucket)}</Bucket><Prefix>${esc(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>` +
      entries.map((e) => `<Upload><Key>${esc(e.key)}</Key><UploadId>${e.id}</UploadId><Initiated>${e.initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`).join('') +
      '</ListMultipartUploadsResult>',
  );
}

/** ListParts of one upload (no paging). */
async function listParts(ctx, bucket, key, uploadId, uploadDir) {
  const parts = [];
  for (const name of await readdir(uploadDir)) {
    if (!/^\d+$/.test(name)) continue;
    const st = await stat(join(uploadDir, name));
    const md5 = existsSync(join(uploadDir, `${name}.md5`)) ? (await readFile(join(uploadDir, `${name}.md5`))).toString() : '';
    parts.push({ n: Number(name), size: st.size, md5, at: st.mtime.toISOString() });
  }
  parts.sort((a, b) => a.n - b.n);
  xml(
    ctx,
    200,
    `<ListPartsResult><Bucket>${esc(bucket)}</Bucket><Key>${esc(key)}</Key><UploadId>${uploadId}</UploadId><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>` +
      parts.map((p) => `<Part><PartNumber>${p.n}</PartNumber><LastModified>${p.at}</LastModified><ETag>"${p.md5}"</ETag><Size>${p.size}</Size></Part>`).join('') +
      '</ListPartsResult>',
  );
}

/** The multipart operations s3rver lacks, on its own store. Runs before s3rver's routes. */
async function multipartCompletion(ctx, next) {
  const bucketOnly = /^\/([^/]+)\/?$/.exec(ctx.path);
  if (bucketOnly && ctx.method === 'GET' && ctx.query.uploads !== undefined) return listUploads(ctx, bucketOnly[1]);
  const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
  const uploadId = ctx.query.uploadId;
  if (!match || typeof uploadId !== 'string' || !/^[0-9a-f]+$/.test(uploadId)) return next();
  const [, bucket] = match;
  const store = ctx.app.store;
  const uploadDir = join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);

  if (ctx.method === 'GET') {
    if (!existsSync(uploadDir)) return noSuchUpload(ctx, uploadId);
    return listParts(ctx, bucket, decodeURIComponent(match[2]), uploadId, uploadDir);
  }

  if (ctx.method === 'DELETE') {
    if (!existsSync(uploadDir)) return noSuchUpload(ctx, uploadId);
    await rm(uploadDir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }

  const copySource = ctx.get('x-amz-copy-source');
  if (ctx.method === 'PUT' && copySource) {
    if (!existsSync(uploadDir)) return noSuchUpload(ctx, uploadId);
    const source = decodeURIComponent(copySource.replace(/^\//, '').split('?')[0]);
    const slash = source.indexOf('/');
    const [srcBucket, srcKey] = [source.slice(0, slash), source.slice(slash + 1)];
    const rangeHeader = ctx.get('x-amz-copy-source-range');
    let options;
    if (rangeHeader) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader);
      if (!m) return xml(ctx, 400, '<Error><Code>InvalidArgument</Code><Message>bad x-amz-copy-source-range</Message></Error>');
      options = { start: Number(m[1]), end: Number(m[2]) };
    }
    const object = await store.getObject(srcBucket, srcKey, options);
    if (!object) return xml(ctx, 404, '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
    if (!object.content || (options && options.end >= object.size)) {
      return xml(ctx, 416, '<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message></Error>');
    }
    const { md5 } = await store.putPart(bucket, uploadId, Number(ctx.query.partNumber), object.content);
    return xml(
      ctx,
      200,
      `<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`,
    );
  }
  return next();
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
server.middleware.unshift(multipartCompletion);
const { port } = await server.run();
process.stdout.write(`listening ${port}\n`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
