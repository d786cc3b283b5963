/**
 * What ships besides the code: the Kubernetes manifests and the Dockerfile. No cluster and no
 * Docker engine here, so these check what can be checked without: the config in the ConfigMap is a
 * valid Wharf config, the secret files it names are the ones the Deployment mounts, the probes
 * and the security settings are there, and the Dockerfile keeps its promises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../support/registry-process.js';

const k8s = (name: string): any => parse(readFileSync(join(REPO_ROOT, 'deploy', 'kubernetes', name), 'utf8'));

test('the ConfigMap holds a valid scale-out config whose secret files the Deployment mounts', () => {
  const text = k8s('configmap.yaml').data['wharf.yaml'] as string;
  const dir = mkdtempSync(join(tmpdir(), 'wharf-deploy-'));
  try {
    const file = join(dir, 'wharf.yaml');
    writeFileSync(file, text);
    const config = loadConfig({ file, env: { WHARF_ADMIN_PASSWORD: 'a-long-password' } });
    assert.equal(config.storage.blob.driver, 's3');
    assert.equal(config.storage.metadata.driver, 'postgres');
    const deployment = k8s('deployment.yaml');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const secretsMount = container.volumeMounts.find((m: any) => m.name === 'secrets').mountPath as string;
    const secretItems = pod.volumes.find((v: any) => v.name === 'secrets').secret.items.map((i: any) => `${secretsMount}/${i.path}`);
    assert.deepEqual(
      [config.storage.metadata.postgres?.passwordFile, config.storage.blob.s3?.secretAccessKeyFile].sort(),
      secretItems.sort(),
    );
    const example = k8s('secret.example.yaml');
    for (const i of pod.volumes.find((v: any) => v.name === 'secrets').secret.items) assert.ok(i.key in example.stringData, i.key);
    assert.deepEqual(container.args, ['serve', '--config', container.volumeMounts.find((m: any) => m.name === 'config').mountPath]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Deployment runs several non-root replicas with readiness, liveness and startup probes', () => {
  const deployment = k8s('deployment.yaml');
  assert.ok(deployment.spec.replicas >= 2);
  const pod = deployment.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.startupProbe.httpGet.path, '/healthz');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  const pdb = k8s('poddisruptionbudget.yaml');
  assert.ok(pdb.spec.minAvailable < deployment.spec.replicas);
  const kustomization = k8s('kustomization.yaml');
  assert.ok(!kustomization.resources.includes('secret.example.yaml'), 'the example secret is never applied');
});

test('the Dockerfile: two stages on a pinned slim base, a non-root user, a health check; .dockerignore keeps the context small', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-bookworm-slim$/m);
  assert.deepEqual(dockerfile.match(/^FROM .*$/gm), ['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE} AS runtime']);
  const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
  assert.match(runtime, /^USER 10001:10001$/m);
  assert.match(runtime, /^HEALTHCHECK .*\n?.*\/healthz/m);
  assert.doesNotMatch(runtime, /npm (ci|install)|apt-get install/, 'nothing is installed in the runtime stage');
  for (const pkg of dockerfile.match(/--no-install-recommends ([^\\\n]+)/)![1]!.trim().split(/\s+/)) assert.match(pkg, /=/, `${pkg} is pinned`);
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const path of ['.git', 'node_modules', 'dist', 'data', 'test']) assert.ok(ignored.includes(path), path);
});
