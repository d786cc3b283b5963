/**
 * Attestors: the identities admins trust (Binary Authorization's word). An attestor holds public
 * keys (cosign `--key`, DSSE attestations, Sigstore bundles signed with a key) and/or x509 trust
 * anchors with trusted identities (Notation's trust-policy: `trustStores` + `trustedIdentities`).
 * Stored as one JSON document per name (signing_attestors, migration 0050_supply_chain).
 */
import { X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import { WharfError } from '../../errors/wharf-error.js';
import { parsePublicKeyPem, type PublicKey } from './public-keys.js';

export interface AttestorDocument {
  description?: string;
  /** PEM public keys (SubjectPublicKeyInfo) */
  publicKeys?: string[];
  /** PEM x509 certificates trusted as roots for Notation signatures (a trust store) */
  x509Roots?: string[];
  /** Notation trusted identities: `x509.subject: C=US, O=Acme, CN=builder` or `*` */
  trustedIdentities?: string[];
}

export interface Attestor extends AttestorDocument {
  name: string;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

/** An attestor ready to verify: keys and roots parsed once. */
export interface LoadedAttestor {
  name: string;
  keys: PublicKey[];
  roots: X509Certificate[];
  identities: string[];
}

export const ATTESTOR_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_KEYS = 16;

export interface AttestorProblem {
  pointer: string;
  message: string;
}

/** Validates a document (every problem with a JSON pointer) and parses it. */
export function loadAttestor(name: string, doc: AttestorDocument): { attestor?: LoadedAttestor; problems: AttestorProblem[] } {
  const problems: AttestorProblem[] = [];
  if (!ATTESTOR_NAME_RE.test(name)) problems.push({ pointer: '/name', message: 'must be lower-case letters, digits, ".", "_" or "-" (at most 63)' });
  const keys: PublicKey[] = [];
  const roots: X509Certificate[] = [];
  (doc.publicKeys ?? []).slice(0, MAX_KEYS).forEach((pem, i) => {
    const r = parsePublicKeyPem(pem);
    if (r.ok) keys.push(r.key);
    else problems.push({ pointer: `/publicKeys/${i}`, message: r.reason });
  });
  (doc.x509Roots ?? []).slice(0, MAX_KEYS).forEach((pem, i) => {
    try {
      const c = new X509Certificate(pem);
      if (!c.ca) problems.push({ pointer: `/x509Roots/${i}`, message: 'is not a CA certificate (basicConstraints CA:TRUE)' });
      else roots.push(c);
    } catch (e) {
      problems.push({ pointer: `/x509Roots/${i}`, message: `not a PEM certificate: ${(e as Error).message.slice(0, 100)}` });
    }
  });
  if ((doc.publicKeys?.length ?? 0) > MAX_KEYS) problems.push({ pointer: '/publicKeys', message: `at most ${MAX_KEYS}` });
  if ((doc.x509Roots?.length ?? 0) > MAX_KEYS) problems.push({ pointer: '/x509Roots', message: `at most ${MAX_KEYS}` });
  const identities = doc.trustedIdentities ?? [];
  identities.forEach((id, i) => {
    if (id !== '*' && parseX509Identity(id) === undefined) problems.push({ pointer: `/trustedIdentities/${i}`, message: 'must be "*" or "x509.subject: <DN>"' });
  });
  if (roots.length > 0 && identities.length === 0) problems.push({ pointer: '/trustedIdentities', message: 'x509Roots need trustedIdentities (use ["*"] to trust every identity the roots certify)' });
  if (keys.length === 0 && roots.length === 0 && problems.length === 0) problems.push({ pointer: '', message: 'an attestor needs publicKeys or x509Roots' });
  return problems.length > 0 ? { problems } : { attestor: { name, keys, roots, identities }, problems };
}

/** `x509.subject: C=US, ST=WA, O=Acme` -> Map of attribute -> value; undefined when malformed. */
export function parseX509Identity(id: string): Map<string, string> | undefined {
  const m = /^x509\.subject:\s*(.+)$/.exec(id);
  if (!m) return undefined;
  return parseDn(m[1]!, ',');
}

/** A distinguished name as node:crypto prints it ("C=US\nO=Acme") or as Notation writes it ("C=US, O=Acme"). */
export function parseDn(dn: string, separator: ',' | '\n'): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const part of dn.split(separator)) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq <= 0) return undefined;
    const key = t.slice(0, eq).trim().toUpperCase();
    if (out.has(key)) return undefined; // Notation: an attribute may appear once
    out.set(key, t.slice(eq + 1).trim());
  }
  return out.size > 0 ? out : undefined;
}

interface AttestorTables {
  signing_attestors: { name: string; document: string; created_at: number; updated_at: number; updated_by: string };
}

export class SqlAttestorStore {
  private readonly db: Kysely<AttestorTables>;
  constructor(db: Kysely<any>) {
    this.db = db as Kysely<AttestorTables>;
  }

  async list(): Promise<Attestor[]> {
    const rows = await this.db.selectFrom('signing_attestors').selectAll().orderBy('name').execute();
    return rows.map(toAttestor);
  }

  async find(name: string): Promise<Attestor | undefined> {
    const row = await this.db.selectFrom('signing_attestors').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toAttestor(row);
  }

  /** Creates or replaces; answers whether it was created. */
  async put(name: string, doc: AttestorDocument, by: string, now: number): Promise<boolean> {
    const document = JSON.stringify(doc);
    const updated = await this.db.updateTable('signing_attestors').set({ document, updated_at: now, updated_by: by }).where('name', '=', name).executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return false;
    try {
      await this.db.insertInto('signing_attestors').values({ name, document, created_at: now, updated_at: now, updated_by: by }).execute();
      return true;
    } catch (err) {
      // a concurrent create won; ours becomes the update it would have been
      const again = await this.db.updateTable('signing_attestors').set({ document, updated_at: now, updated_by: by }).where('name', '=', name).executeTakeFirst();
      if (Number(again.numUpdatedRows) > 0) return false;
      throw new WharfError('INTERNAL', 'storing the attestor failed', undefined, { cause: err });
    }
  }

  async delete(name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('signing_attestors').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function toAttestor(row: AttestorTables['signing_attestors']): Attestor {
  return {
    name: row.name,
    ...(JSON.parse(row.document) as AttestorDocument),
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
    updatedBy: row.updated_by,
  };
}
