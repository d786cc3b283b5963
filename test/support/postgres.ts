/**
 * Scratch PostgreSQL databases for tests, on the local server (127.0.0.1:5432, trust auth).
 * Each test run creates its own database (wharf_test_<random>) and drops it afterwards, so runs
 * never see each other's rows. Where PostgreSQL is not reachable the tests skip with a reason —
 * except in CI (CI set), where that is a failure: scripts/install-test-deps.sh starts the cluster.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
const ADMIN_USERS = ['postgres', 'root'];

export interface ScratchDatabase {
  name: string;
  user: string;
  /** postgres://user@127.0.0.1:5432/name */
  url: string;
  drop(): Promise<void>;
}

async function connectAdmin(): Promise<{ client: pg.Client; user: string }> {
  let last: unknown;
  for (const user of ADMIN_USERS) {
    const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user, database: 'postgres', connectionTimeoutMillis: 3000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return { client, user };
    } catch (e) {
      last = e;
      await client.end().catch(() => undefined);
    }
  }
  throw last;
}

/**
 * undefined when PostgreSQL can be used; otherwise the reason to skip. Throws in CI, where the
 * PostgreSQL tests must run.
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  try {
    const { client } = await connectAdmin();
    await client.end();
    return undefined;
  } catch (e) {
    const reason = `PostgreSQL is not reachable on ${PG_HOST}:${PG_PORT} (${(e as Error).message})`;
    if (process.env.CI) throw new Error(`${reason}; in CI the PostgreSQL tests must run (scripts/install-test-deps.sh starts it)`);
    return reason;
  }
}

export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const { client, user } = await connectAdmin();
  const name = `wharf_test_${randomBytes(6).toString('hex')}`;
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  return {
    name,
    user,
    url: `postgres://${user}@${PG_HOST}:${PG_PORT}/${name}`,
    async drop() {
      const admin = await connectAdmin();
      try {
        await admin.client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.client.end();
      }
    },
  };
}
