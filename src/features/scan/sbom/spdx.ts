/**
 * SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3): one package for the image, one per inventoried
 * package, each with its purl as a PACKAGE-MANAGER external reference; the document DESCRIBES the
 * image and the image CONTAINS each package. Licenses are NOASSERTION: package metadata licenses
 * are free text, and SPDX requires valid license expressions. Pure and deterministic for a given
 * input (the namespace is derived from the digest and creation time).
 */
import { createHash } from 'node:crypto';
import { imagePurl, type SbomInput } from './sbom-input.js';

export const SPDX_MEDIA_TYPE = 'application/spdx+json';

function spdxId(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]/g, '-');
}

export function buildSpdx(input: SbomInput): Record<string, unknown> {
  const created = input.created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const imageId = 'SPDXRef-Image';
  const hash = createHash('sha256').update(`${input.repository}@${input.digest}@${created}`).digest('hex').slice(0, 32);
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: imageId,
      name: input.repository,
      versionInfo: input.digest,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'CONTAINER',
      checksums: input.digest.startsWith('sha256:') ? [{ algorithm: 'SHA256', checksumValue: input.digest.slice(7) }] : [],
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(input) }],
    },
  ];
  const relationships: Record<string, unknown>[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId }];
  if (input.inventory.os) {
    const os = input.inventory.os;
    packages.push({
      SPDXID: 'SPDXRef-OperatingSystem',
      name: os.id,
      versionInfo: os.versionId ?? 'unknown',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'OPERATING-SYSTEM',
      ...(os.prettyName ? { description: os.prettyName } : {}),
    });
    relationships.push({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: 'SPDXRef-OperatingSystem' });
  }
  input.inventory.packages.forEach((p, i) => {
    const id = `SPDXRef-Package-${p.type}-${spdxId(p.name)}-${i}`;
    packages.push({
      SPDXID: id,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: p.type === 'generic' ? 'FRAMEWORK' : 'LIBRARY',
      sourceInfo: `found in ${p.path}, layer ${p.layer} (${input.layers[p.layer] ?? 'unknown'})`,
      ...(p.sourceName ? { comment: `source package ${p.sourceName}${p.sourceVersion ? ` ${p.sourceVersion}` : ''}` } : {}),
      ...(p.license ? { attributionTexts: [`declared license: ${p.license}`] } : {}),
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    });
    relationships.push({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${input.repository}@${input.digest}`,
    documentNamespace: `https://wharf.invalid/spdx/${encodeURIComponent(input.repository)}/${input.digest.replace(':', '-')}-${hash}`,
    creationInfo: { created, creators: [`Tool: wharf-${input.toolVersion}`] },
    documentDescribes: [imageId],
    packages,
    relationships,
  };
}
