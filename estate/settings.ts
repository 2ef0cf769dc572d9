/**
 * Stack settings: the typed, validated form of a stack's config. Pure: the caller passes a getter
 * (Pulumi's config in the program, a plain object in tests). Every error names the key and the stack
 * file. Secrets are not read here: they stay Outputs, read with `requireSecret` in `config.ts`.
 */

export type Environment = "dev" | "staging" | "prod";
export type RegistryMode = "external" | "docker-host" | "kubernetes" | "ecr";
export type BuilderMode = "external" | "docker-host" | "kubernetes";

/** Settings of the `docker-host` registry mode: a registry container on a Docker host. */
export interface DockerHostRegistrySettings {
  /** Docker host, e.g. `ssh://dayu@gpu-server`. */
  host: string;
  /** Published port. Default 5000. */
  port: number;
  /** Pinned registry image. */
  image: string;
  /** Named volume holding the registry's storage. Default `dayu-registry-data`. */
  volume: string;
  /** TLS certificate (PEM) file for the registry's address. The key is the secret `registryTlsKey`. */
  tlsCertFile: string;
}

/** Settings of the `kubernetes` registry mode. */
export interface KubernetesRegistrySettings {
  namespace: string;
  /** Storage requested by the PersistentVolumeClaim, e.g. `200Gi`. */
  storageSize: string;
  storageClass?: string;
  image: string;
  /** TLS certificate (PEM) file; the key is the secret `registryTlsKey`. */
  tlsCertFile: string;
  /** Namespaces that run Dayu and get an image pull Secret. */
  pullSecretNamespaces: string[];
  /** Service type exposing the registry. Default `LoadBalancer`. */
  serviceType: "ClusterIP" | "NodePort" | "LoadBalancer";
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

/** mTLS files for a remote builder endpoint; the client key is a secret config key. */
export interface BuilderTlsSettings {
  caFile: string;
  certFile: string;
  /** Name of the secret config key holding the client key PEM. */
  keySecret: string;
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
  /** kubernetes mode: namespace of the BuildKit Deployment. */
  namespace?: string;
  /** Pinned BuildKit image for docker-host/kubernetes modes. */
  image?: string;
}

export interface EstateSettings {
  stack: string;
  environment: Environment;
  release: string;
  catalog: string;
  registry: RegistrySettings;
  builders: BuilderSettings[];
  contexts: Record<string, string>;
  mirrorSources: Record<string, string>;
  protectReleases: boolean;
  buildOnPreview: boolean;
  preflight: boolean;
}

/** A config error naming the key and the stack file. */
export class ConfigError extends Error {}

type Getter = (key: string) => unknown;

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;

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
  const registry: RegistrySettings = {
    mode,
    address: "",
    username: str("registry.username", reg.username, false),
    caFile: str("registry.caFile", reg.caFile, false),
    insecure: bool("registry.insecure", reg.insecure, false),
  };
  if (registry.insecure && !dev)
    at(
      "registry.insecure",
      `plain HTTP is refused on a ${environment} stack: serve the registry with TLS`,
    );

  if (mode === "ecr") {
    const e = obj("registry.ecr", reg.ecr) ?? {};
    const region = str("registry.ecr.region", e.region, true) ?? "";
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
  } else {
    registry.address = str("registry.address", reg.address, true) ?? "";
    if (!registry.username && !dev) {
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
    const port = dh.port ?? 5000;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      at("registry.dockerHost.port", "must be a port number");
    }
    const image = str("registry.dockerHost.image", dh.image, false) ?? "registry:2.8.3";
    if (!/[:@]/.test(image.split("/").pop() ?? "") || /:latest$/.test(image)) {
      at("registry.dockerHost.image", `must be pinned to a version or digest, got "${image}"`);
    }
    registry.dockerHost = {
      host: str("registry.dockerHost.host", dh.host, true) ?? "",
      port: Number(port),
      image,
      volume: str("registry.dockerHost.volume", dh.volume, false) ?? "dayu-registry-data",
      tlsCertFile: str("registry.dockerHost.tlsCertFile", dh.tlsCertFile, true) ?? "",
    };
    if (registry.dockerHost.host && !/^(ssh|tcp|unix):\/\//.test(registry.dockerHost.host)) {
      at("registry.dockerHost.host", "must be a Docker host URL such as ssh://user@server");
    }
  }
  if (mode === "kubernetes") {
    const k = obj("registry.kubernetes", reg.kubernetes) ?? {};
    const serviceType = (str("registry.kubernetes.serviceType", k.serviceType, false) ??
      "LoadBalancer") as KubernetesRegistrySettings["serviceType"];
    if (!["ClusterIP", "NodePort", "LoadBalancer"].includes(serviceType)) {
      at("registry.kubernetes.serviceType", "must be ClusterIP, NodePort or LoadBalancer");
    }
    const pullNs = k.pullSecretNamespaces ?? [];
    if (!Array.isArray(pullNs) || pullNs.some((n) => typeof n !== "string")) {
      at("registry.kubernetes.pullSecretNamespaces", "must be a list of namespace names");
    }
    const image = str("registry.kubernetes.image", k.image, false) ?? "registry:2.8.3";
    if (/:latest$/.test(image) || !/[:@]/.test(image.split("/").pop() ?? "")) {
      at("registry.kubernetes.image", `must be pinned to a version or digest, got "${image}"`);
    }
    registry.kubernetes = {
      namespace: str("registry.kubernetes.namespace", k.namespace, false) ?? "dayu-registry",
      storageSize: str("registry.kubernetes.storageSize", k.storageSize, false) ?? "100Gi",
      storageClass: str("registry.kubernetes.storageClass", k.storageClass, false),
      image,
      tlsCertFile: str("registry.kubernetes.tlsCertFile", k.tlsCertFile, true) ?? "",
      pullSecretNamespaces: Array.isArray(pullNs) ? (pullNs as string[]) : [],
      serviceType,
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
      ]);
      const name = str(`${key}.name`, o.name, true) ?? "";
      const platform = str(`${key}.platform`, o.platform, true) ?? "";
      if (platform && !PLATFORM.test(platform))
        at(`${key}.platform`, `"${platform}" is not os/arch[/variant]`);
      const bmode = (str(`${key}.mode`, o.mode, false) ?? "external") as BuilderMode;
      if (!["external", "docker-host", "kubernetes"].includes(bmode)) {
        at(`${key}.mode`, "must be external, docker-host or kubernetes");
      }
      const endpoint = str(`${key}.endpoint`, o.endpoint, bmode !== "external");
      let tls: BuilderTlsSettings | undefined;
      const t = obj(`${key}.tls`, o.tls);
      if (t) {
        tls = {
          caFile: str(`${key}.tls.caFile`, t.caFile, true) ?? "",
          certFile: str(`${key}.tls.certFile`, t.certFile, true) ?? "",
          keySecret: str(`${key}.tls.keySecret`, t.keySecret, true) ?? "",
        };
      }
      if (endpoint && !/^(tcp|unix|ssh|docker-container|kube-pod):\/\//.test(endpoint)) {
        at(`${key}.endpoint`, `"${endpoint}" is not a BuildKit address (tcp://host:port, ...)`);
      }
      if (endpoint?.startsWith("tcp://") && !tls && !dev) {
        at(
          `${key}.tls`,
          `builder "${name}" is reached over plain TCP; a ${environment} stack requires mTLS (tls.caFile, tls.certFile, tls.keySecret)`,
        );
      }
      if (bmode === "docker-host" && !o.dockerHost)
        at(`${key}.dockerHost`, "is required in docker-host mode");
      const image = str(`${key}.image`, o.image, false);
      if (image && (/:latest$/.test(image) || !/[:@]/.test(image.split("/").pop() ?? ""))) {
        at(`${key}.image`, `must be pinned to a version or digest, got "${image}"`);
      }
      builders.push({
        name,
        platform,
        mode: bmode,
        endpoint,
        tls,
        dockerHost: str(`${key}.dockerHost`, o.dockerHost, false),
        namespace: str(`${key}.namespace`, o.namespace, false),
        image,
      });
    });
  }
  const names = new Set<string>();
  for (const b of builders) {
    if (names.has(b.name)) at("builders", `builder name "${b.name}" is used twice`);
    names.add(b.name);
  }

  const settings: EstateSettings = {
    stack,
    environment,
    release: str("release", get("release"), false) ?? "",
    catalog: str("catalog", get("catalog"), false) ?? "estate.yaml",
    registry,
    builders,
    contexts: strMap("contexts", get("contexts")),
    mirrorSources: strMap("mirrorSources", get("mirrorSources")),
    protectReleases:
      get("protectReleases") === "auto"
        ? !dev
        : bool("protectReleases", get("protectReleases"), !dev),
    buildOnPreview: bool("buildOnPreview", get("buildOnPreview"), false),
    preflight: bool("preflight", get("preflight"), true),
  };
  if (problems.length > 0) {
    throw new ConfigError(`invalid stack config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return settings;
}
