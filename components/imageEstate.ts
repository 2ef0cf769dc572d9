import * as pulumi from "@pulumi/pulumi";
import { BaseLink, Plan } from "../estate/planner";
import { MirroredImage } from "./mirroredImage";
import { EstateBuildOptions, IndexSummary, MultiArchImage } from "./multiArchImage";

/** Arguments of {@link ImageEstate}. */
export interface ImageEstateArgs extends EstateBuildOptions {
  /** The validated plan (plain: it decides every resource). */
  plan: Plan;
}

/** Image → tag → index ref and per-platform refs. */
export type EstateSummary = Record<string, Record<string, IndexSummary>>;

/**
 * The whole catalog: mirrors first, then every image in dependency order, each dependent receiving
 * its base as `repository@sha256:digest` of the same platform's build (or of the mirrored copy), so a
 * base change flows into exactly its dependents' inputs.
 */
export class ImageEstate extends pulumi.ComponentResource {
  public static readonly type = "dayu:estate:ImageEstate";

  public readonly images: Record<string, MultiArchImage> = {};
  public readonly mirrors: Record<string, MirroredImage> = {};
  public readonly summary: pulumi.Output<EstateSummary>;

  constructor(name: string, args: ImageEstateArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ImageEstate.type, name, {}, opts);
    const { plan, ...buildOptions } = args;

    // Mirrors copy in parallel, also several into one repository (the three ultralytics Jetson
    // bases): distribution v3 takes concurrent pushes of shared blobs (see MultiArchImage).
    for (const m of plan.mirrors) {
      this.mirrors[m.name] = new MirroredImage(
        m.name,
        { mirror: m, registry: args.registry, caCert: args.caCert },
        { parent: this },
      );
    }

    // plan.images is in dependency order: every base image exists before its dependents. Each base
    // link names the image that owns the base build, so no lookup by owner is needed.
    const baseRefOf = (base: BaseLink | undefined): pulumi.Input<string> | undefined => {
      switch (base?.kind) {
        case "mirror":
          return this.mirrors[base.mirror].pinnedRef;
        case "external":
          return base.ref;
        case "build":
          return this.images[base.image].archImages[base.build].pinnedRef;
        default:
          return undefined; // none, or an earlier chain step: wired inside the image
      }
    };
    for (const image of plan.images) {
      const baseRefs: Record<string, pulumi.Input<string>> = {};
      const contextRefs: Record<string, Record<string, pulumi.Input<string>>> = {};
      for (const b of image.builds) {
        const ref = baseRefOf(b.base);
        if (ref !== undefined) baseRefs[b.id] = ref;
        for (const c of b.contexts ?? []) {
          const cref = baseRefOf(c.base);
          if (cref !== undefined) (contextRefs[b.id] ??= {})[c.key] = cref;
        }
      }
      this.images[image.name] = new MultiArchImage(
        image.name,
        { ...buildOptions, image, baseRefs, contextRefs },
        { parent: this },
      );
    }

    const names = Object.keys(this.images);
    this.summary = pulumi
      .all(names.map((n) => this.images[n].summary))
      .apply((all) => Object.fromEntries(names.map((n, i) => [n, all[i]])));
    // The summary is the stack's output (index.ts); a copy in this component's state would be one
    // more in every checkpoint the engine rewrites (issue 11), and nothing reads it there.
    this.registerOutputs({});
  }
}
