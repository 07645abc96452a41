import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import cassandra from 'cassandra-driver';
import { HarnessError } from './errors.js';
import { cacheHome, dataHome, toolsDir } from './paths.js';

/**
 * A local Apache Cassandra for tests, the demo and benchmarks: the real server, resolved from
 * Maven Central as jars (the 5.0 binary tarball is not published there) and run as a daemon from
 * its classpath. One folder and one set of ports per node, so a 3-node cluster on 127.0.0.1-3 can
 * be started the same way.
 */

export const CASSANDRA_VERSION = '5.0.8';

const run = promisify(execFile);
const harnessFiles = path.join(toolsDir, 'cassandra');

export interface CassandraTls {
  /** JKS keystore holding the node's key and certificate. */
  keystore: string;
  keystorePassword: string;
  /** When set, clients must present a certificate this truststore trusts. */
  truststore?: string;
  truststorePassword?: string;
}

export interface CassandraNodeOptions {
  /** 1 for 127.0.0.1, 2 for 127.0.0.2, ... Default 1. */
  node?: number;
  /** Where the jars are cached. Default: see {@link cacheHome}. */
  cacheDir?: string;
  /** Where the node keeps data and logs. Default `<dataHome()>/cassandra` (never node_modules). */
  runDir?: string;
  /** CQL port. Default 9042. */
  nativePort?: number;
  /** Internode port. Default 7000. */
  storagePort?: number;
  /** JMX port (loopback only). Default 7199. */
  jmxPort?: number;
  /** Heap size. Default `1G`: the stock script would take a quarter of the machine. */
  heap?: string;
  /** Switch on PasswordAuthenticator (superuser cassandra/cassandra). */
  auth?: boolean;
  /** Switch on client encryption on the CQL port. */
  tls?: CassandraTls;
  /** `host:port` of the seed nodes. Default: the node itself (a cluster of one). */
  seeds?: string;
  /**
   * When the commitlog reaches the disk. `group` (default) and `batch` acknowledge a write only
   * after its commitlog segment is synced, so an acknowledged write survives kill -9 of the node;
   * `periodic` syncs every 10 s and acknowledges at once, so up to 10 s of acknowledged writes die
   * with a crashed node (what the harness ran before; kept to measure the difference).
   */
  commitlog?: CommitlogSync;
  /**
   * `group` mode: how long writes wait to share one sync. Default 2 ms: on the 2-core machine
   * it kept 0.48 of periodic's write throughput where 10 ms kept 0.14 (bench/commitlog.ts).
   */
  commitlogGroupWindowMs?: number;
  /**
   * Join the ring without streaming (`auto_bootstrap`). Default true. A fresh multi-node test
   * cluster has nothing to stream, and bootstrapping would make each extra node wait out the
   * ring delay.
   */
  autoBootstrap?: boolean;
  /** How long to wait for the node to serve CQL. Default 180 s. */
  startTimeoutMs?: number;
  /** Progress lines (download, start). Default: none. */
  log?: (line: string) => void;
}

export type CommitlogSync = 'periodic' | 'group' | 'batch';

export interface RunningCassandra {
  contactPoints: string[];
  localDataCenter: string;
  port: number;
  /** True when this call started the node (and so should stop it). */
  startedByUs: boolean;
  stop(): Promise<void>;
}

interface NodeLayout {
  host: string;
  nativePort: number;
  storagePort: number;
  jmxPort: number;
  dir: string;
  logFile: string;
  pidFile: string;
  configFile: string;
}

function layoutOf(options: CassandraNodeOptions): NodeLayout {
  const node = options.node ?? 1;
  const dir = path.join(options.runDir ?? path.join(dataHome(), 'cassandra'), `node${node}`);
  return {
    host: `127.0.0.${node}`,
    nativePort: options.nativePort ?? 9042,
    storagePort: options.storagePort ?? 7000,
    jmxPort: options.jmxPort ?? 7199,
    dir,
    logFile: path.join(dir, 'logs/stdout.log'),
    pidFile: path.join(dir, 'cassandra.pid'),
    configFile: path.join(dir, 'conf/cassandra.yaml'),
  };
}

/** `CASSANDRA_CONTACT_POINTS` set: use that cluster. Otherwise start (or reuse) the local node. */
export async function ensureCassandra(options: CassandraNodeOptions = {}): Promise<RunningCassandra> {
  const configured = process.env.CASSANDRA_CONTACT_POINTS;
  if (configured !== undefined && configured.trim() !== '') {
    const contactPoints = configured
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    return {
      contactPoints,
      localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
      port: Number(process.env.CASSANDRA_PORT ?? 9042),
      startedByUs: false,
      stop: async () => undefined,
    };
  }
  return startCassandra(options);
}

export async function startCassandra(options: CassandraNodeOptions = {}): Promise<RunningCassandra> {
  const layout = layoutOf(options);
  const log = options.log ?? (() => undefined);
  const running = (): RunningCassandra => ({
    contactPoints: [layout.host],
    localDataCenter: 'datacenter1',
    port: layout.nativePort,
    startedByUs: true,
    stop: async () => {
      await stopCassandra(options);
    },
  });

  const pid = readPid(layout);
  if (pid !== undefined && isAlive(pid)) {
    if (await answersCql(layout, options)) {
      log(`Cassandra node ${layout.host}:${layout.nativePort} is already running (pid ${pid}); reusing it`);
      return { ...running(), startedByUs: false };
    }
    // Alive but not serving: it may still be starting (another process started it); wait for it.
    await waitUntilReady(layout, options, pid, undefined);
    return { ...running(), startedByUs: false };
  }

  const java = await checkJava();
  for (const port of [layout.nativePort, layout.storagePort, layout.jmxPort]) {
    await assertPortFree(layout.host, port);
  }
  const lib = await ensureJars(options.cacheDir, log);
  writeNodeConfig(layout, options);

  const jamm = readdirSync(lib).find((f) => /^jamm-.*\.jar$/.test(f));
  if (jamm === undefined)
    throw new HarnessError(`jamm agent jar missing from ${lib}; delete the folder to re-fetch`);
  const tmp = path.join(layout.dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const jvmOptions = readFileSync(path.join(harnessFiles, 'jvm17.options'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const heap = options.heap ?? '1G';
  const args = [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Xss256k',
    ...jvmOptions,
    `-javaagent:${path.join(lib, jamm)}`,
    '-Dcassandra-foreground=yes',
    `-Dcassandra.config=file://${layout.configFile}`,
    `-Dcassandra.storagedir=${path.join(layout.dir, 'data')}`,
    `-Dcassandra.logdir=${path.join(layout.dir, 'logs')}`,
    `-Dlogback.configurationFile=file://${path.join(harnessFiles, 'logback.xml')}`,
    `-Dcassandra.jmx.local.port=${layout.jmxPort}`,
    // A single fresh node has nobody to gossip with: do not wait for gossip to settle.
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    '-Dcassandra.superuser_setup_delay_ms=0',
    // JNA unpacks a native library into the temp dir and loads it from there: it must allow exec.
    `-Djava.io.tmpdir=${tmp}`,
    `-Djna.tmpdir=${tmp}`,
    '-cp',
    `${lib}/*`,
    'org.apache.cassandra.service.CassandraDaemon',
  ];
  mkdirSync(path.dirname(layout.logFile), { recursive: true });
  const out = openSync(layout.logFile, 'w');
  log(
    `Starting Cassandra ${CASSANDRA_VERSION} on ${layout.host}:${layout.nativePort} (log: ${layout.logFile})`,
  );
  const child = spawn(java, args, { detached: true, stdio: ['ignore', out, out], cwd: layout.dir });
  if (child.pid === undefined) throw new HarnessError(`Could not start ${java}`);
  writeFileSync(layout.pidFile, String(child.pid));
  child.unref();
  try {
    await waitUntilReady(layout, options, child.pid, child);
  } catch (error) {
    killQuietly(child.pid);
    throw error;
  }
  return running();
}

export async function stopCassandra(options: CassandraNodeOptions = {}): Promise<boolean> {
  const layout = layoutOf(options);
  const pid = readPid(layout);
  if (pid === undefined || !isAlive(pid)) {
    rmSync(layout.pidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(100);
  }
  rmSync(layout.pidFile, { force: true });
  return true;
}

/**
 * Sends a signal to a node this harness started in `runDir`: SIGKILL (a crash: the pid file goes,
 * so the node can be started again on the same data), SIGSTOP (a frozen node) or SIGCONT. Refuses
 * a process whose command line does not name this node's folder, so a stale pid file can never
 * aim a fault at someone else's process. Returns the pid signalled.
 */
export async function signalCassandra(
  options: CassandraNodeOptions,
  signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT',
): Promise<number> {
  const layout = layoutOf(options);
  const pid = readPid(layout);
  if (pid === undefined || !isAlive(pid))
    throw new HarnessError(`No running Cassandra node in ${layout.dir} to send ${signal} to`);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  if (!cmdline.includes(`-Dcassandra.storagedir=${path.join(layout.dir, 'data')}`))
    throw new HarnessError(`pid ${pid} in ${layout.pidFile} is not the Cassandra node of ${layout.dir}`);
  process.kill(pid, signal);
  if (signal === 'SIGKILL') {
    while (isAlive(pid)) await sleep(50);
    rmSync(layout.pidFile, { force: true });
  }
  return pid;
}

export interface CassandraStatus {
  running: boolean;
  pid?: number;
  servesCql: boolean;
  host: string;
  port: number;
}

export async function cassandraStatus(options: CassandraNodeOptions = {}): Promise<CassandraStatus> {
  const layout = layoutOf(options);
  const pid = readPid(layout);
  const alive = pid !== undefined && isAlive(pid);
  return {
    running: alive,
    ...(alive ? { pid } : {}),
    servesCql: alive && (await answersCql(layout, options)),
    host: layout.host,
    port: layout.nativePort,
  };
}

/** Driver options that fit the harness node: the Node driver speaks protocol v4 at most. */
export function harnessClientOptions(
  running: Pick<RunningCassandra, 'contactPoints' | 'localDataCenter' | 'port'>,
) {
  return {
    contactPoints: running.contactPoints,
    localDataCenter: running.localDataCenter,
    protocolOptions: { port: running.port, maxVersion: 4 },
  };
}

// --- checks -----------------------------------------------------------------------------------

export async function checkJava(): Promise<string> {
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin/java') : 'java';
  let output: string;
  try {
    const { stderr, stdout } = await run(java, ['-version']);
    output = `${stderr}${stdout}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new HarnessError(
        `No Java runtime: '${java}' was not found. Cassandra ${CASSANDRA_VERSION} needs JDK 17 — install it (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME.`,
      );
    }
    throw new HarnessError(`Could not run '${java} -version': ${(error as Error).message}`, { cause: error });
  }
  const major = javaMajor(output);
  if (major === undefined)
    throw new HarnessError(`Could not read the Java version from: ${output.split('\n')[0]}`);
  if (major !== 11 && major !== 17) {
    throw new HarnessError(
      `Java ${major} found at '${java}', but Cassandra ${CASSANDRA_VERSION} runs on Java 11 or 17 only. Set JAVA_HOME to a JDK 17.`,
    );
  }
  return java;
}

export function javaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

/** Fails with the port's name when something that is not our node listens there. */
export async function assertPortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new HarnessError(
            `Port ${port} on ${host} is already in use by another process (not this harness's Cassandra). ` +
              `Stop that process, or set CASSANDRA_CONTACT_POINTS to use a cluster that is already running.`,
          ),
        );
      } else if (error.code === 'EADDRNOTAVAIL') {
        reject(new HarnessError(`Address ${host} is not available on this machine for port ${port}.`));
      } else reject(error);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

async function ensureJars(cacheDir: string | undefined, log: (line: string) => void): Promise<string> {
  const base = path.join(cacheDir ?? cacheHome(), 'cassandra');
  const dir = path.join(base, CASSANDRA_VERSION);
  const lib = path.join(dir, 'lib');
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) return lib;
  try {
    await run('mvn', ['-v']);
  } catch {
    throw new HarnessError(
      'Maven (mvn) is not installed: the harness fetches Cassandra from Maven Central with it. Install it (apt-get install maven).',
    );
  }
  log(`Fetching Apache Cassandra ${CASSANDRA_VERSION} and its dependencies from Maven Central into ${lib}`);
  mkdirSync(dir, { recursive: true });
  rmSync(lib, { recursive: true, force: true });
  try {
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        path.join(harnessFiles, 'pom.xml'),
        `-Dcassandra.version=${CASSANDRA_VERSION}`,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${lib}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    throw new HarnessError(
      `Could not fetch org.apache.cassandra:cassandra-all:${CASSANDRA_VERSION} with Maven:\n${tail(output, 20)}`,
      { cause: error },
    );
  }
  writeFileSync(marker, new Date().toISOString());
  return lib;
}

// --- readiness --------------------------------------------------------------------------------

async function waitUntilReady(
  layout: NodeLayout,
  options: CassandraNodeOptions,
  pid: number,
  child: ChildProcess | undefined,
): Promise<void> {
  const deadline = Date.now() + (options.startTimeoutMs ?? 180_000);
  let exited: number | null | undefined;
  child?.once('exit', (code) => {
    exited = code;
  });
  let started = false;
  while (Date.now() < deadline) {
    const text = existsSync(layout.logFile) ? readFileSync(layout.logFile, 'utf8') : '';
    if (text.includes('Exception encountered during startup')) {
      throw new HarnessError(
        `Cassandra failed during startup. Last lines of ${layout.logFile}:\n${tail(text, 30)}`,
      );
    }
    if (exited !== undefined || !isAlive(pid)) {
      throw new HarnessError(
        `Cassandra exited during startup${exited == null ? '' : ` with code ${exited}`}. Last lines of ${layout.logFile}:\n${tail(text, 30)}`,
      );
    }
    started ||= text.includes('Startup complete');
    // The CQL port opens slightly before it serves: only a real query says it is ready.
    if (started && (await answersCql(layout, options))) return;
    await sleep(500);
  }
  const text = existsSync(layout.logFile) ? readFileSync(layout.logFile, 'utf8') : '';
  throw new HarnessError(
    `Cassandra did not serve CQL within ${(options.startTimeoutMs ?? 180_000) / 1000} s. Last lines of ${layout.logFile}:\n${tail(text, 30)}`,
  );
}

async function answersCql(layout: NodeLayout, options: CassandraNodeOptions): Promise<boolean> {
  const client = new cassandra.Client({
    contactPoints: [layout.host],
    localDataCenter: 'datacenter1',
    protocolOptions: { port: layout.nativePort, maxVersion: 4 },
    socketOptions: { connectTimeout: 2000, readTimeout: 4000 },
    ...(options.auth ? { credentials: { username: 'cassandra', password: 'cassandra' } } : {}),
    ...(options.tls ? { sslOptions: { rejectUnauthorized: false } } : {}),
  });
  try {
    await client.execute('SELECT release_version FROM system.local');
    return true;
  } catch {
    return false;
  } finally {
    await client.shutdown().catch(() => undefined);
  }
}

// --- configuration ----------------------------------------------------------------------------

function writeNodeConfig(layout: NodeLayout, options: CassandraNodeOptions): void {
  const data = path.join(layout.dir, 'data');
  for (const sub of ['data', 'commitlog', 'saved_caches', 'hints', 'cdc_raw']) {
    mkdirSync(path.join(data, sub), { recursive: true });
  }
  mkdirSync(path.dirname(layout.configFile), { recursive: true });
  writeFileSync(layout.configFile, cassandraYaml(layout, options));
}

/**
 * One node on loopback, tuned to start fast and stay small. 5.0 refuses to start without the
 * commitlog sync settings, partitioner, snitch and seeds, and refuses keys it does not know.
 */
export function cassandraYaml(
  layout: Pick<NodeLayout, 'host' | 'nativePort' | 'storagePort' | 'dir'>,
  options: CassandraNodeOptions,
): string {
  const data = path.join(layout.dir, 'data');
  const tls = options.tls;
  const lines = [
    'cluster_name: sluice',
    'num_tokens: 16',
    'partitioner: org.apache.cassandra.dht.Murmur3Partitioner',
    'endpoint_snitch: SimpleSnitch',
    'seed_provider:',
    '  - class_name: org.apache.cassandra.locator.SimpleSeedProvider',
    '    parameters:',
    `      - seeds: "${options.seeds ?? `${layout.host}:${layout.storagePort}`}"`,
    `listen_address: ${layout.host}`,
    `rpc_address: ${layout.host}`,
    `storage_port: ${layout.storagePort}`,
    'start_native_transport: true',
    `native_transport_port: ${layout.nativePort}`,
    ...commitlogYaml(options),
    'data_file_directories:',
    `  - ${path.join(data, 'data')}`,
    `commitlog_directory: ${path.join(data, 'commitlog')}`,
    `saved_caches_directory: ${path.join(data, 'saved_caches')}`,
    `hints_directory: ${path.join(data, 'hints')}`,
    `cdc_raw_directory: ${path.join(data, 'cdc_raw')}`,
    `authenticator: ${options.auth ? 'PasswordAuthenticator' : 'AllowAllAuthenticator'}`,
    `authorizer: ${options.auth ? 'CassandraAuthorizer' : 'AllowAllAuthorizer'}`,
    'role_manager: CassandraRoleManager',
    'disk_failure_policy: stop',
    'commit_failure_policy: stop',
    'concurrent_reads: 8',
    'concurrent_writes: 16',
    'concurrent_counter_writes: 8',
    // Small caches and memtables: a test node on a 2-core machine, not a production one.
    'memtable_heap_space: 128MiB',
    'key_cache_size: 16MiB',
    'write_request_timeout: 2000ms',
    'read_request_timeout: 5000ms',
    'batch_size_warn_threshold: 64KiB',
    'batch_size_fail_threshold: 640KiB',
  ];
  if (options.autoBootstrap === false) lines.push('auto_bootstrap: false');
  if (tls) {
    lines.push(
      'client_encryption_options:',
      '  enabled: true',
      '  optional: false',
      `  keystore: ${tls.keystore}`,
      `  keystore_password: ${tls.keystorePassword}`,
      ...(tls.truststore
        ? [
            '  require_client_auth: true',
            `  truststore: ${tls.truststore}`,
            `  truststore_password: ${tls.truststorePassword ?? ''}`,
          ]
        : ['  require_client_auth: false']),
    );
  }
  return `${lines.join('\n')}\n`;
}

function commitlogYaml(options: CassandraNodeOptions): string[] {
  const mode = options.commitlog ?? 'group';
  if (mode === 'periodic') return ['commitlog_sync: periodic', 'commitlog_sync_period: 10000ms'];
  if (mode === 'batch') return ['commitlog_sync: batch'];
  const window = options.commitlogGroupWindowMs ?? 2;
  if (!Number.isInteger(window) || window < 1)
    throw new HarnessError(`commitlogGroupWindowMs must be a positive integer, got ${window}`);
  return ['commitlog_sync: group', `commitlog_sync_group_window: ${window}ms`];
}

// --- small helpers ----------------------------------------------------------------------------

function readPid(layout: NodeLayout): number | undefined {
  if (!existsSync(layout.pidFile)) return undefined;
  const pid = Number(readFileSync(layout.pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed node that its parent has not reaped yet still answers signal 0: a zombie is dead.
  if (!existsSync('/proc/self/stat')) return true;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
