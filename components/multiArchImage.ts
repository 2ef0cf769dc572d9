import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedBuild, PlannedIndex } from "../estate/planner";
import { ArchImage } from "./archImage";
import { RegistryCredentials } from "./privateRegistry";

/** What the estate reports per index tag. */
export interface IndexSummary {
  /** `registry/repository:tag@sha256:...` of the index. */
  ref: string;
  /** Platform → per-arch `repository@sha256:...`. */
  platforms: Record<string, string>;
}

/** Arguments of {@link MultiArchImage}. */
export interface MultiArchImageArgs {
  /** Catalog name of the image. */
  image: string;
  /** This image's planned builds, in dependency order (chain steps before the steps built on them). */
  builds: PlannedBuild[];
  /** This image's planned indexes: one per tag. */
  indexes: PlannedIndex[];
  /**
   * Pinned references of bases that live outside this image (other images, mirrors, external refs),
   * by build id. Builds whose base is an earlier chain step of this image are wired internally.
   */
  baseRefs: Readonly<Record<string, pulumi.Input<string>>>;
  /** Push credentials (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** Build during previews. Default false. */
  buildOnPreview?: boolean;
  /** Resources every build waits for, e.g. the builders' components. */
  buildDependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One image of the estate: its per-architecture builds ({@link ArchImage}, each on its platform's
 * builder) and one `docker_build.Index` per tag whose sources are exactly that tag's per-arch digests.
 * An index depends on every per-arch build of its tag, so a failed build leaves the published index
 * untouched: it never moves to a half-built state.
 */
export class MultiArchImage extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:MultiArchImage";

  public readonly archImages: Record<string, ArchImage> = {};
  public readonly indexes: Record<string, dockerBuild.Index> = {};
  /** Tag → index ref and per-platform refs. */
  public readonly summary: pulumi.Output<Record<string, IndexSummary>>;

  constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MultiArchImage.type, name, {}, opts);
    if (args.indexes.length === 0) {
      throw new pulumi.ResourceError(`image ${args.image}: no index to publish`, this);
    }

    for (const build of args.builds) {
      let baseRef: pulumi.Input<string> | undefined = args.baseRefs[build.id];
      if (build.base?.kind === "build" && this.archImages[build.base.build]) {
        baseRef = this.archImages[build.base.build].pinnedRef;
      }
      this.archImages[build.id] = new ArchImage(
        build.id,
        { build, baseRef, registry: args.registry, buildOnPreview: args.buildOnPreview },
        { parent: this, dependsOn: args.buildDependsOn },
      );
    }

    const registry = pulumi.output(args.registry);
    const summaries: pulumi.Output<[string, IndexSummary]>[] = [];
    for (const index of args.indexes) {
      const parts = index.builds.map((b) => {
        const arch = this.archImages[b.build];
        if (!arch) {
          throw new pulumi.ResourceError(
            `index ${index.id}: build ${b.build} is not part of image ${args.image}`,
            this,
          );
        }
        return { platform: b.platform, ref: arch.pinnedRef };
      });
      const idx = new dockerBuild.Index(
        index.id,
        {
          tag: index.ref,
          sources: parts.map((p) => p.ref),
          push: true,
          registry: {
            address: registry.address,
            username: registry.username,
            password: registry.password,
          },
        },
        // The registry deletes manifests by digest, which untags every tag at that digest (two tags
        // with identical sources share one): keep registry content when the resource goes.
        { parent: this, retainOnDelete: true },
      );
      this.indexes[index.tag] = idx;
      summaries.push(
        pulumi
          .all([idx.ref, ...parts.map((p) => p.ref)])
          .apply(([ref, ...refs]): [string, IndexSummary] => [
            index.tag,
            { ref, platforms: Object.fromEntries(parts.map((p, i) => [p.platform, refs[i]])) },
          ]),
      );
    }
    this.summary = pulumi.all(summaries).apply((entries) => Object.fromEntries(entries));
    this.registerOutputs({ summary: this.summary });
  }
}
