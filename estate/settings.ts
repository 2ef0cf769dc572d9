/**
 * Stack settings: the typed, validated form of a stack's config. One declaration per setting: the
 * JSON Schema below ({@link stackConfigSchema}) holds every key's type, allowed values, pattern,
 * description and default; it is typed as `JSONSchemaType<StackConfig>`, so the schema and the
 * TypeScript types cannot drift. Code remains only for the rules that span several keys
 * ({@link crossFieldRules}). `Pulumi.yaml`'s `config:` block and `stack-config.schema.json` (for
 * editors) are generated from the same schema and checked by unit tests.
 *
 * Pure: the caller passes the raw values (Pulumi's config in the program, a stack file for
 * `npm run plan`, a plain object in tests). Every problem names the key and the stack file and goes
 * through one {@link Problems} collector. Secrets are never read here: `config.ts` reads them as
 * Outputs.
 */
import Ajv, { ErrorObject, JSONSchemaType } from "ajv";
import { isMap, isScalar, parse as parseYaml, parseDocument } from "yaml";
import type { RunnerPeers } from "./backends";
import { EstateInputError, Problems, stackKey } from "./problems";
import { MAX_AGE_PATTERN } from "./retention";

/** The stack's environment. Non-dev stacks require auth, TLS and mTLS, and protect releases. */
export const ENVIRONMENTS = ["dev", "staging", "prod"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
/** Who serves the registry. Adding one: add it here, then follow the compiler (exhaustive switches). */
export const REGISTRY_MODES = ["external", "docker-host", "kubernetes", "ecr"] as const;
export type RegistryMode = (typeof REGISTRY_MODES)[number];
/** The section of `registry` each mode reads. */
const REGISTRY_SECTION = {
  "docker-host": "dockerHost",
  kubernetes: "kubernetes",
  ecr: "ecr",
} as const satisfies Partial<Record<RegistryMode, keyof RegistryConfig>>;

/** Who runs a builder's BuildKit daemon. */
export const BUILDER_MODES = ["external", "docker-host", "kubernetes"] as const;
export type BuilderMode = (typeof BUILDER_MODES)[number];
export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

/**
 * Default registry image, pinned by digest (non-dev stacks accept nothing else: a tag can be moved
 * under a running estate). Distribution v3: with 2.x, `garbage-collect --delete-untagged` removes the
 * untagged per-arch children of multi-arch indexes (fixed only in v3). The digest is the multi-arch
 * index of `registry:3.0.0` (the pin public projects use; check it with `docker buildx imagetools
 * inspect registry:3.0.0` before a first prod rollout).
 */
export const DEFAULT_REGISTRY_IMAGE =
  "registry:3.0.0@sha256:6c5666b861f3505b116bb9aa9b25175e71210414bd010d92035ff64018f9457e";
/** Default BuildKit image of the docker-host and kubernetes builder modes, pinned by digest. */
export const DEFAULT_BUILDKIT_IMAGE =
  "moby/buildkit:v0.31.0@sha256:a095b3d11ce1a9a05b6064ef515dfca0291ec5bcf2ea8178da8f6461924294e1";
/** An image reference pinned by digest, as non-dev stacks require for the services they run. */
export const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;

/**
 * The secret keys of every stack (besides the builder keys named by `builders[i].tls.keySecret`).
 * Read only with `requireSecret`; never part of the settings.
 */
export const SECRET_KEYS = [
  "registryPassword",
  "registryTlsKey",
  "registryHtpasswd",
  "promoteRegistryPassword",
  "cosignPrivateKey",
  "cosignPassword",
  "registryPullPassword",
  "registryPullHtpasswd",
] as const;

/** SBOM formats syft writes (the same names as lib/supplyChain's `SbomFormat`). */
export const SBOM_FORMATS = ["spdx-json", "cyclonedx-json"] as const;
/** grype's severities, lowest first (the same as lib/vulnGate's `SEVERITIES`). */
export const VULN_SEVERITIES = ["Negligible", "Low", "Medium", "High", "Critical"] as const;

// ---------------------------------------------------------------------------------------------------
// Types: what the schema accepts once its defaults are filled in. Documentation lives in the schema.

/** `registry.dockerHost`: a registry container on a Docker host. */
export interface DockerHostRegistrySettings {
  host: string;
  port: number;
  image: string;
  volume: string;
  tlsCertFile: string;
}

/** `registry.kubernetes`: a registry Deployment in a cluster. */
export interface KubernetesRegistrySettings {
  namespace: string;
  storageSize: string;
  storageClass?: string;
  image: string;
  tlsCertFile: string;
  pullSecretNamespaces: string[];
  pullUsername?: string;
  pullPort: number;
  serviceType: ServiceType;
  kubeContext?: string;
}

/** `registry.ecr`: Amazon ECR. */
export interface EcrRegistrySettings {
  region: string;
  accountId: string;
  expireTemporaryAfterDays: number;
}

/** `registry` as written in the stack (ecr mode derives `address`). */
export interface RegistryConfig {
  mode: RegistryMode;
  address?: string;
  username?: string;
  caFile?: string;
  insecure: boolean;
  dockerHost?: DockerHostRegistrySettings;
  kubernetes?: KubernetesRegistrySettings;
  ecr?: EcrRegistrySettings;
}

/** The registry with its address, whatever the mode. */
export type RegistrySettings = Omit<RegistryConfig, "address"> & { address: string };

/** `builders[i].tls`: mTLS of a remote builder endpoint (see the schema for each mode's meaning). */
export interface BuilderTlsSettings {
  caFile: string;
  certFile: string;
  keySecret: string;
  clientCertFile?: string;
  clientKeyFile?: string;
}

/** `builders[i]`: one buildx builder serving one platform. */
export interface BuilderSettings {
  name: string;
  platform: string;
  mode: BuilderMode;
  endpoint?: string;
  tls?: BuilderTlsSettings;
  dockerHost?: string;
  namespace?: string;
  image?: string;
  serviceType?: ServiceType;
  allowFrom?: RunnerPeers;
  kubeContext?: string;
}

/** `promote.registry`: the source stack's registry, read by digest. */
export interface PromoteRegistrySettings {
  address: string;
  username?: string;
  caFile?: string;
  insecure: boolean;
}

/** `promote`: publish the indexes a source stack built instead of building (see estate/promote.ts). */
export interface PromoteSettings {
  fromStack?: string;
  digestFile?: string;
  registry: PromoteRegistrySettings;
}

/** `promote` as written: `{}` (the default) is off; the rules across keys check the rest. */
export type PromoteConfig = Partial<PromoteSettings>;
/** `supplyChain`: SBOM, provenance and signatures (docs/supply-chain.md). */
export interface SupplyChainConfig {
  enabled: boolean | "auto";
  sbomFormat: (typeof SBOM_FORMATS)[number];
}

/** `retention`: what `npm run prune` keeps. */
export interface RetentionSettings {
  keepReleases: number;
  /** Also keep releases built within this age (`36h`, `90d`, `8w`). Default: no age rule. */
  maxAge?: string;
  pruneRemoved: boolean;
  neverTouch: string[];
}

/** `vulnerabilityGate`: the designed gate (lib/vulnGate.ts); the scan cannot run here. */
export interface VulnerabilityGateSettings {
  threshold: (typeof VULN_SEVERITIES)[number];
  accept: string[];
}

/** The whole stack config, as the schema accepts it (defaults filled in). */
export interface StackConfig {
  environment: Environment;
  release: string;
  catalog: string;
  templates: string;
  repositoryPrefix: string;
  registry: RegistryConfig;
  builders: BuilderSettings[];
  contexts: Record<string, string>;
  mirrorSources: Record<string, string>;
  protectReleases: boolean | "auto";
  buildOnPreview: boolean;
  registryCache: boolean;
  preflight: boolean;
  promote: PromoteConfig;
  adopt: boolean;
  replaceExisting: string[];
  supplyChain: SupplyChainConfig;
  cosignPublicKey: string;
  retention: RetentionSettings;
  vulnerabilityGate: VulnerabilityGateSettings;
}

/** What the program uses: the stack config with the stack's name and every derived value resolved. */
export type EstateSettings = Omit<
  StackConfig,
  "registry" | "protectReleases" | "promote" | "supplyChain"
> & {
  stack: string;
  registry: RegistrySettings;
  protectReleases: boolean;
  /** Promote mode, when on. */
  promote?: PromoteSettings;
  supplyChain: Omit<SupplyChainConfig, "enabled"> & { enabled: boolean };
};

// ---------------------------------------------------------------------------------------------------
// The schema: one declaration per key. `errorMessage` (an annotation, see `ajv` below) is what a
// person reads when a value breaks that key's type, pattern or range.

const PLATFORM = "^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$";
/** A Kubernetes namespace name (RFC 1123 label). */
const DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
/** An image reference pinned to a version or a digest in its last path segment, never `latest`. */
const PINNED_IMAGE = "^(?!.*:latest$)(.*/)?[^/]*[:@][^/]+$";
const DOCKER_HOST_URL = "^(ssh|tcp|unix)://";

const str = (description: string) => ({ type: "string" as const, description });
const optStr = (description: string) => ({ ...str(description), nullable: true as const });
const pinned = (description: string, dflt: string) => ({
  type: "string" as const,
  description,
  pattern: PINNED_IMAGE,
  errorMessage: "must be pinned to a version or digest",
  default: dflt,
});
const namespaceName = (description: string) => ({
  type: "string" as const,
  description,
  pattern: DNS_LABEL,
  errorMessage: "is not a namespace name",
});
const serviceType = {
  type: "string" as const,
  enum: SERVICE_TYPES,
  description: "Service type exposing it.",
};
const stringMap = (description: string) => ({
  type: "object" as const,
  description,
  required: [] as const,
  additionalProperties: { type: "string" as const },
  default: {},
});

const dockerHostSchema: JSONSchemaType<DockerHostRegistrySettings> = {
  type: "object",
  description: "docker-host mode: where and how the registry container runs.",
  additionalProperties: false,
  required: ["host", "tlsCertFile"],
  properties: {
    host: {
      ...str("Docker host running the registry, e.g. ssh://dayu@gpu-server."),
      pattern: DOCKER_HOST_URL,
      errorMessage: "must be a Docker host URL such as ssh://user@server",
    },
    port: {
      type: "integer",
      description: "Published port.",
      minimum: 1,
      maximum: 65535,
      errorMessage: "must be a port number",
      default: 5000,
    },
    image: pinned("Pinned registry image.", DEFAULT_REGISTRY_IMAGE),
    volume: {
      ...str("Named volume holding the registry's storage."),
      default: "dayu-registry-data",
    },
    tlsCertFile: str("TLS certificate (PEM) file; the key is the secret registryTlsKey."),
  },
};

const kubernetesSchema: JSONSchemaType<KubernetesRegistrySettings> = {
  type: "object",
  description: "kubernetes mode: where and how the registry runs in the cluster.",
  additionalProperties: false,
  required: ["tlsCertFile"],
  properties: {
    namespace: {
      ...namespaceName("Namespace created for the registry."),
      default: "dayu-registry",
    },
    storageSize: {
      ...str("Storage requested by the PersistentVolumeClaim."),
      pattern: "^\\d+(\\.\\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$",
      errorMessage: "is not a quantity such as 200Gi",
      default: "100Gi",
    },
    storageClass: optStr("StorageClass of the claim. Default: the cluster's default class."),
    image: pinned("Pinned registry image.", DEFAULT_REGISTRY_IMAGE),
    tlsCertFile: str("TLS certificate (PEM) file; the key is the secret registryTlsKey."),
    pullSecretNamespaces: {
      type: "array",
      description: "Namespaces that run Dayu and get an image pull Secret (they must exist).",
      items: {
        ...namespaceName("A namespace."),
        errorMessage: "must be a list of namespace names",
      },
      default: [],
    },
    pullUsername: optStr(
      "User of the read-only pull front (a second registry process in read-only mode over the same storage, with its own htpasswd: the secrets registryPullPassword and registryPullHtpasswd). The pull Secrets carry this identity, which cannot push or delete. Required with pullSecretNamespaces.",
    ),
    pullPort: {
      type: "integer",
      description:
        "Port of the read-only pull front (Service and container); Dayu's pods pull from <host>:pullPort.",
      minimum: 1,
      maximum: 65535,
      errorMessage: "must be a port number",
      default: 5002,
    },
    serviceType: { ...serviceType, default: "LoadBalancer" },
    kubeContext: optStr("kubeconfig context. Default: the ambient Kubernetes provider."),
  },
};

const ecrSchema: JSONSchemaType<EcrRegistrySettings> = {
  type: "object",
  description: "ecr mode: the registry's AWS coordinates.",
  additionalProperties: false,
  required: ["region", "accountId"],
  properties: {
    region: {
      ...str("AWS region, e.g. eu-central-1."),
      pattern: "^[a-z]{2}(-[a-z]+)+-\\d+$",
      errorMessage: "is not an AWS region such as eu-central-1",
    },
    accountId: {
      ...str("12-digit AWS account id (quoted in YAML)."),
      pattern: "^\\d{12}$",
      errorMessage: "must be a 12-digit AWS account id",
    },
    expireTemporaryAfterDays: {
      type: "integer",
      description: "Per-arch and cache tags expire this many days after their push.",
      minimum: 1,
      errorMessage: "must be a whole number of days ≥ 1",
      default: 14,
    },
  },
};

const registrySchema: JSONSchemaType<RegistryConfig> = {
  type: "object",
  description: `The private registry: { mode: ${REGISTRY_MODES.join("|")}, address, username, caFile?, insecure?, ${Object.values(REGISTRY_SECTION).join("?, ")}? }.`,
  additionalProperties: false,
  required: [],
  properties: {
    mode: {
      type: "string",
      enum: REGISTRY_MODES,
      description: "Who serves it.",
      default: "external",
    },
    address: optStr("host[:port] every reference is made under (derived in ecr mode)."),
    username: optStr("User the estate pushes as; its password is the secret registryPassword."),
    caFile: optStr("A CA (PEM file) to trust for this registry, when not in the system store."),
    insecure: { type: "boolean", description: "Plain HTTP (dev stacks only).", default: false },
    dockerHost: { ...dockerHostSchema, nullable: true },
    kubernetes: { ...kubernetesSchema, nullable: true },
    ecr: { ...ecrSchema, nullable: true },
  },
};

const promoteSchema: JSONSchemaType<PromoteConfig> = {
  type: "object",
  description:
    "Promote mode: publish the index digests a source stack built ({ fromStack | digestFile, registry }); no image is built. Default {}: off. See docs/workflow.md.",
  additionalProperties: false,
  required: [],
  default: {},
  properties: {
    fromStack: {
      ...optStr("Source stack, <org>/<project>/<stack>: its `summary` output gives the digests."),
      pattern: "^[^/\\s]+/[^/\\s]+/[^/\\s]+$",
      errorMessage: "must be <org>/<project>/<stack>",
    },
    digestFile: optStr(
      "Air-gapped sites: a JSON file holding the source stack's summary (npm run promote:export).",
    ),
    registry: {
      type: "object",
      nullable: true,
      description:
        "The source stack's registry; its password is the secret promoteRegistryPassword.",
      additionalProperties: false,
      required: ["address"],
      properties: {
        address: str("host[:port] of the source registry."),
        username: optStr("User the copy reads the source as."),
        caFile: optStr("A CA (PEM file) to trust for the source registry."),
        insecure: { type: "boolean", description: "Plain HTTP (dev stacks only).", default: false },
      },
    },
  },
};

const builderTlsSchema: JSONSchemaType<BuilderTlsSettings> = {
  type: "object",
  description:
    "mTLS. external mode: the existing buildx entry reaches the endpoint with mTLS (the program reads none of these files). docker-host/kubernetes: the daemon's CA, certificate and key secret, and the client pair buildx presents.",
  additionalProperties: false,
  required: ["caFile", "certFile", "keySecret"],
  properties: {
    caFile: str("CA (PEM file) both certificates chain to."),
    certFile: str("Certificate (PEM file): the client's in external mode, the daemon's otherwise."),
    keySecret: str("Name of the secret config key holding the key of certFile."),
    clientCertFile: optStr("docker-host/kubernetes: client certificate file buildx presents."),
    clientKeyFile: optStr("docker-host/kubernetes: client key file buildx presents (never read)."),
  },
};

/**
 * Defaults of a kubernetes builder (a `then` branch of the builder schema holds them): ClusterIP, so
 * a privileged daemon is not put on a load balancer unless a stack asks for it.
 */
export const KUBERNETES_BUILDER_DEFAULTS = { serviceType: "ClusterIP" as ServiceType };

const labelMap = (description: string) => ({
  type: "object" as const,
  description,
  required: [] as const,
  additionalProperties: { type: "string" as const },
  nullable: true as const,
});

const runnerPeersSchema: JSONSchemaType<RunnerPeers> = {
  type: "object",
  description:
    "kubernetes mode: who may reach the daemon (the Pulumi runner); its NetworkPolicy admits only these. Required in kubernetes mode.",
  additionalProperties: false,
  required: [],
  properties: {
    cidrs: {
      type: "array",
      description: "Address ranges of the runner, e.g. 10.20.0.0/24.",
      items: {
        type: "string",
        description: "A CIDR range.",
        pattern: "^[0-9a-fA-F:.]+/\\d{1,3}$",
        errorMessage: "must be a list of CIDR ranges such as 10.20.0.0/24",
      },
      nullable: true,
    },
    podSelector: labelMap("Labels of the runner's pods."),
    namespaceSelector: labelMap("Labels of the runner's namespace."),
  },
};

const builderSchema: JSONSchemaType<BuilderSettings> = {
  type: "object",
  additionalProperties: false,
  required: ["name", "platform"],
  properties: {
    name: str("buildx builder name."),
    platform: {
      ...str("The one platform it serves, e.g. linux/arm64."),
      pattern: PLATFORM,
      errorMessage: "is not os/arch[/variant]",
    },
    mode: { type: "string", enum: BUILDER_MODES, description: "Who runs it.", default: "external" },
    endpoint: {
      ...optStr("BuildKit address, tcp://host:port (required in docker-host/kubernetes modes)."),
      pattern: "^(tcp|unix|ssh|docker-container|kube-pod)://",
      errorMessage: "is not a BuildKit address (tcp://host:port, ...)",
    },
    tls: { ...builderTlsSchema, nullable: true },
    dockerHost: {
      ...optStr(
        "docker-host mode: the Docker host running the daemon, e.g. ssh://nvidia@jetson-01.",
      ),
      pattern: DOCKER_HOST_URL,
      errorMessage: "must be a Docker host URL such as ssh://nvidia@jetson-01",
    },
    namespace: {
      ...namespaceName(
        "kubernetes mode: namespace created for the daemon. Default buildkit-<name>.",
      ),
      nullable: true,
    },
    image: {
      ...optStr("docker-host/kubernetes: pinned BuildKit image."),
      pattern: PINNED_IMAGE,
      errorMessage: "must be pinned to a version or digest",
    },
    serviceType: { ...serviceType, nullable: true },
    allowFrom: { ...runnerPeersSchema, nullable: true },
    kubeContext: optStr("kubernetes mode: kubeconfig context. Default: the ambient provider."),
  },
  // Defaults that only exist in some modes (ajv fills defaults in a `then` branch).
  if: { properties: { mode: { const: "kubernetes" } }, required: ["mode"] },
  then: { properties: { serviceType: { default: KUBERNETES_BUILDER_DEFAULTS.serviceType } } },
  else: {},
  allOf: [
    {
      if: { properties: { mode: { enum: ["docker-host", "kubernetes"] } }, required: ["mode"] },
      then: { properties: { image: { default: DEFAULT_BUILDKIT_IMAGE } } },
    },
  ],
};

/** A schema's property defaults, read from the schema itself. */
function defaultsOf(schema: { properties?: Record<string, unknown> }): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(schema.properties ?? {})
      .filter(([, p]) => (p as { default?: unknown }).default !== undefined)
      .map(([k, p]) => [k, (p as { default: unknown }).default]),
  );
}

/**
 * The defaults of the registry sections, for components built without settings (tests, other
 * programs): read from the schema, so each is declared once.
 */
export const REGISTRY_DEFAULTS = {
  dockerHost: defaultsOf(dockerHostSchema) as Pick<
    DockerHostRegistrySettings,
    "port" | "image" | "volume"
  >,
  kubernetes: defaultsOf(kubernetesSchema) as Pick<
    KubernetesRegistrySettings,
    "namespace" | "storageSize" | "image" | "pullSecretNamespaces" | "pullPort" | "serviceType"
  >,
  ecr: defaultsOf(ecrSchema) as Pick<EcrRegistrySettings, "expireTemporaryAfterDays">,
};

/** The namespace a kubernetes builder gets by default: one per builder, so none is shared. */
export function builderNamespace(b: Pick<BuilderSettings, "name" | "namespace">): string {
  return b.namespace ?? `buildkit-${b.name}`;
}

const supplyChainSchema: JSONSchemaType<SupplyChainConfig> = {
  type: "object",
  description:
    "SBOM (syft) and SLSA v1 provenance attested on every per-arch image, every index signed (cosign, key pair): { enabled?, sbomFormat? }.",
  additionalProperties: false,
  required: [],
  properties: {
    enabled: {
      type: ["boolean", "string"],
      enum: [true, false, "auto"],
      description:
        "true, false, or auto (true except on dev stacks). Needs cosignPublicKey and the secrets cosignPrivateKey, cosignPassword.",
      default: "auto",
    },
    sbomFormat: {
      type: "string",
      enum: SBOM_FORMATS,
      description: "SBOM format: spdx-json or cyclonedx-json.",
      default: "spdx-json",
    },
  },
  default: {},
};

const retentionSchema: JSONSchemaType<RetentionSettings> = {
  type: "object",
  description:
    "What npm run prune keeps: { keepReleases?, maxAge?, pruneRemoved?, neverTouch? } (docs/supply-chain.md).",
  additionalProperties: false,
  required: [],
  properties: {
    keepReleases: {
      type: "integer",
      description: "Releases kept, the current one included (from release and previousReleases).",
      minimum: 1,
      errorMessage: "must be a whole number ≥ 1 (the current release is always kept)",
      default: 2,
    },
    maxAge: {
      type: "string",
      description:
        "Also keep every release built less than this long ago (36h, 90d, 8w), beyond keepReleases; set keepReleases: 1 for an age-only rule. Default: none.",
      pattern: MAX_AGE_PATTERN,
      errorMessage: "must be a whole number of hours, days or weeks, like 36h, 90d or 8w",
      nullable: true,
    },
    pruneRemoved: {
      type: "boolean",
      description: "Also prune repositories of images no longer in the catalog.",
      default: false,
    },
    neverTouch: {
      type: "array",
      description: "Tags never deleted: names or * globs, optionally repository: prefixed.",
      items: { type: "string", errorMessage: "must be a list of tag names or globs" },
      default: [],
    },
  },
  default: {},
};

const vulnerabilityGateSchema: JSONSchemaType<VulnerabilityGateSettings> = {
  type: "object",
  description:
    "The vulnerability gate (grype per digest before an index moves; designed, see docs/supply-chain.md): { threshold?, accept? }.",
  additionalProperties: false,
  required: [],
  properties: {
    threshold: {
      type: "string",
      enum: VULN_SEVERITIES,
      description: "Lowest severity that holds an index back.",
      default: "Critical",
    },
    accept: {
      type: "array",
      description: "Vulnerability ids accepted on purpose (say why in a comment next to them).",
      items: { type: "string", errorMessage: "must be a list of vulnerability ids" },
      default: [],
    },
  },
  default: {},
};

/** JSON Schema of the stack config (keys without the `<project>:` prefix). */
export const stackConfigSchema: JSONSchemaType<StackConfig> = {
  type: "object",
  additionalProperties: false,
  required: ["environment", "release", "registry", "builders"],
  properties: {
    environment: {
      type: "string",
      enum: ENVIRONMENTS,
      description:
        "dev, staging or prod. Required. Non-dev stacks require registry auth and TLS, builder mTLS, and protect releases.",
    },
    release: str(
      "Release tag substituted for ${release} in the catalog's tags, e.g. v1.3. Required.",
    ),
    catalog: {
      ...str("Path of the estate catalog, relative to the project."),
      default: "estate.yaml",
    },
    templates: {
      ...str(
        "Path of a Dayu deployment template folder (template/), relative to the project: every image its YAML files name must be in the estate, with every -jpN tag and arm64 where it runs on the edge. Empty: no check.",
      ),
      // Empty, not absent: Pulumi.yaml's config block makes a key without a default required.
      default: "",
    },
    repositoryPrefix: {
      ...str("Prepended to every repository path, e.g. e2e to keep a test estate apart."),
      default: "",
    },
    registry: registrySchema,
    builders: {
      type: "array",
      description:
        "One buildx builder per platform: [{ name, platform, mode?, endpoint?, tls?, dockerHost?, namespace?, image?, serviceType?, allowFrom?, kubeContext? }].",
      minItems: 1,
      errorMessage: "must be a list of { name, platform } with one builder per platform",
      items: builderSchema,
    },
    contexts: stringMap("Image name → build context directory (e.g. a real Dayu checkout)."),
    mirrorSources: stringMap(
      "Mirror name → pinned upstream reference (host/repo[:tag]@sha256:...).",
    ),
    protectReleases: {
      type: ["boolean", "string"],
      enum: [true, false, "auto"],
      description:
        "Refuse to move a published release tag: true, false, or auto (true except on dev stacks).",
      default: "auto",
    },
    buildOnPreview: {
      type: "boolean",
      description: "Build changed images during preview too.",
      default: false,
    },
    registryCache: {
      type: "boolean",
      description: "Import and export a registry build cache per (image, step, variant, arch).",
      default: true,
    },
    preflight: {
      type: "boolean",
      description: "Check the registry and every builder before any build.",
      default: true,
    },
    promote: promoteSchema,
    adopt: {
      type: "boolean",
      description:
        "First up against a registry that already holds a release tag with other content: keep (record) that content instead of refusing.",
      default: false,
    },
    replaceExisting: {
      type: "array",
      description:
        "Release tags (<repository>:<tag>, without the registry) the first up may move although the registry already holds other content under them.",
      items: {
        type: "string",
        pattern: "^[^\\s@]+:[^\\s:@/]+$",
        errorMessage: "must be a list of <repository>:<tag>",
      },
      default: [],
    },
    supplyChain: supplyChainSchema,
    cosignPublicKey: {
      ...str(
        "PEM of the cosign public key that verifies signatures and attestations (its private key is the secret cosignPrivateKey). Required while supplyChain is on.",
      ),
      // A default, so the CLI does not require the key on stacks without a supply chain.
      default: "",
    },
    retention: retentionSchema,
    vulnerabilityGate: vulnerabilityGateSchema,
  },
};

// ---------------------------------------------------------------------------------------------------
// Stage 1: raw values → the shape the schema checks.

/** Problems in a stack's config, all at once. */
export class ConfigError extends EstateInputError {
  constructor(problems: string[]) {
    super(problems, "invalid stack config");
  }
}

type SchemaNode = {
  type?: string | readonly string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  errorMessage?: string;
};

const node = (s: unknown) => s as SchemaNode;
const typesOf = (s: SchemaNode | undefined): readonly string[] =>
  s?.type === undefined ? [] : typeof s.type === "string" ? [s.type] : s.type;
/** The JSON types the schema allows for a top-level key (none for an unknown key). */
const topLevelTypes = (key: string) => typesOf(node(stackConfigSchema).properties?.[key]);

/**
 * The one rule for values that arrive as text (the Pulumi CLI passes every config value as a string;
 * `pulumi config set` stores what it is given as a string): a key the schema types as object, array
 * or boolean is read as JSON; a string key keeps its text exactly (`release` "1.10" stays "1.10").
 * Text that is not valid JSON is kept, and the schema then refuses it naming the key.
 */
export function fromConfigText(key: string, text: string): unknown {
  const types = topLevelTypes(key);
  if (!types.some((t) => t === "object" || t === "array" || t === "boolean")) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Documented acceptance: inside objects set with `pulumi config set --path`, a whole number given as
 * text for an integer key (`"5443"`) and `"true"`/`"false"` for a boolean key are taken as the number
 * or boolean. Nothing else is converted: a number where text belongs is refused (see
 * {@link typeMessage}).
 */
function acceptTextScalars(schema: SchemaNode | undefined, value: unknown): unknown {
  const types = typesOf(schema);
  if (typeof value === "string") {
    if (types.includes("integer") && /^\d+$/.test(value)) return Number(value);
    if (types.includes("boolean") && (value === "true" || value === "false"))
      return value === "true";
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => acceptTextScalars(schema?.items, v));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, acceptTextScalars(schema?.properties?.[k], v)]),
    );
  }
  return value;
}

/**
 * Every key the schema declares is present in the settings (absent ones as `undefined`), so two
 * settings objects compare equal whatever the stack file left out.
 */
function withEveryKey(schema: unknown, value: unknown): unknown {
  const s = node(schema);
  if (Array.isArray(value)) return value.map((v) => withEveryKey(s.items, v));
  if (value === null || typeof value !== "object" || !s.properties) return value;
  const v = value as Record<string, unknown>;
  const keys = [...Object.keys(s.properties), ...Object.keys(v)];
  return Object.fromEntries(keys.map((k) => [k, withEveryKey(s.properties?.[k], v[k])]));
}

/** A key with an empty value (`key:` in YAML, `null` in JSON) counts as absent. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Stage 2: the schema, its errors in words.

const ajv = new Ajv({
  allErrors: true,
  useDefaults: true,
  verbose: true,
  strict: true,
  // protectReleases is true, false or "auto".
  allowUnionTypes: true,
});
// An annotation only: the sentence shown when a value breaks this schema node.
ajv.addKeyword({ keyword: "errorMessage", schemaType: "string" });
const validateConfig = ajv.compile(stackConfigSchema);

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/** "is not a known key; did you mean `x`?" with the nearest known key, or the list when none is near. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const nearest = [...known].sort((a, b) => editDistance(key, a) - editDistance(key, b))[0];
  if (nearest !== undefined && editDistance(key.toLowerCase(), nearest.toLowerCase()) <= 3) {
    return `is not a known key; did you mean \`${nearest}\`?`;
  }
  return `is not a known key (known: ${known.join(", ")})`;
}

/** `/builders/0/tls` → `builders[0].tls`. */
function keyOf(instancePath: string, extra?: string): string {
  const parts = instancePath.split("/").slice(1);
  if (extra !== undefined) parts.push(extra);
  return parts.reduce(
    (key, p) => (/^\d+$/.test(p) ? `${key}[${p}]` : key === "" ? p : `${key}.${p}`),
    "",
  );
}

/** What a type error says; a number where text belongs names the fix (YAML already changed it). */
function typeMessage(expected: string, data: unknown, key: string): string {
  const got = JSON.stringify(data);
  if (expected.includes("string") && (typeof data === "number" || typeof data === "boolean")) {
    const leaf = key.split(".").pop() ?? key;
    return `must be text, got the ${typeof data} ${got}: quote it in the stack file (${leaf}: "${got}"; unquoted YAML reads 1.10 as the number 1.1, so check the digits)`;
  }
  return `must be ${expected === "integer" ? "a whole number" : `a${/^[aeiou]/.test(expected) ? "n" : ""} ${expected}`}, got ${got}`;
}

/** One ajv error → `at(key, message)`. Errors of `if` are the branch choice, not a problem. */
function reportSchemaError(e: ErrorObject, problems: Problems): void {
  if (e.keyword === "if") return;
  const own = (e.parentSchema as SchemaNode | undefined)?.errorMessage;
  // Errors of a list's items are reported at the list (the list's rule names the fix).
  if (/\/items\/[^/]+$/.test(e.schemaPath) && own !== undefined) {
    // A list of plain values: the problem is the list's, and its rule names the fix.
    problems.at(keyOf(e.instancePath.replace(/\/\d+$/, "")), own);
    return;
  }
  const key = keyOf(e.instancePath);
  switch (e.keyword) {
    case "additionalProperties": {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((e.parentSchema as SchemaNode).properties ?? {});
      // At the top, a typo may be in a secret key's name (its value is never shown).
      if (e.instancePath === "") known.push(...SECRET_KEYS);
      problems.at(keyOf(e.instancePath, extra), unknownKeyMessage(extra, known));
      return;
    }
    case "required":
      problems.at(
        keyOf(e.instancePath, (e.params as { missingProperty: string }).missingProperty),
        "is required",
      );
      return;
    case "enum": {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      problems.at(key, `must be ${allowed.join(", ")}; got ${JSON.stringify(e.data)}`);
      return;
    }
    case "type":
      problems.at(key, typeMessage(String((e.params as { type: unknown }).type), e.data, key));
      return;
    default:
      problems.at(key, own ?? `${e.message ?? "is invalid"} (got ${JSON.stringify(e.data)})`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Stage 3: the rules that span several keys.

/** Whether the program itself runs the registry (then always with TLS and htpasswd). */
export function runsRegistry(mode: RegistryMode): boolean {
  switch (mode) {
    case "docker-host":
    case "kubernetes":
      return true;
    case "external":
    case "ecr":
      return false;
    default:
      return unreachable(mode);
  }
}

/** Whether the program runs the builder's BuildKit daemon (then always with mTLS). */
export function runsDaemon(mode: BuilderMode): boolean {
  switch (mode) {
    case "docker-host":
    case "kubernetes":
      return true;
    case "external":
      return false;
    default:
      return unreachable(mode);
  }
}

/** The `never` check of an exhaustive switch: adding a mode makes the compiler list each switch. */
export function unreachable(value: never): never {
  throw new Error(`unhandled mode ${JSON.stringify(value)}`);
}

/** The registry's rules across keys; returns the address (derived in ecr mode). */
function registryRules(c: StackConfig, problems: Problems): string {
  const reg = c.registry;
  const dev = c.environment === "dev";
  for (const [owner, section] of Object.entries(REGISTRY_SECTION)) {
    if (reg[section] !== undefined && owner !== reg.mode) {
      problems.at(
        `registry.${section}`,
        `is only read in ${owner} mode (registry.mode is "${reg.mode}")`,
      );
    } else if (reg[section] === undefined && owner === reg.mode) {
      problems.at(`registry.${section}`, `is required in ${owner} mode`);
    }
  }
  if (reg.insecure && reg.mode !== "external") {
    problems.at(
      "registry.insecure",
      `the ${reg.mode} registry is always served over HTTPS: remove registry.insecure`,
    );
  } else if (reg.insecure && !dev) {
    problems.at(
      "registry.insecure",
      `plain HTTP is refused on a ${c.environment} stack: serve the registry with TLS`,
    );
  }
  if (reg.mode === "ecr") {
    if (reg.username !== undefined) {
      problems.at(
        "registry.username",
        "is not used in ecr mode: the credentials come from aws.ecr.getAuthorizationToken",
      );
    }
    if (!reg.ecr) return "";
    const derived = `${reg.ecr.accountId}.dkr.ecr.${reg.ecr.region}.amazonaws.com`;
    if (reg.address !== undefined && reg.address !== derived) {
      problems.at("registry.address", `is derived from registry.ecr (${derived}); leave it out`);
    }
    return derived;
  }
  if (!reg.address) problems.at("registry.address", "is required");
  const k8s = reg.mode === "kubernetes" ? reg.kubernetes : undefined;
  if (k8s && k8s.pullSecretNamespaces.length > 0 && !k8s.pullUsername) {
    problems.at(
      "registry.kubernetes.pullUsername",
      "is required with pullSecretNamespaces: the pods' pull Secrets get a read-only identity of their own, never the push-and-delete user (set it, and the secrets registryPullPassword and registryPullHtpasswd)",
    );
  } else if (k8s?.pullUsername !== undefined && k8s.pullUsername === reg.username) {
    problems.at(
      "registry.kubernetes.pullUsername",
      `must differ from registry.username ("${reg.username}"): that user can push and delete`,
    );
  }
  if (k8s && k8s.pullPort === 5000) {
    problems.at(
      "registry.kubernetes.pullPort",
      "5000 is the registry's own port: choose another for the read-only front",
    );
  }
  if (!reg.username && runsRegistry(reg.mode)) {
    problems.at(
      "registry.username",
      `is required in ${reg.mode} mode: the registry this program runs always uses authentication (htpasswd)`,
    );
  } else if (!reg.username && !dev) {
    problems.at(
      "registry.username",
      `is required on a ${c.environment} stack: the registry must use authentication`,
    );
  }
  return reg.address ?? "";
}

/**
 * Promote mode's rules across keys: exactly one source, the source registry, auth and TLS off dev.
 * Returns the settings when promote mode is on (`promote` is not `{}`).
 */
function promoteRules(c: StackConfig, problems: Problems): PromoteSettings | undefined {
  const p = c.promote ?? {};
  if (p.fromStack === undefined && p.digestFile === undefined && p.registry === undefined) {
    return undefined;
  }
  if ((p.fromStack === undefined) === (p.digestFile === undefined)) {
    problems.at("promote", "needs exactly one of fromStack (a stack reference) or digestFile");
  }
  if (!p.registry) {
    problems.at("promote.registry", "is required: { address, username, caFile? } of the source");
    return undefined;
  }
  if (c.environment !== "dev" && !p.registry.username) {
    problems.at(
      "promote.registry.username",
      `is required on a ${c.environment} stack: the source registry must use authentication`,
    );
  }
  if (c.environment !== "dev" && p.registry.insecure) {
    problems.at(
      "promote.registry.insecure",
      `plain HTTP is refused on a ${c.environment} stack: serve the source registry with TLS`,
    );
  }
  return { ...p, registry: p.registry };
}

/** One builder's rules across keys; returns it with its computed default (the namespace) filled. */
function builderRules(
  b: BuilderSettings,
  i: number,
  c: StackConfig,
  problems: Problems,
): BuilderSettings {
  const at = (k: string, msg: string) => problems.at(`builders[${i}]${k}`, msg);
  const daemon = runsDaemon(b.mode);
  if (daemon && b.endpoint === undefined) at(".endpoint", "is required");
  else if (daemon && b.endpoint && !/^tcp:\/\/[^/:]+:\d+$/.test(b.endpoint)) {
    at(
      ".endpoint",
      `must be tcp://host:port in ${b.mode} mode (the daemon listens on that port), got "${b.endpoint}"`,
    );
  }
  if (b.tls && daemon) {
    if (!b.tls.clientCertFile) at(".tls.clientCertFile", "is required");
    if (!b.tls.clientKeyFile) at(".tls.clientKeyFile", "is required");
  } else if (b.tls && (b.tls.clientCertFile !== undefined || b.tls.clientKeyFile !== undefined)) {
    at(
      ".tls",
      "clientCertFile and clientKeyFile are only read in docker-host and kubernetes modes (the external builder's entry holds its own)",
    );
  } else if (!b.tls && daemon) {
    at(
      ".tls",
      `is required in ${b.mode} mode: the BuildKit daemon this program runs only listens with mTLS (tls.caFile, tls.certFile, tls.keySecret, tls.clientCertFile, tls.clientKeyFile)`,
    );
  } else if (!b.tls && b.endpoint?.startsWith("tcp://") && c.environment !== "dev") {
    at(
      ".tls",
      `builder "${b.name}" is reached over plain TCP; a ${c.environment} stack requires mTLS (tls.caFile, tls.certFile, tls.keySecret)`,
    );
  }
  if (b.mode === "docker-host" && !b.dockerHost)
    at(".dockerHost", "is required in docker-host mode");
  else if (b.dockerHost && b.mode !== "docker-host") {
    at(".dockerHost", `is only read in docker-host mode (mode is "${b.mode}")`);
  }
  if (b.mode === "kubernetes" && !hasPeers(b.allowFrom)) {
    at(
      ".allowFrom",
      "is required in kubernetes mode: the daemon's NetworkPolicy admits only the Pulumi runner (allowFrom.cidrs, allowFrom.podSelector or allowFrom.namespaceSelector)",
    );
  }
  for (const k of ["namespace", "serviceType", "allowFrom", "kubeContext"] as const) {
    if (b[k] !== undefined && b.mode !== "kubernetes")
      at(`.${k}`, `is only read in kubernetes mode (mode is "${b.mode}")`);
  }
  if (b.image !== undefined && !daemon) {
    at(".image", `is only read in docker-host and kubernetes modes (mode is "${b.mode}")`);
  }
  // A computed default, so it cannot live in the schema: it depends on the builder's name.
  const namespace = b.mode === "kubernetes" ? builderNamespace(b) : undefined;
  return { ...b, namespace };
}

/** Whether a runner description names at least one peer (an empty one would admit nobody). */
function hasPeers(p: RunnerPeers | undefined): boolean {
  return (
    (p?.cidrs?.length ?? 0) > 0 ||
    Object.keys(p?.podSelector ?? {}).length > 0 ||
    Object.keys(p?.namespaceSelector ?? {}).length > 0
  );
}

/**
 * What a non-dev stack requires of the services the program runs, beyond auth and TLS: Docker hosts
 * reached over ssh (a plain `tcp://` Docker API is root on the host for anyone on the network; this
 * program passes no Docker TLS client certificate, so TLS to a Docker host is not available here),
 * and registry and BuildKit images pinned by digest (a tag can be moved under a running estate).
 */
function nonDevRules(c: StackConfig, builders: BuilderSettings[], problems: Problems): void {
  if (c.environment === "dev") return;
  const env = c.environment;
  const dockerHost = (key: string, host: string | undefined) => {
    if (host?.startsWith("tcp://")) {
      problems.at(
        key,
        `"${host}" is a plain-TCP Docker API; a ${env} stack reaches Docker hosts over ssh only (ssh://user@host)`,
      );
    }
  };
  const digest = (key: string, image: string | undefined) => {
    if (image !== undefined && !DIGEST_PINNED.test(image)) {
      problems.at(
        key,
        `"${image}" must be pinned by digest on a ${env} stack (image:tag@sha256:…; docker buildx imagetools inspect ${image} prints it)`,
      );
    }
  };
  const reg = c.registry;
  if (reg.mode === "docker-host" && reg.dockerHost) {
    dockerHost("registry.dockerHost.host", reg.dockerHost.host);
    digest("registry.dockerHost.image", reg.dockerHost.image);
  }
  if (reg.mode === "kubernetes" && reg.kubernetes) {
    digest("registry.kubernetes.image", reg.kubernetes.image);
  }
  builders.forEach((b, i) => {
    if (b.mode === "docker-host") dockerHost(`builders[${i}].dockerHost`, b.dockerHost);
    if (runsDaemon(b.mode)) digest(`builders[${i}].image`, b.image);
  });
}

/** Names and namespaces that must be unique across builders and the registry. */
function uniquenessRules(c: StackConfig, builders: BuilderSettings[], problems: Problems): void {
  const names = new Set<string>();
  for (const b of builders) {
    if (names.has(b.name)) problems.at("builders", `builder name "${b.name}" is used twice`);
    names.add(b.name);
  }
  // Each kubernetes builder creates (and on destroy deletes) its namespace: none may be shared.
  const owners = new Map<string, string>();
  if (c.registry.kubernetes && c.registry.mode === "kubernetes") {
    owners.set(c.registry.kubernetes.namespace, "registry.kubernetes");
  }
  builders.forEach((b, i) => {
    if (b.namespace === undefined) return;
    const owner = owners.get(b.namespace);
    if (owner)
      problems.at(
        `builders[${i}].namespace`,
        `namespace "${b.namespace}" is already created by ${owner}`,
      );
    owners.set(b.namespace, `builders[${i}]`);
  });
}

/** Stage 3 as a whole: the validated config → the settings the program uses. */
export function crossFieldRules(c: StackConfig, stack: string, problems: Problems): EstateSettings {
  const address = registryRules(c, problems);
  const promote = promoteRules(c, problems);
  const builders = c.builders.map((b, i) => builderRules(b, i, c, problems));
  uniquenessRules(c, builders, problems);
  const supplyChain =
    c.supplyChain.enabled === "auto" ? c.environment !== "dev" : c.supplyChain.enabled;
  nonDevRules(c, builders, problems);
  return {
    ...c,
    stack,
    registry: { ...c.registry, address },
    builders,
    protectReleases: c.protectReleases === "auto" ? c.environment !== "dev" : c.protectReleases,
    promote,
    supplyChain: { ...c.supplyChain, enabled: supplyChain },
  };
}

// ---------------------------------------------------------------------------------------------------
// The entry points.

/** Where a stack's problems are: `<project>:<key> in Pulumi.<stack>.yaml`. */
export const stackProblems = (stack: string, project = "dayu-estate") =>
  new Problems(stackKey(project, stack));

/** The names of the secret keys a config uses: the fixed ones and each builder's `tls.keySecret`. */
export function secretKeyNames(raw: Record<string, unknown>): string[] {
  const builders = Array.isArray(raw.builders) ? (raw.builders as unknown[]) : [];
  const named = builders
    .map((b) => (b as { tls?: { keySecret?: unknown } } | null)?.tls?.keySecret)
    .filter((k): k is string => typeof k === "string");
  return [...SECRET_KEYS, ...named];
}

/**
 * Validates a stack's raw config (keys without the project prefix, values as the source gives them)
 * and returns the settings, or throws one {@link ConfigError} listing every problem. Secret keys
 * (see {@link secretKeyNames}) are skipped: their values are never looked at here.
 */
export function parseStackConfig(
  raw: Record<string, unknown>,
  stack: string,
  project = "dayu-estate",
  problems: Problems = stackProblems(stack, project),
): EstateSettings {
  const secrets = new Set(secretKeyNames(raw));
  const plain = Object.fromEntries(Object.entries(raw).filter(([k]) => !secrets.has(k)));
  const value = acceptTextScalars(node(stackConfigSchema), withoutNulls(plain));
  if (!validateConfig(value)) {
    for (const e of validateConfig.errors ?? []) reportSchemaError(e, problems);
    // The rules across keys still run, so every problem is reported at once; on a value the schema
    // refused one may not apply (a TypeError), and the schema's problem already covers that part.
    try {
      crossFieldRules(value as StackConfig, stack, problems);
    } catch {
      // reported above
    }
    throw new ConfigError([...problems.list]);
  }
  const settings = crossFieldRules(
    withEveryKey(stackConfigSchema, value) as StackConfig,
    stack,
    problems,
  );
  problems.throwIfAny(ConfigError);
  return settings;
}

/**
 * Reads and validates every key through a getter (kept for callers that look keys up one by one).
 * `get` returns a key's value or undefined.
 */
export function parseSettings(
  get: (key: string) => unknown,
  stack: string,
  project = "dayu-estate",
): EstateSettings {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(stackConfigSchema.properties ?? {})) {
    const v = get(key);
    if (v !== undefined) raw[key] = v;
  }
  return parseStackConfig(raw, stack, project);
}

/** A stack file's `<project>:` keys, as the YAML gives them; secret (`secure:`) values are left out. */
export function stackFileConfig(text: string, project = "dayu-estate"): Record<string, unknown> {
  const doc = parseYaml(text) as { config?: Record<string, unknown> } | null;
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) {
    if (!k.startsWith(`${project}:`)) continue;
    if (v !== null && typeof v === "object" && "secure" in v) continue;
    raw[k.slice(project.length + 1)] = v;
  }
  return raw;
}

/**
 * The one check the program cannot do from Pulumi's config: the CLI turns an unquoted YAML number or
 * boolean of a top-level key into text (`release: 1.10` arrives as "1.1"), so it is only visible in
 * the stack file. Both `npm run plan` and the program run this on the stack file, so both refuse it,
 * quoting the digits as written. (A later `pulumi config set` rewrites the file with the number's
 * text, "1.1": then the digits are gone for everyone, which is why this is refused, not repaired.)
 */
export function stackFileProblems(text: string, problems: Problems, project = "dayu-estate"): void {
  const doc = parseDocument(text);
  const config = doc.get("config");
  if (!isMap(config)) return;
  for (const pair of config.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    const key = name.slice(project.length + 1);
    const value = pair.value;
    if (!name.startsWith(`${project}:`) || !isScalar(value) || typeof value.value === "string") {
      continue;
    }
    const types = topLevelTypes(key);
    if (types.length === 1 && types[0] === "string" && value.range) {
      const written = text.slice(value.range[0], value.range[1]).trim();
      problems.at(
        key,
        `must be text, got the ${typeof value.value} ${JSON.stringify(value.value)} (YAML reads an unquoted ${written} as that): quote it in the stack file: ${key}: "${written}"`,
      );
    }
  }
}

/**
 * `npm run plan`'s reading of a stack file: what the CLI would pass the program (scalars as text,
 * objects as they are), through the same rule as the program ({@link fromConfigText}), after
 * {@link stackFileProblems}.
 */
export function settingsFromStackFile(
  text: string,
  stack: string,
  project = "dayu-estate",
): EstateSettings {
  const problems = stackProblems(stack, project);
  stackFileProblems(text, problems, project);
  const raw = stackFileConfig(text, project);
  const asPassed = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [
      k,
      v !== null && typeof v === "object" ? v : fromConfigText(k, String(v)),
    ]),
  );
  return parseStackConfig(asPassed, stack, project, problems);
}

// ---------------------------------------------------------------------------------------------------
// Generated views of the schema: Pulumi.yaml's `config:` block and the editors' schema.

/** One key of `Pulumi.yaml`'s `config:` block. */
export interface ProjectConfigKey {
  type?: "string" | "boolean" | "integer";
  description: string;
  default?: unknown;
}

/**
 * `Pulumi.yaml`'s `config:` block, generated from the schema (a unit test keeps the file current):
 * the CLI then knows every key, and a key without a default (`environment`, `registry`, `builders`)
 * is required by the CLI as well. Keys of structured or mixed type carry no `type`: the CLI's types
 * cannot express them, the program's schema checks them.
 */
export function projectConfigBlock(): Record<string, ProjectConfigKey> {
  const props = node(stackConfigSchema).properties ?? {};
  return Object.fromEntries(
    Object.entries(props).map(([key, p]) => {
      const prop = p as SchemaNode & { description: string; default?: unknown };
      const types = typesOf(prop);
      const simple = types.length === 1 && ["string", "boolean", "integer"].includes(types[0]);
      const entry: ProjectConfigKey = {
        ...(simple ? { type: types[0] as ProjectConfigKey["type"] } : {}),
        description: prop.description,
        ...(prop.default !== undefined ? { default: prop.default } : {}),
      };
      return [key, entry];
    }),
  );
}

/** JSON Schema of a `Pulumi.<stack>.yaml` file, for editors (`stack-config.schema.json`). */
export function stackFileSchema(project = "dayu-estate"): object {
  const props = node(stackConfigSchema).properties ?? {};
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: `${project} stack file (generated from estate/settings.ts)`,
    type: "object",
    properties: {
      config: {
        type: "object",
        properties: Object.fromEntries(
          Object.entries(props).map(([k, v]) => [`${project}:${k}`, v]),
        ),
        required: stackConfigSchema.required.map((k: string) => `${project}:${k}`),
      },
    },
  };
}
