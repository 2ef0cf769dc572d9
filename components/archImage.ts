import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedBuild } from "../estate/planner";
import { RegistryCredentials } from "./privateRegistry";

/** Arguments of {@link ArchImage}. */
export interface ArchImageArgs {
  /** The planned single-platform build (plain: it decides tags, platform and builder). */
  build: PlannedBuild;
  /** Pinned base reference `repo@sha256:...`, passed in the build's base arg. Required when the plan has a base. */
  baseRef?: pulumi.Input<string>;
  /** Credentials for pushing, pulling the base and the registry cache. Secret. */
  registry: pulumi.Input<RegistryCredentials>;
  /** Build during `pulumi preview` too (slower, checks Dockerfiles early). Default false. */
  buildOnPreview?: boolean;
}

/**
 * One platform of one image: a `docker_build.Image` built on the builder of that platform only,
 * pushed under its per-arch tag, with a registry cache of its own (a cache shared by two platforms
 * would keep only the last one). Registry content is retained when the resource is deleted, because
 * the registry deletes by digest and the same digest may be tagged elsewhere.
 */
export class ArchImage extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:ArchImage";

  public readonly image: dockerBuild.Image;
  /** `registry/repository@sha256:...`: what dependents and indexes use. */
  public readonly pinnedRef: pulumi.Output<string>;
  public readonly digest: pulumi.Output<string>;
  public readonly platform: string;

  constructor(name: string, args: ArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ArchImage.type, name, {}, opts);
    const b = args.build;
    if (b.base && args.baseRef === undefined) {
      throw new pulumi.ResourceError(
        `build ${b.id}: the plan gives it a base but no baseRef was passed`,
        this,
      );
    }
    if (!b.builder)
      throw new pulumi.ResourceError(`build ${b.id}: no builder for ${b.platform}`, this);
    this.platform = b.platform;

    const buildArgs: pulumi.Input<Record<string, pulumi.Input<string>>> =
      args.baseRef === undefined ? b.buildArgs : { ...b.buildArgs, [b.baseArg]: args.baseRef };
    const registry = pulumi.output(args.registry);

    this.image = new dockerBuild.Image(
      name,
      {
        platforms: [b.platform as dockerBuild.Platform],
        builder: { name: b.builder },
        context: { location: b.context },
        dockerfile: { location: b.dockerfile },
        buildArgs,
        target: b.target,
        tags: [b.archTag],
        push: true,
        buildOnPreview: args.buildOnPreview ?? false,
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
        labels: {
          "org.opencontainers.image.title": b.image,
          "dev.dayu.estate.build": b.id,
        },
        registries: [
          {
            address: registry.address,
            username: registry.username,
            password: registry.password,
          },
        ],
      },
      { parent: this, retainOnDelete: true },
    );

    this.digest = this.image.digest;
    // In a preview, a build that is about to run reports an empty digest: stand in its per-arch tag,
    // which is where the build will be pushed, so that dependents and indexes show as changing and
    // docker-build's Index still sees a valid reference. A real update always pins the digest.
    const dryRun = pulumi.runtime.isDryRun();
    this.pinnedRef = this.image.digest.apply((digest) => {
      if (digest) return `${b.repository}@${digest}`;
      if (dryRun) return b.archTag;
      throw new Error(`build ${b.id}: the push of ${b.archTag} reported no digest`);
    });
    this.registerOutputs({ digest: this.digest, pinnedRef: this.pinnedRef });
  }
}
