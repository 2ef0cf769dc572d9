import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedIndex, Plan } from "../estate/planner";
import { PromotedSource } from "../estate/promote";
import { RegistryCredentials } from "./credentials";
import { EstateSummary } from "./imageEstate";
import { GuardedIndexArgs, IndexGuard } from "./indexGuard";
import { MirroredImage } from "./mirroredImage";
import { AdoptionOptions, IndexSummary, lockedRelease } from "./multiArchImage";

/** Arguments of {@link PromotedEstate}. */
export interface PromotedEstateArgs {
  /** The validated plan (plain): it decides which indexes and mirrors exist. */
  plan: Plan;
  /**
   * Where each index is copied from, by planned index id (see `resolvePromotion` in
   * estate/promote.ts). An Output when it comes from a StackReference; a missing image or tag fails
   * it with one error naming them.
   */
  indexSources: pulumi.Input<Record<string, PromotedSource>>;
  /** Mirror name → the source registry's copy by digest (see `promotedMirrors`). */
  mirrorSources: Readonly<Record<string, string>>;
  /** Credentials of this stack's registry, the target (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** Credentials of the source stack's registry (secret). */
  sourceRegistry: pulumi.Input<RegistryCredentials>;
  /** PEM CA of the target registry for the read-back, when not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
  /** Refuse to move a published release tag (a ReleaseLock before each release index). Default false. */
  protectReleases?: boolean;
  /** The first up's check of release tags the target already holds. Default: no check. */
  adoption?: AdoptionOptions;
}

/**
 * Promote mode: the indexes a source stack built, published into this stack's registry with the same
 * digests, and no `docker_build.Image` at all. Each planned index is one `docker_build.Index` whose
 * single source is the source index by digest: buildx then pushes that index's bytes unchanged and
 * copies its blobs across registries. One docker-build provider holds the credentials of both
 * registries. An unchanged source digest leaves the Index's inputs unchanged, so only what changed
 * moves. Each image's indexes are read back by one {@link IndexGuard} requiring the sources'
 * digests; release tags get a ReleaseLock on protected stacks, as built ones do.
 */
export class PromotedEstate extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:PromotedEstate";

  /** The provider holding both registries' credentials; every copy goes through it. */
  public readonly provider: dockerBuild.Provider;
  /** By planned index id (`image:tag`). */
  public readonly indexes: Record<string, dockerBuild.Index> = {};
  /** By image: the read-back of its promoted indexes. */
  public readonly guards: Record<string, IndexGuard> = {};
  public readonly mirrors: Record<string, MirroredImage> = {};
  /** Image → tag → index ref and per-platform refs, as the building estate reports them. */
  public readonly summary: pulumi.Output<EstateSummary>;

  constructor(name: string, args: PromotedEstateArgs, opts?: pulumi.ComponentResourceOptions) {
    super(PromotedEstate.type, name, {}, opts);
    const target = pulumi.output(args.registry);
    const source = pulumi.output(args.sourceRegistry);
    this.provider = new dockerBuild.Provider(
      `${name}-promote`,
      { registries: [target, source] },
      { parent: this },
    );
    const promotion = pulumi.output(args.indexSources);

    // Mirrors from the source registry's copies, in parallel like the building estate's.
    for (const m of args.plan.mirrors) {
      this.mirrors[m.name] = new MirroredImage(
        m.name,
        {
          mirror: { ...m, source: args.mirrorSources[m.name] ?? m.source },
          registry: args.registry,
          caCert: args.caCert,
        },
        { parent: this, providers: [this.provider] },
      );
    }

    const summaries: pulumi.Output<[string, string, IndexSummary]>[] = [];
    for (const image of args.plan.images) {
      const published = image.indexes.map((index) => {
        const src = promotion.apply((p) => p[index.id]);
        return { index, src, ...this.publish(index, image.repository, src, args) };
      });
      // One guard per image reads every promoted tag back, each requiring its source's digest.
      const guard = new IndexGuard(
        image.name,
        {
          indexes: Object.fromEntries(published.map((p) => [p.index.id, p.guarded])),
          registry: args.registry,
          caCert: args.caCert,
        },
        { parent: this, dependsOn: published.map((p) => p.idx) },
      );
      this.guards[image.name] = guard;
      for (const { index, src } of published) {
        // The digest the guard read back (see MultiArchImage), in docker-build's `tag@digest` shape.
        summaries.push(
          pulumi
            .all([guard.digestOf(index.id), src])
            .apply(([digest, s]): [string, string, IndexSummary] => [
              index.image,
              index.tag,
              {
                ref: `${index.ref}@${digest}`,
                platforms: Object.fromEntries(
                  Object.entries(s.children).map(([p, d]) => [p, `${image.repository}@${d}`]),
                ),
              },
            ]),
        );
      }
    }
    this.summary = pulumi.all(summaries).apply((all) => {
      const out: EstateSummary = {};
      for (const [image, tag, s] of all) (out[image] ??= {})[tag] = s;
      return out;
    });
    // The summary is the stack's output (index.ts); a copy in this component's state would be one
    // more in every checkpoint the engine rewrites (issue 11), and nothing reads it there.
    this.registerOutputs({});
  }

  /** One index: its lock (release tags on protected stacks), its Index and what its guard reads. */
  private publish(
    index: PlannedIndex,
    repository: string,
    src: pulumi.Output<PromotedSource>,
    args: PromotedEstateArgs,
  ): { idx: dockerBuild.Index; guarded: GuardedIndexArgs } {
    const digest = src.apply((s) => s.digest);
    // The lock records the content (this registry's copy by digest), not where it came from, so a
    // moved source registry does not count as a moved release.
    const locked =
      index.release && args.protectReleases
        ? lockedRelease(index, [pulumi.interpolate`${repository}@${digest}`], args, this, digest)
        : undefined;
    // With adopt, what the lock kept replaces the source (only then, so that other previews keep
    // showing the source digest instead of waiting for a new lock's output).
    const kept = args.adoption?.adopt ? locked?.lock.adoptedDigest : undefined;
    const promoted = src.apply((s) => s.source);
    const sources = kept
      ? [pulumi.all([kept, promoted]).apply(([k, p]) => (k ? `${repository}@${k}` : p))]
      : [promoted];
    const target = pulumi.output(args.registry);
    const idx = new dockerBuild.Index(
      index.id,
      {
        tag: index.ref,
        sources,
        push: true,
        registry: { address: target.address, username: target.username, password: target.password },
      },
      // Registry content is kept when the resource goes (see MultiArchImage).
      {
        parent: this,
        provider: this.provider,
        retainOnDelete: true,
        dependsOn: locked ? [locked.lock] : [],
      },
    );
    this.indexes[index.id] = idx;
    const guarded: GuardedIndexArgs = {
      tag: index.ref,
      sources: [],
      platforms: index.builds.map((b) => b.platform),
      digest: kept ? pulumi.all([kept, digest]).apply(([k, d]) => k || d) : digest,
    };
    return { idx, guarded };
  }
}
