/**
 * The plan's shape and the options that make it: what every stage of the planner produces and what
 * the components consume. No logic beyond small views (`allBuilds`, `allIndexes`, `flatPlan`).
 */
import { FileSource } from "../files";
import { EstateInputError } from "../problems";

/** The name of the variant every image has: its plain tags. */
export const DEFAULT_VARIANT = "default";
/** The build arg that receives the pinned base reference unless an image names another. */
export const DEFAULT_BASE_ARG = "BASE_IMAGE";

/** A builder and the one platform it serves. */
export interface BuilderSpec {
  name: string;
  platform: string;
}

/** Stack settings the plan depends on. */
export interface PlanOptions {
  /** Absolute directory the catalog's relative paths start from. */
  catalogDir: string;
  /** Registry host[:port] every estate repository lives under. */
  registry: string;
  /** Replaces `${release}` in tags. */
  release: string;
  builders: readonly BuilderSpec[];
  /** Image name → context directory (absolute, or relative to `catalogDir`), e.g. a Dayu checkout. */
  contexts?: Readonly<Record<string, string>>;
  /** Mirror name → pinned upstream reference `host/repo[:tag]@sha256:...`, overriding the catalog. */
  mirrorSources?: Readonly<Record<string, string>>;
  /**
   * Prepended to every repository path (images and mirrors), e.g. `e2e/` to keep a test estate apart
   * from the real one in the same registry. Default none.
   */
  repositoryPrefix?: string;
  /**
   * Accept mirrors without a pin (their source stays the catalog's tag). Only for displaying a plan
   * (`npm run plan`); the program always requires pins. Default false.
   */
  allowUnpinnedMirrors?: boolean;
  /**
   * The stack's environment. On any but `dev`, an image a Dockerfile reads from outside the estate
   * must be pinned by digest (refused with file:line). Default `dev`.
   */
  environment?: string;
  files: FileSource;
}

/**
 * Where a planned build's base comes from, resolved in the plan so that no component has to look
 * owners up: another image's build (`image` names the owner), an earlier chain step of the same
 * image, a mirror, or a pinned external reference.
 */
export type BaseLink =
  | { kind: "build"; image: string; build: string }
  | { kind: "step"; build: string }
  | { kind: "mirror"; mirror: string }
  | { kind: "external"; ref: string };

/** One single-platform build, possibly shared by several variants. */
export interface PlannedBuild {
  /**
   * Pulumi resource name, e.g. `dayubase/amd64`, `car-detection/jp5/arm64`, `atom/graphics/arm64`:
   * `<image>[/<step>][/<variant>]/<arch>` of the build's representative variant (see
   * `estate/plan/identity.ts`), so it does not depend on declaration order.
   */
  id: string;
  /**
   * Names the build had under the declaration-order naming used before (see
   * `formerRepresentative`), when they differ from `id`: its Image aliases them.
   */
  formerIds?: string[];
  /** Dedup key: a digest of the build's inputs only (see `buildKey`). */
  key: string;
  image: string;
  /** Chain step descriptor, for Atom-style chains. */
  step?: string;
  /** True for the last (or only) step: the build the image's indexes point at. */
  final: boolean;
  /** Variants whose index uses this build: `default` first, then by name. */
  variants: string[];
  platform: string;
  /** Short architecture label used in tags and ids, e.g. `amd64`, `arm64`, `arm-v7`. */
  arch: string;
  builder: string;
  /** `registry/repository`. */
  repository: string;
  /** The per-architecture tag this build is pushed as, e.g. `v1.3-jp5-arm64`. */
  archTag: string;
  /** `repository:archTag`. */
  archRef: string;
  /** Registry cache reference, one per (image, step, variant, arch). */
  cacheRef: string;
  /** The build context: absolute from the planner, relative to the project once staged. */
  context: string;
  /** The Dockerfile: absolute from the planner, relative to the project once staged. */
  dockerfile: string;
  /**
   * What the build reads from `context`, relative to it: the smallest set of files and folders
   * covering its COPY/ADD/bind-mount sources (`["."]`: all of it). What `stageContexts` copies.
   */
  contextSources: string[];
  buildArgs: Record<string, string>;
  target?: string;
  /** The base passed in the build arg `baseArg` (Atom-style `ARG BASE_IMAGE`), if any. */
  base?: BaseLink;
  baseArg: string;
  /**
   * The catalog's `notSecret` names among this build's args (absent when none): archImage puts
   * them in the Image label `NOT_SECRET_LABEL` (estate/secrets.ts) so the policy pack honours the
   * same opt-out.
   */
  notSecret?: string[];
  /**
   * The estate images and mirrors the Dockerfile names (`FROM ${REG}/dayuhub/dayubase:${TAG}`),
   * each given to BuildKit as a named context under `key` (`namedContextKey`, e.g.
   * `dayuhub/dayubase:latest-jp5`), pinned to `base`'s digest. Empty for none.
   */
  contexts: { key: string; base: BaseLink }[];
}

/** One multi-arch index: an (image, tag) pair and the builds it joins. */
export interface PlannedIndex {
  /** `image:tag`. */
  id: string;
  image: string;
  variant: string;
  tag: string;
  /** Full reference `registry/repository:tag`. */
  ref: string;
  /** Platform → build id (of the same image), in the image's platform order. */
  builds: { platform: string; build: string }[];
  /** Release tags (from `${release}`) are immutable once published. */
  release: boolean;
}

/** One catalog image with everything it builds and publishes. */
export interface PlannedImage {
  name: string;
  /** `registry/repository`. */
  repository: string;
  /** In dependency order: chain steps before the steps built on them. */
  builds: PlannedBuild[];
  /** One per (variant, tag). */
  indexes: PlannedIndex[];
}

/** A third-party image to copy into the private registry. */
export interface PlannedMirror {
  name: string;
  /** Pinned upstream reference. */
  source: string;
  /** `registry/repository`. */
  repository: string;
  /** Full target references, one per tag. */
  refs: string[];
  platforms: string[];
}

/** An image-level dependency: base image (or `mirror:<name>`) → dependent image. */
export interface PlanEdge {
  from: string;
  to: string;
  kind: "base" | "mirror";
}

export interface Plan {
  registry: string;
  release: string;
  /** In dependency order: every image comes after the images its builds are based on. */
  images: PlannedImage[];
  mirrors: PlannedMirror[];
  /** Image-level graph, for display. */
  imageEdges: PlanEdge[];
}

/** All problems found in a catalog, reported together. */
export class PlanError extends EstateInputError {
  constructor(problems: string[]) {
    super(problems, "the estate plan is invalid");
  }
}

/** Every build of the plan, image by image (so in dependency order). */
export function allBuilds(plan: Plan): PlannedBuild[] {
  return plan.images.flatMap((i) => i.builds);
}

/** Every index of the plan, image by image. */
export function allIndexes(plan: Plan): PlannedIndex[] {
  return plan.images.flatMap((i) => i.indexes);
}

/** The plan as flat lists, for readers that count or scan (repository lists, summaries, tests). */
export interface FlatPlan {
  registry: string;
  release: string;
  builds: PlannedBuild[];
  indexes: PlannedIndex[];
  mirrors: PlannedMirror[];
}

/** {@link FlatPlan} of a plan. */
export function flatPlan(plan: Plan): FlatPlan {
  return {
    registry: plan.registry,
    release: plan.release,
    builds: allBuilds(plan),
    indexes: allIndexes(plan),
    mirrors: plan.mirrors,
  };
}

/** `linux/arm/v7` → `arm-v7`; `linux/amd64` → `amd64`. */
export function archOf(platform: string): string {
  return platform.split("/").slice(1).join("-");
}
