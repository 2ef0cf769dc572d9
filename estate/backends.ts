/**
 * The decisions behind the registry and builder modes, as plain functions: how the distribution
 * registry and the BuildKit daemon are configured, which ECR repositories exist with which tag rules,
 * and the files the modes read. No Pulumi here: the components in components/ turn these into
 * resources, and the tests check them without mocks.
 */
import * as path from "path";
import type { FileSource } from "./files";
import type { FlatPlan as Plan } from "./planner";
import type { Problems } from "./problems";
import { ConfigError, type EstateSettings, stackProblems } from "./settings";

// ---------------------------------------------------------------------------------------------------
// How the long-running services (registry, BuildKit daemons) are kept running.

/**
 * Container settings of a docker-host service: restarted unless stopped, health-checked, and created
 * only once healthy (`wait`), so a service that cannot start fails the deployment.
 */
export const CONTAINER_POLICY = {
  restart: "unless-stopped",
  wait: true,
  waitTimeout: 120,
  mustRun: true,
} as const;

/** Health check timing of a docker-host service (its command is the service's own). */
export const CONTAINER_HEALTH_TIMING = {
  interval: "15s",
  timeout: "5s",
  retries: 3,
  startPeriod: "10s",
} as const;

/** Timing of a Kubernetes probe (readiness: short delay; liveness: longer). */
export function probeTiming(initialDelaySeconds: number) {
  return { initialDelaySeconds, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 3 };
}

// ---------------------------------------------------------------------------------------------------
// The distribution registry (docker-host and kubernetes modes).

/** Port the registry serves the API on, inside its container. */
export const REGISTRY_PORT = 5000;
/**
 * Port of the registry's debug server, which answers `/debug/health` and serves Prometheus metrics
 * and pprof: bound to loopback in every mode ({@link REGISTRY_DEBUG_HOST}), never published.
 */
export const REGISTRY_DEBUG_PORT = 5001;
/**
 * The only address the registry's debug server binds, in a container and in a pod alike: pprof and
 * the metrics are unauthenticated, so only the in-container health check may reach them.
 */
export const REGISTRY_DEBUG_HOST = "127.0.0.1";
/**
 * Where the registry finds its files, in the container (docker-host) or the pod (kubernetes). The
 * file names are the keys of the Kubernetes Secrets mounted on their directories (`htpasswd`, and
 * `tls.crt`/`tls.key` of a `kubernetes.io/tls` Secret).
 */
export const REGISTRY_PATHS = {
  htpasswd: "/auth/htpasswd",
  /** The read-only pull front's own htpasswd (the pull identity only). */
  pullHtpasswd: "/auth-pull/htpasswd",
  tlsCert: "/certs/tls.crt",
  tlsKey: "/certs/tls.key",
  storage: "/var/lib/registry",
} as const;

/**
 * The registry's configuration as `REGISTRY_*` environment overrides of the image's config file:
 * TLS, htpasswd auth, deletes enabled (garbage collection and the estate's cleanup need them), and
 * the debug server on loopback only ({@link REGISTRY_DEBUG_HOST}).
 */
export function registryEnv(): Record<string, string> {
  return {
    REGISTRY_HTTP_ADDR: `:${REGISTRY_PORT}`,
    REGISTRY_HTTP_TLS_CERTIFICATE: REGISTRY_PATHS.tlsCert,
    REGISTRY_HTTP_TLS_KEY: REGISTRY_PATHS.tlsKey,
    REGISTRY_AUTH: "htpasswd",
    REGISTRY_AUTH_HTPASSWD_REALM: "Dayu registry",
    REGISTRY_AUTH_HTPASSWD_PATH: REGISTRY_PATHS.htpasswd,
    REGISTRY_STORAGE_DELETE_ENABLED: "true",
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: REGISTRY_PATHS.storage,
    REGISTRY_HTTP_DEBUG_ADDR: `${REGISTRY_DEBUG_HOST}:${REGISTRY_DEBUG_PORT}`,
  };
}

/**
 * The registry's start command. When its htpasswd file is missing (a wrong path, a mount that did not
 * happen), the registry does not fail: it creates user `docker` with a random password and serves
 * anyway. This wrapper refuses to start without the htpasswd file and the TLS pair, then hands over
 * to `registry serve` with the image's own config file (its path differs between 2.x and 3.x).
 */
export function registryCommand(htpasswd: string = REGISTRY_PATHS.htpasswd): string[] {
  const p = REGISTRY_PATHS;
  const script = [
    `for f in ${htpasswd} ${p.tlsCert} ${p.tlsKey}; do`,
    `  if [ ! -s "$f" ]; then echo "dayu: $f is missing or empty: refusing to start" >&2; exit 1; fi`,
    "done",
    "for c in /etc/distribution/config.yml /etc/docker/registry/config.yml; do",
    '  if [ -f "$c" ]; then exec registry serve "$c"; fi',
    "done",
    'echo "dayu: no registry config file in the image" >&2; exit 1',
  ].join("\n");
  return ["/bin/sh", "-c", script];
}

/** Port of the read-only pull front's debug server (loopback; the registry's own has 5001). */
export const PULL_FRONT_DEBUG_PORT = 5003;

/**
 * The read-only pull front: the same registry over the same storage, in distribution's read-only
 * maintenance mode (uploads and deletes answer 405; checked with distribution v3.1), on its own port
 * with its own htpasswd, so the identity in the pods' pull Secrets can pull and nothing else. htpasswd
 * has no per-user scopes; a second process is how one registry gets a read-only user. The JSON form of
 * the variable is the one distribution reads (`..._READONLY_ENABLED` is ignored).
 */
export function pullFrontEnv(pullPort: number): Record<string, string> {
  return {
    ...registryEnv(),
    REGISTRY_HTTP_ADDR: `:${pullPort}`,
    REGISTRY_AUTH_HTPASSWD_PATH: REGISTRY_PATHS.pullHtpasswd,
    REGISTRY_AUTH_HTPASSWD_REALM: "Dayu registry (pull only)",
    REGISTRY_STORAGE_DELETE_ENABLED: "false",
    REGISTRY_STORAGE_MAINTENANCE_READONLY: '{"enabled":true}',
    REGISTRY_HTTP_DEBUG_ADDR: `${REGISTRY_DEBUG_HOST}:${PULL_FRONT_DEBUG_PORT}`,
  };
}

/** `host[:port]` → `host:pullPort`: where the pods pull from. */
export function pullAddress(address: string, pullPort: number): string {
  const host = address.replace(/:\d+$/, "");
  return `${host}:${pullPort}`;
}

/**
 * Argv of the in-container health check (docker-host health check, Kubernetes exec probes): the
 * debug server's storage health endpoint, reachable only from inside the container.
 */
export function registryHealthCommand(debugPort: number = REGISTRY_DEBUG_PORT): string[] {
  return [
    "wget",
    "-q",
    "-O",
    "/dev/null",
    `http://${REGISTRY_DEBUG_HOST}:${debugPort}/debug/health`,
  ];
}

const BCRYPT_LINE = /^([^:\s]+):\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * What is wrong with an htpasswd file for `username`, or undefined. The registry only accepts bcrypt
 * entries (`htpasswd -Bbn user password`). The lines themselves are never quoted: they are secret.
 */
export function htpasswdProblem(content: string, username: string): string | undefined {
  const lines = content
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (lines.length === 0) return "is empty";
  const users: string[] = [];
  for (const [i, line] of lines.entries()) {
    const m = BCRYPT_LINE.exec(line);
    if (!m) return `line ${i + 1} is not a bcrypt entry (make it with htpasswd -Bbn USER PASSWORD)`;
    users.push(m[1]);
  }
  if (!users.includes(username)) return `has no entry for user "${username}"`;
  return undefined;
}

/** The `.dockerconfigjson` of an image pull Secret. */
export function dockerConfigJson(address: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString("base64");
  return JSON.stringify({ auths: { [address]: { username, password, auth } } });
}

// ---------------------------------------------------------------------------------------------------
// The BuildKit daemon (docker-host and kubernetes builder modes).

/** Directory of the daemon's TLS files, in its container or pod. */
export const BUILDKIT_TLS_DIR = "/etc/buildkit/tls";
/** File names in {@link BUILDKIT_TLS_DIR}. */
export const BUILDKIT_TLS_FILES = { ca: "ca.pem", cert: "cert.pem", key: "key.pem" } as const;
/** The daemon's local socket: only reachable inside its container, used by the health check. */
export const BUILDKIT_SOCKET = "unix:///run/buildkit/buildkitd.sock";
/** The daemon's state (cache), kept on a volume. */
export const BUILDKIT_STATE_DIR = "/var/lib/buildkit";

/**
 * buildkitd's arguments: TCP with mTLS (a CA makes buildkitd require and verify client
 * certificates), a local socket for the health check, and the OCI worker pinned to the one platform
 * the builder serves, so it never advertises (or emulates) another.
 */
export function buildkitdArgs(platform: string, port: number): string[] {
  const f = (name: string) => `${BUILDKIT_TLS_DIR}/${name}`;
  return [
    "--addr",
    BUILDKIT_SOCKET,
    "--addr",
    `tcp://0.0.0.0:${port}`,
    "--tlscacert",
    f(BUILDKIT_TLS_FILES.ca),
    "--tlscert",
    f(BUILDKIT_TLS_FILES.cert),
    "--tlskey",
    f(BUILDKIT_TLS_FILES.key),
    "--oci-worker-platform",
    platform,
  ];
}

/**
 * Listen addresses in a daemon's or registry's arguments and environment that are not loopback,
 * besides the one API address that is meant to be reached (with mTLS or TLS): a debug or metrics
 * listener among them (buildkitd `--debugaddr`, the registry's `http.debug.addr`) would serve pprof
 * and metrics without authentication. Empty when nothing else is exposed.
 */
export function exposedDebugListeners(args: string[], env: Record<string, string>): string[] {
  const loopback = (addr: string) => /^(127\.0\.0\.1|\[::1\]|localhost):\d+$/.test(addr);
  const found: string[] = [];
  args.forEach((a, i) => {
    const inline = /^--debugaddr=(.*)$/.exec(a);
    const value = inline ? inline[1] : a === "--debugaddr" ? args[i + 1] : undefined;
    if (value !== undefined && !loopback(value)) found.push(`--debugaddr ${value}`);
  });
  for (const [k, v] of Object.entries(env)) {
    if (/^REGISTRY_HTTP_DEBUG_ADDR$/.test(k) && !loopback(v)) found.push(`${k}=${v}`);
  }
  return found;
}

/** Argv of the daemon's health check, over its local socket (no client certificate needed). */
export function buildkitHealthCommand(): string[] {
  return ["buildctl", "--addr", BUILDKIT_SOCKET, "debug", "workers"];
}

/** `tcp://host:port` → host and port. Throws on anything else. */
export function endpointHostPort(endpoint: string): { host: string; port: number } {
  const m = /^tcp:\/\/([^/:]+):(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`"${endpoint}" is not tcp://host:port`);
  return { host: m[1], port: Number(m[2]) };
}

/**
 * Who may open a connection to a Kubernetes BuildKit daemon: the Pulumi runner, by address range
 * and/or by pod labels (in namespaces with `namespaceSelector` labels, else the daemon's namespace).
 */
export interface RunnerPeers {
  /** CIDR ranges of the runner, e.g. `10.20.0.0/24`. */
  cidrs?: string[];
  /** Labels of the runner's pods. */
  podSelector?: Record<string, string>;
  /** Labels of the runner's namespace (with `podSelector`: its pods there; alone: every pod there). */
  namespaceSelector?: Record<string, string>;
}

/** One `from` peer of a NetworkPolicy ingress rule. */
export interface PolicyPeer {
  ipBlock?: { cidr: string };
  podSelector?: { matchLabels: Record<string, string> };
  namespaceSelector?: { matchLabels: Record<string, string> };
}

/** The parts of a NetworkPolicy spec the builder's policy uses. */
export interface BuilderPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress: { from: PolicyPeer[]; ports: { protocol: string; port: number }[] }[];
}

/**
 * The NetworkPolicy spec of a Kubernetes BuildKit daemon: ingress to its pods only from the runner,
 * on the daemon's port; everything else refused (a policy with an empty `from` list would admit
 * every peer, so no peers means an empty ingress list: nobody).
 */
export function builderNetworkPolicySpec(
  podLabels: Record<string, string>,
  port: number,
  runner: RunnerPeers | undefined,
): BuilderPolicySpec {
  const from: PolicyPeer[] = (runner?.cidrs ?? []).map((cidr) => ({
    ipBlock: { cidr },
  }));
  if (runner?.podSelector !== undefined || runner?.namespaceSelector !== undefined) {
    from.push({
      ...(runner.podSelector ? { podSelector: { matchLabels: runner.podSelector } } : {}),
      ...(runner.namespaceSelector
        ? { namespaceSelector: { matchLabels: runner.namespaceSelector } }
        : {}),
    });
  }
  return {
    podSelector: { matchLabels: podLabels },
    policyTypes: ["Ingress"],
    ingress: from.length === 0 ? [] : [{ from, ports: [{ protocol: "TCP", port }] }],
  };
}

/** `linux/arm64` → the node labels `kubernetes.io/os: linux`, `kubernetes.io/arch: arm64`. */
export function nodeSelectorFor(platform: string): Record<string, string> {
  const [os, arch] = platform.split("/");
  return { "kubernetes.io/os": os, "kubernetes.io/arch": arch };
}

// ---------------------------------------------------------------------------------------------------
// ECR.

/** One repository of the estate, without the registry host. */
export interface EstateRepository {
  /** e.g. `dayuhub/car-detection`, `redis`. */
  name: string;
  /** True when a release tag (from `${release}`) lives in it. */
  release: boolean;
  /** Index tags in it that are not release tags and move by design, e.g. `latest`. */
  mutableTags: string[];
}

/** The estate's repositories and the patterns of its temporary tags (per-arch and cache). */
export interface RepositoryPlan {
  repositories: EstateRepository[];
  /** e.g. `*-amd64`, `*-arm64`, `buildcache-*`: re-pushed on rebuilds, expired after a while. */
  temporaryTagPatterns: string[];
}

/** Every repository the plan pushes to (builds, indexes, mirrors), sorted by name. */
export function repositoryPlan(plan: Plan): RepositoryPlan {
  const prefix = `${plan.registry}/`;
  const strip = (repo: string) => (repo.startsWith(prefix) ? repo.slice(prefix.length) : repo);
  const repoOf = (ref: string) => ref.slice(0, ref.lastIndexOf(":"));
  const repos = new Map<string, EstateRepository>();
  const entry = (repository: string) => {
    const name = strip(repository);
    const found = repos.get(name) ?? { name, release: false, mutableTags: [] };
    repos.set(name, found);
    return found;
  };
  for (const b of plan.builds) entry(b.repository);
  for (const i of plan.indexes) {
    const r = entry(repoOf(i.ref));
    if (i.release) r.release = true;
    else if (!r.mutableTags.includes(i.tag)) r.mutableTags.push(i.tag);
  }
  for (const m of plan.mirrors) {
    const r = entry(m.repository);
    for (const ref of m.refs) {
      const tag = ref.slice(ref.lastIndexOf(":") + 1);
      if (!r.mutableTags.includes(tag)) r.mutableTags.push(tag);
    }
  }
  const archs = [...new Set(plan.builds.map((b) => b.arch))].sort();
  return {
    repositories: [...repos.values()].sort((a, b) => a.name.localeCompare(b.name)),
    temporaryTagPatterns:
      plan.builds.length > 0 ? [...archs.map((a) => `*-${a}`), "buildcache-*"] : [],
  };
}

/** ECR accepts at most this many tag mutability exclusion filters per repository. */
export const ECR_MAX_EXCLUSION_FILTERS = 5;

/** The tag mutability of one ECR repository, and why. */
export interface EcrTagRules {
  mutability: "MUTABLE" | "IMMUTABLE" | "IMMUTABLE_WITH_EXCLUSION";
  /** WILDCARD filters of tags that stay mutable in an IMMUTABLE_WITH_EXCLUSION repository. */
  exclusions: string[];
  reason: string;
}

/**
 * ECR immutability is per repository. A repository holding release tags is immutable, except the tags
 * that are re-pushed by design: per-arch and cache tags (rebuilds) and non-release tags such as
 * `latest`. When those need more filters than ECR allows, the repository stays MUTABLE and the
 * program's own release guard (which refuses to move a release tag) is what keeps releases fixed.
 */
export function ecrTagRules(repo: EstateRepository, temporaryTagPatterns: string[]): EcrTagRules {
  if (!repo.release) {
    return { mutability: "MUTABLE", exclusions: [], reason: "holds no release tag" };
  }
  const exclusions = [...temporaryTagPatterns, ...repo.mutableTags];
  if (exclusions.length === 0) {
    return { mutability: "IMMUTABLE", exclusions, reason: "holds release tags only" };
  }
  if (exclusions.length > ECR_MAX_EXCLUSION_FILTERS) {
    return {
      mutability: "MUTABLE",
      exclusions: [],
      reason: `needs ${exclusions.length} exclusion filters (ECR allows ${ECR_MAX_EXCLUSION_FILTERS}): the program's release guard keeps its release tags`,
    };
  }
  return {
    mutability: "IMMUTABLE_WITH_EXCLUSION",
    exclusions,
    reason: "release tags immutable; per-arch, cache and non-release tags excluded",
  };
}

/**
 * The lifecycle policy of every estate repository: temporary tags expire `days` after their push.
 * One rule per pattern, because a rule with several patterns only selects images carrying all of them.
 * No rule touches untagged images: a multi-arch index's children and mirrored platforms are untagged.
 */
export function ecrLifecyclePolicy(temporaryTagPatterns: string[], days: number): object {
  return {
    rules: temporaryTagPatterns.map((pattern, i) => ({
      rulePriority: i + 1,
      description: `expire ${pattern} tags ${days} days after push`,
      selection: {
        tagStatus: "tagged",
        tagPatternList: [pattern],
        countType: "sinceImagePushed",
        countUnit: "days",
        countNumber: days,
      },
      action: { type: "expire" },
    })),
  };
}

// ---------------------------------------------------------------------------------------------------
// Files the modes read.

/** TLS material of a BuildKit daemon run by the program, read from the files named in config. */
export interface DaemonTlsFiles {
  /** PEM of `tls.caFile`. */
  caCert: string;
  /** PEM of `tls.certFile` (the daemon's certificate). */
  cert: string;
  /** Absolute paths buildx reads on the machine that runs Pulumi. */
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** What the modes read from disk: certificates (never keys: those are secrets in config). */
export interface ModeFiles {
  /** PEM of `registry.caFile`, when set: the CA clients trust the registry with. */
  registryCa?: string;
  /** PEM of the registry's TLS certificate (docker-host and kubernetes modes). */
  registryTlsCert?: string;
  /** By builder name, for docker-host and kubernetes builders. */
  builders: Record<string, DaemonTlsFiles>;
}

/**
 * Reads the certificate files the registry and builder modes need, relative to `projectDir`. Every
 * problem (a missing file, a file that is not a PEM certificate, a private key where a certificate
 * belongs: it would be stored in plaintext) is reported at once, naming the key and the stack file:
 * into `problems` when given (the caller throws), else as a {@link ConfigError}.
 */
export function loadModeFiles(
  settings: EstateSettings,
  projectDir: string,
  files: FileSource,
  problems?: Problems,
  project = "dayu-estate",
): ModeFiles {
  const found = problems ?? stackProblems(settings.stack, project);
  const existing = (key: string, file: string): string | undefined => {
    const abs = path.resolve(projectDir, file);
    if (!files.isFile(abs)) {
      found.at(key, `${abs} does not exist`);
      return undefined;
    }
    return abs;
  };
  const certificate = (key: string, file: string): { abs: string; pem: string } | undefined => {
    const abs = existing(key, file);
    if (abs === undefined) return undefined;
    const pem = Buffer.from(files.read(abs)).toString("utf8");
    if (/PRIVATE KEY-----/.test(pem)) {
      found.at(
        key,
        `${abs} holds a private key: keys go in secret config, never in a certificate file`,
      );
    } else if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      found.at(key, `${abs} is not a PEM certificate`);
    }
    return { abs, pem };
  };

  const out: ModeFiles = { builders: {} };
  const reg = settings.registry;
  if (reg.caFile) out.registryCa = certificate("registry.caFile", reg.caFile)?.pem;
  const regCert = reg.dockerHost?.tlsCertFile ?? reg.kubernetes?.tlsCertFile;
  if (regCert) {
    const section = reg.dockerHost ? "dockerHost" : "kubernetes";
    out.registryTlsCert = certificate(`registry.${section}.tlsCertFile`, regCert)?.pem;
  }
  settings.builders.forEach((b, i) => {
    const t = b.tls;
    if (b.mode === "external" || !t || !t.clientCertFile || !t.clientKeyFile) return;
    const key = `builders[${i}].tls`;
    const ca = certificate(`${key}.caFile`, t.caFile);
    const cert = certificate(`${key}.certFile`, t.certFile);
    const clientCert = certificate(`${key}.clientCertFile`, t.clientCertFile);
    const clientKey = existing(`${key}.clientKeyFile`, t.clientKeyFile);
    if (ca && cert && clientCert && clientKey) {
      out.builders[b.name] = {
        caCert: ca.pem,
        cert: cert.pem,
        caFile: ca.abs,
        clientCertFile: clientCert.abs,
        clientKeyFile: clientKey,
      };
    }
  });
  if (!problems) found.throwIfAny(ConfigError);
  return out;
}
