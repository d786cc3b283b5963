/**
 * A real S3-protocol server for the tests, started by the tests themselves: s3rver (npm) in a
 * child process on 127.0.0.1 and a free port, with a fresh directory and bucket (see
 * s3rver-main.mjs for what it completes of the S3 API). Stopped by stop(), or killed when the
 * test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 's3rver-main.mjs');
/** s3rver's fixed credentials (it checks SigV4 signatures made with them) */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of LIVE) c.kill('SIGKILL');
});

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** where s3rver keeps objects and multipart uploads (tests may look for leftovers) */
  directory: string;
  /** an SDK client for the tests' own checks (path-style, like the store's) */
  client(): S3Client;
  /** ids of the multipart uploads s3rver holds open (neither completed nor aborted) */
  openMultipartUploads(): string[];
  stop(): Promise<void>;
}

export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'wharf-test';
  const directory = mkdtempSync(join(tmpdir(), 'wharf-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', MAIN, directory, bucket], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  LIVE.add(child);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s:\n${output}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}):\n${output}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  return {
    endpoint,
    bucket,
    region,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    directory,
    client: () =>
      new S3Client({
        endpoint,
        region,
        forcePathStyle: true,
        credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY },
      }),
    openMultipartUploads() {
      const dir = join(directory, bucket, '._S3rver_uploads');
      return existsSync(dir) ? readdirSync(dir) : [];
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      LIVE.delete(child);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
