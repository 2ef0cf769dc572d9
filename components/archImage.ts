import { NOT_SECRET_LABEL, notSecretLabel } from "../estate/secrets";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedBuild } from "../estate/planner";
import { RegistryCredentials } from "./credentials";

/** The digest a preview shows for a build that has not run yet (all zeros: no real content). */
export const PENDING_DIGEST = `sha256:${"0".repeat(64)}`;

/**
 * docker-build's `context.named` for a build: each estate reference its Dockerfile makes, mapped to
 * `docker-image://<repo>@sha256:<digest>`, so BuildKit builds from exactly the pinned base without a
 * change to the Dockerfile. Absent when the build has no named contexts.
 */
export function namedContexts(
  build: PlannedBuild,
  refs: Readonly<Record<string, pulumi.Input<string>>> | undefined,
): { named?: Record<string, { location: pulumi.Output<string> }> } {
  const contexts = build.contexts ?? [];
  if (contexts.length === 0) return {};
  return {
    named: Object.fromEntries(
      contexts.map((c) => [
        c.key,
        { location: pulumi.interpolate`docker-image://${refs?.[c.key] ?? ""}` },
      ]),
    ),
  };
}

/** Arguments of {@link archImage}. */
export interface ArchImageArgs {
  /** The planned single-platform build (plain: it decides tags, platform and builder). */
  build: PlannedBuild;
  /** Pinned base reference `repo@sha256:...`, passed in the build's base arg. Required when the plan has a base. */
  baseRef?: pulumi.Input<string>;
  /**
   * Pinned references (`repo@sha256:...`) of the build's named contexts, by key: one for every entry
   * of `build.contexts`. Default none.
   */
  contextRefs?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Credentials for pushing, pulling the base and the registry cache. Secret. */
  registry: pulumi.Input<RegistryCredentials>;
  /** Build during `pulumi preview` too (slower, checks Dockerfiles early). Default false. */
  buildOnPreview?: boolean;
  /** Import and export the build's registry cache (`build.cacheRef`). Default true. */
  registryCache?: boolean;
}

/** One platform of one image as {@link archImage} declares it. */
export interface ArchImage {
  /** The build: one `docker_build.Image`, a child of its image's component. */
  image: dockerBuild.Image;
  /**
   * `registry/repository@sha256:...`: what dependents get as their base. Unknown in a preview where
   * this build is about to run.
   */
  pinnedRef: pulumi.Output<string>;
  /**
   * What an index lists for this platform: `pinnedRef`, or, in a preview where this build is about to
   * run, its per-arch tag with the all-zero {@link PENDING_DIGEST}. docker-build's Index rejects a
   * source list with unknown elements (or an unknown list); this stand-in is a valid, visibly pending
   * reference, and the preview still shows the index changing. Never used in an update.
   */
  indexSource: pulumi.Output<string>;
  digest: pulumi.Output<string>;
  platform: string;
}

/**
 * The type of the component that wrapped each build before 2026-11 (its `Image` was its only child).
 * Builds are now children of their image's component directly: one resource per build instead of
 * two (issue 11: every resource costs a checkpoint write in every `up`); the old place is an alias.
 */
export const FORMER_ARCH_IMAGE_TYPE = "dayu:estate:ArchImage";

/**
 * The aliases of a build's Image: its former places under the wrapper component
 * ({@link FORMER_ARCH_IMAGE_TYPE}, named like the build), under its current name and every former
 * name the plan gives it, and its former names in its current place. So stacks made by earlier
 * versions, or before a rename, update in place.
 */
export function archImageAliases(build: PlannedBuild, parent: pulumi.Resource): pulumi.Alias[] {
  const names = [build.id, ...(build.formerIds ?? [])];
  return [
    ...names.map((n) => ({
      name: n,
      parent: pulumi.createUrn(n, FORMER_ARCH_IMAGE_TYPE, parent),
    })),
    ...(build.formerIds ?? []).map((n) => ({ name: n })),
  ];
}

/**
 * One platform of one image: a `docker_build.Image`, a child of `parent` (its image's component),
 * built on the builder of that platform only, pushed under its per-arch tag, with a registry cache
 * of its own (a cache shared by two platforms would keep only the last one). Registry content is
 * retained when the resource is deleted, because the registry deletes by digest and the same digest
 * may be tagged elsewhere.
 */
export function archImage(
  args: ArchImageArgs,
  parent: pulumi.Resource,
  opts?: Pick<pulumi.CustomResourceOptions, "dependsOn">,
): ArchImage {
  const b = args.build;
  if (b.base && args.baseRef === undefined) {
    throw new pulumi.ResourceError(
      `build ${b.id}: the plan gives it a base but no baseRef was passed`,
      parent,
    );
  }
  const missing = (b.contexts ?? []).filter((c) => args.contextRefs?.[c.key] === undefined);
  if (missing.length > 0) {
    throw new pulumi.ResourceError(
      `build ${b.id}: no pinned reference was passed for its named context(s) ${missing.map((c) => c.key).join(", ")}`,
      parent,
    );
  }
  if (!b.builder)
    throw new pulumi.ResourceError(`build ${b.id}: no builder for ${b.platform}`, parent);

  const buildArgs: pulumi.Input<Record<string, pulumi.Input<string>>> =
    args.baseRef === undefined ? b.buildArgs : { ...b.buildArgs, [b.baseArg]: args.baseRef };
  const registry = pulumi.output(args.registry);

  const image = new dockerBuild.Image(
    b.id,
    {
      platforms: [b.platform as dockerBuild.Platform],
      builder: { name: b.builder },
      context: { location: b.context, ...namedContexts(b, args.contextRefs) },
      dockerfile: { location: b.dockerfile },
      buildArgs,
      target: b.target,
      tags: [b.archRef],
      push: true,
      buildOnPreview: args.buildOnPreview ?? false,
      ...(args.registryCache === false
        ? {}
        : {
            cacheFrom: [{ registry: { ref: b.cacheRef } }],
            cacheTo: [
              {
                registry: {
                  ref: b.cacheRef,
                  mode: dockerBuild.CacheMode.Max,
                  imageManifest: true,
                  ociMediaTypes: true,
                },
              },
            ],
          }),
      labels: {
        "org.opencontainers.image.title": b.image,
        "dev.dayu.estate.build": b.id,
        // The catalog's opt-out of the secret-name rule, for the policy pack's same rule.
        ...(b.notSecret ? { [NOT_SECRET_LABEL]: notSecretLabel(b.notSecret) } : {}),
      },
      registries: [
        {
          address: registry.address,
          username: registry.username,
          password: registry.password,
        },
      ],
    },
    {
      parent,
      dependsOn: opts?.dependsOn,
      retainOnDelete: true,
      aliases: archImageAliases(b, parent),
    },
  );

  // In a preview, a build that is about to run reports an empty digest (known, not unknown).
  // Dependents then see an unknown base (they show as changing, and no policy mistakes a stand-in
  // for an unpinned base); indexes see the per-arch tag. A real update always pins the digest.
  const dryRun = pulumi.runtime.isDryRun();
  const pinned = (pending: () => string) =>
    image.digest.apply((digest) => {
      if (digest) return `${b.repository}@${digest}`;
      if (dryRun) return pending();
      throw new Error(`build ${b.id}: the push of ${b.archRef} reported no digest`);
    });
  return {
    image,
    digest: image.digest,
    platform: b.platform,
    pinnedRef: pinned(() => pulumi.unknown as unknown as string),
    indexSource: pinned(() => `${b.archRef}@${PENDING_DIGEST}`),
  };
}
