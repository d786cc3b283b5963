/**
 * CycloneDX 1.6 JSON (cyclonedx.org/docs/1.6/json): the image is metadata.component (type
 * container), the OS an operating-system component, every inventoried package a library with its
 * purl; properties carry where each was found (the `wharf:` namespace). Pure and deterministic
 * for a given input (the serial number is derived from the digest and creation time).
 */
import { createHash } from 'node:crypto';
import { imagePurl, type SbomInput } from './sbom-input.js';

export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  // RFC 4122 layout, version 5-style bits (name-based)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function buildCycloneDx(input: SbomInput): Record<string, unknown> {
  const timestamp = input.created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const imageRef = imagePurl(input);
  const components: Record<string, unknown>[] = [];
  if (input.inventory.os) {
    const os = input.inventory.os;
    components.push({ type: 'operating-system', 'bom-ref': `os:${os.id}`, name: os.id, version: os.versionId ?? 'unknown', ...(os.prettyName ? { description: os.prettyName } : {}) });
  }
  const seen = new Set<string>();
  input.inventory.packages.forEach((p, i) => {
    let ref = p.purl;
    if (seen.has(ref)) ref = `${p.purl}#${i}`;
    seen.add(ref);
    const properties = [
      { name: 'wharf:package:type', value: p.type },
      { name: 'wharf:location', value: p.path },
      { name: 'wharf:layer:index', value: String(p.layer) },
      ...(input.layers[p.layer] ? [{ name: 'wharf:layer:digest', value: input.layers[p.layer]! }] : []),
      ...(p.sourceName ? [{ name: 'wharf:source:name', value: p.sourceName }] : []),
      ...(p.sourceVersion ? [{ name: 'wharf:source:version', value: p.sourceVersion }] : []),
    ];
    components.push({
      type: p.type === 'generic' ? 'framework' : 'library',
      'bom-ref': ref,
      name: p.name,
      version: p.version,
      purl: p.purl,
      ...(p.license ? { licenses: [{ license: { name: p.license } }] } : {}),
      properties,
    });
  });
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${uuidFrom(`${input.repository}@${input.digest}@${timestamp}`)}`,
    version: 1,
    metadata: {
      timestamp,
      tools: { components: [{ type: 'application', name: 'wharf', version: input.toolVersion }] },
      component: { type: 'container', 'bom-ref': imageRef, name: input.repository, version: input.digest, purl: imageRef },
    },
    components,
    dependencies: [{ ref: imageRef, dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
}
