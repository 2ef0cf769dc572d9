/** What the BuildKit daemon modes (docker-host, kubernetes) share: their arguments. */
import * as pulumi from "@pulumi/pulumi";

/** The daemon's side of mTLS: it presents `cert` and requires client certificates signed by `caCert`. */
export interface DaemonTlsArgs {
  /** CA certificate (PEM) the daemon verifies clients with. */
  caCert: pulumi.Input<string>;
  /** The daemon's certificate (PEM), valid for the endpoint's host. */
  cert: pulumi.Input<string>;
  /** The daemon's private key (PEM); handled as a secret. */
  key: pulumi.Input<string>;
}

/** Arguments every BuildKit daemon component takes. */
export interface BuildkitDaemonArgs {
  /** buildx builder name the daemon serves; names its container/Deployment. */
  builderName: string;
  /** The one platform the daemon's worker serves, e.g. `linux/arm64`. Plain: pins the worker. */
  platform: string;
  /** TCP port the daemon listens on (and is published/exposed on). */
  port: number;
  /** Pinned BuildKit image, e.g. `moby/buildkit:v0.31.0`. */
  image: pulumi.Input<string>;
  /** mTLS material of the daemon. */
  tls: DaemonTlsArgs;
}
