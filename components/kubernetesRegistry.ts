import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  PULL_FRONT_DEBUG_PORT,
  REGISTRY_PATHS,
  REGISTRY_PORT,
  dockerConfigJson,
  pullAddress,
  pullFrontEnv,
  registryCommand,
  registryEnv,
  registryHealthCommand,
  probeTiming,
} from "../estate/backends";
import { KubernetesRegistrySettings, REGISTRY_DEFAULTS } from "../estate/settings";
import { RegistryCredentials, secretCredentials } from "./credentials";
import { EstateRegistry, RegistryServerArgs, checkedHtpasswd } from "./registryCommon";

/** Name of the image pull Secret created in each namespace that runs Dayu. */
export const PULL_SECRET_NAME = "dayu-registry-pull";

type Defaulted = keyof typeof REGISTRY_DEFAULTS.kubernetes;

/**
 * Where and how the registry runs in a cluster: `registry.kubernetes` of the stack settings (see the
 * schema in estate/settings.ts), without the certificate file (passed as content). Each
 * `pullSecretNamespaces` entry gets a `kubernetes.io/dockerconfigjson` pull Secret named
 * {@link PULL_SECRET_NAME} (plain: decides which Secrets exist). Keys the schema gives a default
 * may be left out: the schema's default applies.
 */
export type KubernetesRegistryOptions = Omit<
  KubernetesRegistrySettings,
  "tlsCertFile" | Defaulted
> &
  Partial<Pick<KubernetesRegistrySettings, Defaulted>>;

/** The read-only pull identity: its password and its htpasswd file (both handled as secrets). */
export interface PullIdentityArgs {
  /** Password of `pullUsername`. */
  pullPassword: pulumi.Input<string>;
  /** htpasswd file of the pull front, bcrypt, with an entry for `pullUsername` (only). */
  pullHtpasswd: pulumi.Input<string>;
}

/**
 * Arguments of {@link KubernetesRegistry}. With `pullUsername`, the pull identity is required: the
 * pod gets the read-only pull front, and the pull Secrets carry that identity.
 */
export interface KubernetesRegistryArgs
  extends KubernetesRegistryOptions, RegistryServerArgs, Partial<PullIdentityArgs> {}

/**
 * A distribution registry in Kubernetes: its Namespace, the htpasswd and `kubernetes.io/tls`
 * Secrets, a PersistentVolumeClaim, a one-replica Deployment (TLS and auth always on, deletes
 * enabled, probes on the registry's health endpoint) and a Service; plus an image pull Secret in each
 * namespace that runs Dayu. The pull Secrets carry the read-only pull identity (`pullUsername`), served
 * by a second registry container in the same pod: read-only maintenance mode over the same volume, its
 * own htpasswd, its own port (`pullPort`); the push user's password never leaves the registry's
 * namespace.
 */
export class KubernetesRegistry extends pulumi.ComponentResource implements EstateRegistry {
  public static readonly type = "dayu:estate:KubernetesRegistry";

  public readonly address: pulumi.Output<string>;
  public readonly credentials: pulumi.Output<RegistryCredentials>;
  public readonly caCert: pulumi.Output<string | undefined>;
  public readonly provider?: k8s.Provider;
  public readonly namespace: k8s.core.v1.Namespace;
  public readonly htpasswdSecret: k8s.core.v1.Secret;
  /** The pull front's htpasswd; undefined without `pullUsername`. */
  public readonly pullHtpasswdSecret?: k8s.core.v1.Secret;
  /** host:pullPort, where the pods pull from; undefined without `pullUsername`. */
  public readonly pullAddress?: pulumi.Output<string>;
  public readonly tlsSecret: k8s.core.v1.Secret;
  public readonly claim: k8s.core.v1.PersistentVolumeClaim;
  public readonly deployment: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;
  /** By namespace. */
  public readonly pullSecrets: Record<string, k8s.core.v1.Secret> = {};

  constructor(name: string, args: KubernetesRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(KubernetesRegistry.type, name, {}, opts);
    if (!args.address) throw new pulumi.ResourceError("registry address is required", this);

    if (args.kubeContext) {
      this.provider = new k8s.Provider(
        `${name}-k8s`,
        { context: args.kubeContext },
        { parent: this },
      );
    }
    const children: pulumi.CustomResourceOptions = { parent: this, provider: this.provider };
    const nsName = args.namespace ?? REGISTRY_DEFAULTS.kubernetes.namespace;
    const labels = { "app.kubernetes.io/name": "dayu-registry" };

    this.namespace = new k8s.core.v1.Namespace(
      `${name}-ns`,
      { metadata: { name: nsName } },
      children,
    );
    const inNs = { ...children, dependsOn: [this.namespace] };
    const meta = (n: string) => ({ name: n, namespace: nsName, labels });

    this.htpasswdSecret = new k8s.core.v1.Secret(
      `${name}-htpasswd`,
      {
        metadata: meta("dayu-registry-htpasswd"),
        type: "Opaque",
        stringData: { htpasswd: checkedHtpasswd(args.htpasswd, args.username, this) },
      },
      inNs,
    );
    this.tlsSecret = new k8s.core.v1.Secret(
      `${name}-tls`,
      {
        metadata: meta("dayu-registry-tls"),
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": args.tlsCert, "tls.key": pulumi.secret(args.tlsKey) },
      },
      inNs,
    );
    this.claim = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      {
        metadata: meta("dayu-registry-data"),
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: args.storageClass,
          resources: {
            requests: { storage: args.storageSize ?? REGISTRY_DEFAULTS.kubernetes.storageSize },
          },
        },
      },
      // The images live here: removing the registry must not delete them.
      { ...inNs, retainOnDelete: true },
    );

    // The debug server listens on loopback only (pprof and metrics are unauthenticated), so the
    // probes run inside the container rather than as httpGet from the kubelet.
    const probe = (initialDelaySeconds: number, debugPort?: number) => ({
      exec: { command: registryHealthCommand(debugPort) },
      ...probeTiming(initialDelaySeconds),
    });
    const pullNamespaces =
      args.pullSecretNamespaces ?? REGISTRY_DEFAULTS.kubernetes.pullSecretNamespaces;
    if (pullNamespaces.length > 0 && !args.pullUsername) {
      throw new pulumi.ResourceError(
        "pullSecretNamespaces needs pullUsername: the pull Secrets never carry the push-and-delete user",
        this,
      );
    }
    const pullPort = args.pullPort ?? REGISTRY_DEFAULTS.kubernetes.pullPort;
    const pull = args.pullUsername
      ? {
          username: args.pullUsername,
          password:
            args.pullPassword ??
            (() => {
              throw new pulumi.ResourceError("pullPassword is required with pullUsername", this);
            })(),
          htpasswd:
            args.pullHtpasswd ??
            (() => {
              throw new pulumi.ResourceError("pullHtpasswd is required with pullUsername", this);
            })(),
        }
      : undefined;
    if (pull) {
      this.pullHtpasswdSecret = new k8s.core.v1.Secret(
        `${name}-pull-htpasswd`,
        {
          metadata: meta("dayu-registry-pull-htpasswd"),
          type: "Opaque",
          stringData: {
            htpasswd: checkedHtpasswd(pull.htpasswd, pull.username, this, "registryPullHtpasswd"),
          },
        },
        inNs,
      );
    }
    const volumeMounts = [
      {
        name: "htpasswd",
        mountPath: path.posix.dirname(REGISTRY_PATHS.htpasswd),
        readOnly: true,
      },
      {
        name: "tls",
        mountPath: path.posix.dirname(REGISTRY_PATHS.tlsCert),
        readOnly: true,
      },
      { name: "data", mountPath: REGISTRY_PATHS.storage },
    ];
    // The same volume, mounted read-only as well: the front never writes, whatever its config says.
    const front = pull && {
      name: "registry-pull",
      image: args.image,
      command: registryCommand(REGISTRY_PATHS.pullHtpasswd),
      env: Object.entries(pullFrontEnv(pullPort)).map(([k, v]) => ({ name: k, value: v })),
      ports: [{ name: "pull", containerPort: pullPort }],
      readinessProbe: probe(5, PULL_FRONT_DEBUG_PORT),
      livenessProbe: probe(30, PULL_FRONT_DEBUG_PORT),
      volumeMounts: [
        {
          name: "pull-htpasswd",
          mountPath: path.posix.dirname(REGISTRY_PATHS.pullHtpasswd),
          readOnly: true,
        },
        volumeMounts[1],
        { ...volumeMounts[2], readOnly: true },
      ],
    };
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta("dayu-registry"),
        spec: {
          replicas: 1,
          // A ReadWriteOnce claim cannot be mounted by the old and the new pod at once.
          strategy: { type: "Recreate" },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: "registry",
                  image: args.image,
                  // Refuses to start when a Secret file is missing (see registryCommand).
                  command: registryCommand(),
                  env: Object.entries(registryEnv()).map(([k, v]) => ({ name: k, value: v })),
                  ports: [{ name: "registry", containerPort: REGISTRY_PORT }],
                  readinessProbe: probe(5),
                  livenessProbe: probe(30),
                  volumeMounts,
                },
                ...(front ? [front] : []),
              ],
              volumes: [
                {
                  name: "htpasswd",
                  secret: { secretName: this.htpasswdSecret.metadata.name, optional: false },
                },
                {
                  name: "tls",
                  secret: { secretName: this.tlsSecret.metadata.name, optional: false },
                },
                { name: "data", persistentVolumeClaim: { claimName: this.claim.metadata.name } },
                ...(this.pullHtpasswdSecret
                  ? [
                      {
                        name: "pull-htpasswd",
                        secret: {
                          secretName: this.pullHtpasswdSecret.metadata.name,
                          optional: false,
                        },
                      },
                    ]
                  : []),
              ],
            },
          },
        },
      },
      inNs,
    );
    this.service = new k8s.core.v1.Service(
      `${name}-svc`,
      {
        metadata: meta("dayu-registry"),
        spec: {
          type: args.serviceType ?? REGISTRY_DEFAULTS.kubernetes.serviceType,
          selector: labels,
          ports: [
            { name: "registry", port: REGISTRY_PORT, targetPort: REGISTRY_PORT },
            ...(pull ? [{ name: "pull", port: pullPort, targetPort: pullPort }] : []),
          ],
        },
      },
      inNs,
    );

    this.address = pulumi.output(args.address);
    this.caCert = pulumi.output(args.caCert);
    // The provider creates the Deployment once it is available and the Service once it has its
    // address: the credentials resolve after both.
    this.credentials = secretCredentials(args.address, args.username, args.password, [
      this.deployment.id,
      this.service.id,
    ]);
    if (pull) this.pullAddress = pulumi.output(pullAddress(args.address, pullPort));
    // Without a pull identity there are no pull namespaces (refused above), so no Secret is made.
    const pullConfig = pulumi.secret(
      pulumi
        .all([pullAddress(args.address, pullPort), pull?.username ?? "", pull?.password ?? ""])
        .apply(([a, u, p]) => dockerConfigJson(a, u, p)),
    );
    for (const ns of pull ? pullNamespaces : []) {
      this.pullSecrets[ns] = new k8s.core.v1.Secret(
        `${name}-pull-${ns}`,
        {
          metadata: { name: PULL_SECRET_NAME, namespace: ns, labels },
          type: "kubernetes.io/dockerconfigjson",
          stringData: { ".dockerconfigjson": pullConfig },
        },
        // The registry's own namespace may be listed too.
        ns === nsName ? inNs : children,
      );
    }
    this.registerOutputs({ address: this.address, credentials: this.credentials });
  }
}
