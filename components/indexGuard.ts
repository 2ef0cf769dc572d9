import * as pulumi from "@pulumi/pulumi";
import { RegistryCredentials } from "./credentials";
import { moduleProvider } from "./moduleProvider";

export {
  GUARD_STATE_VERSION,
  currentCredentials,
  type StackConfigReader,
} from "./indexGuardProvider";

/**
 * The provider stored in every guard's state: a stub that loads components/indexGuardProvider.ts
 * (a few hundred bytes instead of the ~21 KB the provider with its registry client serialized to).
 */
const provider = moduleProvider(require.resolve("./indexGuardProvider"), "indexGuardProvider");

/** Arguments of {@link IndexGuard}. */
export interface IndexGuardArgs {
  /** The index tag, `registry/repository:tag`. */
  tag: pulumi.Input<string>;
  /** The per-arch sources of the index (`repository@sha256:...`). */
  sources: pulumi.Input<pulumi.Input<string>[]>;
  /** Platforms the index must hold. */
  platforms: string[];
  /** Accept extra platforms (mirrored upstream indexes). Default false. */
  atLeast?: boolean;
  /** The index digest the tag must serve (a promoted index: its source's). Default: any. */
  digest?: pulumi.Input<string>;
  /** Registry credentials (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** PEM CA of the registry, when not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
}

/**
 * Guards one published index: reads it back after each push (exact platforms, the right builds, the
 * right architecture in each image config), detects on `pulumi refresh` a tag moved or deleted behind
 * the program's back, and restores it on the next `pulumi up`. Create it with `dependsOn` the Index.
 */
export class IndexGuard extends pulumi.dynamic.Resource {
  declare public readonly publishedDigest: pulumi.Output<string>;
  declare public readonly liveDigest: pulumi.Output<string>;
  declare public readonly servedPlatforms: pulumi.Output<Record<string, string>>;
  declare public readonly stateVersion: pulumi.Output<number>;

  constructor(name: string, args: IndexGuardArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        tag: args.tag,
        sources: args.sources,
        platforms: args.platforms,
        atLeast: args.atLeast ?? false,
        digest: args.digest ?? "",
        registry: pulumi.secret(args.registry),
        caCert: args.caCert ?? "",
        publishedDigest: undefined,
        liveDigest: undefined,
        servedPlatforms: undefined,
        stateVersion: undefined,
      },
      { ...opts, additionalSecretOutputs: ["registry"] },
    );
  }
}
