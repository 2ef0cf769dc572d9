import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedImage, PlannedIndex } from "../estate/planner";
import { BuildFacts, SourceRevision, provenanceFor } from "../lib/buildProvenance";
import { SbomFormat, SigningKey, SupplyChainTools } from "../lib/supplyChain";
import { ArchImage, archImage } from "./archImage";
import { Attestation } from "./attestation";
import { IndexSignature } from "./indexSignature";
import { GuardedIndexArgs, IndexGuard } from "./indexGuard";
import { listedForReplace } from "../estate/promote";
import { ReleaseLock } from "./releaseLock";
import { RegistryCredentials } from "./credentials";

/** What the estate reports per index tag. */
export interface IndexSummary {
  /** `registry/repository:tag@sha256:...` of the index. */
  ref: string;
  /** Platform → per-arch `repository@sha256:...`. */
  platforms: Record<string, string>;
}

/** SBOM, provenance and signatures (docs/supply-chain.md). */
export interface SupplyChainOptions {
  /** SBOM format. Default `spdx-json`. */
  sbomFormat?: SbomFormat;
  /** cosign and syft, and how they reach the registry (no credentials). */
  tools: SupplyChainTools;
  /** The cosign key pair (secret). */
  key: pulumi.Input<SigningKey>;
  /** Dockerfile and context digests of every final build, by build id (lib/buildProvenance.ts). */
  facts: Readonly<Record<string, BuildFacts>>;
  /** The checkout the program runs from. Default: provenance without a source. */
  source?: SourceRevision;
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
  /**
   * With `protectReleases`: on the first up for a release tag, check what the registry already holds
   * under it (refuse other content, or keep it with `adopt`, or move what `replaceExisting` lists).
   * Default: no check.
   */
  adoption?: AdoptionOptions;
  /**
   * Attest every final build (`<build id>-attestation`) and sign every index (`<index id>-signature`);
   * an index then waits for its children's attestations. Default: none (plain: decides resources).
   */
  supplyChain?: SupplyChainOptions;
}

/** The stack's adoption settings (`adopt`, `replaceExisting`). */
export interface AdoptionOptions {
  /** Keep other content found under a release tag on the first up. Default false. */
  adopt?: boolean;
  /** Release tags (`repository:tag`, without the registry) the first up may move. Default none. */
  replaceExisting?: readonly string[];
}

/**
 * A release index's lock with the first up's adoption check, and the sources its Index publishes:
 * with `adopt`, the digest the lock kept (the existing index by digest, re-pushed as the same bytes)
 * when it kept one, else `sources`. Shared by built and promoted images.
 */
export function lockedRelease(
  index: PlannedIndex,
  sources: pulumi.Input<pulumi.Input<string>[]>,
  opts: Pick<EstateBuildOptions, "registry" | "caCert" | "adoption">,
  parent: pulumi.Resource,
  digest?: pulumi.Input<string>,
): { lock: ReleaseLock; sources: pulumi.Input<pulumi.Input<string>[]> } {
  const a = opts.adoption;
  const lock = new ReleaseLock(
    index.id,
    {
      tag: index.ref,
      sources,
      adoption: a && {
        registry: opts.registry,
        caCert: opts.caCert,
        adopt: a.adopt,
        replace: listedForReplace(index.ref, a.replaceExisting ?? []),
        digest,
      },
    },
    { parent },
  );
  if (!a?.adopt) return { lock, sources };
  const repository = index.ref.slice(0, index.ref.lastIndexOf(":"));
  return {
    lock,
    sources: pulumi
      .all([lock.adoptedDigest, sources])
      .apply(([kept, own]) => (kept ? [`${repository}@${kept}`] : own)),
  };
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
  /**
   * Pinned references of the builds' named contexts that live outside this image: build id →
   * context key → `repo@sha256:...`. Default none.
   */
  contextRefs?: Readonly<Record<string, Readonly<Record<string, pulumi.Input<string>>>>>;
}

/** One tag as {@link MultiArchImage} publishes it: its Index and what its guard must find. */
interface PublishedTag {
  index: PlannedIndex;
  idx: dockerBuild.Index;
  parts: { platform: string; ref: pulumi.Output<string>; source: pulumi.Input<string> }[];
  guarded: GuardedIndexArgs;
}

/**
 * One image of the estate: its per-architecture builds (a `docker_build.Image` each, on its
 * platform's builder, see {@link archImage}) and one `docker_build.Index` per tag whose sources are
 * exactly that tag's per-arch digests. An index depends on every per-arch build of its tag, so a
 * failed build leaves the published index untouched: it never moves to a half-built state. After
 * the pushes one {@link IndexGuard} reads every index back, and repairs a tag when refresh finds it
 * moved by hand.
 */
export class MultiArchImage extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:MultiArchImage";

  public readonly archImages: Record<string, ArchImage> = {};
  public readonly indexes: Record<string, dockerBuild.Index> = {};
  /** Read-back and drift repair of every index of the image. */
  public readonly guard: IndexGuard;
  /** SBOM and provenance of each final build, by build id (with a supply chain). */
  public readonly attestations: Record<string, Attestation> = {};
  /** Signature of each index, by tag (with a supply chain). */
  public readonly signatures: Record<string, IndexSignature> = {};
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
      // A named context naming an earlier step of this image is wired here, like a step base.
      const contextRefs: Record<string, pulumi.Input<string>> = {
        ...(args.contextRefs?.[build.id] ?? {}),
      };
      for (const c of build.contexts ?? []) {
        if (c.base.kind === "step") contextRefs[c.key] = this.archImages[c.base.build].pinnedRef;
      }
      const arch = archImage(
        {
          build,
          baseRef,
          contextRefs,
          registry: args.registry,
          buildOnPreview: args.buildOnPreview,
          registryCache: args.registryCache,
        },
        this,
        { dependsOn: args.buildDependsOn },
      );
      this.archImages[build.id] = arch;
      const sc = args.supplyChain;
      if (sc && build.final) {
        const facts = sc.facts[build.id];
        this.attestations[build.id] = new Attestation(
          `${build.id}-attestation`,
          {
            ref: arch.pinnedRef,
            provenance: pulumi
              .all([arch.pinnedRef, baseRef])
              .apply(([ref, base]) => provenanceFor(build, facts, ref, base, sc.source)),
            sbomFormat: sc.sbomFormat,
            tools: sc.tools,
            registry: args.registry,
            key: sc.key,
          },
          { parent: this, dependsOn: [arch.image] },
        );
      }
    }

    const published = indexes.map((index) => this.publish(index, args));
    // One guard reads every tag of the image back, after all of them are pushed.
    this.guard = new IndexGuard(
      args.image.name,
      {
        indexes: Object.fromEntries(published.map((p) => [p.index.id, p.guarded])),
        registry: args.registry,
        caCert: args.caCert,
      },
      { parent: this, dependsOn: published.map((p) => p.idx) },
    );
    const summaries = published.map((p) => this.readBack(p.index, p.parts, args));
    this.summary = pulumi.all(summaries).apply((entries) => Object.fromEntries(entries));
    // The summary is the stack's output (index.ts); a copy in this component's state would be one
    // more in every checkpoint the engine rewrites (issue 11), and nothing reads it there.
    this.registerOutputs({});
  }

  /**
   * One tag: its Index (after a {@link ReleaseLock} on protected stacks) and what the image's
   * {@link IndexGuard} must find under it. The Index waits for every build of its tag through its
   * sources.
   */
  private publish(index: PlannedIndex, args: MultiArchImageArgs): PublishedTag {
    // The plan lists only this image's builds in its indexes, and builds come before indexes.
    const parts = index.builds.map((b) => {
      const arch = this.archImages[b.build];
      return { platform: b.platform, ref: arch.pinnedRef, source: arch.indexSource };
    });
    const registry = pulumi.output(args.registry);
    // On protected stacks a published release tag must not move: the lock refuses before the Index.
    const locked =
      index.release && args.protectReleases
        ? lockedRelease(
            index,
            parts.map((p) => p.source),
            args,
            this,
          )
        : undefined;
    const lock = locked?.lock;
    const sources = locked?.sources ?? parts.map((p) => p.source);
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
        // With a supply chain, an index never moves to children without SBOM and provenance.
        dependsOn: [
          ...(lock ? [lock] : []),
          ...index.builds.flatMap((b) => this.attestations[b.build] ?? []),
        ],
      },
    );
    this.indexes[index.tag] = idx;
    const guarded = { tag: index.ref, sources, platforms: parts.map((p) => p.platform) };
    return { index, idx, parts, guarded };
  }

  /**
   * One tag's signature (with a supply chain) and summary, from the digest the guard read back, in
   * docker-build's `tag@digest` shape. Not docker-build's `ref`: a refresh whose credentials the
   * registry refuses leaves it without a digest (docker-build skips the read), and nothing published
   * may hang on that.
   */
  private readBack(
    index: PlannedIndex,
    parts: PublishedTag["parts"],
    args: MultiArchImageArgs,
  ): pulumi.Output<[string, IndexSummary]> {
    const digest = this.guard.digestOf(index.id);
    const sc = args.supplyChain;
    if (sc) {
      this.signatures[index.tag] = new IndexSignature(
        `${index.id}-signature`,
        { tag: index.ref, digest, tools: sc.tools, registry: args.registry, key: sc.key },
        { parent: this, dependsOn: [this.guard] },
      );
    }
    return pulumi
      .all([digest, ...parts.map((p) => p.ref)])
      .apply(([d, ...refs]): [string, IndexSummary] => [
        index.tag,
        {
          ref: `${index.ref}@${d}`,
          platforms: Object.fromEntries(parts.map((p, i) => [p.platform, refs[i]])),
        },
      ]);
  }
}
