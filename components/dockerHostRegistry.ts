import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  CONTAINER_HEALTH_TIMING,
  CONTAINER_POLICY,
  REGISTRY_PATHS,
  REGISTRY_PORT,
  registryCommand,
  registryEnv,
  registryHealthCommand,
} from "../estate/backends";
import { DockerHostRegistrySettings, REGISTRY_DEFAULTS } from "../estate/settings";
import { RegistryCredentials, secretCredentials } from "./credentials";
import { EstateRegistry, RegistryServerArgs, checkedHtpasswd } from "./registryCommon";

/**
 * Where and how the registry container runs: `registry.dockerHost` of the stack settings (see the
 * schema in estate/settings.ts for each key), without the certificate file (passed as content).
 * `port` and `volume` default to the schema's defaults (5000, `dayu-registry-data`).
 */
export type DockerHostRegistryOptions = Omit<
  DockerHostRegistrySettings,
  "tlsCertFile" | "port" | "volume"
> &
  Partial<Pick<DockerHostRegistrySettings, "port" | "volume">>;

/** Arguments of {@link DockerHostRegistry}. */
export interface DockerHostRegistryArgs extends DockerHostRegistryOptions, RegistryServerArgs {}

/**
 * A distribution registry container on a Docker host, reached through a `docker.Provider` of its
 * own: TLS and htpasswd auth always on, deletes enabled, storage on a named volume, restarted unless
 * stopped, health-checked through the registry's debug server.
 */
export class DockerHostRegistry extends pulumi.ComponentResource implements EstateRegistry {
  public static readonly type = "dayu:estate:DockerHostRegistry";

  public readonly address: pulumi.Output<string>;
  public readonly credentials: pulumi.Output<RegistryCredentials>;
  public readonly caCert: pulumi.Output<string | undefined>;
  public readonly provider: docker.Provider;
  public readonly volume: docker.Volume;
  public readonly container: docker.Container;

  constructor(name: string, args: DockerHostRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DockerHostRegistry.type, name, {}, opts);
    if (!args.address) throw new pulumi.ResourceError("registry address is required", this);

    this.provider = new docker.Provider(`${name}-docker`, { host: args.host }, { parent: this });
    const children = { parent: this, provider: this.provider };
    this.volume = new docker.Volume(
      `${name}-data`,
      { name: args.volume ?? REGISTRY_DEFAULTS.dockerHost.volume },
      // The images live here: a replaced container must find them again.
      { ...children, retainOnDelete: true },
    );
    const env = registryEnv();
    this.container = new docker.Container(
      name,
      {
        name: "dayu-registry",
        image: args.image,
        // The uploads below are written before the container starts; the command refuses to start
        // the registry if one is missing (see registryCommand).
        entrypoints: registryCommand(),
        envs: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        uploads: [
          {
            file: REGISTRY_PATHS.htpasswd,
            content: checkedHtpasswd(args.htpasswd, args.username, this),
          },
          { file: REGISTRY_PATHS.tlsCert, content: args.tlsCert },
          { file: REGISTRY_PATHS.tlsKey, content: pulumi.secret(args.tlsKey) },
        ],
        volumes: [{ volumeName: this.volume.name, containerPath: REGISTRY_PATHS.storage }],
        ports: [
          { internal: REGISTRY_PORT, external: args.port ?? REGISTRY_DEFAULTS.dockerHost.port },
        ],
        healthcheck: { tests: ["CMD", ...registryHealthCommand()], ...CONTAINER_HEALTH_TIMING },
        // Restarted unless stopped; created only once healthy, so a registry that refused to start
        // fails the deployment instead of leaving a restarting container behind.
        ...CONTAINER_POLICY,
      },
      children,
    );

    this.address = pulumi.output(args.address);
    this.caCert = pulumi.output(args.caCert);
    this.credentials = secretCredentials(args.address, args.username, args.password, [
      this.container.id,
    ]);
    this.registerOutputs({ address: this.address, credentials: this.credentials });
  }
}
