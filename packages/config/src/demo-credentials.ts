/**
 * Demo credentials: generated at first start, never committed.
 *
 * Two files under the data directory, both mode 0600:
 * - `credentials.json`: the salted hashes the services check (see
 *   {@link CredentialsFile});
 * - `demo-secrets.json`: the plaintext passwords, which stand in for what real
 *   devices keep in their own firmware and what the demo prints for people to
 *   log in with. Production deployments have no such file.
 *
 * Principals added to the configuration later get passwords on the next start;
 * existing ones keep theirs.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SCRYPT_COST, generateSecret, hashSecret, type ScryptCost } from '@hatake/auth';
import { emptyCredentials, readCredentials, type CredentialsFile } from './credentials.ts';
import { ConfigError } from './errors.ts';
import { jsonErrorWithoutContent, type Config } from './load.ts';

export const CREDENTIALS_FILE = 'credentials.json';
export const DEMO_SECRETS_FILE = 'demo-secrets.json';

/** Plaintext passwords by principal; the same sections as the credentials file. */
export interface DemoSecrets {
  readonly version: 1;
  readonly devices: Record<string, string>;
  readonly groups: Record<string, string>;
  readonly users: Record<string, string>;
  readonly services: Record<string, string>;
}

export interface DemoCredentials {
  readonly secrets: DemoSecrets;
  readonly credentials: CredentialsFile;
  /** Names that got a new password in this call. */
  readonly created: readonly string[];
  readonly secretsPath: string;
  readonly credentialsPath: string;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('HATAKE_ERR_CONFIG_INVALID', [{ path, message: `cannot read: ${err instanceof SyntaxError ? jsonErrorWithoutContent(err) : String((err as NodeJS.ErrnoException).code ?? 'error')}` }]);
  }
}

async function writePrivate(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (err) {
    throw new ConfigError('HATAKE_ERR_CONFIG_WRITE', [{ path, message: (err as Error).message }], 'cannot write demo credentials');
  }
}

/** Reads the plaintext demo secrets, if the file exists. */
export async function readDemoSecrets(path: string): Promise<DemoSecrets | undefined> {
  const raw = (await readJson(path)) as Partial<DemoSecrets> | undefined;
  if (!raw) return undefined;
  return { version: 1, devices: { ...raw.devices }, groups: { ...raw.groups }, users: { ...raw.users }, services: { ...raw.services } };
}

/**
 * Makes sure every principal of `config` (loaded with `requireCredentials: false`)
 * has a demo password and a hash; writes both files under `dataDir`.
 */
export async function ensureDemoCredentials(config: Config, opts: { dataDir?: string; cost?: ScryptCost } = {}): Promise<DemoCredentials> {
  const dir = opts.dataDir ?? config.deployment.dataDir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const secretsPath = join(dir, DEMO_SECRETS_FILE);
  const credentialsPath = join(dir, CREDENTIALS_FILE);
  const secrets = (await readDemoSecrets(secretsPath)) ?? { version: 1, devices: {}, groups: {}, users: {}, services: {} };
  const existing = await readJson(credentialsPath);
  const credentials = existing === undefined ? emptyCredentials() : readCredentials(existing).credentials;
  const wanted: [keyof Omit<DemoSecrets, 'version'>, string][] = [
    ...config.devices.filter((d) => d.group === undefined).map((d) => ['devices', d.id] as [keyof Omit<DemoSecrets, 'version'>, string]),
    ...config.deviceGroups.map((g) => ['groups', g.prefix] as [keyof Omit<DemoSecrets, 'version'>, string]),
    ...config.users.map((u) => ['users', u.username] as [keyof Omit<DemoSecrets, 'version'>, string]),
    ...config.services.map((s) => ['services', s.username] as [keyof Omit<DemoSecrets, 'version'>, string]),
  ];
  const created: string[] = [];
  await Promise.all(
    wanted.map(async ([section, name]) => {
      if (secrets[section][name] !== undefined && credentials[section][name] !== undefined) return;
      const secret = generateSecret();
      secrets[section][name] = secret;
      credentials[section][name] = await hashSecret(secret, opts.cost ?? DEFAULT_SCRYPT_COST);
      created.push(name);
    }),
  );
  if (created.length > 0 || existing === undefined) {
    await writePrivate(credentialsPath, credentials);
    await writePrivate(secretsPath, secrets);
  }
  return { secrets, credentials, created: created.sort(), secretsPath, credentialsPath };
}
