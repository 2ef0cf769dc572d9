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

/** One index of an {@link IndexGuard}: what its tag must serve. */
export interface GuardedIndexArgs {
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
}

/** Arguments of {@link IndexGuard}. */
export interface IndexGuardArgs {
  /** The image's indexes, by index id (`image:tag`, the name of each tag's Index resource). */
  indexes: Record<string, GuardedIndexArgs>;
  /** Registry credentials (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** PEM CA of the registry, when not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
}

/**
 * Guards the published indexes of one image (one resource for all its tags: every resource costs
 * each `up` and every checkpoint, issue 11): reads each back after the pushes (exact platforms, the
 * right builds, the right architecture in each image config), detects on `pulumi refresh` a tag moved
 * or deleted behind the program's back, and restores it on the next `pulumi up`. Create it with
 * `dependsOn` the image's Indexes.
 */
export class IndexGuard extends pulumi.dynamic.Resource {
  /** Index id → the digest published and read back under its tag. */
  declare public readonly publishedDigests: pulumi.Output<Record<string, string>>;
  /** Index id → what the tag served at the last read ("absent": the tag is gone). */
  declare public readonly liveDigests: pulumi.Output<Record<string, string>>;
  /** Index id → platform → child digest of the published index. */
  declare public readonly servedPlatforms: pulumi.Output<Record<string, Record<string, string>>>;
  declare public readonly stateVersion: pulumi.Output<number>;

  constructor(name: string, args: IndexGuardArgs, opts?: pulumi.CustomResourceOptions) {
    const indexes = Object.fromEntries(
      Object.entries(args.indexes).map(([id, i]) => [
        id,
        {
          tag: i.tag,
          sources: i.sources,
          platforms: i.platforms,
          atLeast: i.atLeast ?? false,
          digest: i.digest ?? "",
        },
      ]),
    );
    super(
      provider,
      name,
      {
        indexes,
        registry: pulumi.secret(args.registry),
        caCert: args.caCert ?? "",
        publishedDigests: undefined,
        liveDigests: undefined,
        servedPlatforms: undefined,
        stateVersion: undefined,
      },
      { ...opts, additionalSecretOutputs: ["registry"] },
    );
  }

  /** The digest published under one index's tag (unknown until the guard has read it back). */
  digestOf(id: string): pulumi.Output<string> {
    return this.publishedDigests.apply((d) => d?.[id] ?? "");
  }
}
