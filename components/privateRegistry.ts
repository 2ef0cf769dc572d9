import * as pulumi from "@pulumi/pulumi";
import { RegistrySettings, unreachable } from "../estate/settings";
import { RegistryCredentials, secretCredentials } from "./credentials";
// Types only: each mode's module (and the provider SDK it imports) is loaded when a stack chooses that
// mode. @pulumi/aws alone takes about 2 s to load, @pulumi/kubernetes about 0.5 s, on every run of a
// stack that never uses them.
import type { DockerHostRegistry, DockerHostRegistryOptions } from "./dockerHostRegistry";
import type { EcrRegistry, EcrRegistryOptions } from "./ecrRegistry";
import type {
  KubernetesRegistry,
  KubernetesRegistryOptions,
  PullIdentityArgs,
} from "./kubernetesRegistry";
import { loadMode } from "./loadMode";
import { EstateRegistry } from "./registryCommon";

/** Arguments of {@link PrivateRegistry}. */
export interface PrivateRegistryArgs {
  /**
   * Which backend serves the registry. Decides which resources exist, so it is a plain value.
   * `external`: an existing registry, only referenced. `docker-host`, `kubernetes`, `ecr`: created by
   * the mode's component, a child of this one (see docs/production.md).
   */
  mode: RegistrySettings["mode"];
  /**
   * host[:port] under which every estate reference is made, e.g. `registry.dayu.lan:5000`. In `ecr`
   * mode it must be `<accountId>.dkr.ecr.<region>.amazonaws.com`.
   */
  address: RegistrySettings["address"];
  /** User the estate pushes as. Required in docker-host/kubernetes mode and on non-dev stacks; unused in ecr mode. */
  username?: pulumi.Input<string>;
  /** That user's password; always handled as a secret. Unused in ecr mode. */
  password?: pulumi.Input<string>;
  /** PEM CA the registry's certificate chains to, when it is not in the system store. Default none. */
  caCert?: pulumi.Input<string>;
  /** docker-host / kubernetes: the htpasswd file (bcrypt entries), a secret. Required there. */
  htpasswd?: pulumi.Input<string>;
  /** docker-host / kubernetes: the registry's TLS certificate (PEM) and key (secret). Required there. */
  tls?: { cert: pulumi.Input<string>; key: pulumi.Input<string> };
  /** docker-host mode: where the registry container runs. Required there. */
  dockerHost?: DockerHostRegistryOptions;
  /** kubernetes mode: where and how the registry runs in the cluster. Required there. */
  kubernetes?: KubernetesRegistryOptions;
  /** kubernetes mode with `kubernetes.pullUsername`: the read-only pull identity (secrets). */
  pull?: PullIdentityArgs;
  /** ecr mode: region, account, repositories and expiry. Required there. */
  ecr?: EcrRegistryOptions;
}

/** The component serving the registry in a mode other than `external`. */
export type RegistryBackend = DockerHostRegistry | KubernetesRegistry | EcrRegistry;

/**
 * The private registry the estate pushes to, whatever serves it. In `external` mode it declares
 * nothing and only carries the address and the credentials; in the other modes it creates the
 * mode's component as its child and exposes that component's address and credentials. The
 * credentials are always a secret Output.
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
  /** The mode's component; undefined in `external` mode. */
  public readonly backend?: RegistryBackend;

  constructor(name: string, args: PrivateRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PrivateRegistry.type, name, {}, opts);
    if (!args.address) throw new pulumi.ResourceError("registry address is required", this);
    const fail = (msg: string): never => {
      throw new pulumi.ResourceError(`registry mode "${args.mode}": ${msg}`, this);
    };
    const server = () => ({
      address: args.address,
      username: args.username ?? fail("username is required (the registry always uses auth)"),
      password: args.password ?? fail("password is required"),
      htpasswd: args.htpasswd ?? fail("htpasswd is required (the registry always uses auth)"),
      tlsCert: args.tls?.cert ?? fail("tls.cert is required (the registry always serves TLS)"),
      tlsKey: args.tls?.key ?? fail("tls.key is required (the registry always serves TLS)"),
      caCert: args.caCert,
    });
    const child = { parent: this };

    switch (args.mode) {
      case "external":
        break;
      case "docker-host": {
        const { DockerHostRegistry } =
          loadMode<typeof import("./dockerHostRegistry")>("./dockerHostRegistry");
        this.backend = new DockerHostRegistry(
          `${name}-docker-host`,
          { ...(args.dockerHost ?? fail("dockerHost is required")), ...server() },
          child,
        );
        break;
      }
      case "kubernetes": {
        const { KubernetesRegistry } =
          loadMode<typeof import("./kubernetesRegistry")>("./kubernetesRegistry");
        this.backend = new KubernetesRegistry(
          `${name}-kubernetes`,
          { ...(args.kubernetes ?? fail("kubernetes is required")), ...server(), ...args.pull },
          child,
        );
        break;
      }
      case "ecr": {
        const { EcrRegistry } = loadMode<typeof import("./ecrRegistry")>("./ecrRegistry");
        const ecr = args.ecr ?? fail("ecr is required");
        const derived = `${ecr.accountId}.dkr.ecr.${ecr.region}.amazonaws.com`;
        if (args.address !== derived) fail(`address must be ${derived}, got ${args.address}`);
        this.backend = new EcrRegistry(`${name}-ecr`, ecr, child);
        break;
      }
      default:
        // A new mode: the compiler points here until it has a case.
        unreachable(args.mode);
    }

    if (this.backend) {
      this.address = this.backend.address;
      this.caCert = this.backend.caCert;
      this.credentials = this.backend.credentials;
      this.username = this.credentials.apply((c) => c.username);
      this.password = pulumi.secret(this.credentials.apply((c) => c.password));
    } else {
      this.address = pulumi.output(args.address);
      this.username = pulumi.output(args.username ?? "");
      this.password = pulumi.secret(pulumi.output(args.password ?? ""));
      this.caCert = pulumi.output(args.caCert);
      this.credentials = secretCredentials(this.address, this.username, this.password);
    }
    this.registerOutputs({
      address: this.address,
      username: this.username,
      password: this.password,
      credentials: this.credentials,
    });
  }
}
