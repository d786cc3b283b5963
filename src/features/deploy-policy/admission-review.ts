/**
 * Kubernetes AdmissionReview v1 (admission.k8s.io/v1), as the API server sends it to a
 * ValidatingAdmissionWebhook: `request.uid`, `kind`, `operation`, `namespace`, `object`,
 * `dryRun`. The images of a Pod and of every workload that embeds a pod template (Deployment,
 * StatefulSet, DaemonSet, ReplicaSet, Job: `spec.template.spec`; CronJob:
 * `spec.jobTemplate.spec.template.spec`) — containers, initContainers and ephemeralContainers.
 * Pure: a malformed review is a reason, never an exception.
 */
export const ADMISSION_MAX_BYTES = 3 * 1024 * 1024;
/** Binary Authorization's break-glass annotation, honoured on the object (or its pod template). */
export const BREAK_GLASS_ANNOTATION = 'alpha.image-policy.k8s.io/break-glass';

export interface AdmissionRequest {
  uid: string;
  kind: string;
  operation: string;
  namespace: string;
  name: string;
  user: string;
  dryRun: boolean;
  images: string[];
  breakGlass: boolean;
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController']);
const MAX_IMAGES = 256;
const UID_RE = /^[A-Za-z0-9-]{1,128}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseAdmissionReview(body: unknown): { ok: true; request: AdmissionRequest } | { ok: false; reason: string; uid?: string } {
  if (!isObject(body)) return { ok: false, reason: 'the body is not an AdmissionReview object' };
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') return { ok: false, reason: 'expected apiVersion admission.k8s.io/v1, kind AdmissionReview' };
  const r = body.request;
  if (!isObject(r)) return { ok: false, reason: 'the AdmissionReview has no request' };
  if (typeof r.uid !== 'string' || !UID_RE.test(r.uid)) return { ok: false, reason: 'request.uid is missing or malformed' };
  const uid = r.uid;
  const kind = isObject(r.kind) && typeof r.kind.kind === 'string' ? r.kind.kind : undefined;
  if (!kind) return { ok: false, reason: 'request.kind.kind is missing', uid };
  const operation = typeof r.operation === 'string' ? r.operation : '';
  const object = r.object;
  if (operation !== 'CREATE' && operation !== 'UPDATE') return { ok: false, reason: `operation ${operation.slice(0, 20)} is not judged (CREATE and UPDATE are)`, uid };
  if (!isObject(object)) return { ok: false, reason: 'request.object is missing', uid };
  let pod: unknown;
  let templateMeta: unknown;
  const spec = object.spec;
  if (kind === 'Pod') pod = spec;
  else if (POD_TEMPLATE_KINDS.has(kind)) {
    const t = isObject(spec) ? spec.template : undefined;
    pod = isObject(t) ? t.spec : undefined;
    templateMeta = isObject(t) ? t.metadata : undefined;
  } else if (kind === 'CronJob') {
    const jt = isObject(spec) ? spec.jobTemplate : undefined;
    const js = isObject(jt) ? jt.spec : undefined;
    const t = isObject(js) ? js.template : undefined;
    pod = isObject(t) ? t.spec : undefined;
    templateMeta = isObject(t) ? t.metadata : undefined;
  } else return { ok: false, reason: `kind ${kind.slice(0, 40)} has no pod template Wharf knows`, uid };
  if (!isObject(pod)) return { ok: false, reason: `${kind} has no pod spec`, uid };
  const images: string[] = [];
  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    const cs = pod[list];
    if (cs === undefined) continue;
    if (!Array.isArray(cs)) return { ok: false, reason: `${list} is not a list`, uid };
    for (const c of cs) {
      if (!isObject(c) || typeof c.image !== 'string' || c.image === '' || c.image.length > 512) return { ok: false, reason: `a container of ${list} has no valid image`, uid };
      if (!images.includes(c.image)) images.push(c.image);
      if (images.length > MAX_IMAGES) return { ok: false, reason: `more than ${MAX_IMAGES} images`, uid };
    }
  }
  if (images.length === 0) return { ok: false, reason: 'the pod spec names no container image', uid };
  const meta = isObject(object.metadata) ? object.metadata : {};
  const annotated = (m: unknown): boolean => isObject(m) && isObject(m.annotations) && m.annotations[BREAK_GLASS_ANNOTATION] === 'true';
  const userInfo = isObject(r.userInfo) && typeof r.userInfo.username === 'string' ? r.userInfo.username.slice(0, 256) : 'unknown';
  return {
    ok: true,
    request: {
      uid,
      kind,
      operation,
      namespace: typeof r.namespace === 'string' ? r.namespace.slice(0, 253) : '',
      name: typeof r.name === 'string' ? r.name.slice(0, 253) : typeof meta.name === 'string' ? meta.name.slice(0, 253) : '',
      user: userInfo,
      dryRun: r.dryRun === true,
      images,
      breakGlass: annotated(object.metadata) || annotated(templateMeta),
    },
  };
}

/** An image reference split the way container runtimes read it: host (docker.io when none), path, tag, digest. */
export function splitImage(image: string): { host: string; path: string; tag?: string; digest?: string } | undefined {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) return undefined;
  }
  const first = rest.split('/')[0]!;
  const hasHost = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const host = hasHost ? first : 'docker.io';
  const path = hasHost ? rest.slice(first.length + 1) : rest.includes('/') ? rest : `library/${rest}`;
  if (path === '' || !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(path)) return undefined;
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { host, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}
