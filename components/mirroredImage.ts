import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedMirror } from "../estate/planner";
import { digestOf } from "../estate/promote";
import { IndexGuard } from "./indexGuard";
import { RegistryCredentials } from "./credentials";

/** Arguments of {@link MirroredImage}. */
export interface MirroredImageArgs {
  /** The planned mirror: pinned upstream source, target repository and tags. */
  mirror: PlannedMirror;
  /** Credentials of the private registry (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** PEM CA of the registry for the read-back, when it is not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
}

/**
 * A third-party image copied into the private registry by digest: one `docker_build.Index` per target
 * tag, whose single source is the pinned upstream index (all its platforms come along; the planner
 * checked that the ones the estate needs are declared). Dependents build from `pinnedRef`.
 */
export class MirroredImage extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:MirroredImage";

  public readonly indexes: dockerBuild.Index[];
  /** Read-back and drift repair of every copied tag. */
  public readonly guard: IndexGuard;
  /** `registry/repository@sha256:...` of the mirrored copy. */
  public readonly pinnedRef: pulumi.Output<string>;

  constructor(name: string, args: MirroredImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MirroredImage.type, name, {}, opts);
    const m = args.mirror;
    const digest = digestOf(m.source);
    if (!digest) {
      throw new pulumi.ResourceError(
        `mirror ${m.name}: source ${m.source} is not pinned by digest`,
        this,
      );
    }
    const registry = pulumi.output(args.registry);
    const ids = m.refs.map((ref) => `${name}:${ref.slice(ref.lastIndexOf(":") + 1)}`);
    this.indexes = m.refs.map(
      (ref, n) =>
        new dockerBuild.Index(
          ids[n],
          {
            tag: ref,
            sources: [m.source],
            push: true,
            registry: {
              address: registry.address,
              username: registry.username,
              password: registry.password,
            },
          },
          { parent: this, retainOnDelete: true },
        ),
    );
    // Every copy must hold at least the platforms the estate needs from it: one guard reads them all.
    this.guard = new IndexGuard(
      name,
      {
        indexes: Object.fromEntries(
          m.refs.map((ref, n) => [
            ids[n],
            { tag: ref, sources: [m.source], platforms: m.platforms, atLeast: true },
          ]),
        ),
        registry: args.registry,
        caCert: args.caCert,
      },
      { parent: this, dependsOn: this.indexes },
    );
    // The copy is the pinned source (the guard checks it is that index, or an index holding that
    // manifest), so dependents build from the source's digest in this repository: known when the
    // program runs, in a preview too, whatever the guard is about to do (an update or an upgrade of
    // its state leaves its outputs unknown until the up). Taking it through the guard's URN makes
    // every dependent wait until the copy is pushed and read back.
    this.pinnedRef = this.guard.urn.apply(() => `${m.repository}@${digest}`);
    this.registerOutputs({ pinnedRef: this.pinnedRef });
  }
}
