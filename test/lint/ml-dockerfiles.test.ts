/**
 * Dockerfiles shaped like well-known ML images (written for these tests in the style of
 * pytorch/pytorch's multi-stage Dockerfile, NVIDIA's CUDA images and Hugging Face servers)
 * give exactly the findings a reviewer would write down, and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lintDockerfile } from '../../src/features/dockerfile-lint/lint-dockerfile.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name));
const findings = (name: string) => lintDockerfile(fixture(name)).findings.map((f) => `${f.line} ${f.rule} ${f.severity} [${f.stage}]`);

test('pytorch-style multi-stage build: only the missing USER (pip and apt in builder stages never reach the image)', () => {
  assert.deepEqual(findings('pytorch-official.Dockerfile'), ['81 final-user-missing low [dev]']);
  const f = lintDockerfile(fixture('pytorch-official.Dockerfile')).findings[0]!;
  assert.match(f.message, /root unless ubuntu:22\.04 sets another/);
});

test('single-stage CUDA devel training image: devel base, token build arg, apt, COPY . . first, pip caches, weights, ADD URL, shell CMD', () => {
  assert.deepEqual(findings('cuda-devel-train.Dockerfile'), [
    '3 cuda-devel-final-stage high [0]',
    '3 final-user-missing low [0]',
    '5 secret-in-build high [0]',
    '9 apt-lists-not-removed medium [0]',
    '9 apt-no-install-recommends low [0]',
    '13 copy-context-before-install medium [0]',
    '15 pip-no-cache-dir medium [0]',
    '16 pip-no-cache-dir medium [0]',
    '19 model-weights-in-image high [0]',
    '21 add-url medium [0]',
    '23 shell-form-cmd low [0]',
  ]);
  const report = lintDockerfile(fixture('cuda-devel-train.Dockerfile'));
  assert.deepEqual(report.summary, { critical: 0, high: 3, medium: 5, low: 3 });
  const devel = report.findings[0]!;
  assert.match(devel.fix, /nvidia\/cuda:12\.1\.1-cudnn8-runtime-ubuntu22\.04/);
  assert.match(report.findings.find((f) => f.rule === 'copy-context-before-install')!.message, /before pip install \(line 15\)/);
});

test('multi-stage CUDA inference image done right: no findings', () => {
  assert.deepEqual(findings('cuda-multistage-clean.Dockerfile'), []);
});

test('HF server whose final stage still derives from the devel stage: devel, token in ENV, weights twice, USER root, shell ENTRYPOINT', () => {
  assert.deepEqual(findings('hf-server-devel.Dockerfile'), [
    '11 cuda-devel-final-stage high [server]',
    '12 secret-in-build critical [server]',
    '17 model-weights-in-image high [server]',
    '18 model-weights-in-image high [server]',
    '20 final-user-root medium [server]',
    '21 shell-form-cmd low [server]',
  ]);
  const text = JSON.stringify(lintDockerfile(fixture('hf-server-devel.Dockerfile')));
  assert.ok(!text.includes('hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345'), 'the token value is never reported');
});
