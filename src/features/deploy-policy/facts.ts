/** What a deploy policy judges an image by (gathered by DeployPolicyService, judged by evaluate.ts and cel.ts). */
export interface ImageFacts {
  /** the image as named (host/repo:tag@digest) */
  image: string;
  /** this registry's repository, when the image is one of ours */
  repository?: string;
  digest?: string;
  /** the tag the image was named by, when no digest was given */
  tag?: string;
  /** attestors that verified a signature of the digest */
  attestors: string[];
  attestations: { attestor: string; predicateType: string }[];
  /** the latest scan; undefined when never scanned */
  scan?: { scannedAt: number; findings: { severity: string; fixable: boolean }[] };
}
