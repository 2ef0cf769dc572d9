import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedImage, PlannedIndex } from "../estate/planner";
import { ArchImage } from "./archImage";
import { IndexGuard } from "./indexGuard";
import { ReleaseLock } from "./releaseLock";
import { RegistryCredentials } from "./credentials";

/** What the estate reports per index tag. */
export interface IndexSummary {
  /** `registry/repository:tag@sha256:...` of the index. */
  ref: string;
  /** Platform → per-arch `repository@sha256:...`. */
  platforms: Record<string, string>;
}

/** How every image of the estate is built and published (shared by ImageEstate and MultiArchImage). */
export interface EstateBuildOptions {
  /** Push credentials (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** Build during previews. Default false. */
  buildOnPreview?: boolean;
  /** Import and export registry build caches. Default true. */
  registryCache?: boolean;
  /** Resources every build waits for, e.g. the builders' components. */
  buildDependsOn?: pulumi.Input<pulumi.Resource>[];
  /** PEM CA of the registry for the read-back, when it is not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
  /** Refuse to move a published release tag (a {@link ReleaseLock} before each release index). Default false. */
  protectReleases?: boolean;
}

/** Arguments of {@link MultiArchImage}. */
export interface MultiArchImageArgs extends EstateBuildOptions {
  /**
   * The planned image (plain: it decides every resource): its builds in dependency order (chain
   * steps before the steps built on them) and one index per tag.
   */
  image: PlannedImage;
  /**
   * Pinned references of bases that live outside this image (other images, mirrors, external refs),
   * by build id. Builds whose base is an earlier chain step of this image are wired internally.
   * Default none.
   */
  baseRefs?: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * One image of the estate: its per-architecture builds ({@link ArchImage}, each on its platform's
 * builder) and one `docker_build.Index` per tag whose sources are exactly that tag's per-arch digests.
 * An index depends on every per-arch build of its tag, so a failed build leaves the published index
 * untouched: it never moves to a half-built state. After each push an {@link IndexGuard} reads the
 * index back, and repairs it when refresh finds the tag moved by hand.
 */
export class MultiArchImage extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:MultiArchImage";

  public readonly archImages: Record<string, ArchImage> = {};
  public readonly indexes: Record<string, dockerBuild.Index> = {};
  /** Read-back and drift repair of each index, by tag. */
  public readonly guards: Record<string, IndexGuard> = {};
  /** Tag → index ref and per-platform refs. */
  public readonly summary: pulumi.Output<Record<string, IndexSummary>>;

  constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MultiArchImage.type, name, {}, opts);
    const { builds, indexes } = args.image;

    // An image's architectures build and push at the same time, each on its own builder. Concurrent
    // pushes of shared layers into one repository are safe on distribution v3, which writes a
    // repository's blob links atomically (2.8 rewrote them in place and failed such pushes with
    // DIGEST_INVALID; test/stress shows both). Each build waits only for its base, through baseRef.
    for (const build of builds) {
      const baseRef =
        build.base?.kind === "step"
          ? this.archImages[build.base.build].pinnedRef
          : args.baseRefs?.[build.id];
      const arch = new ArchImage(
        build.id,
        {
          build,
          baseRef,
          registry: args.registry,
          buildOnPreview: args.buildOnPreview,
          registryCache: args.registryCache,
        },
        { parent: this, dependsOn: args.buildDependsOn },
      );
      this.archImages[build.id] = arch;
    }

    const summaries = indexes.map((index) => this.publish(index, args).summary);
    this.summary = pulumi.all(summaries).apply((entries) => Object.fromEntries(entries));
    this.registerOutputs({ summary: this.summary });
  }

  /**
   * One tag: its Index (after a {@link ReleaseLock} on protected stacks) and the {@link IndexGuard}
   * that reads it back. The Index waits for every build of its tag through its sources.
   */
  private publish(
    index: PlannedIndex,
    args: MultiArchImageArgs,
  ): { guard: IndexGuard; summary: pulumi.Output<[string, IndexSummary]> } {
    // The plan lists only this image's builds in its indexes, and builds come before indexes.
    const parts = index.builds.map((b) => {
      const arch = this.archImages[b.build];
      return { platform: b.platform, ref: arch.pinnedRef, source: arch.indexSource };
    });
    const sources = parts.map((p) => p.source);
    const registry = pulumi.output(args.registry);
    // On protected stacks a published release tag must not move: the lock refuses before the Index.
    const lock =
      index.release && args.protectReleases
        ? new ReleaseLock(index.id, { tag: index.ref, sources }, { parent: this })
        : undefined;
    const idx = new dockerBuild.Index(
      index.id,
      {
        tag: index.ref,
        sources,
        push: true,
        registry: {
          address: registry.address,
          username: registry.username,
          password: registry.password,
        },
      },
      // The registry deletes manifests by digest, which untags every tag at that digest (two tags
      // with identical sources share one): keep registry content when the resource goes.
      {
        parent: this,
        retainOnDelete: true,
        dependsOn: lock ? [lock] : [],
      },
    );
    this.indexes[index.tag] = idx;
    const guard = new IndexGuard(
      index.id,
      {
        tag: index.ref,
        sources,
        platforms: parts.map((p) => p.platform),
        registry: args.registry,
        caCert: args.caCert,
      },
      { parent: this, dependsOn: [idx] },
    );
    this.guards[index.tag] = guard;
    const summary = pulumi
      .all([idx.ref, ...parts.map((p) => p.ref)])
      .apply(([ref, ...refs]): [string, IndexSummary] => [
        index.tag,
        { ref, platforms: Object.fromEntries(parts.map((p, i) => [p.platform, refs[i]])) },
      ]);
    return { guard, summary };
  }
}
