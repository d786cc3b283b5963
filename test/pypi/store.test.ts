/**
 * The PyPI feature over both metadata databases (SQLite, PostgreSQL): the core refuses a push of
 * the wrong format, uploads store a file row over a linked blob, names are unique, every change
 * bumps the project's generation (what index pages are reused by), and GC keeps a link a file
 * references and lets it go once the file is deleted.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseDigest } from '../../src/domain/digest.js';
import { PypiService } from '../../src/features/pypi/pypi-service.js';
import { SqlPypiStore } from '../../src/features/pypi/sql-pypi-store.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlRepositorySettingsStore } from '../../src/storage/metadata/repository-settings-store.js';
import { SqlGcStore } from '../../src/storage/metadata/sql-gc-store.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';

const pgSkip = await postgresSkipReason();

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`pypi store on ${dialect}`, { skip: dialect === 'postgres' ? (pgSkip ?? false) : false }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-pypi-store-'));
    let scratch: ScratchDatabase | undefined;
    after(async () => {
      await scratch?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('format refusal, upload, uniqueness, generations, GC links', async () => {
      if (dialect === 'postgres') scratch = await createScratchDatabase();
      const metadata = scratch ? openPostgresMetadataStore({ connectionString: scratch.url }) : openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
      await metadata.migrate();
      const blobs = new FsBlobStore({ root: join(dir, 'blobs') });
      await blobs.init();
      const settings = new SqlRepositorySettingsStore(metadata.database);
      assert.equal(await settings.createRepository('ml/py', {}, 'pypi'), true);
      assert.equal(await settings.createRepository('ml/img', {}), true);
      assert.equal(await settings.findFormat('ml/py'), 'pypi');
      assert.equal((await settings.findRepository('ml/img'))?.format, 'oci');
      const registry = new RegistryService({ metadata, blobs, uploads: blobs, repositoryFormat: (n) => settings.findFormat(n) });
      const store = new SqlPypiStore(metadata.database);
      const pypi = new PypiService({ registry, store, repositoryFormat: (n) => settings.findFormat(n), maxUploadBytes: 1 << 20 });
      try {
        const bytes = Buffer.from('an sdist, as far as the index is concerned');
        const hex = createHash('sha256').update(bytes).digest('hex');
        const digest = parseDigest(`sha256:${hex}`);
        await assert.rejects(registry.pushBlob('ml/py', digest, Readable.from([bytes])), { code: 'REPOSITORY_FORMAT_MISMATCH' });
        await assert.rejects(registry.startUpload('ml/img', 'pypi'), { code: 'REPOSITORY_FORMAT_MISMATCH' });
        await assert.rejects(pypi.begin('ml/img', 'lib-1.0.tar.gz', hex), { code: 'REPOSITORY_FORMAT_MISMATCH' });
        await assert.rejects(pypi.begin('ml/none', 'lib-1.0.tar.gz', hex), { code: 'NAME_UNKNOWN' });

        const fields = new Map([[':action', 'file_upload'], ['name', 'Lib'], ['version', '1.0'], ['filetype', 'sdist'], ['sha256_digest', hex]]);
        const staged = await pypi.begin('ml/py', 'lib-1.0.tar.gz', hex);
        await pypi.receive(staged, Readable.from([bytes]));
        const file = await pypi.complete(staged, fields, 'ci');
        assert.equal(file.digest, digest);
        assert.equal(file.project, 'lib');
        assert.equal(await store.projectGeneration('ml/py', 'lib'), 1);
        await assert.rejects(pypi.begin('ml/py', 'lib-1.0.tar.gz', hex), { code: 'PYPI_FILE_EXISTS' });
        // the unique constraint, as a racing upload meets it after the precheck
        assert.equal(await store.insertFile('ml/py', { ...file, metadata: null, metadataSha256: null }), false);
        assert.equal(await store.projectGeneration('ml/py', 'lib'), 1);

        assert.deepEqual(await pypi.setYanked('ml/py', 'LIB', '1.0', 'broken'), { files: 1 });
        assert.equal(await store.projectGeneration('ml/py', 'lib'), 2);
        assert.equal((await store.findFile('ml/py', 'lib-1.0.tar.gz'))?.yankedReason, 'broken');
        await assert.rejects(pypi.setYanked('ml/py', 'lib', '9.9', ''), { code: 'RESOURCE_UNKNOWN' });
        assert.equal(await store.projectGeneration('ml/py', 'lib'), 2);

        // GC: the file's row keeps the repository's link to its blob, however old
        const gc = new SqlGcStore(metadata.database, dialect);
        const future = Date.now() + 3_600_000;
        const linked = async () => (await gc.findUnreferencedLinks(future, undefined, 100)).filter((l) => l.repository === 'ml/py').map((l) => l.digest);
        assert.deepEqual(await linked(), []);
        assert.deepEqual(await pypi.delete('ml/py', 'lib'), { files: 1 });
        assert.equal(await store.projectGeneration('ml/py', 'lib'), 3);
        assert.deepEqual(await linked(), [digest]);
      } finally {
        await registry.close();
        await metadata.close();
      }
    });
  });
}
