import * as pulumi from "@pulumi/pulumi";
import { RegistryMode } from "../estate/settings";

/** Credentials in the shape docker-build's `registries`/`registry` inputs take. */
export interface RegistryCredentials {
  address: string;
  username: string;
  password: string;
}

/** What the estate needs from a registry, whatever backend serves it. */
export interface EstateRegistry {
  /** host[:port]. */
  readonly address: pulumi.Output<string>;
  /** Address, username and password (secret). */
  readonly credentials: pulumi.Output<RegistryCredentials>;
  /** PEM CA of the registry's certificate, when not in the system store. */
  readonly caCert: pulumi.Output<string | undefined>;
}

/** Arguments of {@link PrivateRegistry}. */
export interface PrivateRegistryArgs {
  /**
   * Which backend serves the registry. Decides which resources exist, so it is a plain value.
   * `external`: an existing registry, only referenced. The other modes are created by their own
   * components (see README "Registry modes").
   */
  mode: RegistryMode;
  /** host[:port] under which every estate reference is made, e.g. `registry.dayu.lan:5000`. */
  address: string;
  /** User the estate pushes as. Required on non-dev stacks. */
  username?: pulumi.Input<string>;
  /** That user's password; always handled as a secret. */
  password?: pulumi.Input<string>;
  /** PEM CA the registry's certificate chains to, when it is not in the system store. */
  caCert?: pulumi.Input<string>;
}

/**
 * The private registry the estate pushes to. In `external` mode it declares nothing and only carries
 * the address and the credentials (the password is always a secret output).
 */
export class PrivateRegistry extends pulumi.ComponentResource implements EstateRegistry {
  public static readonly type = "dayu:estate:PrivateRegistry";

  /** host[:port]. */
  public readonly address: pulumi.Output<string>;
  public readonly username: pulumi.Output<string>;
  /** Secret. */
  public readonly password: pulumi.Output<string>;
  public readonly caCert: pulumi.Output<string | undefined>;
  /** Address, username and password together, secret, for docker-build's registry inputs. */
  public readonly credentials: pulumi.Output<RegistryCredentials>;

  constructor(name: string, args: PrivateRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PrivateRegistry.type, name, {}, opts);
    if (args.mode !== "external") {
      throw new pulumi.ResourceError(
        `registry mode "${args.mode}" is created by its own component; PrivateRegistry takes "external"`,
        this,
      );
    }
    if (!args.address) throw new pulumi.ResourceError("registry address is required", this);

    this.address = pulumi.output(args.address);
    this.username = pulumi.output(args.username ?? "");
    this.password = pulumi.secret(pulumi.output(args.password ?? ""));
    this.caCert = pulumi.output(args.caCert);
    this.credentials = pulumi.secret(
      pulumi
        .all([this.address, this.username, this.password])
        .apply(([address, username, password]) => ({
          address,
          username,
          password,
        })),
    );
    this.registerOutputs({
      address: this.address,
      username: this.username,
      password: this.password,
    });
  }
}
