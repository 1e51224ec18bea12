// The user's kubeconfig, read as kubectl reads it: --kubeconfig (one file), else $KUBECONFIG (several
// files, the first to set a name or the current context wins), else ~/.kube/config; --context picks the
// context, else current-context; -n, else the context's namespace, else "default". Paths inside a file
// are relative to that file. Credentials: a bearer token (or token file), a client certificate, basic
// auth, or an exec plugin (client.authentication.k8s.io), run once per meshctl process.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { environmentError } from '../errors.js';

interface NamedEntry<T> {
  name: string;
  value: T;
  /** The file that defined it, for relative paths. */
  file: string;
}

export interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo?: boolean;
}

interface RawCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}

interface RawUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  'auth-provider'?: { name: string };
}

interface RawContext {
  cluster: string;
  user: string;
  namespace?: string;
}

export interface KubeconfigFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** Everything needed to reach one cluster as one user. */
export interface ClusterAccess {
  context: string;
  /** The files read, in order (what an error names). */
  files: string[];
  server: string;
  namespace: string;
  /** Whether the namespace came from -n or the context (not the default). */
  namespaceSet: boolean;
  ca?: Buffer;
  insecure: boolean;
  tlsServerName?: string;
  user: string;
  token?: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  basic?: { username: string; password: string };
  exec?: { config: ExecConfig; file: string };
}

/** The kubeconfig files kubectl would read, and which of them exist. */
export function kubeconfigFiles(flags: KubeconfigFlags, env: NodeJS.ProcessEnv = process.env): { files: string[]; source: string } {
  if (flags.kubeconfig) return { files: [path.resolve(flags.kubeconfig)], source: '--kubeconfig' };
  if (env.KUBECONFIG) return { files: env.KUBECONFIG.split(path.delimiter).filter(Boolean).map((f) => path.resolve(f)), source: '$KUBECONFIG' };
  return { files: [path.join(env.HOME ?? os.homedir(), '.kube', 'config')], source: '~/.kube/config' };
}

function named<T>(list: unknown, key: string, file: string, into: Map<string, NamedEntry<T>>): void {
  if (!Array.isArray(list)) return;
  for (const item of list as Record<string, unknown>[]) {
    const name = item?.name;
    if (typeof name !== 'string' || into.has(name)) continue;
    into.set(name, { name, value: (item[key] ?? {}) as T, file });
  }
}

function readBytes(file: string | undefined, data: string | undefined, base: string, what: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (!file) return undefined;
  const p = path.resolve(path.dirname(base), file);
  try {
    return readFileSync(p);
  } catch (err) {
    throw environmentError(`The ${what} ${p} named in ${base} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix the kubeconfig or the file.`);
  }
}

/** Reads and merges the kubeconfig files and resolves the context; exit 3 with what to set when it cannot. */
export function loadClusterAccess(flags: KubeconfigFlags, env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  const { files, source } = kubeconfigFiles(flags, env);
  const present = files.filter((f) => existsSync(f));
  if (flags.kubeconfig && !present.length) throw environmentError(`The kubeconfig ${files[0]} given with --kubeconfig does not exist; pass the path of a kubeconfig file.`);
  if (!present.length) {
    throw environmentError(`No kubeconfig found (${source}: ${files.join(', ')}); set KUBECONFIG or pass --kubeconfig FILE, as for kubectl.`);
  }
  const clusters = new Map<string, NamedEntry<RawCluster>>();
  const users = new Map<string, NamedEntry<RawUser>>();
  const contexts = new Map<string, NamedEntry<RawContext>>();
  let current: string | undefined;
  for (const file of present) {
    let doc: Record<string, unknown>;
    try {
      doc = (yaml.load(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw environmentError(`The kubeconfig ${file} is not valid YAML (${(err as Error).message.split('\n')[0]}); fix it or point KUBECONFIG elsewhere.`);
    }
    named(doc.clusters, 'cluster', file, clusters);
    named(doc.users, 'user', file, users);
    named(doc.contexts, 'context', file, contexts);
    if (!current && typeof doc['current-context'] === 'string' && doc['current-context']) current = doc['current-context'];
  }
  const contextName = flags.context ?? current;
  const known = [...contexts.keys()].join(', ') || 'none';
  if (!contextName) throw environmentError(`The kubeconfig (${present.join(', ')}) sets no current context; pass --context NAME (contexts: ${known}) or run kubectl config use-context NAME.`);
  const ctx = contexts.get(contextName);
  if (!ctx) throw environmentError(`There is no context "${contextName}" in the kubeconfig (${present.join(', ')}); contexts: ${known}.`);
  const cluster = clusters.get(ctx.value.cluster);
  if (!cluster?.value.server) throw environmentError(`Context "${contextName}" names cluster "${ctx.value.cluster}", which the kubeconfig (${present.join(', ')}) does not define with a server.`);
  const user = users.get(ctx.value.user);
  const u = user?.value ?? {};
  const ufile = user?.file ?? ctx.file;
  if (u['auth-provider']) throw environmentError(`User "${ctx.value.user}" of context "${contextName}" uses the auth-provider "${u['auth-provider'].name}", which meshctl does not run; switch it to an exec plugin (gke-gcloud-auth-plugin, kubelogin for OIDC).`);
  const tokenFromFile = u.tokenFile ? readBytes(u.tokenFile, undefined, ufile, 'token file')?.toString('utf8').trim() : undefined;
  return {
    context: contextName,
    files: present,
    server: cluster.value.server.replace(/\/+$/, ''),
    namespace: flags.namespace ?? ctx.value.namespace ?? 'default',
    namespaceSet: Boolean(flags.namespace ?? ctx.value.namespace),
    ca: readBytes(cluster.value['certificate-authority'], cluster.value['certificate-authority-data'], cluster.file, 'certificate authority'),
    insecure: cluster.value['insecure-skip-tls-verify'] === true,
    tlsServerName: cluster.value['tls-server-name'],
    user: ctx.value.user,
    token: u.token ?? tokenFromFile,
    clientCert: readBytes(u['client-certificate'], u['client-certificate-data'], ufile, 'client certificate'),
    clientKey: readBytes(u['client-key'], u['client-key-data'], ufile, 'client key'),
    basic: u.username && u.password ? { username: u.username, password: u.password } : undefined,
    exec: u.exec ? { config: u.exec, file: ufile } : undefined,
  };
}

export interface ExecCredential {
  token?: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  expiresAt?: Date;
}

/** Runs the exec credential plugin (once per process: the caller keeps the answer until it expires). */
export function runExecPlugin(access: ClusterAccess): Promise<ExecCredential> {
  const { config } = access.exec!;
  const apiVersion = config.apiVersion ?? 'client.authentication.k8s.io/v1';
  const info = { apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(config.provideClusterInfo ? { cluster: { server: access.server, ...(access.ca ? { 'certificate-authority-data': access.ca.toString('base64') } : {}) } } : {}) } };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  for (const e of config.env ?? []) env[e.name] = e.value;
  const who = `The credential plugin "${config.command}" of user "${access.user}" (context "${access.context}")`;
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(config.command, config.args ?? [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(environmentError(`${who} cannot be started (${(err as Error).message}).`));
      return;
    }
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = config.installHint ? ` ${config.installHint.trim().split('\n')[0]}` : '';
      reject(environmentError(e.code === 'ENOENT' ? `${who} is not installed or not on PATH.${hint}` : `${who} cannot be started (${e.message}).`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(environmentError(`${who} failed with exit code ${code}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}.`));
        return;
      }
      try {
        const cred = JSON.parse(out) as { status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string } };
        const s = cred.status ?? {};
        if (!s.token && !(s.clientCertificateData && s.clientKeyData)) throw new Error('no token and no client certificate in its status');
        resolve({
          token: s.token,
          clientCert: s.clientCertificateData ? Buffer.from(s.clientCertificateData) : undefined,
          clientKey: s.clientKeyData ? Buffer.from(s.clientKeyData) : undefined,
          expiresAt: s.expirationTimestamp ? new Date(s.expirationTimestamp) : undefined,
        });
      } catch (e) {
        reject(environmentError(`${who} printed no usable ExecCredential (${(e as Error).message}).`));
      }
    });
  });
}
