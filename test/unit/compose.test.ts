/**
 * docker-compose.yml and the Dockerfiles agree with the code, checked without a Docker engine
 * (there is none in CI): the file parses; images are pinned; every environment variable the code
 * reads (found by scanning the sources, not from a list) has a value in the containers that run
 * the code or a documented default; ports, volume paths, start order and secrets are consistent
 * with lib/config.ts and the API's defaults.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { loadConfig, type AppConfig } from '../../lib/config';

const root = join(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

// ---------------------------------------------------------------------------------------------
// Compose interpolation (the subset compose implements: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
// ${VAR:?msg}, ${VAR?msg}, ${VAR:+alt}), resolved as on a host where no variable is set.

interface Resolved {
  /** The value with defaults applied; a required variable becomes `<required:NAME>`. */
  value: string;
  /** Variables that must be set (`:?`), with no default. */
  required: string[];
  /** Every variable referenced. */
  vars: string[];
}

const INTERPOLATION = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

function resolve(raw: unknown): Resolved {
  const required: string[] = [];
  const vars: string[] = [];
  const value = String(raw).replace(INTERPOLATION, (match, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    vars.push(name);
    if (op === ':?' || op === '?') {
      required.push(name);
      return `<required:${name}>`;
    }
    if (op === ':-' || op === '-') return arg ?? '';
    return ''; // ${VAR}, $VAR and ${VAR:+alt} are empty when VAR is unset
  });
  return { value, required, vars };
}

// ---------------------------------------------------------------------------------------------
// The compose file.

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, unknown> | string[];
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
  ports?: (string | number | { target: number; published?: string | number })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  profiles?: string[];
  restart?: string;
  container_name?: string;
  deploy?: { replicas?: number };
}

const composeText = read('docker-compose.yml');
const composeDoc = parseDocument(composeText, { merge: true, uniqueKeys: true });
const compose = composeDoc.toJS({ maxAliasCount: 1000 }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

function environmentOf(s: Service): Record<string, Resolved> {
  const env: Record<string, Resolved> = {};
  if (Array.isArray(s.environment)) {
    for (const entry of s.environment) {
      const i = entry.indexOf('=');
      env[i < 0 ? entry : entry.slice(0, i)] = resolve(i < 0 ? '' : entry.slice(i + 1));
    }
  } else {
    for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = resolve(v ?? '');
  }
  return env;
}

const argv = (cmd: Service['command']): string[] => (Array.isArray(cmd) ? cmd.map((a) => resolve(a).value) : cmd ? resolve(cmd).value.split(/\s+/) : []);

function mounts(s: Service): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source ?? '', target: v.target, readOnly: v.read_only === true };
    const [source = '', target = '', mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

function publishedPorts(s: Service): { host: number; container: number }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return { host: Number(p.published), container: p.target };
    const parts = resolve(p).value.split(':');
    return { host: Number(parts[parts.length - 2]), container: Number(parts[parts.length - 1]) };
  });
}

function buildOf(s: Service): { context: string; dockerfile: string } | undefined {
  if (s.build === undefined) return undefined;
  const b = typeof s.build === 'string' ? { context: s.build } : s.build;
  return { context: b.context ?? '.', dockerfile: b.dockerfile ?? 'Dockerfile' };
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles.

interface Dockerfile {
  froms: { image: string; alias?: string }[];
  /** ENV of the final stage: what the containers start with. */
  env: Record<string, string>;
  text: string;
}

function parseDockerfile(path: string): Dockerfile {
  const text = read(path);
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const froms: Dockerfile['froms'] = [];
  let env: Record<string, string> = {};
  for (const line of instructions) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') {
      const args = rest.filter((a) => !a.startsWith('--'));
      froms.push({ image: args[0] ?? '', ...(args[1]?.toUpperCase() === 'AS' && args[2] ? { alias: args[2] } : {}) });
      env = {};
    } else if (keyword.toUpperCase() === 'ENV') {
      const body = rest.join(' ');
      if (body.includes('=')) for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
      else env[rest[0]!] = rest.slice(1).join(' ');
    }
  }
  return { froms, env, text };
}

/** A pullable reference pinned to a release: a version tag with at least major.minor, or a digest. */
const PINNED = /^[a-z0-9][a-z0-9._\-/]*(:[0-9]+)?(\/[a-z0-9._-]+)*(:v?\d+\.\d+[A-Za-z0-9._-]*)?(@sha256:[0-9a-f]{64})?$/;
function isPinned(ref: string): boolean {
  const m = PINNED.exec(ref);
  return m !== null && (m[3] !== undefined || m[4] !== undefined);
}

// ---------------------------------------------------------------------------------------------
// The environment variables the code reads, found in the sources.

const SCANNED_DIRS = ['lib', 'api', 'workers', 'scripts', 'activities', 'workflows'];
const NAME = '[A-Z][A-Z0-9_]*';
const READS = [
  // process.env.X, env.X, spec.env?.X
  new RegExp(`\\benv\\s*(?:\\?\\.|\\.)\\s*(${NAME})\\b`, 'g'),
  // env['X'], process.env["X"]
  new RegExp(`\\benv\\s*(?:\\?\\.)?\\[\\s*['"\`](${NAME})['"\`]\\s*\\]`, 'g'),
  // helpers taking the environment and a name: port(env, 'API_PORT', 8000)
  new RegExp(`\\w+\\(\\s*(?:process\\.)?env\\s*,\\s*['"\`](${NAME})['"\`]`, 'g'),
];
const DESTRUCTURED = /\{([^{}]*)\}\s*=\s*(?:process\.)?env\b/g;
/** `env[name]` with a computed key: every SCREAMING_SNAKE string literal of that file may be read. */
const COMPUTED_KEY = /\benv\s*(?:\?\.)?\[\s*[^'"`\s\]]/;
const ENV_NAME_LITERAL = /['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]/g;

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|mts|cts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const runtimeFiles = SCANNED_DIRS.flatMap((d) => sourceFiles(join(root, d)));
const posix = (path: string) => relative(root, path).split(sep).join('/');

/** The variable names one source text reads. */
function scanText(text: string): Set<string> {
  const names = new Set<string>();
  for (const re of READS) for (const m of text.matchAll(re)) names.add(m[1]!);
  for (const m of text.matchAll(DESTRUCTURED)) {
    for (const part of m[1]!.split(',')) {
      const key = part.split(/[:=]/)[0]!.trim();
      if (new RegExp(`^${NAME}$`).test(key)) names.add(key);
    }
  }
  if (COMPUTED_KEY.test(text)) for (const m of text.matchAll(ENV_NAME_LITERAL)) names.add(m[1]!);
  return names;
}

/** Variable name → the files (relative, POSIX) that read it. */
function scanEnvReads(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const path of runtimeFiles) {
    for (const name of scanText(readFileSync(path, 'utf8'))) {
      if (!found.has(name)) found.set(name, new Set());
      found.get(name)!.add(posix(path));
    }
  }
  return found;
}

/**
 * Read by the code, deliberately not set in docker-compose.yml: the default is what the containers
 * want. `config` names the lib/config.ts field whose default is checked against `value`.
 */
const DOCUMENTED_DEFAULTS: Record<string, { value: string; why: string; config?: keyof AppConfig }> = {
  TEMPORAL_UI_PORT: { value: '8233', config: 'temporalUiPort', why: 'only used for links printed by npm run train; docker-compose.yml publishes the Web UI on this host port' },
  API_TOKENS_FILE: { value: '', why: 'the API takes its tokens from API_TOKEN_*; a hashed tokens file would have to be mounted (README)' },
  XGBOOST_LIBRARY: { value: '', why: 'unset: libxgboost.so is found in $VENV_DIR, where the Dockerfile installs xgboost-cpu' },
  TFJS_BACKEND: { value: '', why: 'unset: @tensorflow/tfjs-node when the image has it, the wasm backend otherwise' },
  TF_CPP_MIN_LOG_LEVEL: { value: '2', why: 'set by lib/ml/neural-network/tf-backend.ts itself before libtensorflow loads' },
  OMP_WAIT_POLICY: { value: 'passive', why: 'set by lib/ml/xgboost/native-engine.ts itself before libgomp loads, unless the user set it' },
  TEMPORAL_WORKER_IDENTITY: { value: '', why: "unset: the Temporal SDK's <pid>@<hostname>, and the hostname is the container's" },
  NO_COLOR: { value: '', why: 'unset: command-line reports colour only on a terminal, which `docker compose exec -T` and logs are not' },
};

/** Read only by the local stack's own tooling (bootstrap, stack manager), which never runs in a container. */
const LOCAL_ONLY: Record<string, string> = {
  PYTHON: 'the interpreter scripts/bootstrap.mjs creates .venv with; the image installs its Python packages itself',
  START_ONCE: 'scripts/stack.ts (npm start --once)',
};
const LOCAL_STACK_FILES = [/^scripts\/bootstrap\.mjs$/, /^scripts\/stack\.ts$/, /^lib\/stack\//];

// ---------------------------------------------------------------------------------------------
// The services that run the project's code: built from the top-level Dockerfile.

const appDockerfile = parseDockerfile('Dockerfile');
const appServiceNames = Object.keys(services).filter((n) => {
  const b = buildOf(service(n));
  return b !== undefined && b.context === '.' && b.dockerfile === 'Dockerfile';
});
const workerServiceNames = appServiceNames.filter((n) => argv(service(n).command).includes('workers/main.ts'));

/** What a container of the app image starts with: the Dockerfile's ENV, then the service's environment. */
function effectiveEnv(name: string): Record<string, Resolved> {
  const env: Record<string, Resolved> = {};
  for (const [k, v] of Object.entries(appDockerfile.env)) env[k] = resolve(v);
  return { ...env, ...environmentOf(service(name)) };
}
const plainEnv = (name: string): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(effectiveEnv(name)).map(([k, v]) => [k, v.value]));

const defaults = loadConfig({});
const packageJson = JSON.parse(read('package.json')) as { version: string; scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const requirementPin = (file: string, pkg: string): string | undefined => new RegExp(`^${pkg}==(\\S+)`, 'm').exec(read(file))?.[1];

describe('docker-compose.yml', () => {
  it('parses as YAML with unique keys, and has the services the README names', () => {
    expect(composeDoc.errors).toEqual([]);
    expect(composeDoc.warnings).toEqual([]);
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'mlflow', 'worker', 'api', 'simulator']) expect(services[name]).toBeDefined();
    expect(appServiceNames.sort()).toEqual(['api', 'simulator', 'worker', 'worker-training']);
  });

  it('pins every image to a version tag or digest, the Dockerfiles\' FROM lines included', () => {
    for (const [name, s] of Object.entries(services)) {
      const build = buildOf(s);
      const image = s.image === undefined ? undefined : resolve(s.image).value;
      if (build === undefined) {
        expect({ name, image, pinned: image !== undefined && isPinned(image) }).toEqual({ name, image, pinned: true });
        continue;
      }
      // Built here: its tag names the release (never latest) and its bases are pinned.
      expect({ name, tag: image?.split(':').pop() }).not.toEqual({ name, tag: 'latest' });
      const dockerfile = parseDockerfile(join(build.context, build.dockerfile));
      expect(dockerfile.froms.length).toBeGreaterThan(0);
      const stages = new Set<string>();
      for (const from of dockerfile.froms) {
        if (!stages.has(from.image)) expect({ name, from: from.image, pinned: isPinned(from.image) }).toEqual({ name, from: from.image, pinned: true });
        if (from.alias) stages.add(from.alias);
      }
    }
    expect(isPinned('postgres:latest')).toBe(false);
    expect(isPinned('postgres:16')).toBe(false);
    expect(isPinned('postgres')).toBe(false);
    expect(isPinned('postgres:16.13')).toBe(true);
  });

  it('tags the images it builds with the versions they contain', () => {
    expect(resolve(service('worker').image).value).toBe(`fraud-ml:${packageJson.version}`);
    const mlflowPin = requirementPin('python/requirements.txt', 'mlflow');
    expect(mlflowPin).toBeDefined();
    // The server in the image is the version the TypeScript client is tested against.
    expect(requirementPin('docker/mlflow/requirements.txt', 'mlflow')).toBe(mlflowPin);
    expect(resolve(service('mlflow').image).value).toBe(`fraud-ml-mlflow:${mlflowPin}`);
  });

  it('finds environment reads in every form the code uses', () => {
    const text = [
      'const a = process.env.DIRECT_READ ?? 1;',
      'if (options.env?.OPTIONAL_CHAIN) x();',
      "const b = env['BRACKETED'];",
      "const p = port(env, 'HELPER_ARG', 8000);",
      'const { DESTRUCTURED_ONE, DESTRUCTURED_TWO: two = 1 } = process.env;',
    ].join('\n');
    expect([...scanText(text)].sort()).toEqual(['BRACKETED', 'DESTRUCTURED_ONE', 'DESTRUCTURED_TWO', 'DIRECT_READ', 'HELPER_ARG', 'OPTIONAL_CHAIN']);
    // A computed key makes every env-shaped string literal of the file a candidate (api/auth-config.ts).
    expect([...scanText("const NAMES = ['TOKEN_FOR_A', 'TOKEN_FOR_B'];\nfor (const n of NAMES) use(env[n]);")].sort()).toEqual(['TOKEN_FOR_A', 'TOKEN_FOR_B']);
    expect([...scanText("const label = 'NOT_AN_ENV_READ';")]).toEqual([]);
  });

  it('gives every environment variable the code reads a value in the app containers, or a documented default', () => {
    const reads = scanEnvReads();
    // The scan sees the variables of lib/config.ts, the API and the simulator.
    for (const known of ['TEMPORAL_ADDRESS', 'ML_DATA_DIR', 'API_PORT', 'API_HOST', 'API_TOKEN_ADMIN', 'API_TOKEN', 'LOG_LEVEL']) expect(reads.has(known)).toBe(true);
    const provided = new Set(appServiceNames.flatMap((n) => Object.keys(effectiveEnv(n))));
    const missing: string[] = [];
    for (const [name, files] of reads) {
      if (provided.has(name) || name in DOCUMENTED_DEFAULTS) continue;
      if (name in LOCAL_ONLY) {
        const elsewhere = [...files].filter((f) => !LOCAL_STACK_FILES.some((re) => re.test(f)));
        expect({ name, readOutsideTheLocalStack: elsewhere }).toEqual({ name, readOutsideTheLocalStack: [] });
        continue;
      }
      missing.push(`${name} (read in ${[...files].join(', ')})`);
    }
    expect(missing).toEqual([]);
  });

  it("passes every variable of lib/config.ts to each worker (they call loadConfig)", () => {
    const configVars = [...scanEnvReads()].filter(([, files]) => files.has('lib/config.ts')).map(([name]) => name);
    expect(configVars.length).toBeGreaterThanOrEqual(10);
    for (const worker of workerServiceNames) {
      const env = effectiveEnv(worker);
      const unset = configVars.filter((v) => !(v in env) && !(v in DOCUMENTED_DEFAULTS));
      expect({ worker, unset }).toEqual({ worker, unset: [] });
    }
  });

  it('keeps its documented defaults honest: still read by the code, not set anyway, equal to lib/config.ts', () => {
    const reads = scanEnvReads();
    for (const [name, doc] of Object.entries(DOCUMENTED_DEFAULTS)) {
      expect({ name, read: reads.has(name) }).toEqual({ name, read: true });
      for (const n of appServiceNames) expect({ name, service: n, set: name in effectiveEnv(n) }).toEqual({ name, service: n, set: false });
      if (doc.config) expect(String(defaults[doc.config])).toBe(doc.value);
    }
    for (const name of Object.keys(LOCAL_ONLY)) expect({ name, read: reads.has(name) }).toEqual({ name, read: true });
  });

  it('configures the workers and the API the way lib/config.ts reads it, with the local stack\'s names', () => {
    for (const name of appServiceNames.filter((n) => n !== 'simulator')) {
      // loadConfig validates addresses and URLs; a bad value throws ConfigError here.
      const cfg = loadConfig(plainEnv(name));
      expect(cfg.temporalNamespace).toBe(defaults.temporalNamespace);
      expect(cfg.mlDataDir.startsWith(`${cfg.dataDir}/`)).toBe(true);
      expect(cfg.modelStoreDir.startsWith(`${cfg.dataDir}/`)).toBe(true);
    }
    // Without overrides the main workers poll the local stack's queue; the training workers another.
    expect(loadConfig(plainEnv('worker')).taskQueue).toBe(defaults.taskQueue);
    const trainingQueue = loadConfig(plainEnv('worker-training')).taskQueue;
    expect(trainingQueue).not.toBe(defaults.taskQueue);
    expect(trainingQueue).toBe('fraud-ml-training'); // the README's example input names this queue
    expect(service('worker-training').profiles).toEqual(['training']);
  });

  it('agrees on ports with the code: Temporal 7233, MLflow 5001 on the host, API 8000, Web UI 8233', () => {
    const temporalPort = Number(defaults.temporalAddress.split(':')[1]);
    expect(temporalPort).toBe(7233);
    expect(publishedPorts(service('temporal'))).toContainEqual({ host: temporalPort, container: temporalPort });

    const mlflowHostPort = Number(new URL(defaults.mlflowTrackingUri).port);
    expect(mlflowHostPort).toBe(5001);
    const mlflowArgs = argv(service('mlflow').command);
    const mlflowContainerPort = Number(mlflowArgs[mlflowArgs.indexOf('--port') + 1]);
    expect(publishedPorts(service('mlflow'))).toEqual([{ host: mlflowHostPort, container: mlflowContainerPort }]);
    expect(publishedPorts(service('temporal-ui'))).toEqual([{ host: defaults.temporalUiPort, container: 8080 }]);

    for (const name of appServiceNames.filter((n) => n !== 'simulator')) {
      const cfg = loadConfig(plainEnv(name));
      const temporal = cfg.temporalAddress.split(':');
      expect(services[temporal[0]!]).toBeDefined();
      expect(Number(temporal[1])).toBe(temporalPort);
      const mlflow = new URL(cfg.mlflowTrackingUri);
      expect(mlflow.hostname).toBe('mlflow');
      expect(Number(mlflow.port)).toBe(mlflowContainerPort);
    }

    const api = effectiveEnv('api');
    const apiPort = Number(api.API_PORT?.value);
    expect(apiPort).toBe(defaults.apiPort);
    expect(api.API_HOST?.value).toBe('0.0.0.0'); // the API's default, 127.0.0.1, is unreachable from other containers
    expect(publishedPorts(service('api'))).toEqual([{ host: apiPort, container: apiPort }]);
    expect(JSON.stringify(service('api').healthcheck?.test)).toContain(`:${apiPort}/health`);
    for (const worker of workerServiceNames) expect(loadConfig(plainEnv(worker)).apiUrl).toBe(`http://api:${apiPort}`);
    const sim = argv(service('simulator').command);
    expect(sim[sim.indexOf('--url') + 1]).toBe(`http://api:${apiPort}`);
  });

  it('mounts the data directory and the model store where the configuration points, shared by the services', () => {
    const volumeOf = (name: string, target: string) => mounts(service(name)).find((m) => m.target === target);
    const declared = Object.keys(compose.volumes ?? {});
    const mlData = new Set<string>();
    const store = new Set<string>();
    for (const worker of workerServiceNames) {
      const cfg = loadConfig(plainEnv(worker));
      const data = volumeOf(worker, cfg.mlDataDir);
      const models = volumeOf(worker, cfg.modelStoreDir);
      expect({ worker, data: data?.readOnly, models: models?.readOnly }).toEqual({ worker, data: false, models: false });
      mlData.add(data!.source);
      store.add(models!.source);
    }
    const apiCfg = loadConfig(plainEnv('api'));
    const apiStore = volumeOf('api', apiCfg.modelStoreDir);
    expect(apiStore).toBeDefined();
    store.add(apiStore!.source);
    // One named volume each, the same on every service (a per-service volume would split the data).
    expect(mlData.size).toBe(1);
    expect(store.size).toBe(1);
    for (const v of [...mlData, ...store]) expect(declared).toContain(v);
    // Fresh named volumes take the ownership of the image's mount points: the Dockerfile creates them for its user.
    const mkdir = /RUN[^\n]*mkdir -p ([^\n&]*)/.exec(appDockerfile.text.replace(/\\\r?\n/g, ' '))?.[1]?.split(/\s+/) ?? [];
    expect(mkdir).toEqual(expect.arrayContaining([apiCfg.modelStoreDir, loadConfig(plainEnv('worker')).mlDataDir]));
    expect(appDockerfile.text).toMatch(/chown -R node:node \/data/);
    expect(appDockerfile.text).toMatch(/^USER node$/m);
  });

  it('starts in order: every dependency exists and is waited for by health check or completion', () => {
    for (const [name, s] of Object.entries(services)) {
      const deps = s.depends_on ?? {};
      expect({ name, listForm: Array.isArray(deps) }).toEqual({ name, listForm: false }); // a bare list waits for nothing
      for (const [target, { condition }] of Object.entries(deps as Record<string, { condition?: string }>)) {
        const t = services[target];
        expect({ name, target, exists: t !== undefined }).toEqual({ name, target, exists: true });
        if (condition === 'service_healthy') {
          const test = t!.healthcheck?.test;
          const usable = test !== undefined && t!.healthcheck?.disable !== true && !(Array.isArray(test) && test[0] === 'NONE');
          expect({ name, target, healthcheck: usable }).toEqual({ name, target, healthcheck: true });
        } else {
          expect({ name, target, condition }).toEqual({ name, target, condition: 'service_completed_successfully' });
          // A one-shot job: restarting it forever would never complete.
          expect(['always', 'unless-stopped']).not.toContain(t!.restart);
        }
        // A service that always runs cannot wait for one that only runs under a profile.
        if (!s.profiles?.length) expect({ name, target, profiles: t!.profiles ?? [] }).toEqual({ name, target, profiles: [] });
      }
    }
    // The workers wait for the namespace they poll and for MLflow; the simulator for the API.
    expect(Object.keys(service('worker').depends_on ?? {}).sort()).toEqual(['mlflow', 'temporal-namespace']);
    expect(service('simulator').depends_on).toEqual({ api: { condition: 'service_healthy' } });
  });

  it('lets the workers scale: no fixed container name, no host port', () => {
    for (const worker of workerServiceNames) {
      expect(service(worker).container_name).toBeUndefined();
      expect(service(worker).ports ?? []).toEqual([]);
      expect(typeof service(worker).deploy?.replicas).toBe('number');
    }
  });

  it('runs the same entry points as the npm scripts, with the simulator under the simulate profile', () => {
    const entry = (script: string) => /^tsx (\S+)/.exec(packageJson.scripts[script] ?? '')?.[1];
    const file = (name: string) => argv(service(name).command).find((a) => /\.(ts|mjs|js)$/.test(a));
    expect(file('worker')).toBe(entry('worker'));
    expect(file('worker-training')).toBe(entry('worker'));
    expect(file('api')).toBe(entry('api'));
    expect(file('simulator')).toBe(entry('simulate'));
    expect(service('simulator').profiles).toEqual(['simulate']);
    for (const name of appServiceNames) expect(argv(service(name).command).slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    // The image's default command is the worker.
    expect(appDockerfile.text).toMatch(/^CMD \["node", "--import", "tsx", "workers\/main\.ts"\]$/m);
    for (const name of appServiceNames) expect(existsSync(join(root, file(name)!))).toBe(true);
  });

  it('takes secrets from the environment with no committed default, and hands the API admin token to the workers', () => {
    const secrets = ['POSTGRES_PASSWORD', 'API_TOKEN_ADMIN', 'API_TOKEN_SCORE'];
    // Every reference to a secret is ${NAME:?message}: no default anywhere in the file.
    for (const name of secrets) {
      const refs = [...composeText.matchAll(new RegExp(`\\$\\{${name}(:?[-?+]?)`, 'g'))].map((m) => m[1]);
      expect(refs.length).toBeGreaterThan(0);
      expect({ name, forms: [...new Set(refs)] }).toEqual({ name, forms: [':?'] });
    }
    const api = effectiveEnv('api');
    expect(api.NODE_ENV?.value).toBe('production'); // refuses to start without tokens, never generates one
    expect(api.API_TOKEN_ADMIN?.required).toEqual(['API_TOKEN_ADMIN']);
    expect(api.API_TOKEN_SCORE?.required).toEqual(['API_TOKEN_SCORE']);
    for (const worker of workerServiceNames) expect(effectiveEnv(worker).API_ADMIN_TOKEN?.required).toEqual(['API_TOKEN_ADMIN']);
    expect(effectiveEnv('simulator').API_TOKEN?.required).toEqual(['API_TOKEN_SCORE']);
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['.env', 'node_modules', '.data', '.venv']));
  });

  it("lets MLflow answer the other containers: its host check admits the service name", () => {
    const env = environmentOf(service('mlflow'));
    const allowed = env.MLFLOW_SERVER_ALLOWED_HOSTS?.value.split(',') ?? [];
    const port = argv(service('mlflow').command)[argv(service('mlflow').command).indexOf('--port') + 1];
    // MLflow matches the Host header with fnmatch; the workers send `mlflow:<port>`.
    expect(allowed).toEqual(expect.arrayContaining(['mlflow', 'mlflow:*', 'localhost:*', '127.0.0.1:*']));
    expect(port).toBe('5000');
    expect(argv(service('mlflow').command)).toEqual(expect.arrayContaining(['--serve-artifacts', '--host', '0.0.0.0']));
    // SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the image installs psycopg2.
    expect(requirementPin('docker/mlflow/requirements.txt', 'psycopg2-binary')).toBeDefined();
    expect(env.MLFLOW_BACKEND_STORE_URI?.value).toMatch(/^postgresql\+psycopg2:\/\/[^@]+@postgresql:5432\/mlflow$/);
    const artifacts = env.MLFLOW_ARTIFACTS_DESTINATION?.value;
    expect(mounts(service('mlflow')).map((m) => m.target)).toContain(artifacts);
  });
});

describe('Dockerfile', () => {
  it('installs the pinned libxgboost where the native engine looks (VENV_DIR)', () => {
    const pin = requirementPin('python/requirements.txt', 'xgboost-cpu');
    expect(pin).toBeDefined();
    // The Dockerfile takes the pin from python/requirements.txt rather than repeating it.
    expect(appDockerfile.text).toContain('COPY python/requirements.txt');
    expect(appDockerfile.text).toMatch(/grep -E '\^xgboost-cpu=='/);
    const venv = appDockerfile.env.VENV_DIR;
    expect(venv).toBe('/opt/venv');
    expect(appDockerfile.text).toContain(`COPY --from=build ${venv}/lib ${venv}/lib`);
  });

  it('installs the production dependencies only, which is all the runtime code imports', () => {
    expect(appDockerfile.text).toMatch(/npm ci --omit=dev/);
    const deps = new Set(Object.keys(packageJson.dependencies));
    const builtins = new Set(builtinModules);
    const offenders: string[] = [];
    const importRe = /^\s*(?:import|export)\s+(type\s+)?[^;'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
    for (const path of runtimeFiles) {
      for (const m of readFileSync(path, 'utf8').matchAll(importRe)) {
        if (m[1]) continue; // type-only: erased at run time
        const spec = m[2] ?? m[3] ?? m[4] ?? m[5]!;
        if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) continue;
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!deps.has(pkg)) offenders.push(`${posix(path)}: ${pkg}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('tries @tensorflow/tfjs-node at the version of @tensorflow/tfjs, without failing the build', () => {
    const m = /npm install --no-save --omit=dev @tensorflow\/tfjs-node@(\S+)\s*\|\|/.exec(appDockerfile.text.replace(/\\\r?\n/g, ' '));
    expect(m?.[1]).toBe(packageJson.dependencies['@tensorflow/tfjs']);
  });
});
