import { Type } from '@sinclair/typebox';
import type { ModelService } from '../../features/models/model-service.js';
import { parseDigest } from '../../domain/digest.js';
import { parseReference, parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { Reference, pull, strict } from './route-schemas.js';

/**
 * Model artifacts (features/models): a model's metadata needs pull on its repository, like the
 * artifact; reading it again too (it reads only what the caller may pull). The list shows only
 * models in repositories the caller may pull.
 */
const Count = Type.String({ pattern: '^[0-9]{1,16}$' });

function modelsOf(options: ApiContext['options']): ModelService {
  if (!options.models) throw new WharfError('UNAVAILABLE', 'model artifacts are not enabled on this instance');
  return options.models;
}

export const MODEL_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.models.list',
    method: 'GET',
    url: '/api/v1/models',
    summary: 'Models in the repositories the caller may pull, filtered by name (q), architecture, format (modelpack, modelkit, docker, safetensors, gguf), license and parameter range',
    access: () => [{ kind: 'authenticated' }],
    query: strict({
      q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      architecture: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      format: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
      license: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      minParameters: Type.Optional(Count),
      maxParameters: Type.Optional(Count),
      limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
      after: Type.Optional(Type.String({ maxLength: 400 })),
    }),
    handle: async (ctx) => {
      const q = ctx.query as Record<string, string | undefined>;
      const { defaultPageSize, maxPageSize } = ctx.options.pagination;
      const limit = Math.max(1, Math.min(q.limit === undefined ? defaultPageSize : Number(q.limit), maxPageSize));
      return modelsOf(ctx.options).search(
        {
          query: q.q,
          architecture: q.architecture,
          format: q.format,
          license: q.license,
          minParameters: q.minParameters === undefined ? undefined : Number(q.minParameters),
          maxParameters: q.maxParameters === undefined ? undefined : Number(q.maxParameters),
          after: q.after,
          limit,
        },
        (names) => ctx.options.gate.visible(ctx.request.principal, names),
      );
    },
  },
  {
    id: 'api.models.files',
    method: 'GET',
    url: '/api/v1/model-files',
    summary: 'Models (in repositories the caller may pull) holding a weight file with this content digest (sha256 of the file): e.g. the model an image bakes',
    access: () => [{ kind: 'authenticated' }],
    query: strict({ digest: Type.String({ pattern: '^sha256:[a-f0-9]{64}$' }) }),
    handle: async (ctx) => ({ items: await modelsOf(ctx.options).findByFileDigests([ctx.query.digest], (names) => ctx.options.gate.visible(ctx.request.principal, names)) }),
  },
  {
    id: 'api.models.get',
    method: 'GET',
    url: '/api/v1/models/*',
    summary: "A model's metadata (tag or digest): format, architecture, parameters per dtype, quantization, context length, sizes and the memory to load it, files with their tensors, config.json, model card, license, errors; read from header byte ranges on first use",
    access: pull,
    query: strict({ reference: Reference }),
    handle: async (ctx) => modelsOf(ctx.options).get(parseRepoName(ctx.params['*']), parseReference(ctx.query.reference)),
  },
  {
    id: 'api.models.extract',
    method: 'POST',
    url: '/api/v1/models/*',
    summary: "Read a model's metadata again (header byte ranges only) and answer it",
    access: pull,
    body: strict({ reference: Reference }),
    audit: 'model.extract',
    handle: async (ctx) => {
      const repository = parseRepoName(ctx.params['*']);
      const ref = parseReference(ctx.body.reference);
      const m = await ctx.options.registry.getManifest(repository, ref);
      const models = modelsOf(ctx.options);
      await models.extract(repository, parseDigest(m.digest), ref.kind === 'tag' ? ref.tag : undefined);
      return models.get(repository, ref);
    },
  },
];
