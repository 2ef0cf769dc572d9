import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { PlannedMirror } from "../estate/planner";
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
    if (!/@sha256:[a-f0-9]{64}$/.test(m.source)) {
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
    // The digest is the one the guard read back from the registry, not docker-build's `ref`: a refresh
    // whose credentials the registry refuses leaves the Index's `ref` without a digest (docker-build
    // skips the read), and nothing published may hang on that. Before the first push (a preview) the
    // digest is unknown: dependents then see an unknown base, as for a pending build.
    this.pinnedRef = this.guard.digestOf(ids[0]).apply((digest) => {
      if (digest) return `${m.repository}@${digest}`;
      throw new Error(`mirror ${m.name}: the read-back of ${m.refs[0]} found no digest`);
    });
    this.registerOutputs({ pinnedRef: this.pinnedRef });
  }
}
