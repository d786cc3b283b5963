/**
 * Every lint rule fires on what it is about and stays quiet on the correct form and on the
 * look-alikes a reviewer would not flag. Lines are 1-based Dockerfile lines.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretName } from '../../src/features/dockerfile-lint/rules-runtime.js';
import { LINT_RULES } from '../../src/features/dockerfile-lint/lint-dockerfile.js';
import { lines, lint } from './support.js';

describe('base-image-unpinned', () => {
  const r = 'base-image-unpinned';
  test('fires on no tag and on latest, per stage, also through a global ARG', () => {
    assert.deepEqual(lines(`
      ARG BASE=ubuntu:latest
      FROM python AS a
      FROM \${BASE}
      FROM registry.example.com:5000/team/base
    `, r), ['2 base-image-unpinned', '3 base-image-unpinned', '4 base-image-unpinned']);
  });
  test('FROM --platform and a lower-case AS are read like the rest', () => {
    assert.deepEqual(lines('FROM --platform=$BUILDPLATFORM python as Build\nFROM --platform=linux/amd64 build\n', r), ['1 base-image-unpinned']);
  });
  test('quiet on a version tag, a digest, latest with a digest, scratch, an earlier stage, an ARG without default', () => {
    assert.deepEqual(lines(`
      ARG UNKNOWN
      FROM python:3.11-slim AS a
      FROM python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS b
      FROM python:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      FROM scratch
      FROM a
      FROM \${UNKNOWN}
      FROM registry.example.com:5000/team/base:1.2
    `, r), []);
  });
});

describe('cuda-devel-final-stage', () => {
  const r = 'cuda-devel-final-stage';
  test('fires when the final stage is FROM a devel image, directly or through a stage', () => {
    assert.deepEqual(lines(`
      FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04
      RUN echo hi
    `, r), ['1 cuda-devel-final-stage']);
    assert.deepEqual(lines(`
      FROM pytorch/pytorch:2.3.0-cuda12.1-cudnn8-devel AS base
      FROM base AS final
      COPY app /app
    `, r), ['2 cuda-devel-final-stage']);
  });
  test("NVIDIA's shape: FROM ${IMAGE_NAME}:...-devel and a final FROM base-${TARGETARCH} follow back to the devel base", () => {
    const src = `
      ARG IMAGE_NAME
      FROM \${IMAGE_NAME}:12.1.1-devel-ubuntu22.04 AS base
      FROM base AS base-amd64
      ENV NV_CUDNN_VERSION=8.9.0.131
      FROM base AS base-arm64
      FROM base-\${TARGETARCH}
      USER 1000
    `;
    assert.deepEqual(lines(src, r), ['6 cuda-devel-final-stage']);
    assert.match(lint(src)[0]!.message, /FROM \$\{IMAGE_NAME\}:12\.1\.1-devel-ubuntu22\.04, a devel image/);
  });
  test('quiet when devel is only a build stage, or the base is runtime', () => {
    assert.deepEqual(lines(`
      FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build
      RUN make
      FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04
      COPY --from=build /out /app
    `, r), []);
    assert.deepEqual(lines('FROM nvidia/cuda:12.4.1-base-ubuntu22.04\n', r), []);
  });
});

describe('pip-no-cache-dir', () => {
  const r = 'pip-no-cache-dir';
  test('fires on pip, pip3, pip3.11, python -m pip, python3 -mpip, inside sh -c and heredocs, at the command line', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      RUN pip install torch
      RUN apt-get update && \\
          pip3 install -r requirements.txt && \\
          /usr/local/bin/pip3.11 install numpy
      RUN python -m pip install --upgrade pip; python3 -mpip install x
      RUN ["/bin/sh", "-c", "pip install y"]
      RUN <<EOF
      set -e
      pip install z
      EOF
    `, r), ['2 pip-no-cache-dir', '4 pip-no-cache-dir', '5 pip-no-cache-dir', '6 pip-no-cache-dir', '6 pip-no-cache-dir', '7 pip-no-cache-dir', '10 pip-no-cache-dir']);
  });
  test('quiet with --no-cache-dir, PIP_NO_CACHE_DIR (ENV, ARG, prefix, parent stage), a cache mount, or in a builder stage', () => {
    assert.deepEqual(lines(`
      FROM python:3.11 AS builder
      RUN pip install --prefix=/install torch
      FROM python:3.11 AS base
      ENV PIP_NO_CACHE_DIR=1
      FROM base
      ARG PIP_NO_CACHE_DIR=off
      RUN pip install a
      RUN pip install --no-cache-dir b
      RUN PIP_NO_CACHE_DIR=1 pip install c
      RUN --mount=type=cache,target=/root/.cache/pip pip install d
      RUN pip download e && pip list && echo pip install
      COPY --from=builder /install /usr/local
    `, r), []);
  });
  test('an ENV after the RUN does not help, nor a cache mount on another directory; options before install count', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      RUN pip install a
      ENV PIP_NO_CACHE_DIR=1
    `, r), ['2 pip-no-cache-dir']);
    assert.deepEqual(lines(`
      FROM python:3.11
      RUN --mount=type=cache,target=/var/cache/apt pip install a
      RUN --mount=type=cache,target=/root/.cache pip install b
      RUN pip --no-cache-dir install c
      RUN pip --disable-pip-version-check install d
    `, r), ['2 pip-no-cache-dir', '5 pip-no-cache-dir']);
  });
  test("pip's own configuration counts from where it is written: pip config set, a pip.conf heredoc", () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      RUN pip install early
      RUN pip config set global.no-cache-dir false
      RUN pip install a
    `, r), ['2 pip-no-cache-dir']);
    assert.deepEqual(lines(`
      FROM python:3.11
      RUN python3 -m pip config set install.no-cache-dir true && python3 -m pip install b
      COPY <<EOF /etc/pip.conf
      [global]
      no-cache-dir = true
      EOF
    `, r), []);
    assert.deepEqual(lines(`
      FROM python:3.11
      RUN cat <<EOF > /etc/pip.conf
      [global]
      no-cache-dir = true
      EOF
      RUN pip install c
    `, r), []);
  });
});

describe('apt-no-install-recommends', () => {
  const r = 'apt-no-install-recommends';
  test('fires on apt-get install and apt install without it, options before the subcommand too', () => {
    assert.deepEqual(lines(`
      FROM ubuntu:22.04
      RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
      RUN apt-get -qq -y install git && apt install -y vim
    `, r), ['2 apt-no-install-recommends', '3 apt-no-install-recommends', '3 apt-no-install-recommends']);
  });
  test('quiet with --no-install-recommends or -o APT::Install-Recommends=false, on other subcommands, in builder stages', () => {
    assert.deepEqual(lines(`
      FROM ubuntu:22.04 AS build
      RUN apt-get install -y build-essential
      FROM ubuntu:22.04
      RUN apt-get install -y --no-install-recommends curl
      RUN apt-get -o APT::Install-Recommends=false install -y git
      RUN apt-get remove -y foo && apt-get purge bar && echo apt-get install
    `, r), []);
  });
});

describe('apt-lists-not-removed', () => {
  const r = 'apt-lists-not-removed';
  test('fires on apt-get update without rm of the lists in the same RUN (a later RUN does not count)', () => {
    assert.deepEqual(lines(`
      FROM debian:12
      RUN apt-get update && \\
          apt-get install -y --no-install-recommends curl
      RUN rm -rf /var/lib/apt/lists/*
      RUN apt update
    `, r), ['2 apt-lists-not-removed', '5 apt-lists-not-removed']);
  });
  test('quiet with rm in the same RUN, a cache mount on the lists, or in a builder stage', () => {
    assert.deepEqual(lines(`
      FROM debian:12 AS build
      RUN apt-get update
      FROM debian:12
      RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
      RUN --mount=type=cache,target=/var/lib/apt/lists --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y --no-install-recommends git
      RUN set -eux; apt-get update; apt-get install -y --no-install-recommends jq; rm -rf /var/lib/apt/lists
    `, r), []);
  });
});

describe('copy-context-before-install', () => {
  const r = 'copy-context-before-install';
  test('fires on COPY . . / ADD . /src followed by pip, conda, npm, poetry, uv installs', () => {
    assert.deepEqual(lines(`
      FROM python:3.11 AS py
      WORKDIR /app
      COPY . .
      RUN pip install --no-cache-dir -r requirements.txt
      FROM node:20 AS web
      ADD ./ /src
      RUN npm ci
      FROM continuumio/miniconda3:24.1.2-0
      COPY --chown=1000:1000 . /work
      RUN conda env create -f /work/environment.yml
    `, r), ['3 copy-context-before-install', '6 copy-context-before-install', '9 copy-context-before-install']);
  });
  test('quiet when dependency files come first, for pip install --no-deps ., COPY --from, or no install after', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      WORKDIR /app
      COPY requirements.txt .
      RUN pip install --no-cache-dir -r requirements.txt
      COPY . .
      RUN pip install --no-cache-dir --no-deps .
      COPY --from=ghcr.io/astral-sh/uv:0.4.0 . /uv
      RUN python -m compileall .
    `, r), []);
  });
});

describe('model-weights-in-image', () => {
  const r = 'model-weights-in-image';
  test('fires on hub downloads, weight URLs, python hub calls and COPY of weight files, in any stage', () => {
    assert.deepEqual(lines(`
      FROM python:3.11 AS fetch
      RUN huggingface-cli download meta-llama/Llama-3.1-8B --local-dir /models
      RUN hf download Qwen/Qwen2.5-7B
      RUN wget -q https://example.com/ckpt/model.safetensors?download=1 -O /m.safetensors && curl -fsSLo /m.gguf https://huggingface.co/x/y/resolve/main/m.gguf
      RUN python -c "from huggingface_hub import snapshot_download; snapshot_download('bert-base-uncased')"
      RUN python3 <<EOF
      from transformers import AutoModel
      AutoModel.from_pretrained("gpt2")
      EOF
      FROM python:3.11
      COPY weights/model.safetensors /models/
      COPY --from=fetch /models/*.pt /models/
      ADD https://example.com/resnet50.onnx /models/resnet50.onnx
    `, r), ['2 model-weights-in-image', '3 model-weights-in-image', '4 model-weights-in-image', '4 model-weights-in-image', '5 model-weights-in-image', '7 model-weights-in-image', '11 model-weights-in-image', '12 model-weights-in-image', '13 model-weights-in-image']);
  });
  test('quiet on code, configs, tokenizers, binaries in /usr/local/bin and pip installs of hub libraries', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      COPY app/ /app/
      COPY config.json tokenizer.json /models/
      RUN curl -fsSL https://example.com/tool -o /usr/local/bin/tool && pip install --no-cache-dir huggingface_hub
      RUN python -c "import torch; print(torch.__version__)"
      USER 1000
    `, r), []);
  });
});

describe('add-url', () => {
  const r = 'add-url';
  test('fires on ADD of http(s) and git URLs', () => {
    assert.deepEqual(lines(`
      FROM alpine:3.20
      ADD https://example.com/tool.tar.gz /tmp/
      ADD git@github.com:org/repo.git /src
    `, r), ['2 add-url', '3 add-url']);
  });
  test('quiet with --checksum, on local ADD, and on COPY', () => {
    assert.deepEqual(lines(`
      FROM alpine:3.20
      ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool.tar.gz /tmp/
      ADD rootfs.tar.gz /
      COPY https.conf /etc/
    `, r), []);
  });
});

describe('secret-in-build', () => {
  const r = 'secret-in-build';
  test('fires on secret names in ENV with a value, ARG with or without default; names, never values', () => {
    const src = `
      ARG GITHUB_TOKEN
      FROM python:3.11
      ARG HF_TOKEN
      ARG AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
      ENV OPENAI_API_KEY=sk-abc123 DB_PASSWORD=hunter2
      ENV HF_TOKEN=\${HF_TOKEN}
      ENV PIP_EXTRA_INDEX_URL=https://deploy:s3cr3t@pypi.example.com/simple
      ARG wandbApiKey
    `;
    assert.deepEqual(lines(src, r), ['1 secret-in-build', '3 secret-in-build', '4 secret-in-build', '5 secret-in-build', '5 secret-in-build', '6 secret-in-build', '7 secret-in-build', '8 secret-in-build']);
    const found = lint(src).filter((f) => f.rule === r);
    assert.deepEqual(found.map((f) => f.severity), ['high', 'high', 'critical', 'critical', 'critical', 'critical', 'critical', 'high']);
    const text = JSON.stringify(found);
    for (const secret of ['wJalrXUtnFEMI', 'sk-abc123', 'hunter2', 's3cr3t']) assert.ok(!text.includes(secret), `${secret} must not be reported`);
    assert.match(found[0]!.message, /GITHUB_TOKEN/);
  });
  test('quiet on look-alikes and on empty ENV values', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      ENV TOKENIZERS_PARALLELISM=false GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D KEYRING=/etc/apt/keyrings
      ENV HF_TOKEN=
      ARG MONKEY=1
      ENV PIP_INDEX_URL=https://pypi.example.com/simple PWD=/app
      ENV POSTGRES_PASSWORD_FILE=/run/secrets/db GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/google/key.json
      ENV LEGACY_TOKEN_FILE /run/secrets/t
    `, r), []);
    assert.deepEqual(lines('FROM python:3.11\nENV HF_TOKEN hf_legacy_syntax\n', r), ['2 secret-in-build']);
  });
  test('isSecretName', () => {
    for (const n of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'OPENAI_API_KEY', 'APIKEY', 'db-password', 'hfToken', 'PRIVATE_KEY', 'GOOGLE_APPLICATION_CREDENTIALS'])
      assert.ok(isSecretName(n), n);
    for (const n of ['TOKENIZERS_PARALLELISM', 'GPG_KEY', 'KEYRING', 'MONKEY', 'PWD', 'PATH', 'KEY', 'PUBLIC_KEY_URL', 'CUDA_VERSION', 'DB_PASSWORD_FILE', 'SECRETS_DIR', 'TOKEN_PATH'])
      assert.ok(!isSecretName(n), n);
  });
});

describe('final-user-root and final-user-missing', () => {
  test('USER root, USER 0 and root:root as the last USER of the final image fire; an earlier root does not', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      USER root
    `, 'final-user-root'), ['2 final-user-root']);
    assert.deepEqual(lines(`
      FROM python:3.11 AS base
      USER 0:0
      FROM base
      RUN echo
    `, 'final-user-root'), ['2 final-user-root']);
    assert.deepEqual(lines(`
      FROM python:3.11
      USER root
      RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
      USER app
    `).filter((l) => l.includes('user')), []);
  });
  test('no USER in the final image is final-user-missing (at the final FROM); a USER in a builder stage does not count', () => {
    assert.deepEqual(lines(`
      FROM python:3.11 AS build
      USER 1000
      FROM python:3.11-slim
      COPY --from=build /x /x
    `).filter((l) => l.includes('user')), ['3 final-user-missing']);
    assert.deepEqual(lines(`
      FROM python:3.11 AS base
      USER 10001
      FROM base
    `).filter((l) => l.includes('user')), []);
    assert.deepEqual(lines('FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n').filter((l) => l.includes('user')), []);
  });
});

describe('shell-form-cmd', () => {
  const r = 'shell-form-cmd';
  test('fires on the effective CMD and ENTRYPOINT of the final image in shell form, and on broken JSON', () => {
    assert.deepEqual(lines(`
      FROM python:3.11
      CMD ["python", "old.py"]
      ENTRYPOINT python serve.py --port 8000
      CMD ['--workers', '2']
    `, r), ['3 shell-form-cmd', '4 shell-form-cmd']);
    assert.match(lint("FROM python:3.11\nCMD ['python']\n").find((f) => f.rule === r)!.message, /not a JSON array/);
  });
  test('quiet on exec form, on CMDs of builder stages, and on a shell-form CMD overridden later', () => {
    assert.deepEqual(lines(`
      FROM python:3.11 AS build
      CMD make
      FROM python:3.11
      CMD python app.py
      ENTRYPOINT ["tini", "--"]
      CMD ["python", "app.py"]
    `, r), []);
  });
});

test('every rule has a stable id, a severity, a title and a reason', () => {
  const ids = LINT_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const r of LINT_RULES) {
    assert.match(r.id, /^[a-z]+(-[a-z]+)+$/);
    assert.ok(['critical', 'high', 'medium', 'low'].includes(r.severity));
    assert.ok(r.title.length > 10 && r.why.length > 20, r.id);
  }
});
