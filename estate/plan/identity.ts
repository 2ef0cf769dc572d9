/**
 * A build's identity, on purpose. Two functions, kept apart:
 *
 * - {@link buildKey}: what makes two (image, variant, platform, step) builds the same build. It is
 *   made from the build's inputs only, never from a name or a declaration position, so the same
 *   inputs always dedupe the same way.
 * - {@link buildNames}: the Pulumi resource name, per-arch tag and cache ref of a (deduplicated)
 *   build. They come from its representative variant ({@link representativeVariant}), which depends
 *   only on which variants share the build, so reordering or renaming an unrelated variant renames
 *   nothing. The resource name is the build's Image's Pulumi name: a change to this
 *   function renames resources and needs aliases (see components/archImage.ts).
 */
import { createHash } from "crypto";
import { DEFAULT_VARIANT } from "./types";

/** A build's base as an input: another build by its key, a mirror, or an external reference. */
export type BaseInput =
  | { kind: "build"; key: string }
  | { kind: "mirror"; mirror: string }
  | { kind: "external"; ref: string };

/** Everything that decides what a build produces. */
export interface BuildInputs {
  image: string;
  /** Chain step descriptor. */
  step?: string;
  platform: string;
  /** Absolute context directory. */
  context: string;
  /** Absolute Dockerfile path. */
  dockerfile: string;
  /** Build args as written (the pinned base is added to `baseArg` at build time). */
  buildArgs: Record<string, string>;
  target?: string;
  baseArg: string;
  /** The base passed in `baseArg` (Atom-style `ARG BASE_IMAGE`), if any. */
  base?: BaseInput;
  /**
   * The estate images and mirrors the Dockerfile names, each pinned with a BuildKit named context
   * under `key` (see `namedContextKey`). Default none.
   */
  contexts?: { key: string; base: BaseInput }[];
  /** The other images the Dockerfile reads, as resolved (`ref` or `ref::platform`). Default none. */
  externalRefs?: string[];
  /**
   * Global ARGs that feed only FROM lines (see `ResolvedDockerfile.fromOnlyArgs`): left out of the
   * key, because what they select is in it already (`contexts`, `externalRefs`). Default none.
   */
  fromOnlyArgs?: string[];
  /**
   * What the build reads from its context (see `contextSources`). Not part of the key: it follows
   * from the Dockerfile and the args, which are. Default: everything (`.`).
   */
  contextSources?: string[];
}

/**
 * The dedup key of a build: a sha256 of its inputs in a canonical form (build args sorted by
 * name). The image is part of it (two images never share a build: they push to different
 * repositories), the variant and tags are not. Args that only select a base are replaced by the
 * bases they select, pinned: so car-detection's JetPack variants, which differ on amd64 only in
 * `TAG=latest-jpN` selecting the same dayubase build, share their amd64 build. The named-context
 * keys are not part of it either (`dayuhub/dayubase` and `dayuhub/dayubase:latest-jp5` may name
 * the same build); the shared build is made with its first variant's args and keys, which agree.
 */
export function buildKey(inputs: BuildInputs): string {
  const fromOnly = new Set(inputs.fromOnlyArgs ?? []);
  const args = Object.entries(inputs.buildArgs)
    .filter(([k]) => !fromOnly.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const sorted = (xs: string[]) => [...new Set(xs)].sort();
  const contexts = sorted((inputs.contexts ?? []).map((c) => JSON.stringify(baseParts(c.base))));
  const canonical = JSON.stringify([
    inputs.image,
    inputs.step ?? null,
    inputs.platform,
    inputs.context,
    inputs.dockerfile,
    args,
    inputs.target ?? null,
    inputs.baseArg,
    inputs.base ? baseParts(inputs.base) : null,
    // Appended only when present, so the key of an Atom-style build keeps its earlier form.
    ...(contexts.length > 0 ? [["contexts", contexts]] : []),
    ...(inputs.externalRefs?.length ? [["external", sorted(inputs.externalRefs)]] : []),
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

function baseParts(base: BaseInput): string[] {
  switch (base.kind) {
    case "build":
      return [base.kind, base.key];
    case "mirror":
      return [base.kind, base.mirror];
    case "external":
      return [base.kind, base.ref];
  }
}

/** Variants in the plan's canonical order: `default` first, then by name (code-unit order). */
export function orderVariants(variants: Iterable<string>): string[] {
  const rest = [...new Set(variants)].filter((v) => v !== DEFAULT_VARIANT).sort();
  return [...(new Set(variants).has(DEFAULT_VARIANT) ? [DEFAULT_VARIANT] : []), ...rest];
}

/**
 * The variant a shared build is named after: `default` when it shares the build, else the smallest
 * name among the sharers. Depends on the set of sharers only, not on their order.
 */
export function representativeVariant(sharers: Iterable<string>): string {
  const ordered = orderVariants(sharers);
  if (ordered.length === 0) throw new Error("internal: a build shared by no variant");
  return ordered[0];
}

/**
 * The variant a shared build was named after before {@link representativeVariant}: the first of its
 * sharers in the image's declaration order (`default`, then the image's `variants` list). Only for
 * aliases: a build whose name changes keeps its old name as an alias, so a stack made with the old
 * name updates in place. Never differs in the Dayu catalog, whose shared builds all include `default`.
 */
export function formerRepresentative(
  sharers: readonly string[],
  declared: readonly string[],
): string | undefined {
  return declared.find((v) => sharers.includes(v));
}

/** What {@link buildNames} needs to know about a build. */
export interface NamingInputs {
  image: string;
  step?: string;
  /** True for the last step of a chain (or a build without a chain). */
  final: boolean;
  arch: string;
  /** `registry/repository`. */
  repository: string;
  /** The representative variant ({@link representativeVariant}). */
  variant: string;
  /** The first tag of the representative variant, e.g. `v1.3-jp5`. */
  firstTag: string;
}

/** The names of a build. */
export interface BuildNames {
  /** Pulumi resource name: `<image>[/<step>][/<variant>]/<arch>`, no variant part for `default`. */
  id: string;
  /** `<first tag>[-<step>]-<arch>`: a step part only for intermediate chain steps. */
  archTag: string;
  /** `repository:archTag`. */
  archRef: string;
  /** `repository:buildcache[-<step>]-<variant>-<arch>`. */
  cacheRef: string;
}

/** Names a build from its representative variant. */
export function buildNames(n: NamingInputs): BuildNames {
  const stepPart = n.step ? `/${n.step}` : "";
  const variantPart = n.variant === DEFAULT_VARIANT ? "" : `/${n.variant}`;
  const archTag = `${n.firstTag}${n.step && !n.final ? `-${n.step}` : ""}-${n.arch}`;
  return {
    id: `${n.image}${stepPart}${variantPart}/${n.arch}`,
    archTag,
    archRef: `${n.repository}:${archTag}`,
    cacheRef: `${n.repository}:buildcache${n.step ? `-${n.step}` : ""}-${n.variant}-${n.arch}`,
  };
}
