import type { FastifyInstance } from 'fastify';
import type { DeployPolicyService } from '../../features/deploy-policy/deploy-policy-service.js';
import { ADMISSION_MAX_BYTES } from '../../features/deploy-policy/admission-review.js';
import type { AuthGate } from '../auth-gate.js';

/**
 * The Kubernetes ValidatingAdmissionWebhook endpoint (issue 15): `POST /admission/v1/validate`
 * takes an AdmissionReview v1 and answers one, always with HTTP 200 once the caller is
 * authenticated (the API server reads the verdict from `response.allowed`, never from the
 * status). A malformed review is denied with the reason, never allowed; every verdict is
 * audited (`admission.review`, and `admission.break-glass` when the annotation admitted what the
 * policy denied). The API server authenticates with a Wharf service account (kubeconfig of the
 * AdmissionConfiguration), see deploy/kubernetes/.
 */
export interface AdmissionOptions {
  gate: AuthGate;
  deployPolicy: DeployPolicyService;
}

export async function admissionPlugin(app: FastifyInstance, options: AdmissionOptions): Promise<void> {
  app.route({
    method: 'POST',
    url: '/admission/v1/validate',
    bodyLimit: ADMISSION_MAX_BYTES,
    handler: async (request, reply) => {
      request.routeId = 'admission.validate';
      await options.gate.authorize(request, reply, [{ kind: 'authenticated' }]);
      // images are judged only in repositories the caller may pull: the same refusal whether they exist or not
      const mayPull = (repository: string): Promise<boolean> => options.gate.holds(request.principal, [{ kind: 'repository', name: repository, actions: ['pull'] }]);
      const outcome = await options.deployPolicy.admission(request.body, { mayPull });
      const req = outcome.request;
      const failed = outcome.decisions.filter((d) => !d.passed).map((d) => ({ image: d.image, scope: d.scope, failed: d.rules.filter((r) => !r.passed).map((r) => `${r.rule}: ${r.message}`) }));
      options.gate.audit(request, {
        action: outcome.breakGlass ? 'admission.break-glass' : 'admission.review',
        target: req ? `${req.kind}/${req.namespace}/${req.name}`.slice(0, 300) : undefined,
        result: outcome.allowed ? 'ok' : 'denied',
        status: outcome.allowed ? 200 : 403,
        detail: {
          uid: outcome.uid,
          ...(req ? { operation: req.operation, user: req.user, dryRun: req.dryRun, images: req.images.slice(0, 20) } : {}),
          ...(outcome.refused ? { refused: outcome.refused } : {}),
          ...(failed.length > 0 ? { failed: failed.slice(0, 20) } : {}),
        },
      });
      const response: Record<string, unknown> = { uid: outcome.uid ?? '', allowed: outcome.allowed };
      if (!outcome.allowed) response.status = { code: 403, reason: 'Forbidden', message: outcome.message ?? 'denied' };
      if (outcome.warnings.length > 0) response.warnings = outcome.warnings.slice(0, 20).map((w) => w.slice(0, 1000));
      await reply.code(200).send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
    },
  });
}
