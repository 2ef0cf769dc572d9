import type * as dockerTypes from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { endpointHostPort } from "../estate/backends";
import {
  BuilderMode,
  BuilderSettings,
  builderNamespace,
  runsDaemon,
  unreachable,
} from "../estate/settings";
import { DaemonTlsArgs } from "./builderCommon";
import type { DockerHostBuilder } from "./dockerHostBuilder";
import type { KubernetesBuilder } from "./kubernetesBuilder";
import { loadMode } from "./loadMode";

/**
 * mTLS of a daemon the program runs: the daemon's material (uploaded to it) and the files the buildx
 * entry reads on the machine that runs Pulumi (absolute paths; the client key is never read here).
 */
export interface BuilderTlsArgs extends DaemonTlsArgs {
  /** Absolute path of the CA certificate buildx verifies the daemon with. */
  caFile: string;
  /** Absolute path of the client certificate buildx presents. */
  clientCertFile: string;
  /** Absolute path of the client key buildx presents. */
  clientKeyFile: string;
}

/**
 * Arguments of {@link BuildxBuilder}: `builders[i]` of the stack settings (see the schema in
 * estate/settings.ts for each key), with the name as `builderName` and the TLS files read. Plain
 * values: the mode, platform and namespace decide which resources exist.
 * - `mode`: `external` (default) references an existing buildx entry; `docker-host`/`kubernetes`
 *   run the BuildKit daemon (then `endpoint` must be `tcp://host:port`, `image` and `tls` are
 *   required, and `dockerHost` in docker-host mode) and create the buildx entry.
 * - `namespace` (kubernetes): default `buildkit-<builderName>`.
 */
export interface BuildxBuilderArgs extends Omit<BuilderSettings, "name" | "mode" | "tls"> {
  /** buildx builder name the builds use (`builder.name` of docker-build's Image). */
  builderName: string;
  /** Who runs the daemon. Default `external`. */
  mode?: BuilderMode;
  /** docker-host / kubernetes: mTLS of the daemon and of the buildx entry. Required there. */
  tls?: BuilderTlsArgs;
}

/** The component running the daemon in `docker-host` or `kubernetes` mode. */
export type BuilderDaemon = DockerHostBuilder | KubernetesBuilder;

/**
 * A buildx builder that serves one platform, referenced by name. In `external` mode the builder
 * already exists on the machine that runs Pulumi. In `docker-host` and `kubernetes` modes this
 * component creates the mode's BuildKit daemon as its child, then the buildx `remote` entry (a
 * `docker.BuildxBuilder` through a local Docker provider) that reaches it with mTLS.
 */
export class BuildxBuilder extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:BuildxBuilder";

  public readonly builderName: string;
  public readonly platform: string;
  public readonly endpoint: pulumi.Output<string | undefined>;
  /** The daemon's component; undefined in `external` mode. */
  public readonly daemon?: BuilderDaemon;
  /** The buildx entry on the machine that runs Pulumi; undefined in `external` mode. */
  public readonly entry?: dockerTypes.BuildxBuilder;
  /** Resolves once the builder can be used (in daemon modes: once its buildx entry exists). */
  public readonly ready: pulumi.Output<string>;

  constructor(name: string, args: BuildxBuilderArgs, opts?: pulumi.ComponentResourceOptions) {
    super(BuildxBuilder.type, name, {}, opts);
    if (!args.builderName) throw new pulumi.ResourceError("builderName is required", this);
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(args.platform)) {
      throw new pulumi.ResourceError(
        `builder "${args.builderName}": "${args.platform}" is not os/arch[/variant]`,
        this,
      );
    }
    this.builderName = args.builderName;
    this.platform = args.platform;
    this.endpoint = pulumi.output(args.endpoint);
    const mode = args.mode ?? "external";

    if (!runsDaemon(mode)) {
      this.ready = pulumi.output(args.builderName);
    } else {
      const fail = (msg: string): never => {
        throw new pulumi.ResourceError(`builder "${args.builderName}" (${mode}): ${msg}`, this);
      };
      let host = "";
      let port = 0;
      try {
        ({ host, port } = endpointHostPort(args.endpoint ?? ""));
      } catch {
        fail(`endpoint must be tcp://host:port, got "${args.endpoint ?? ""}"`);
      }
      const tls = args.tls ?? fail("tls is required: the daemon only listens with mTLS");
      const daemonArgs = {
        builderName: args.builderName,
        platform: args.platform,
        port,
        image: args.image ?? fail("image is required"),
        tls,
      };
      const child = { parent: this };
      switch (mode) {
        case "docker-host": {
          const { DockerHostBuilder } =
            loadMode<typeof import("./dockerHostBuilder")>("./dockerHostBuilder");
          this.daemon = new DockerHostBuilder(
            `${name}-docker-host`,
            { ...daemonArgs, host: args.dockerHost ?? fail("dockerHost is required") },
            child,
          );
          break;
        }
        case "kubernetes": {
          const { KubernetesBuilder } =
            loadMode<typeof import("./kubernetesBuilder")>("./kubernetesBuilder");
          this.daemon = new KubernetesBuilder(
            `${name}-kubernetes`,
            {
              ...daemonArgs,
              namespace: builderNamespace({ name: args.builderName, namespace: args.namespace }),
              serviceType: args.serviceType,
              allowFrom: args.allowFrom,
              kubeContext: args.kubeContext,
            },
            child,
          );
          break;
        }
        case "external":
          break;
        default:
          // A new mode: the compiler points here until it has a case.
          unreachable(mode);
      }

      // The buildx entry lives in the buildx store of the machine that runs Pulumi: a local provider
      // that does not need a Docker daemon (the remote driver talks to BuildKit directly).
      const docker = loadMode<typeof dockerTypes>("@pulumi/docker");
      const local = new docker.Provider(
        `${name}-buildx`,
        { disableDockerDaemonCheck: true },
        child,
      );
      this.entry = new docker.BuildxBuilder(
        `${name}-entry`,
        {
          name: args.builderName,
          endpoint: args.endpoint,
          platforms: [args.platform],
          remote: {
            cacert: tls.caFile,
            cert: tls.clientCertFile,
            key: tls.clientKeyFile,
            servername: host,
          },
        },
        { parent: this, provider: local, dependsOn: this.daemon ? [this.daemon] : [] },
      );
      this.ready = this.entry.name;
    }
    this.registerOutputs({
      builderName: this.builderName,
      platform: this.platform,
      endpoint: this.endpoint,
      ready: this.ready,
    });
  }
}
