import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  CONTAINER_HEALTH_TIMING,
  CONTAINER_POLICY,
  BUILDKIT_STATE_DIR,
  BUILDKIT_TLS_DIR,
  BUILDKIT_TLS_FILES,
  buildkitHealthCommand,
  buildkitdArgs,
} from "../estate/backends";
import { BuildkitDaemonArgs } from "./builderCommon";

/** Arguments of {@link DockerHostBuilder}. */
export interface DockerHostBuilderArgs extends BuildkitDaemonArgs {
  /** Docker host that runs the daemon, native to `platform`, e.g. `ssh://nvidia@jetson-01`. */
  host: pulumi.Input<string>;
}

/**
 * A BuildKit daemon container on a Docker host (the amd64 server, a Jetson), through a
 * `docker.Provider` for that host: privileged (BuildKit's OCI worker needs it), listening on TCP with
 * mTLS (CA, certificate and the secret key uploaded into the container), its worker pinned to the one
 * platform it serves, its cache on a named volume, restarted unless stopped, health-checked.
 */
export class DockerHostBuilder extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:DockerHostBuilder";

  public readonly provider: docker.Provider;
  public readonly volume: docker.Volume;
  public readonly container: docker.Container;

  constructor(name: string, args: DockerHostBuilderArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DockerHostBuilder.type, name, {}, opts);
    this.provider = new docker.Provider(`${name}-docker`, { host: args.host }, { parent: this });
    const children = { parent: this, provider: this.provider };
    this.volume = new docker.Volume(
      `${name}-state`,
      { name: `${args.builderName}-buildkit-state` },
      children,
    );
    const file = (f: string) => `${BUILDKIT_TLS_DIR}/${f}`;
    this.container = new docker.Container(
      name,
      {
        name: `${args.builderName}-buildkitd`,
        image: args.image,
        privileged: true,
        command: buildkitdArgs(args.platform, args.port),
        uploads: [
          { file: file(BUILDKIT_TLS_FILES.ca), content: args.tls.caCert },
          { file: file(BUILDKIT_TLS_FILES.cert), content: args.tls.cert },
          { file: file(BUILDKIT_TLS_FILES.key), content: pulumi.secret(args.tls.key) },
        ],
        volumes: [{ volumeName: this.volume.name, containerPath: BUILDKIT_STATE_DIR }],
        ports: [{ internal: args.port, external: args.port }],
        healthcheck: { tests: ["CMD", ...buildkitHealthCommand()], ...CONTAINER_HEALTH_TIMING },
        ...CONTAINER_POLICY,
      },
      children,
    );
    this.registerOutputs({ containerId: this.container.id });
  }
}
