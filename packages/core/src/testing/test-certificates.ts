/**
 * Certificates for tests, made at test time with the `openssl` CLI in a temporary directory: a CA, and
 * site certificates it signs. Each site certificate is valid for serverAuth and clientAuth (every site
 * both accepts and dials) and names 127.0.0.1, ::1 and localhost. Keys are EC P-256: fast to make.
 *
 * @example
 * ```ts
 * await using pki = await createTestPki();
 * createTcpTransport({ …, tls: await pki.tlsFor('a') }); // { ca, cert, key }
 * ```
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Long enough for any test run, short enough that a leaked key is worthless soon. */
const VALIDITY_DAYS = 2;
/** One openssl invocation never takes this long; past it the test fails instead of hanging. */
const OPENSSL_TIMEOUT_MS = 30_000;
/** Certificate names become file names: keep them to a safe alphabet. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface TestCertificate {
  /** PEM text. */
  readonly cert: string;
  readonly key: string;
  /** The same, as files (for processes started by a test). */
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TestPki extends AsyncDisposable {
  /** The temporary directory holding every file. */
  readonly dir: string;
  /** The CA: trust `ca.cert` to accept every certificate this PKI issues. */
  readonly ca: TestCertificate;
  /** A site certificate signed by this CA. `hosts` replaces the default names (IPs and DNS names). */
  issue(name: string, options?: { readonly hosts?: readonly string[] }): Promise<TestCertificate>;
  /**
   * Transport TLS options for site `name`: trust this CA, present a certificate it signed (issued on
   * the first call for that name, then reused).
   */
  tlsFor(name: string): Promise<{ readonly ca: string; readonly cert: string; readonly key: string }>;
  /** Deletes the directory. Idempotent. */
  remove(): Promise<void>;
}

const DEFAULT_HOSTS = ['127.0.0.1', '::1', 'localhost'];

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await run('openssl', [...args], { cwd, timeout: OPENSSL_TIMEOUT_MS });
}

async function load(dir: string, name: string): Promise<TestCertificate> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key, certPath, keyPath };
}

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name))
    throw new Error(`certificate name ${JSON.stringify(name)} is not [A-Za-z0-9._-]`);
}

function subjectAltName(hosts: readonly string[]): string {
  const ip = /^[0-9.]+$|:/;
  return hosts.map((host) => (ip.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
}

/** A new CA in a new temporary directory. `name` is the CA's common name. */
export async function createTestPki(options: { readonly name?: string } = {}): Promise<TestPki> {
  const caName = options.name ?? 'ackord-test-ca';
  checkName(caName);
  const dir = await mkdtemp(join(tmpdir(), 'ackord-pki-'));
  const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  try {
    await openssl(
      [
        'req',
        '-x509',
        ...keyArgs,
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        String(VALIDITY_DAYS),
        '-subj',
        `/CN=${caName}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const ca = await load(dir, 'ca');
  let removed: Promise<void> | undefined;
  const remove = () => {
    removed ??= rm(dir, { recursive: true, force: true });
    return removed;
  };
  const issued = new Map<string, Promise<TestCertificate>>();
  const pki: TestPki = {
    dir,
    ca,
    async tlsFor(name) {
      let certificate = issued.get(name);
      if (certificate === undefined) {
        certificate = pki.issue(name);
        issued.set(name, certificate);
      }
      const { cert, key } = await certificate;
      return { ca: ca.cert, cert, key };
    },
    async issue(name, issueOptions = {}) {
      checkName(name);
      if (name === 'ca') throw new Error('"ca" is the CA\'s own file name');
      const extensions = [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=${subjectAltName(issueOptions.hosts ?? DEFAULT_HOSTS)}`,
      ];
      await writeFile(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
      await openssl(
        ['req', ...keyArgs, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
        dir,
      );
      await openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-set_serial',
          `0x${randomBytes(16).toString('hex')}`,
          '-days',
          String(VALIDITY_DAYS),
          '-out',
          `${name}.crt`,
          '-extfile',
          `${name}.ext`,
        ],
        dir,
      );
      return load(dir, name);
    },
    remove,
    [Symbol.asyncDispose]: remove,
  };
  return pki;
}
