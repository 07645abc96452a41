import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import * as examples from '../../examples/index.js';
import { findTool, HELM, pinnedVersion, toolPath } from '../../packages/cassandra-harness/src/goTools.js';
import * as library from '../../src/index.js';
import { projectRoot } from '../support/projectRoot.js';

// The Helm chart, rendered by a real Helm (built from the Go module proxy by `npm run helm:install`)
// with its default values and with one values file per mode, and checked as Kubernetes would get it.

const chart = path.join(projectRoot, 'deploy/helm/sluice');
const helm = findTool(HELM);
/** Time the service needs after the drain to abandon the rest and close its connections. */
const MIN_MARGIN_SECONDS = 5;

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, checked field by field below
  spec?: any;
  data?: Record<string, string>;
};

const modes: Record<string, string[]> = {
  'default values (workload identity, queue, KEDA)': [],
  'connection string, queue, Cassandra password and mTLS, scale to zero': [
    '-f',
    path.join(chart, 'ci/connection-string-values.yaml'),
  ],
  'workload identity, topic subscription, other cloud, ServiceMonitor + PrometheusRule': [
    '-f',
    path.join(chart, 'ci/workload-identity-subscription-values.yaml'),
  ],
  'sessions, fixed replicas, tuned batches, longer drain': [
    '-f',
    path.join(chart, 'ci/sessions-values.yaml'),
  ],
};

function render(args: string[]): Manifest[] {
  const out = execFileSync(helm!, ['template', 'sluice-test', chart, '--namespace', 'apps', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(out)
    .map((doc) => {
      expect(doc.errors, 'rendered YAML parses').toEqual([]);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

function renderFails(args: string[]): string {
  const result = spawnSync(helm!, ['template', 'sluice-test', chart, ...args], { encoding: 'utf8' });
  expect(result.status, 'helm template should refuse these values').not.toBe(0);
  return result.stderr;
}

const one = (manifests: Manifest[], kind: string, nameSuffix = ''): Manifest => {
  const found = manifests.filter((m) => m.kind === kind && m.metadata.name.endsWith(nameSuffix));
  expect(
    found.map((m) => m.metadata.name),
    `one ${kind}${nameSuffix ? ` *${nameSuffix}` : ''}`,
  ).toHaveLength(1);
  return found[0]!;
};

function parts(manifests: Manifest[]) {
  const deployment = one(manifests, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const config = one(manifests, 'ConfigMap', '-config').data!;
  return { deployment, pod, container, config };
}

if (!helm) {
  describe('Helm chart', () => {
    it.skip(`SKIPPED: no Helm binary at ${toolPath(HELM)} (run 'npm run helm:install', or set ${HELM.envOverride})`, () => {});
  });
  console.warn(`helm.spec.ts: chart tests skipped, no Helm binary (run 'npm run helm:install')`);
}

describe('the Helm build pins', () => {
  it('builds the Helm version that tools/helm/go.mod requires', () => {
    expect(pinnedVersion(HELM)).toBe(HELM.version);
    expect(HELM.ldflags.join(' ')).toContain(`version.version=${HELM.version}`);
    // The Kubernetes version Helm renders against follows the client-go it is built with.
    const clientGo = /k8s\.io\/client-go v0\.(\d+)\./.exec(
      readFileSync(path.join(projectRoot, 'packages/cassandra-harness/tools/helm/go.mod'), 'utf8'),
    )?.[1];
    expect(HELM.ldflags.join(' ')).toContain(`chartutil.k8sVersionMinor=${clientGo}`);
  });
});

describe.skipIf(!helm)('Helm chart deploy/helm/sluice', () => {
  it('passes helm lint --strict with the default values and every values file', () => {
    for (const [mode, args] of Object.entries(modes)) {
      const result = spawnSync(helm!, ['lint', '--strict', chart, ...args], { encoding: 'utf8' });
      expect(result.status, `${mode}:\n${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  describe.each(Object.entries(modes))('rendered with %s', (_mode, args) => {
    const manifests = helm ? render(args) : [];

    it('probes /healthz (liveness) and /readyz (readiness) on the port the service listens on', () => {
      const { container, config } = parts(manifests);
      const port = container.ports.find((p: { name: string }) => p.name === 'http');
      expect(port.containerPort).toBe(Number(config.SLUICE_HTTP_PORT));
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    });

    it('gives the drain its time: terminationGracePeriodSeconds > drain timeout + margin', () => {
      const { pod, config } = parts(manifests);
      const drainSeconds = Number(config.SLUICE_DRAIN_TIMEOUT_MS) / 1000;
      expect(drainSeconds).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainSeconds + MIN_MARGIN_SECONDS);
    });

    it('runs as a numeric non-root user, read-only root filesystem, no capabilities, RuntimeDefault seccomp', () => {
      const { pod, container } = parts(manifests);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      const sc = container.securityContext;
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.privileged).toBe(false);
      expect(sc.capabilities.drop).toEqual(['ALL']);
      expect(sc.capabilities.add).toBeUndefined();
      expect(pod.hostNetwork ?? false).toBe(false);
      expect(pod.automountServiceAccountToken).toBe(false);
      // The only writable mounts are emptyDirs (/tmp); everything else is mounted read-only.
      const volumes = new Map<string, Record<string, unknown>>(
        pod.volumes.map((v: { name: string }) => [v.name, v]),
      );
      for (const mount of container.volumeMounts) {
        if (mount.readOnly !== true) expect(volumes.get(mount.name), mount.name).toHaveProperty('emptyDir');
      }
      expect(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain('/tmp');
    });

    it('has resources, a PodDisruptionBudget and a Service the ServiceMonitor can select', () => {
      const { deployment, container } = parts(manifests);
      expect(container.resources.requests.cpu).toBeDefined();
      expect(container.resources.requests.memory).toBeDefined();
      expect(container.resources.limits.memory).toBeDefined();
      const pdb = one(manifests, 'PodDisruptionBudget');
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      const service = one(manifests, 'Service');
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports[0].targetPort).toBe('http');
    });

    it('keeps secrets out of the environment: no Secret rendered, no secret env, files mounted read-only', () => {
      const { pod, container, config } = parts(manifests);
      expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
      expect(container.env ?? []).toEqual([]);
      for (const source of container.envFrom) {
        expect(source.secretRef, 'no envFrom secretRef').toBeUndefined();
        expect(source.configMapRef).toBeDefined();
      }
      for (const name of ['SERVICEBUS_CONNECTION_STRING', 'CASSANDRA_PASSWORD']) {
        expect(config, `${name} in the ConfigMap`).not.toHaveProperty(name);
      }
      expect(JSON.stringify(config)).not.toMatch(/SharedAccessKey=|Endpoint=sb:/i);
      // Every file the configuration names lies under a read-only mount of a Secret holding that key.
      const fileVariables = Object.entries(config).filter(
        ([name]) => name.endsWith('_FILE') || /^CASSANDRA_TLS_(CA|CERT|KEY)$/.test(name),
      );
      for (const [name, file] of fileVariables) {
        const mount = container.volumeMounts.find((m: { mountPath: string }) =>
          file.startsWith(`${m.mountPath}/`),
        );
        expect(mount, `${name}=${file} is mounted`).toBeDefined();
        expect(mount.readOnly, `${name} mount is read-only`).toBe(true);
        const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
        expect(volume.secret?.secretName, `${name} comes from a Secret`).toBeTruthy();
        const key = file.slice(mount.mountPath.length + 1);
        expect(volume.secret.items.map((i: { path: string }) => i.path)).toContain(key);
        expect(volume.secret.defaultMode).toBe(0o440);
      }
    });

    it('mounts the pipeline module the container runs, importing only what the library exports', () => {
      const { container, pod } = parts(manifests);
      expect(container.args[0]).toBe('run');
      const modulePath: string = container.args[1];
      const modules = one(manifests, 'ConfigMap', '-pipelines').data!;
      const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'pipelines');
      expect(path.dirname(modulePath)).toBe(mount.mountPath);
      expect(Object.keys(modules)).toContain(path.basename(modulePath));
      expect(pod.volumes.find((v: { name: string }) => v.name === 'pipelines').configMap.name).toMatch(
        /-pipelines$/,
      );
      const source = modules[path.basename(modulePath)]!;
      const entryPoints: Record<string, object> = { sluice: library, 'sluice/examples': examples };
      const imported = [...source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)].flatMap((m) =>
        m[1]!.split(',').map((s) => [m[2]!, s.trim()] as const),
      );
      expect(imported.length).toBeGreaterThan(0);
      for (const [from, name] of imported) {
        expect(Object.keys(entryPoints), `${from} is a package entry point`).toContain(from);
        expect(entryPoints[from], `${from} exports ${name}`).toHaveProperty(name);
      }
      // Every variable the module reads is one the chart sets (or the service's own).
      const read = new Set([...source.matchAll(/env(?:\.|\[')([A-Z_]+)/g)].map((m) => m[1]!));
      const optional = new Set(['SLUICE_QUEUE', 'SLUICE_TOPIC', 'SLUICE_SUBSCRIPTION']);
      for (const name of read) expect(optional.has(name) || name in parts(manifests).config, name).toBe(true);
    });

    it('scales with KEDA on the entity it consumes, authenticated the same way, when KEDA is on', () => {
      const { deployment, config } = parts(manifests);
      const scaled = manifests.filter((m) => m.kind === 'ScaledObject');
      if (scaled.length === 0) {
        expect(deployment.spec.replicas).toBeGreaterThan(0);
        expect(manifests.filter((m) => m.kind === 'TriggerAuthentication')).toEqual([]);
        return;
      }
      // KEDA (the HPA it creates) owns the replica count.
      expect(deployment.spec.replicas).toBeUndefined();
      const so = one(manifests, 'ScaledObject');
      expect(so.apiVersion).toBe('keda.sh/v1alpha1');
      expect(so.spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: deployment.metadata.name,
      });
      expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(0);
      expect(so.spec.maxReplicaCount).toBeGreaterThanOrEqual(Math.max(1, so.spec.minReplicaCount));
      expect(so.spec.triggers).toHaveLength(1);
      const trigger = so.spec.triggers[0];
      expect(trigger.type).toBe('azure-servicebus');
      // Only parameters KEDA's azure-servicebus scaler reads, all strings (trigger metadata is string to string).
      const known = [
        'queueName',
        'topicName',
        'subscriptionName',
        'namespace',
        'messageCount',
        'activationMessageCount',
        'cloud',
        'endpointSuffix',
      ];
      for (const [key, value] of Object.entries(trigger.metadata)) {
        expect(known, `trigger metadata ${key}`).toContain(key);
        expect(typeof value, `trigger metadata ${key}`).toBe('string');
      }
      expect(Number(trigger.metadata.messageCount)).toBeGreaterThan(0);
      // The trigger watches the entity the service consumes.
      if (config.SLUICE_QUEUE !== undefined) {
        expect(trigger.metadata.queueName).toBe(config.SLUICE_QUEUE);
        expect(trigger.metadata.topicName).toBeUndefined();
      } else {
        expect(trigger.metadata.topicName).toBe(config.SLUICE_TOPIC);
        expect(trigger.metadata.subscriptionName).toBe(config.SLUICE_SUBSCRIPTION);
        expect(trigger.metadata.queueName).toBeUndefined();
      }
      const auth = one(manifests, 'TriggerAuthentication');
      expect(trigger.authenticationRef).toEqual({ name: auth.metadata.name });
      if (config.SERVICEBUS_NAMESPACE !== undefined) {
        // Workload identity: KEDA builds <namespace>.<endpointSuffix> itself.
        expect(auth.spec.podIdentity.provider).toBe('azure-workload');
        expect(auth.spec.secretTargetRef).toBeUndefined();
        const suffix = trigger.metadata.endpointSuffix ?? 'servicebus.windows.net';
        expect(`${trigger.metadata.namespace}.${suffix}`).toBe(config.SERVICEBUS_NAMESPACE);
        if (trigger.metadata.endpointSuffix !== undefined) expect(trigger.metadata.cloud).toBe('Private');
      } else {
        // Connection string: KEDA reads the same Secret the pod mounts, as its `connection` parameter.
        expect(auth.spec.podIdentity).toBeUndefined();
        const volume = parts(manifests).pod.volumes.find(
          (v: { name: string }) => v.name === 'servicebus-secret',
        );
        expect(auth.spec.secretTargetRef).toEqual([
          { parameter: 'connection', name: volume.secret.secretName, key: volume.secret.items[0].key },
        ]);
      }
    });

    it('wires Microsoft Entra workload identity only in workload identity mode', () => {
      const { deployment, config } = parts(manifests);
      const podLabels = deployment.spec.template.metadata.labels;
      const account = one(manifests, 'ServiceAccount');
      expect(deployment.spec.template.spec.serviceAccountName).toBe(account.metadata.name);
      if (config.SERVICEBUS_NAMESPACE !== undefined) {
        expect(podLabels['azure.workload.identity/use']).toBe('true');
        expect(config.SERVICEBUS_CONNECTION_STRING_FILE).toBeUndefined();
        const clientId = account.metadata.annotations?.['azure.workload.identity/client-id'];
        expect(config.AZURE_CLIENT_ID).toBe(clientId);
      } else {
        expect(podLabels['azure.workload.identity/use']).toBeUndefined();
        expect(config.AZURE_CLIENT_ID).toBeUndefined();
        expect(config.SERVICEBUS_CONNECTION_STRING_FILE).toMatch(/^\/var\/run\/secrets\//);
      }
    });

    it('ships the Grafana dashboard for the sidecar, with its data source resolved', () => {
      const dashboard = one(manifests, 'ConfigMap', '-dashboard');
      expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
      const json = dashboard.data!['sluice.json']!;
      expect(json).not.toContain('DS_PROMETHEUS}');
      const original = JSON.parse(readFileSync(path.join(projectRoot, 'deploy/grafana/sluice.json'), 'utf8'));
      expect(JSON.parse(json).panels.length).toBe(original.panels.length);
    });

    it('renders the ServiceMonitor and PrometheusRule only when asked, from deploy/prometheus/alerts.yml', () => {
      const monitors = manifests.filter((m) => m.kind === 'ServiceMonitor');
      const rules = manifests.filter((m) => m.kind === 'PrometheusRule');
      for (const monitor of monitors) {
        expect(monitor.spec.selector.matchLabels).toEqual(one(manifests, 'Service').spec.selector);
        expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
        expect(monitor.spec.namespaceSelector.matchNames).toEqual(['apps']);
      }
      for (const rule of rules) {
        const alerts = parse(readFileSync(path.join(projectRoot, 'deploy/prometheus/alerts.yml'), 'utf8'));
        expect(rule.spec.groups).toEqual(alerts.groups);
      }
    });
  });

  it('mode specifics: connection string with Cassandra password + mTLS', () => {
    const manifests = render(modes['connection string, queue, Cassandra password and mTLS, scale to zero']!);
    const { config } = parts(manifests);
    expect(config).toMatchObject({
      SERVICEBUS_CONNECTION_STRING_FILE: '/var/run/secrets/sluice/servicebus/connection-string',
      CASSANDRA_USERNAME: 'sluice',
      CASSANDRA_PASSWORD_FILE: '/var/run/secrets/sluice/cassandra/password',
      CASSANDRA_TLS_CA: '/var/run/secrets/sluice/cassandra-tls/ca.crt',
      CASSANDRA_TLS_CERT: '/var/run/secrets/sluice/cassandra-tls/tls.crt',
      CASSANDRA_TLS_KEY: '/var/run/secrets/sluice/cassandra-tls/tls.key',
      CASSANDRA_TLS_SERVER_NAME: 'cassandra.internal',
      SLUICE_QUEUE: 'orders',
    });
    expect(config.SERVICEBUS_NAMESPACE).toBeUndefined();
    const so = one(manifests, 'ScaledObject');
    expect(so.spec).toMatchObject({ minReplicaCount: 0, maxReplicaCount: 5 });
    expect(so.spec.triggers[0].metadata).toEqual({
      queueName: 'orders',
      messageCount: '200',
      activationMessageCount: '10',
    });
  });

  it('mode specifics: subscription through workload identity in another cloud', () => {
    const manifests = render(
      modes['workload identity, topic subscription, other cloud, ServiceMonitor + PrometheusRule']!,
    );
    const account = one(manifests, 'ServiceAccount');
    expect(account.metadata.annotations).toEqual({
      'azure.workload.identity/client-id': '11111111-2222-3333-4444-555555555555',
      'azure.workload.identity/tenant-id': '66666666-7777-8888-9999-000000000000',
    });
    expect(one(manifests, 'TriggerAuthentication').spec).toEqual({
      podIdentity: { provider: 'azure-workload', identityId: '11111111-2222-3333-4444-555555555555' },
    });
    expect(one(manifests, 'ScaledObject').spec.triggers[0].metadata).toEqual({
      topicName: 'events',
      subscriptionName: 'sluice',
      namespace: 'contoso',
      cloud: 'Private',
      endpointSuffix: 'servicebus.chinacloudapi.cn',
      messageCount: '500',
      activationMessageCount: '0',
    });
    expect(parts(manifests).config.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(
      'http://otel-collector.observability:4318',
    );
    expect(one(manifests, 'ServiceMonitor').metadata.labels?.release).toBe('prometheus');
    expect(one(manifests, 'PrometheusRule').metadata.labels?.release).toBe('prometheus');
  });

  it('mode specifics: sessions, batches and write concurrency reach the service', () => {
    const manifests = render(modes['sessions, fixed replicas, tuned batches, longer drain']!);
    const { config, deployment, pod } = parts(manifests);
    expect(config).toMatchObject({
      SLUICE_SESSIONS: '16',
      SLUICE_BATCH_MAX_COUNT: '100',
      SLUICE_BATCH_MAX_WAIT_MS: '50',
      SLUICE_WRITE_CONCURRENCY: '16',
      SLUICE_DRAIN_TIMEOUT_MS: '45000',
    });
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(deployment.spec.replicas).toBe(3);
    expect(manifests.filter((m) => m.kind === 'ScaledObject')).toEqual([]);
  });

  it("loads the default pipeline module and builds its pipeline from each mode's configuration", async () => {
    for (const [mode, args] of Object.entries(modes)) {
      const manifests = render(args);
      const { config } = parts(manifests);
      const source = one(manifests, 'ConfigMap', '-pipelines').data!['pipelines.mjs']!;
      // The image resolves 'sluice' to its own package; here, to the sources.
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-pipelines-'));
      const file = path.join(dir, 'pipelines.mjs');
      const libraryUrl = pathToFileURL(path.join(projectRoot, 'src/index.ts')).href;
      const examplesUrl = pathToFileURL(path.join(projectRoot, 'examples/index.ts')).href;
      writeFileSync(
        file,
        source
          .replaceAll("from 'sluice/examples'", `from '${examplesUrl}'`)
          .replaceAll("from 'sluice'", `from '${libraryUrl}'`),
      );
      const saved = { ...process.env };
      Object.assign(process.env, config);
      try {
        const module = (await import(pathToFileURL(file).href)) as { default: (ctx: unknown) => unknown };
        const context = { serviceBus: {}, cassandra: {}, config: { maxInFlight: 10 }, logger: {} };
        const definitions = module.default(context) as { name: string; source: unknown; process: unknown }[];
        expect(
          definitions.map((d) => d.name),
          mode,
        ).toEqual(['telemetry']);
        expect(typeof definitions[0]!.source).toBe('function');
      } finally {
        for (const name of Object.keys(config)) if (!(name in saved)) delete process.env[name];
        Object.assign(process.env, saved);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('fits Kubernetes’ default grace period by default: drain 20 s within 30 s', () => {
    const { config, pod } = parts(render([]));
    expect(config.SLUICE_DRAIN_TIMEOUT_MS).toBe('20000');
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    for (const name of [
      'SLUICE_SESSIONS',
      'SLUICE_BATCH_MAX_COUNT',
      'SLUICE_BATCH_MAX_WAIT_MS',
      'SLUICE_WRITE_CONCURRENCY',
      'SLUICE_RECEIVERS',
    ])
      expect(config, name).not.toHaveProperty(name);
    expect(parts(render(['--set', 'sluice.receivers=3'])).config.SLUICE_RECEIVERS).toBe('3');
    // An unset optional value (null) leaves the variable out rather than writing '<nil>'.
    const nulled = parts(render(['--set', 'sluice.batchSize=null', '--set', 'sluice.batchWaitMs=0'])).config;
    expect(nulled).not.toHaveProperty('SLUICE_BATCH_MAX_COUNT');
    expect(nulled.SLUICE_BATCH_MAX_WAIT_MS).toBe('0');
  });

  it('refuses values that would break the service, naming the value', () => {
    expect(renderFails(['--set', 'terminationGracePeriodSeconds=22'])).toMatch(
      /terminationGracePeriodSeconds \(22\) must be at least sluice.drainTimeoutSeconds \(20\)/,
    );
    expect(renderFails(['--set', 'sluice.drainTimeoutSeconds=30'])).toMatch(/SIGKILL cuts the drain short/);
    expect(
      renderFails(['--set', 'serviceBus.topicName=t', '--set', 'serviceBus.subscriptionName=s']),
    ).toMatch(/not both/);
    expect(renderFails(['--set', 'serviceBus.queueName=', '--set', 'serviceBus.topicName=t'])).toMatch(
      /subscriptionName must be set/,
    );
    expect(renderFails(['--set', 'serviceBus.auth=connectionString'])).toMatch(
      /connectionString.existingSecret must name a Secret/,
    );
    // values.schema.json catches what a template check would, earlier.
    expect(renderFails(['--set', 'serviceBus.auth=sas'])).toMatch(/serviceBus\/auth': value must be one of/);
    expect(renderFails(['--set', 'serviceBus.sessions.maxConcurent=4'])).toMatch(/maxConcurent/);
    expect(renderFails(['--set', 'cassandra.consistency=MOST'])).toMatch(/consistency/);
    expect(renderFails(['--set', 'sluice.extraEnv.CASSANDRA_PASSWORD=hunter2'])).toMatch(
      /must not hold CASSANDRA_PASSWORD/,
    );
    expect(renderFails(['--set', 'cassandra.auth.username=u'])).toMatch(/cassandra.auth.existingSecret/);
    expect(renderFails(['--set', 'keda.minReplicas=5', '--set', 'keda.maxReplicas=2'])).toMatch(
      /minReplicas must not exceed/,
    );
  });
});
