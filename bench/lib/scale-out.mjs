// The scale-out backend of the benchmark (--backend scale-out): one S3-compatible server (the
// tests' patched s3rver, in its own process) that both registries store blobs in, each in its
// own bucket, and a scratch PostgreSQL database for Wharf's metadata. Distribution keeps no
// database (its metadata is objects in the bucket), so the comparison is "what each registry
// does on top of the same object store".
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const S3RVER_MAIN = join(ROOT, 'test/support/s3rver-main.mjs');
/** s3rver checks SigV4 signatures made with these fixed keys */
export const S3RVER_KEY = 'S3RVER';
const PG = { host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: process.env.PGUSER ?? 'postgres' };

/** Starts s3rver with the given buckets in `dir`; resolves when it listens. */
export async function startS3(dir, buckets) {
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER_MAIN, dir, ...buckets], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let output = '';
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`s3rver did not start within 20 s:\n${output}`)), 20_000);
    child.stderr.on('data', (d) => (output += d));
    child.stdout.on('data', (d) => {
      output += d;
      const m = /listening (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`s3rver exited (${code}):\n${output}`));
    });
  });
  let exited = child.exitCode !== null;
  child.once('exit', () => (exited = true));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    pid: child.pid,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && !exited; i++) await new Promise((r) => setTimeout(r, 100));
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/** Creates a scratch database; returns its URL and drop(). */
export async function createDatabase() {
  const name = `wharf_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ ...PG, database: 'postgres' });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${PG.host}:${PG.port} (user ${PG.user}) is needed for --backend scale-out: ${err.message}`);
  }
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${PG.user}@${PG.host}:${PG.port}/${name}`,
    async drop() {
      const c = new pg.Client({ ...PG, database: 'postgres' });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Wharf's config file for the scale-out backend (blobs streamed through, no redirects). */
export function wharfScaleOutYaml(s3, bucket, pgUrl) {
  return [
    'storage:',
    '  blob:',
    '    driver: s3',
    '    s3:',
    `      endpoint: ${s3.endpoint}`,
    `      region: ${s3.region}`,
    `      bucket: ${bucket}`,
    '      forcePathStyle: true',
    `      accessKeyId: ${S3RVER_KEY}`,
    '      secretAccessKeyEnv: BENCH_S3_SECRET',
    '  metadata:',
    '    driver: postgres',
    '    postgres:',
    `      url: ${pgUrl}`,
    '',
  ].join('\n');
}

/** Distribution 2.8's storage section for the same S3 server (streamed through: redirect disabled). */
export function distributionS3Storage(s3, bucket) {
  return [
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  s3:',
    `    accesskey: ${S3RVER_KEY}`,
    `    secretkey: ${S3RVER_KEY}`,
    `    region: ${s3.region}`,
    `    regionendpoint: ${s3.endpoint}`,
    `    bucket: ${bucket}`,
    '    secure: false',
    '    v4auth: true',
    '    rootdirectory: /distribution',
    '  redirect:',
    '    disable: true',
    '  delete:',
    '    enabled: true',
  ];
}
