/**
 * The PyPI endpoints under bad, malicious and concurrent input (issue 17): every refused upload is
 * a clear 4xx (with the message as the HTTP reason, which twine prints) and leaves nothing behind:
 * no file row, no stored bytes, no upload in progress. Also the index's details pip relies on:
 * negotiation, normalized names, escaping, hashes, .metadata, Range and ETag.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { WharfClient } from '../../src/client/wharf-client.js';
import { e2eTarget, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { PYTHON, buildDistributions, pythonToolsMissing, run, show, twine } from './support.js';

const skip = e2eTarget() !== 'wharf' ? 'Wharf only' : pythonToolsMissing();
const ADMIN = { username: 'admin', password: 'pypi-admin-password' };
const LIMIT = 300_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PyPI bad input and index details', { skip, timeout: 300_000 }, () => {
  let reg: RegistryProcess;
  let dir: string;
  let admin: WharfClient;
  let auth: string;
  let wheel: Buffer;
  let wheelName: string;
  let sdist: Buffer;
  let sdistName: string;

  /** A zip written by Python's zipfile: `entries` name -> text. */
  async function zip(entries: Record<string, string>): Promise<Buffer> {
    const out = join(dir, `z-${Math.random().toString(36).slice(2)}.zip`);
    writeFileSync(`${out}.json`, JSON.stringify(entries));
    const code = `import zipfile,sys,json\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nfor n,c in json.load(open(sys.argv[2])).items(): z.writestr(n,c)\nz.close()`;
    const r = await run(PYTHON, ['-c', code, out, `${out}.json`], dir);
    assert.equal(r.code, 0, show(r));
    return readFileSync(out);
  }

  function form(fields: Record<string, string>, file?: { name: string; bytes: Buffer }, fileFirst = false): FormData {
    const f = new FormData();
    const addFile = () => file && f.append('content', new Blob([new Uint8Array(file.bytes)]), file.name);
    if (fileFirst) addFile();
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    if (!fileFirst) addFile();
    return f;
  }

  const wheelFields = (extra: Record<string, string> = {}) => ({ ':action': 'file_upload', protocol_version: '1', filetype: 'bdist_wheel', pyversion: 'py3', metadata_version: '2.1', name: 'ML-Utils', version: '1.0.0', sha256_digest: sha(wheel), ...extra });

  async function upload(body: FormData | string | Buffer, repo = 'ml/pylibs', headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${reg.url}/pypi/${repo}/`, { method: 'POST', headers: { authorization: auth, ...headers }, body: Buffer.isBuffer(body) ? new Uint8Array(body) : body });
  }

  /** What a refused upload must not change. */
  async function state(): Promise<string> {
    const files = (await admin.listPypiFiles('ml/pylibs')).items.map((f) => f.filename).sort();
    const usage = (await admin.getRepository('ml/pylibs')).usage.storedBytes;
    const uploads = readdirSync(join(reg.dataDir, 'blobs', '_uploads'));
    return JSON.stringify({ files, usage, uploads });
  }

  async function refused(res: Response, status: number, message: RegExp): Promise<void> {
    const text = await res.text();
    assert.equal(res.status, status, text);
    assert.match(res.statusText, message, `reason phrase: ${res.statusText}`);
    assert.match(text, message);
  }

  before(async () => {
    reg = await startRegistry({ credentials: ADMIN, env: { WHARF_PYPI__MAX_UPLOAD_BYTES: String(LIMIT) } });
    dir = mkdtempSync(join(tmpdir(), 'wharf-pypi-bad-'));
    admin = new WharfClient({ server: reg.url, ...ADMIN });
    await admin.createRepository('ml/pylibs', {}, 'pypi');
    auth = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
    const built = await buildDistributions(dir, join(dir, 'home'), 'ML_Utils', '1.0.0', '>=3.8,<4');
    wheel = readFileSync(built.wheel);
    wheelName = basename(built.wheel);
    sdist = readFileSync(built.sdist);
    sdistName = basename(built.sdist);
    // one good file, so "nothing changed" is checked against a repository that has content
    const ok = await upload(form(wheelFields(), { name: wheelName, bytes: wheel }));
    assert.equal(ok.status, 200, await ok.text());
  });
  after(async () => {
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('malformed multipart bodies and forms without a file or action', async () => {
    const before = await state();
    await refused(await upload('name=x', 'ml/pylibs', { 'content-type': 'application/x-www-form-urlencoded' }), 400, /multipart\/form-data/);
    await refused(await upload(Buffer.from('--xyz\r\nContent-Disposition: form-data; name="content"; filename="a-1.0.tar.gz"\r\n\r\nabc'), 'ml/pylibs', { 'content-type': 'multipart/form-data; boundary=xyz' }), 400, /multipart|file/i);
    await refused(await upload(Buffer.from('garbage'), 'ml/pylibs', { 'content-type': 'multipart/form-data' }), 400, /multipart/i);
    await refused(await upload(form({ ':action': 'file_upload', name: 'x', version: '1.0' })), 400, /does not have a file/);
    await refused(await upload(form({ name: 'x' }, { name: wheelName.replace('1.0.0', '1.0.1'), bytes: wheel })), 400, /:action/);
    await refused(await upload(form({ ':action': 'remove_pkg' }, { name: 'ml_utils-1.0.2.tar.gz', bytes: sdist })), 400, /Unsupported :action/);
    const two = form({ ':action': 'file_upload', name: 'ML-Utils', version: '1.0.3' }, { name: 'ML_Utils-1.0.3.tar.gz', bytes: sdist });
    two.append('content', new Blob([new Uint8Array(sdist)]), 'ML_Utils-1.0.4.tar.gz');
    await refused(await upload(two), 400, /one file/);
    assert.equal(await state(), before);
  });

  test('file names: path tricks, non-distribution names, and a name that does not match the metadata', async () => {
    const before = await state();
    for (const name of ['../../evil-1.0-py3-none-any.whl', 'a/b-1.0-py3-none-any.whl', 'C:\\evil-1.0-py3-none-any.whl', '..whl', '.hidden-1.0.tar.gz', 'x'.repeat(300) + '.tar.gz']) {
      await refused(await upload(form({ ':action': 'file_upload', name: 'evil', version: '1.0' }, { name, bytes: sdist })), 400, /Invalid file name/);
    }
    await refused(await upload(form({ ':action': 'file_upload', name: 'evil', version: '1.0' }, { name: 'evil-1.0.exe', bytes: sdist })), 400, /wheel \(\.whl\) or an sdist/);
    // the wheel's METADATA says ML-Utils 1.0.0; the file name says another project or version
    await refused(await upload(form(wheelFields({ name: 'other' }), { name: 'other-1.0.0-py3-none-any.whl', bytes: wheel })), 400, /does not match the wheel's METADATA/);
    await refused(await upload(form(wheelFields({ version: '1.0.0' }), { name: 'ML_Utils-9.9-py3-none-any.whl', bytes: wheel })), 400, /does not match the project ML-Utils version 1\.0\.0/);
    // sdists: the form's name and version against the file name
    await refused(await upload(form({ ':action': 'file_upload', filetype: 'sdist', name: 'ML-Utils', version: '2.0' }, { name: sdistName, bytes: sdist })), 400, /does not match/);
    await refused(await upload(form({ ':action': 'file_upload', filetype: 'sdist', name: 'ML-Utils', version: 'not a version' }, { name: 'ML_Utils-not a version.tar.gz', bytes: sdist })), 400, /Invalid file name/);
    await refused(await upload(form({ ':action': 'file_upload', filetype: 'bdist_wheel', name: 'ML-Utils', version: '1.0.0' }, { name: sdistName, bytes: sdist })), 400, /Invalid filetype/);
    assert.equal(await state(), before);
  });

  test('wheels that are not zips, lack METADATA, or carry two; digest mismatches (given before or after the file)', async () => {
    const before = await state();
    const fields = (bytes: Buffer, version: string) => wheelFields({ version, sha256_digest: sha(bytes) });
    const notZip = Buffer.from('this is not a zip archive at all'.repeat(10));
    await refused(await upload(form(fields(notZip, '1.1'), { name: 'ML_Utils-1.1-py3-none-any.whl', bytes: notZip })), 400, /not a zip/);
    const noMeta = await zip({ 'ml_utils/__init__.py': 'x = 1\n', 'ML_Utils-1.2.dist-info/WHEEL': 'Wheel-Version: 1.0\n' });
    await refused(await upload(form(fields(noMeta, '1.2'), { name: 'ML_Utils-1.2-py3-none-any.whl', bytes: noMeta })), 400, /no \{name\}-\{version\}\.dist-info\/METADATA/);
    const nested = await zip({ 'x/ML_Utils-1.3.dist-info/METADATA': 'Metadata-Version: 2.1\nName: ML-Utils\nVersion: 1.3\n' });
    await refused(await upload(form(fields(nested, '1.3'), { name: 'ML_Utils-1.3-py3-none-any.whl', bytes: nested })), 400, /METADATA/);
    const twoMeta = await zip({ 'a-1.4.dist-info/METADATA': 'Name: a\nVersion: 1.4\n', 'ML_Utils-1.4.dist-info/METADATA': 'Name: ML-Utils\nVersion: 1.4\n' });
    await refused(await upload(form(fields(twoMeta, '1.4'), { name: 'ML_Utils-1.4-py3-none-any.whl', bytes: twoMeta })), 400, /two METADATA/);
    const noVersion = await zip({ 'ML_Utils-1.5.dist-info/METADATA': 'Metadata-Version: 2.1\nName: ML-Utils\n' });
    await refused(await upload(form(fields(noVersion, '1.5'), { name: 'ML_Utils-1.5-py3-none-any.whl', bytes: noVersion })), 400, /no Name or Version/);
    // digest: checked by the blob store while streaming (field first), or hashed here (field last)
    const good = await zip({ 'ML_Utils-1.6.dist-info/METADATA': 'Metadata-Version: 2.1\nName: ML-Utils\nVersion: 1.6\n' });
    await refused(await upload(form(wheelFields({ version: '1.6', sha256_digest: sha(notZip) }), { name: 'ML_Utils-1.6-py3-none-any.whl', bytes: good })), 400, /sha256/);
    await refused(await upload(form(wheelFields({ version: '1.6', sha256_digest: sha(notZip) }), { name: 'ML_Utils-1.6-py3-none-any.whl', bytes: good }, true)), 400, /sha256/);
    await refused(await upload(form(wheelFields({ version: '1.6', sha256_digest: 'XYZ' }), { name: 'ML_Utils-1.6-py3-none-any.whl', bytes: good })), 400, /sha256_digest/);
    assert.equal(await state(), before);
    // the same wheel with the right digest after the file is accepted (hashed here)
    const ok = await upload(form(wheelFields({ version: '1.6', sha256_digest: sha(good) }), { name: 'ML_Utils-1.6-py3-none-any.whl', bytes: good }, true));
    assert.equal(ok.status, 200, await ok.text());
  });

  test('an upload over pypi.maxUploadBytes is 413 and stores nothing (twine prints it)', async () => {
    const before = await state();
    const big = await zip({ 'ML_Utils-3.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: ML-Utils\nVersion: 3.0\n', 'ML_Utils-3.0.dist-info/WHEEL': 'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n', 'ml_utils/data.txt': randomBytes(LIMIT * 2).toString('base64') });
    assert.ok(big.length > LIMIT, `${big.length}`);
    await refused(await upload(form(wheelFields({ version: '3.0', sha256_digest: sha(big) }), { name: 'ML_Utils-3.0-py3-none-any.whl', bytes: big })), 413, /larger than the upload limit/);
    const file = join(dir, 'ML_Utils-3.0-py3-none-any.whl');
    writeFileSync(file, big);
    const t = await twine(join(dir, 'home'), ['--repository-url', `${reg.url}/pypi/ml/pylibs/`, '-u', ADMIN.username, '-p', ADMIN.password, file]);
    assert.notEqual(t.code, 0);
    assert.match(t.stdout + t.stderr, /413 .*upload\s+limit/s);
    assert.equal(await state(), before);
  });

  test('concurrent uploads of one file name: exactly one wins, the others get File already exists', async () => {
    const meta = await zip({ 'ML_Utils-4.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: ML-Utils\nVersion: 4.0\n' });
    const rs = await Promise.all(Array.from({ length: 6 }, () => upload(form(wheelFields({ version: '4.0', sha256_digest: sha(meta) }), { name: 'ML_Utils-4.0-py3-none-any.whl', bytes: meta }))));
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400]);
    for (const r of rs.filter((x) => x.status === 400)) assert.match(r.statusText, /File already exists/);
    const files = (await admin.listPypiFiles('ml/pylibs', 'ml-utils')).items.filter((f) => f.version === '4.0');
    assert.equal(files.length, 1);
  });

  test('index: PEP 691 JSON by negotiation, normalized-name redirect, escaped Requires-Python, hashes, .metadata, Range and ETag', async () => {
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${reg.url}${path}`, { headers: { authorization: auth, ...headers }, redirect: 'manual' });
    const html = await get('/pypi/ml/pylibs/simple/ml-utils/');
    assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
    const page = await html.text();
    // a page is reused while its project is unchanged: its ETag revalidates to 304
    const pageTag = html.headers.get('etag')!;
    assert.match(pageTag, /^"g\d+-html"$/);
    assert.equal((await get('/pypi/ml/pylibs/simple/ml-utils/', { 'if-none-match': pageTag })).status, 304);
    assert.match(page, /data-requires-python="&lt;4,&gt;=3\.8"/);
    assert.ok(page.includes(`#sha256=${sha(wheel)}`));
    const json = await get('/pypi/ml/pylibs/simple/ml-utils/', { accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01' });
    assert.match(json.headers.get('content-type') ?? '', /^application\/vnd\.pypi\.simple\.v1\+json\b/);
    const doc = (await json.json()) as { meta: { 'api-version': string }; name: string; files: { filename: string; url: string; hashes: { sha256: string }; 'requires-python'?: string; 'core-metadata'?: { sha256: string }; size: number }[]; versions: string[] };
    assert.equal(doc.meta['api-version'], '1.1');
    const w = doc.files.find((f) => f.filename === wheelName)!;
    assert.equal(w.hashes.sha256, sha(wheel));
    assert.equal(w.size, wheel.length);
    assert.equal(w['requires-python'], '<4,>=3.8');
    assert.ok(doc.versions.includes('1.0.0'));
    const viaHtmlPref = await get('/pypi/ml/pylibs/simple/', { accept: 'text/html' });
    assert.match(await viaHtmlPref.text(), /<a href="ml-utils\/">ML-Utils<\/a>/);
    for (const variant of ['ML_Utils', 'ml.utils', 'Ml-UTILS']) {
      const r = await get(`/pypi/ml/pylibs/simple/${variant}/`);
      assert.equal(r.status, 301);
      assert.equal(r.headers.get('location'), '/pypi/ml/pylibs/simple/ml-utils/');
    }
    assert.equal((await get('/pypi/ml/pylibs/simple/no-such-project/')).status, 404);
    // the file, its metadata (PEP 658), Range, ETag
    const fileUrl = new URL(w.url, `${reg.url}/pypi/ml/pylibs/simple/ml-utils/`).pathname;
    const full = await get(fileUrl);
    assert.equal(full.status, 200);
    assert.deepEqual(Buffer.from(await full.arrayBuffer()), wheel);
    const etag = full.headers.get('etag')!;
    assert.equal(etag, `"sha256:${sha(wheel)}"`);
    assert.equal((await get(fileUrl, { 'if-none-match': etag })).status, 304);
    const part = await get(fileUrl, { range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-19/${wheel.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), wheel.subarray(10, 20));
    assert.equal((await get(fileUrl, { range: `bytes=${wheel.length}-` })).status, 416);
    const meta = await get(`${fileUrl}.metadata`);
    const metaBytes = Buffer.from(await meta.arrayBuffer());
    assert.equal(sha(metaBytes), w['core-metadata']!.sha256);
    assert.match(metaBytes.toString(), /^Metadata-Version: .*\nName: ML-Utils\nVersion: 1\.0\.0/s);
    // the hash in the path must be the file's
    assert.equal((await get(fileUrl.replace(sha(wheel), '0'.repeat(64)))).status, 404);
    assert.equal((await get(`/pypi/ml/pylibs/files/${sha(wheel)}/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    // a reader of another repository learns nothing here
    assert.equal((await fetch(`${reg.url}${fileUrl}`)).status, 401);
  });
});
