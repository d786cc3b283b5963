/**
 * The cross-check of lint findings with an image's insights analysis (the shape
 * GET/POST /api/v1/insights returns per image): findings the image shows the cost of are
 * confirmed with those bytes; the rest are left alone. test/lint/cli-image.test.ts does the same
 * through the binary against a server with a pushed image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIRMABLE_RULES, crossCheck, type ImageEvidence } from '../../src/features/dockerfile-lint/cross-check.js';
import { LINT_RULES } from '../../src/features/dockerfile-lint/lint-dockerfile.js';
import { lint } from './support.js';

const DOCKERFILE = `
  FROM nvidia/cuda:12.4.1-devel-ubuntu22.04
  RUN apt-get update && apt-get install -y --no-install-recommends python3-pip
  COPY . /app
  RUN pip install -r /app/requirements.txt
  COPY model.safetensors /models/
  CMD ["python3", "/app/serve.py"]
`;

test('confirmed: pip cache, apt lists, devel toolchain, weights, cache busting, root — each with its bytes', () => {
  const image: ImageEvidence = {
    caches: { pip: 734_003_200, 'apt-lists': 41_943_040, conda: 0 },
    totals: { categories: { 'model-weights': 2_000_000 } },
    findings: [
      { id: 'devel-toolchain', title: 'CUDA devel toolchain in a runtime image: 3.1 GiB', evidence: { paths: ['usr/local/cuda-12.4/bin/nvcc'], bytes: 3_328_599_654 } },
      { id: 'baked-weights', title: '1.9 MiB of model weights baked into the image', evidence: { paths: ['models/model.safetensors'], bytes: 2_000_000 } },
      { id: 'cache-busting', title: 'a 900 MiB layer below a frequently changing layer', evidence: { paths: [], bytes: 943_718_400 } },
      { id: 'runs-as-root', title: 'the image runs as root (User not set)', evidence: { paths: [], bytes: 0 } },
    ],
  };
  const out = crossCheck(lint(DOCKERFILE), image, 'team/app:1');
  const view = out.map((f) => `${f.line} ${f.rule} ${f.confirmed ? f.confirmed.bytes : '-'}`);
  assert.deepEqual(view, [
    '1 cuda-devel-final-stage 3328599654',
    '1 final-user-missing 0',
    '2 apt-lists-not-removed 41943040',
    '3 copy-context-before-install 943718400',
    '4 pip-no-cache-dir 734003200',
    '5 model-weights-in-image 2000000',
  ]);
  assert.equal(out[4]!.confirmed!.evidence, "team/app:1: 700 MiB of pip's cache (~/.cache/pip) in the image");
  assert.match(out[0]!.confirmed!.evidence, /^team\/app:1: CUDA devel toolchain .*\(usr\/local\/cuda-12\.4\/bin\/nvcc\)$/);
});

test('not confirmed: an image without those costs, or an empty analysis', () => {
  const findings = lint(DOCKERFILE);
  for (const image of [{}, { caches: { pip: 0, 'apt-lists': 0 }, totals: { categories: { 'model-weights': 0 } }, findings: [] }] as ImageEvidence[]) {
    assert.ok(crossCheck(findings, image, 'x:1').every((f) => f.confirmed === undefined));
  }
});

test('the confirmable rules are lint rules', () => {
  const ids = new Set(LINT_RULES.map((r) => r.id));
  for (const r of CONFIRMABLE_RULES) assert.ok(ids.has(r), r);
});
