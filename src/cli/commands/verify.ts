import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { SignatureListing } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { EXIT, type CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';
import { parseImageRef } from './scan.js';

/**
 * `wharf verify IMAGE [--key FILE | --attestor NAME]`: the server verifies every signature and
 * attestation of the image (cosign tags, Sigstore bundles, Notation) against the key, the
 * attestor, or every attestor; exit 0 when one verifies, 4 (EXIT.policyFailed) when none does.
 * `wharf signatures IMAGE` lists them without judging.
 */
function human(l: SignatureListing & { verified?: boolean }): string {
  let out = `${l.repository}@${l.digest}\n`;
  if (l.signatures.length === 0) return `${out}no signatures or attestations\n`;
  out += table([
    ['FORMAT', 'KIND', 'SIGNER', 'CLAIMS', 'VERIFIED BY', 'PROBLEMS'],
    ...l.signatures.map((s) => [
      s.format,
      s.kind,
      s.signer.certificateSubject ?? (s.signer.keyFingerprint ? `key sha256:${s.signer.keyFingerprint.slice(0, 16)}` : s.signer.keyId || '-'),
      s.claims.predicateType ?? s.claims.dockerReference ?? '-',
      s.verifiedBy.join(',') || '-',
      s.problems.join('; ') || '-',
    ]),
  ]);
  return out;
}

export function registerVerifyCommands(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('verify <image>')
      .description('verify the signatures of an image (REPO:TAG or REPO@DIGEST); exit 4 when none verifies')
      .option('--key <file>', 'a PEM public key')
      .option('--attestor <name>', 'an attestor configured on the server'),
  ).action(async (image: string, opts: ClientFlags & { key?: string; attestor?: string }) => {
    if (opts.key !== undefined && opts.attestor !== undefined) throw new WharfError('REQUEST_INVALID', 'give --key or --attestor, not both');
    let publicKey: string | undefined;
    if (opts.key !== undefined) {
      try {
        publicKey = readFileSync(opts.key, 'utf8');
      } catch (e) {
        throw new WharfError('REQUEST_INVALID', `cannot read ${opts.key}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    const { repository, reference } = parseImageRef(image);
    const r = await clientFor(opts, io).verifyImage(repository, { reference, ...(publicKey ? { publicKey } : {}), ...(opts.attestor ? { attestor: opts.attestor } : {}) });
    print(io, opts, r, () => `${human(r)}${r.verified ? `verified by ${r.verifiedBy.join(', ')}\n` : ''}`);
    if (!r.verified) {
      io.err(`wharf: no signature of ${repository}@${r.digest} verifies (exit ${EXIT.policyFailed})\n`);
      io.exitCode = EXIT.policyFailed;
    }
  });

  withClientFlags(program.command('signatures <image>').description('list the signatures and attestations of an image and which attestors verify them')).action(
    async (image: string, opts: ClientFlags) => {
      const { repository, reference } = parseImageRef(image);
      const r = await clientFor(opts, io).signatures(repository, reference);
      print(io, opts, r, () => human(r));
    },
  );

  const attestor = program.command('attestor').description('trusted signing identities (admins)');
  withClientFlags(
    attestor
      .command('set <name>')
      .description('create or replace an attestor')
      .option('--public-key <file...>', 'PEM public key files')
      .option('--x509-root <file...>', 'PEM root certificates (Notation)')
      .option('--identity <id...>', 'trusted identities: "x509.subject: C=US, O=Acme" or "*"')
      .option('--description <text>', 'what it stands for'),
  ).action(async (name: string, opts: ClientFlags & { publicKey?: string[]; x509Root?: string[]; identity?: string[]; description?: string }) => {
    const read = (f: string): string => {
      try {
        return readFileSync(f, 'utf8');
      } catch (e) {
        throw new WharfError('REQUEST_INVALID', `cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    };
    const r = await clientFor(opts, io).putAttestor(name, {
      ...(opts.description ? { description: opts.description } : {}),
      ...(opts.publicKey ? { publicKeys: opts.publicKey.map(read) } : {}),
      ...(opts.x509Root ? { x509Roots: opts.x509Root.map(read) } : {}),
      ...(opts.identity ? { trustedIdentities: opts.identity } : {}),
    });
    print(io, opts, r, () => `attestor ${r.name} saved\n`);
  });
  withClientFlags(attestor.command('list').description('list attestors')).action(async (opts: ClientFlags) => {
    const r = await clientFor(opts, io).listAttestors();
    print(io, opts, r, () => table([['NAME', 'KEYS', 'ROOTS', 'UPDATED'], ...r.items.map((a) => [a.name, String(a.publicKeys?.length ?? 0), String(a.x509Roots?.length ?? 0), a.updatedAt])]));
  });
  withClientFlags(attestor.command('delete <name>').description('delete an attestor')).action(async (name: string, opts: ClientFlags) => {
    await clientFor(opts, io).deleteAttestor(name);
    print(io, opts, { deleted: name }, () => `attestor ${name} deleted\n`);
  });
}
