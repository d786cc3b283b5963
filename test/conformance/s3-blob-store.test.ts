import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { S3BlobStore } from '../../src/storage/blob/s3-blob-store.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { describeBlobStore } from './blob-store-suite.js';

let s3: S3TestServer;
before(async () => {
  s3 = await startS3Server();
});
after(() => s3.stop());

// a fresh, empty store per test: its own key prefix in the one bucket
describeBlobStore('s3 (s3rver)', async () => {
  const store = new S3BlobStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix: `t-${randomBytes(4).toString('hex')}`,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await store.init();
  return { store, cleanup: async () => store.close() };
});
