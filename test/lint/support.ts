import { lintDockerfile, type LintFinding } from '../../src/features/dockerfile-lint/lint-dockerfile.js';

/** The findings of a Dockerfile written inline (leading indentation of the template removed). */
export function lint(src: string): LintFinding[] {
  return lintDockerfile(dedent(src)).findings;
}

/** `line rule` for each finding, in report order: what a reviewer reads. */
export function lines(src: string, rule?: string): string[] {
  return lint(src)
    .filter((f) => rule === undefined || f.rule === rule)
    .map((f) => `${f.line} ${f.rule}`);
}

export function dedent(src: string): string {
  const body = src.replace(/^\n/, '');
  const indent = Math.min(...body.split('\n').filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return body
    .split('\n')
    .map((l) => l.slice(indent))
    .join('\n');
}
