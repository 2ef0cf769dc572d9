/**
 * Stack settings: the typed, validated form of a stack's config. Pure: the caller passes a getter
 * (Pulumi's config in the program, a plain object in tests). Every error names the key and the stack
 * file. Secrets are not read here: they stay Outputs, read with `requireSecret` in `config.ts`.
 */

import { EstateInputError } from "./problems";

export type Environment = "dev" | "staging" | "prod";
export type RegistryMode = "external" | "docker-host" | "kubernetes" | "ecr";
export type BuilderMode = "external" | "docker-host" | "kubernetes";
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";

/**
 * Default registry image. Distribution v3: with 2.x, `garbage-collect --delete-untagged` removes the
 * untagged per-arch children of multi-arch indexes (fixed only in v3).
 */
export const DEFAULT_REGISTRY_IMAGE = "registry:3.0.0";
/** Default BuildKit image of the docker-host and kubernetes builder modes. */
export const DEFAULT_BUILDKIT_IMAGE = "moby/buildkit:v0.31.0";

/** Settings of the `docker-host` registry mode: a registry container on a Docker host. */
export interface DockerHostRegistrySettings {
  /** Docker host, e.g. `ssh://dayu@gpu-server`. */
  host: string;
  /** Published port. Default 5000. */
  port: number;
  /** Pinned registry image. Default {@link DEFAULT_REGISTRY_IMAGE}. */
  image: string;
  /** Named volume holding the registry's storage. Default `dayu-registry-data`. */
  volume: string;
  /** TLS certificate (PEM) file for the registry's address. The key is the secret `registryTlsKey`. */
  tlsCertFile: string;
}

/** Settings of the `kubernetes` registry mode. */
export interface KubernetesRegistrySettings {
  /** Namespace the program creates for the registry. Default `dayu-registry`. */
  namespace: string;
  /** Storage requested by the PersistentVolumeClaim, e.g. `200Gi`. Default `100Gi`. */
  storageSize: string;
  /** StorageClass of the claim. Default: the cluster's default class. */
  storageClass?: string;
  /** Pinned registry image. Default {@link DEFAULT_REGISTRY_IMAGE}. */
  image: string;
  /** TLS certificate (PEM) file; the key is the secret `registryTlsKey`. */
  tlsCertFile: string;
  /** Namespaces that run Dayu and get an image pull Secret (they must exist). Default none. */
  pullSecretNamespaces: string[];
  /** Service type exposing the registry. Default `LoadBalancer`. */
  serviceType: ServiceType;
  /** kubeconfig context to deploy to. Default: the ambient Kubernetes provider (current context). */
  kubeContext?: string;
}

/** Settings of the `ecr` registry mode. */
export interface EcrRegistrySettings {
  region: string;
  accountId: string;
  /** Per-arch and cache tags older than this many days are expired. Default 14. */
  expireTemporaryAfterDays: number;
}

export interface RegistrySettings {
  mode: RegistryMode;
  /** host[:port] every reference is made under. */
  address: string;
  username?: string;
  /** A CA (PEM file) to trust for this registry, when it is not in the system store. */
  caFile?: string;
  /** Plain HTTP. Only allowed on dev stacks. */
  insecure: boolean;
  dockerHost?: DockerHostRegistrySettings;
  kubernetes?: KubernetesRegistrySettings;
  ecr?: EcrRegistrySettings;
}

/**
 * mTLS of a remote builder endpoint.
 * - external mode: declares that the existing buildx entry reaches the endpoint with mTLS; the program
 *   reads none of these files (the entry holds them).
 * - docker-host / kubernetes modes: `caFile`, `certFile` and the secret named by `keySecret` are the
 *   BuildKit daemon's CA, server certificate and key, uploaded to the daemon (the daemon also verifies
 *   clients against `caFile`); `clientCertFile`/`clientKeyFile` are the pair the buildx entry on the
 *   machine that runs Pulumi presents. buildx reads them from disk: the program stores only their paths.
 */
export interface BuilderTlsSettings {
  /** CA (PEM file) the daemon's and the client's certificates chain to. */
  caFile: string;
  /** Certificate (PEM file): the client's in external mode, the daemon's in the other modes. */
  certFile: string;
  /** Name of the secret config key holding the private key (PEM) that goes with `certFile`. */
  keySecret: string;
  /** docker-host / kubernetes: client certificate file buildx presents. */
  clientCertFile?: string;
  /** docker-host / kubernetes: client key file buildx presents (stays on disk, never read). */
  clientKeyFile?: string;
}

export interface BuilderSettings {
  /** buildx builder name. */
  name: string;
  platform: string;
  mode: BuilderMode;
  /** `tcp://host:port` of the BuildKit daemon (docker-host / kubernetes modes, optional for external). */
  endpoint?: string;
  tls?: BuilderTlsSettings;
  /** docker-host mode: the Docker host running the BuildKit container, e.g. `ssh://nvidia@jetson-01`. */
  dockerHost?: string;
  /** kubernetes mode: namespace the program creates for the BuildKit Deployment. Default `buildkit-<name>`. */
  namespace?: string;
  /** Pinned BuildKit image for docker-host/kubernetes modes. Default {@link DEFAULT_BUILDKIT_IMAGE}. */
  image?: string;
  /** kubernetes mode: Service type exposing the daemon. Default `LoadBalancer`. */
  serviceType?: ServiceType;
  /** kubernetes mode: kubeconfig context. Default: the ambient Kubernetes provider. */
  kubeContext?: string;
}

export interface EstateSettings {
  stack: string;
  environment: Environment;
  release: string;
  catalog: string;
  /** Prepended to every repository path, e.g. `e2e` (see the planner). */
  repositoryPrefix: string;
  registry: RegistrySettings;
  builders: BuilderSettings[];
  contexts: Record<string, string>;
  mirrorSources: Record<string, string>;
  protectReleases: boolean;
  buildOnPreview: boolean;
  /** Import and export a registry build cache per (image, step, variant, arch). Default true. */
  registryCache: boolean;
  preflight: boolean;
}

/** A config error naming the key and the stack file. */
/** Problems in a stack's config, all at once. */
export class ConfigError extends EstateInputError {
  constructor(problems: string[]) {
    super(problems, "invalid stack config");
  }
}

type Getter = (key: string) => unknown;

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
/** A Kubernetes namespace name (RFC 1123 label). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Kubernetes quantity such as `200Gi`. */
const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const SERVICE_TYPES: ServiceType[] = ["ClusterIP", "NodePort", "LoadBalancer"];
const DAEMON_MODES: BuilderMode[] = ["docker-host", "kubernetes"];
/** An image reference pinned to a version or a digest (never `latest`, never bare). */
const isPinned = (image: string) =>
  /[:@]/.test(image.split("/").pop() ?? "") && !/:latest$/.test(image);

/** Reads and validates every key. `get` returns the parsed value of a key or undefined. */
export function parseSettings(get: Getter, stack: string, project = "dayu-estate"): EstateSettings {
  const file = `Pulumi.${stack}.yaml`;
  const problems: string[] = [];
  const at = (key: string, msg: string) => problems.push(`${project}:${key} in ${file}: ${msg}`);

  const str = (key: string, v: unknown, required: boolean): string | undefined => {
    if (v === undefined || v === null || v === "") {
      if (required) at(key, "is required");
      return undefined;
    }
    if (typeof v !== "string") {
      at(key, `must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const bool = (key: string, v: unknown, dflt: boolean): boolean => {
    if (v === undefined) return dflt;
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    at(key, `must be true or false, got ${JSON.stringify(v)}`);
    return dflt;
  };
  const obj = (key: string, v: unknown): Record<string, unknown> | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      at(key, "must be an object");
      return undefined;
    }
    return v as Record<string, unknown>;
  };
  const strMap = (key: string, v: unknown): Record<string, string> => {
    const o = obj(key, v) ?? {};
    for (const [k, val] of Object.entries(o))
      if (typeof val !== "string") at(`${key}.${k}`, "must be a string");
    return o as Record<string, string>;
  };
  const known = (key: string, o: Record<string, unknown>, keys: string[]) => {
    for (const k of Object.keys(o))
      if (!keys.includes(k)) at(`${key}.${k}`, `is not a known key (known: ${keys.join(", ")})`);
  };

  const environment = (str("environment", get("environment"), false) ?? "dev") as Environment;
  if (!["dev", "staging", "prod"].includes(environment))
    at("environment", "must be dev, staging or prod");
  const dev = environment === "dev";

  // Registry.
  const r = obj("registry", get("registry"));
  if (!r) at("registry", "is required");
  const reg = r ?? {};
  known("registry", reg, [
    "mode",
    "address",
    "username",
    "caFile",
    "insecure",
    "dockerHost",
    "kubernetes",
    "ecr",
  ]);
  const mode = (str("registry.mode", reg.mode, false) ?? "external") as RegistryMode;
  if (!["external", "docker-host", "kubernetes", "ecr"].includes(mode)) {
    at("registry.mode", `must be external, docker-host, kubernetes or ecr, got "${mode}"`);
  }
  // The modes that run a registry always serve it with TLS and htpasswd, on every stack.
  const selfHosted = mode === "docker-host" || mode === "kubernetes";
  const registry: RegistrySettings = {
    mode,
    address: "",
    username: str("registry.username", reg.username, false),
    caFile: str("registry.caFile", reg.caFile, false),
    insecure: bool("registry.insecure", reg.insecure, false),
  };
  if (registry.insecure && mode !== "external") {
    at(
      "registry.insecure",
      `the ${mode} registry is always served over HTTPS: remove registry.insecure`,
    );
  } else if (registry.insecure && !dev) {
    at(
      "registry.insecure",
      `plain HTTP is refused on a ${environment} stack: serve the registry with TLS`,
    );
  }
  for (const section of ["dockerHost", "kubernetes", "ecr"] as const) {
    const owner = { dockerHost: "docker-host", kubernetes: "kubernetes", ecr: "ecr" }[section];
    if (reg[section] !== undefined && owner !== mode) {
      at(`registry.${section}`, `is only read in ${owner} mode (registry.mode is "${mode}")`);
    }
  }
  const pinnedImage = (key: string, v: unknown, dflt: string): string => {
    const image = str(key, v, false) ?? dflt;
    if (!isPinned(image)) at(key, `must be pinned to a version or digest, got "${image}"`);
    return image;
  };

  if (mode === "ecr") {
    const e = obj("registry.ecr", reg.ecr) ?? {};
    known("registry.ecr", e, ["region", "accountId", "expireTemporaryAfterDays"]);
    const region = str("registry.ecr.region", e.region, true) ?? "";
    if (region && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
      at("registry.ecr.region", `"${region}" is not an AWS region such as eu-central-1`);
    const accountId = str("registry.ecr.accountId", e.accountId, true) ?? "";
    if (accountId && !/^\d{12}$/.test(accountId))
      at("registry.ecr.accountId", "must be a 12-digit AWS account id");
    const days = e.expireTemporaryAfterDays ?? 14;
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1) {
      at("registry.ecr.expireTemporaryAfterDays", "must be a whole number of days ≥ 1");
    }
    registry.ecr = { region, accountId, expireTemporaryAfterDays: Number(days) };
    registry.address = `${accountId}.dkr.ecr.${region}.amazonaws.com`;
    if (reg.address !== undefined && reg.address !== registry.address) {
      at("registry.address", `is derived from registry.ecr (${registry.address}); leave it out`);
    }
    if (registry.username !== undefined) {
      at(
        "registry.username",
        "is not used in ecr mode: the credentials come from aws.ecr.getAuthorizationToken",
      );
    }
  } else {
    registry.address = str("registry.address", reg.address, true) ?? "";
    if (!registry.username && selfHosted) {
      at(
        "registry.username",
        `is required in ${mode} mode: the registry this program runs always uses authentication (htpasswd)`,
      );
    } else if (!registry.username && !dev) {
      at(
        "registry.username",
        `is required on a ${environment} stack: the registry must use authentication`,
      );
    }
  }
  if (mode === "docker-host") {
    const d = obj("registry.dockerHost", reg.dockerHost);
    if (!d) at("registry.dockerHost", "is required in docker-host mode");
    const dh = d ?? {};
    known("registry.dockerHost", dh, ["host", "port", "image", "volume", "tlsCertFile"]);
    const port = dh.port ?? 5000;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      at("registry.dockerHost.port", "must be a port number");
    }
    registry.dockerHost = {
      host: str("registry.dockerHost.host", dh.host, true) ?? "",
      port: Number(port),
      image: pinnedImage("registry.dockerHost.image", dh.image, DEFAULT_REGISTRY_IMAGE),
      volume: str("registry.dockerHost.volume", dh.volume, false) ?? "dayu-registry-data",
      tlsCertFile: str("registry.dockerHost.tlsCertFile", dh.tlsCertFile, true) ?? "",
    };
    if (registry.dockerHost.host && !/^(ssh|tcp|unix):\/\//.test(registry.dockerHost.host)) {
      at("registry.dockerHost.host", "must be a Docker host URL such as ssh://user@server");
    }
  }
  if (mode === "kubernetes") {
    const k = obj("registry.kubernetes", reg.kubernetes) ?? {};
    known("registry.kubernetes", k, [
      "namespace",
      "storageSize",
      "storageClass",
      "image",
      "tlsCertFile",
      "pullSecretNamespaces",
      "serviceType",
      "kubeContext",
    ]);
    const serviceType = (str("registry.kubernetes.serviceType", k.serviceType, false) ??
      "LoadBalancer") as ServiceType;
    if (!SERVICE_TYPES.includes(serviceType)) {
      at("registry.kubernetes.serviceType", "must be ClusterIP, NodePort or LoadBalancer");
    }
    const pullNs = k.pullSecretNamespaces ?? [];
    if (!Array.isArray(pullNs) || pullNs.some((n) => typeof n !== "string" || !DNS_LABEL.test(n))) {
      at("registry.kubernetes.pullSecretNamespaces", "must be a list of namespace names");
    }
    const namespace = str("registry.kubernetes.namespace", k.namespace, false) ?? "dayu-registry";
    if (!DNS_LABEL.test(namespace)) {
      at("registry.kubernetes.namespace", `"${namespace}" is not a namespace name`);
    }
    const storageSize = str("registry.kubernetes.storageSize", k.storageSize, false) ?? "100Gi";
    if (!QUANTITY.test(storageSize)) {
      at("registry.kubernetes.storageSize", `"${storageSize}" is not a quantity such as 200Gi`);
    }
    registry.kubernetes = {
      namespace,
      storageSize,
      storageClass: str("registry.kubernetes.storageClass", k.storageClass, false),
      image: pinnedImage("registry.kubernetes.image", k.image, DEFAULT_REGISTRY_IMAGE),
      tlsCertFile: str("registry.kubernetes.tlsCertFile", k.tlsCertFile, true) ?? "",
      pullSecretNamespaces: Array.isArray(pullNs) ? (pullNs as string[]) : [],
      serviceType,
      kubeContext: str("registry.kubernetes.kubeContext", k.kubeContext, false),
    };
  }

  // Builders.
  const rawBuilders = get("builders");
  const builders: BuilderSettings[] = [];
  if (!Array.isArray(rawBuilders) || rawBuilders.length === 0) {
    at("builders", "is required: a list of { name, platform } with one builder per platform");
  } else {
    rawBuilders.forEach((b: unknown, i: number) => {
      const key = `builders[${i}]`;
      const o = obj(key, b) ?? {};
      known(key, o, [
        "name",
        "platform",
        "mode",
        "endpoint",
        "tls",
        "dockerHost",
        "namespace",
        "image",
        "serviceType",
        "kubeContext",
      ]);
      const name = str(`${key}.name`, o.name, true) ?? "";
      const platform = str(`${key}.platform`, o.platform, true) ?? "";
      if (platform && !PLATFORM.test(platform))
        at(`${key}.platform`, `"${platform}" is not os/arch[/variant]`);
      const bmode = (str(`${key}.mode`, o.mode, false) ?? "external") as BuilderMode;
      if (!["external", "docker-host", "kubernetes"].includes(bmode)) {
        at(`${key}.mode`, "must be external, docker-host or kubernetes");
      }
      const daemon = DAEMON_MODES.includes(bmode);
      const endpoint = str(`${key}.endpoint`, o.endpoint, bmode !== "external");
      let tls: BuilderTlsSettings | undefined;
      const t = obj(`${key}.tls`, o.tls);
      if (t) {
        known(`${key}.tls`, t, [
          "caFile",
          "certFile",
          "keySecret",
          "clientCertFile",
          "clientKeyFile",
        ]);
        tls = {
          caFile: str(`${key}.tls.caFile`, t.caFile, true) ?? "",
          certFile: str(`${key}.tls.certFile`, t.certFile, true) ?? "",
          keySecret: str(`${key}.tls.keySecret`, t.keySecret, true) ?? "",
          clientCertFile: str(`${key}.tls.clientCertFile`, t.clientCertFile, daemon),
          clientKeyFile: str(`${key}.tls.clientKeyFile`, t.clientKeyFile, daemon),
        };
        if (!daemon && (t.clientCertFile !== undefined || t.clientKeyFile !== undefined)) {
          at(
            `${key}.tls`,
            "clientCertFile and clientKeyFile are only read in docker-host and kubernetes modes (the external builder's entry holds its own)",
          );
        }
      } else if (daemon) {
        at(
          `${key}.tls`,
          `is required in ${bmode} mode: the BuildKit daemon this program runs only listens with mTLS (tls.caFile, tls.certFile, tls.keySecret, tls.clientCertFile, tls.clientKeyFile)`,
        );
      }
      if (endpoint && !/^(tcp|unix|ssh|docker-container|kube-pod):\/\//.test(endpoint)) {
        at(`${key}.endpoint`, `"${endpoint}" is not a BuildKit address (tcp://host:port, ...)`);
      } else if (endpoint && daemon && !/^tcp:\/\/[^/:]+:\d+$/.test(endpoint)) {
        at(
          `${key}.endpoint`,
          `must be tcp://host:port in ${bmode} mode (the daemon listens on that port), got "${endpoint}"`,
        );
      }
      if (endpoint?.startsWith("tcp://") && !tls && !dev && !daemon) {
        at(
          `${key}.tls`,
          `builder "${name}" is reached over plain TCP; a ${environment} stack requires mTLS (tls.caFile, tls.certFile, tls.keySecret)`,
        );
      }
      const dockerHost = str(`${key}.dockerHost`, o.dockerHost, false);
      if (bmode === "docker-host" && !o.dockerHost)
        at(`${key}.dockerHost`, "is required in docker-host mode");
      else if (dockerHost && bmode !== "docker-host")
        at(`${key}.dockerHost`, `is only read in docker-host mode (mode is "${bmode}")`);
      else if (dockerHost && !/^(ssh|tcp|unix):\/\//.test(dockerHost))
        at(`${key}.dockerHost`, "must be a Docker host URL such as ssh://nvidia@jetson-01");
      for (const k8sKey of ["namespace", "serviceType", "kubeContext"] as const) {
        if (o[k8sKey] !== undefined && bmode !== "kubernetes")
          at(`${key}.${k8sKey}`, `is only read in kubernetes mode (mode is "${bmode}")`);
      }
      const namespace =
        bmode === "kubernetes"
          ? (str(`${key}.namespace`, o.namespace, false) ?? `buildkit-${name}`)
          : undefined;
      if (namespace !== undefined && !DNS_LABEL.test(namespace))
        at(`${key}.namespace`, `"${namespace}" is not a namespace name`);
      const serviceType =
        bmode === "kubernetes"
          ? ((str(`${key}.serviceType`, o.serviceType, false) ?? "LoadBalancer") as ServiceType)
          : undefined;
      if (serviceType !== undefined && !SERVICE_TYPES.includes(serviceType))
        at(`${key}.serviceType`, "must be ClusterIP, NodePort or LoadBalancer");
      if (o.image !== undefined && !daemon)
        at(`${key}.image`, `is only read in docker-host and kubernetes modes (mode is "${bmode}")`);
      const image = daemon
        ? pinnedImage(`${key}.image`, o.image, DEFAULT_BUILDKIT_IMAGE)
        : undefined;
      builders.push({
        name,
        platform,
        mode: bmode,
        endpoint,
        tls,
        dockerHost,
        namespace,
        image,
        serviceType,
        kubeContext:
          bmode === "kubernetes" ? str(`${key}.kubeContext`, o.kubeContext, false) : undefined,
      });
    });
  }
  const names = new Set<string>();
  for (const b of builders) {
    if (names.has(b.name)) at("builders", `builder name "${b.name}" is used twice`);
    names.add(b.name);
  }
  // Each kubernetes builder creates (and on destroy deletes) its namespace: none may be shared.
  const namespaces = new Map<string, string>();
  if (registry.kubernetes) namespaces.set(registry.kubernetes.namespace, "registry.kubernetes");
  builders.forEach((b, i) => {
    if (b.namespace === undefined) return;
    const owner = namespaces.get(b.namespace);
    if (owner) {
      at(`builders[${i}].namespace`, `namespace "${b.namespace}" is already created by ${owner}`);
    }
    namespaces.set(b.namespace, `builders[${i}]`);
  });

  const settings: EstateSettings = {
    stack,
    environment,
    release: str("release", get("release"), false) ?? "",
    catalog: str("catalog", get("catalog"), false) ?? "estate.yaml",
    repositoryPrefix: str("repositoryPrefix", get("repositoryPrefix"), false) ?? "",
    registry,
    builders,
    contexts: strMap("contexts", get("contexts")),
    mirrorSources: strMap("mirrorSources", get("mirrorSources")),
    protectReleases:
      get("protectReleases") === "auto"
        ? !dev
        : bool("protectReleases", get("protectReleases"), !dev),
    buildOnPreview: bool("buildOnPreview", get("buildOnPreview"), false),
    registryCache: bool("registryCache", get("registryCache"), true),
    preflight: bool("preflight", get("preflight"), true),
  };
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return settings;
}
