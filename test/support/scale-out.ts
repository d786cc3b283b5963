/**
 * Scale-out mode for end-to-end tests: an S3 server (s3rver) and a scratch PostgreSQL database,
 * both started here on 127.0.0.1, and a Wharf config file pointing at them. Every Wharf process
 * given the file (RegistryProcess `configFile`, `wharf fsck --config`) shares the same state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from './postgres.js';
import { startS3Server, type S3TestServer } from './s3-server.js';

export interface ScaleOut {
  s3: S3TestServer;
  db: ScratchDatabase;
  /** the config file (YAML) */
  configFile: string;
  /** environment the Wharf processes need besides the file (the S3 secret, by reference) */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface ScaleOutOptions {
  /** storage.blob.s3.presignedRedirect */
  presignedRedirect?: boolean;
  /** extra YAML appended to the file */
  extraYaml?: string;
}

/** undefined when scale-out tests can run; else why not (PostgreSQL missing outside CI). */
export async function scaleOutSkipReason(): Promise<string | undefined> {
  return postgresSkipReason();
}

export async function startScaleOut(options: ScaleOutOptions = {}): Promise<ScaleOut> {
  const s3 = await startS3Server();
  let db: ScratchDatabase;
  try {
    db = await createScratchDatabase();
  } catch (e) {
    await s3.stop();
    throw e;
  }
  const dir = mkdtempSync(join(tmpdir(), 'wharf-scale-out-'));
  const configFile = join(dir, 'wharf.yaml');
  writeFileSync(
    configFile,
    [
      'storage:',
      '  blob:',
      '    driver: s3',
      '    s3:',
      `      endpoint: ${s3.endpoint}`,
      `      region: ${s3.region}`,
      `      bucket: ${s3.bucket}`,
      '      prefix: wharf/',
      '      forcePathStyle: true',
      `      accessKeyId: ${s3.accessKeyId}`,
      '      secretAccessKeyEnv: TEST_S3_SECRET_ACCESS_KEY',
      ...(options.presignedRedirect ? ['      presignedRedirect:', '        enabled: true', '        expiresSeconds: 60'] : []),
      '  metadata:',
      '    driver: postgres',
      '    postgres:',
      `      url: ${db.url}`,
      '      poolSize: 5',
      options.extraYaml ?? '',
      '',
    ].join('\n'),
  );
  return {
    s3,
    db,
    configFile,
    env: { TEST_S3_SECRET_ACCESS_KEY: s3.secretAccessKey },
    async stop() {
      await s3.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
