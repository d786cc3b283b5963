/**
 * The legacy upload API as twine speaks it: `POST /pypi/<repository>/`, multipart/form-data with
 * `:action=file_upload`, the metadata fields and the file in `content`. busboy streams the form;
 * the file part goes straight into the blob store's upload path (PypiService.receive), fields
 * are collected (bounded), and only once the whole form has arrived is the upload checked and
 * published (PypiService.complete). Any failure aborts the blob upload: nothing is stored.
 */
import busboy from 'busboy';
import type { FastifyRequest } from 'fastify';
import type { PypiService, StagedUpload } from '../../features/pypi/pypi-service.js';
import type { PypiFileRecord } from '../../features/pypi/sql-pypi-store.js';
import { WharfError } from '../../errors/wharf-error.js';

const LIMITS = {
  /** twine sends ~30 fields (classifiers repeat); generous, still bounded */
  fields: 1000,
  /** the long description (README) is the largest field */
  fieldSize: 4 * 1024 * 1024,
  fieldNameSize: 100,
  files: 1,
  parts: 1100,
  headerPairs: 20,
};

function invalid(message: string): WharfError {
  return new WharfError('PYPI_UPLOAD_INVALID', message);
}

export async function receiveUpload(request: FastifyRequest, service: PypiService, repository: string): Promise<PypiFileRecord> {
  const contentType = request.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw invalid('Invalid upload: send multipart/form-data with :action=file_upload (as twine upload does)');
  }
  let bb: busboy.Busboy;
  try {
    // preservePath: a name like ../x.whl must be seen (and refused), not quietly cut to x.whl
    // 1 MiB buffers (busboy's default is 64 KiB): fewer, larger chunks through the file's stream
    // into the blob store's batched writes; a large wheel's upload is CPU-bound on a small machine
    bb = busboy({ headers: request.headers, limits: { ...LIMITS, fileSize: service.maxUploadBytes + 1 }, preservePath: true, defParamCharset: 'utf8', highWaterMark: 1 << 20, fileHwm: 1 << 20 });
  } catch (e) {
    throw invalid(`Invalid multipart body: ${(e as Error).message}`);
  }
  const fields = new Map<string, string>();
  let staged: StagedUpload | undefined;
  let fileWork: Promise<void> | undefined;
  let fileStream: { destroy(error?: Error): void } | undefined;
  let failure: unknown;
  const fail = (e: unknown): void => {
    failure ??= e;
  };

  bb.on('field', (name, value, info) => {
    if (info.nameTruncated || info.valueTruncated) fail(invalid(`The ${name.slice(0, 40)} field is longer than ${LIMITS.fieldSize} bytes`));
    else if (!fields.has(name)) fields.set(name, value);
  });
  bb.on('file', (name, stream, info) => {
    // a body that ends mid-file errors the part's stream: the upload fails, the process does not
    stream.on('error', (e: Error) => fail(invalid(`Invalid multipart body: ${e.message}`)));
    if (name !== 'content' || fileWork !== undefined) {
      stream.resume();
      fail(invalid(fileWork !== undefined ? 'Upload one file per request' : `Unexpected file field ${JSON.stringify(name.slice(0, 40))} (the file goes in content)`));
      return;
    }
    fileStream = stream;
    fileWork = (async () => {
      staged = await service.begin(repository, info.filename ?? '', fields.get('sha256_digest'));
      if (failure !== undefined || stream.destroyed) throw failure ?? invalid('Invalid multipart body: the file part ended early');
      await service.receive(staged, stream);
    })();
    fileWork.catch((e: unknown) => {
      fail(e);
      stream.resume();
    });
  });
  bb.on('filesLimit', () => fail(invalid('Upload one file per request')));
  bb.on('fieldsLimit', () => fail(invalid(`More than ${LIMITS.fields} fields`)));
  bb.on('partsLimit', () => fail(invalid(`More than ${LIMITS.parts} parts`)));

  const parsed = new Promise<void>((resolve, reject) => {
    bb.once('close', resolve);
    bb.once('error', (e: Error) => reject(invalid(`Invalid multipart body: ${e.message}`)));
    request.raw.once('error', reject);
    request.raw.once('aborted', () => reject(new WharfError('BLOB_UPLOAD_INVALID', 'the request body ended early')));
  });
  request.raw.pipe(bb);
  try {
    await parsed;
    await fileWork?.catch(() => undefined);
    if (failure !== undefined) throw failure;
    if (!staged) throw invalid(fields.has(':action') ? 'Upload payload does not have a file (the content field)' : 'Invalid upload: no :action field and no file');
    return await service.complete(staged, fields, request.principal.name);
  } catch (e) {
    request.raw.unpipe(bb);
    // the file's upload may still be starting (begin() awaits the DB): let it settle, then drop it
    fileStream?.destroy(new Error('the upload was refused'));
    await fileWork?.catch(() => undefined);
    if (staged) await service.abort(staged);
    throw e;
  }
}
