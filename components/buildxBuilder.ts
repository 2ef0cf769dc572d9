import * as pulumi from "@pulumi/pulumi";

/** Arguments of {@link BuildxBuilder}. */
export interface BuildxBuilderArgs {
  /** buildx builder name the builds use (`builder.name` of docker-build's Image). */
  builderName: string;
  /** The one platform this builder serves, e.g. `linux/arm64`. Plain: it decides which builds use it. */
  platform: string;
  /** The BuildKit endpoint, for display and pre-flight messages, e.g. `tcp://jetson-01:1234`. */
  endpoint?: string;
}

/**
 * A buildx builder that serves one platform, referenced by name. In `external` mode (this component)
 * the builder already exists on the machine that runs Pulumi; the docker-host and Kubernetes modes
 * create the BuildKit daemon and register the builder (see README "Builder modes").
 */
export class BuildxBuilder extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:BuildxBuilder";

  public readonly builderName: string;
  public readonly platform: string;
  public readonly endpoint: pulumi.Output<string | undefined>;

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
    this.registerOutputs({
      builderName: this.builderName,
      platform: this.platform,
      endpoint: this.endpoint,
    });
  }
}
