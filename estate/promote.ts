/**
 * Promotion and adoption decisions, pure (no Pulumi): which source index each planned index is
 * published from in promote mode, and what the first `up` does when the registry already holds a
 * release tag. The components (`PromotedEstate`, `ReleaseLock`) only carry these decisions out.
 *
 * Promotion: the plan (the same catalog and release) decides which indexes exist; the source stack's
 * summary only gives their digests. Each index is then published from ONE source, the source index
 * by digest: buildx's `imagetools create` with a single index source and no annotations pushes that
 * index's bytes unchanged (same digest) and copies its blobs across registries (buildx
 * `util/imagetools/create.go`, `combine`: "on single source, return original bytes").
 */
import * as path from "path";
import { FileSource } from "./files";
import { PlannedIndex, PlannedMirror, Plan, allIndexes } from "./plan/types";
import { EstateInputError, KeyFormatter, Problems } from "./problems";
import { PromoteSettings } from "./settings";

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** One index of a source stack's summary (`components/imageEstate.ts`, `EstateSummary`). */
export interface SourceIndex {
  /** `registry/repository:tag@sha256:…`. */
  ref: string;
  /** Platform → per-arch `repository@sha256:…`. */
  platforms: Record<string, string>;
}

/** Image → tag → index: a source stack's `summary` output, or a pinned digest file. */
export type SourceSummary = Record<string, Record<string, SourceIndex>>;

/** Where one planned index is published from. */
export interface PromotedSource {
  /** The source index by digest, `source-registry/repository@sha256:…` (never by tag: it may move). */
  source: string;
  /** The index digest the target must serve afterwards. */
  digest: string;
  /** Platform → child manifest digest, from the source's summary. */
  children: Record<string, string>;
}

/** The promotion of a whole plan: by planned index id (`image:tag`) and by mirror name. */
export interface Promotion {
  indexes: Record<string, PromotedSource>;
  mirrors: Record<string, string>;
}

/** The digest of `ref` (`…@sha256:…`), or undefined when it is not pinned. */
export function digestOf(ref: string): string | undefined {
  const at = ref.lastIndexOf("@");
  const d = at < 0 ? "" : ref.slice(at + 1);
  return DIGEST.test(d) ? d : undefined;
}

/** `host[:port]/path…` → `path…` (the repository without its registry). */
function pathOf(repository: string, registry: string): string {
  return repository.startsWith(`${registry}/`) ? repository.slice(registry.length + 1) : repository;
}

/**
 * Checks the shape of a summary read from a stack output or a digest file; `key` names where it came
 * from (`promote.fromStack`, `promote.digestFile`). Problems go to `problems`; returns what is usable.
 */
export function parseSourceSummary(value: unknown, key: string, problems: Problems): SourceSummary {
  const out: SourceSummary = {};
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(value)) {
    problems.at(key, "is not a summary (image → tag → { ref, platforms })");
    return out;
  }
  for (const [image, tags] of Object.entries(value)) {
    if (!isObject(tags)) {
      problems.at(key, `image ${image}: is not a map of tags`);
      continue;
    }
    out[image] = {};
    for (const [tag, idx] of Object.entries(tags)) {
      const ref = isObject(idx) ? idx.ref : undefined;
      const platforms = isObject(idx) ? idx.platforms : undefined;
      if (typeof ref !== "string" || digestOf(ref) === undefined || !isObject(platforms)) {
        problems.at(
          key,
          `${image}:${tag}: needs { ref: "<registry>/<repo>:<tag>@sha256:…", platforms }`,
        );
        continue;
      }
      out[image][tag] = { ref, platforms: platforms as Record<string, string> };
    }
  }
  return out;
}

/** Where one planned index comes from, or a problem naming the image and tag. */
function promotedIndex(
  index: PlannedIndex,
  summary: SourceSummary,
  sourceRegistry: string,
  registry: string,
): PromotedSource | string {
  const tags = summary[index.image];
  if (!tags)
    return `image ${index.image} is not in the source (it has ${Object.keys(summary).join(", ") || "no image"})`;
  const src = tags[index.tag];
  if (!src) {
    return `${index.image}:${index.tag} is not in the source (its tags of ${index.image}: ${Object.keys(tags).join(", ")})`;
  }
  const digest = digestOf(src.ref) as string;
  const missing = index.builds.map((b) => b.platform).filter((p) => !(p in src.platforms));
  if (missing.length > 0) {
    return `${index.image}:${index.tag}: the source index ${src.ref} lacks ${missing.join(", ")}`;
  }
  // The source's repository path is the plan's (same catalog and prefix), in the source registry.
  const ref = index.ref;
  const repository = pathOf(ref.slice(0, ref.lastIndexOf(":")), registry);
  const children = Object.fromEntries(
    Object.entries(src.platforms).map(([p, r]) => [p, digestOf(r) ?? ""]),
  );
  return { source: `${sourceRegistry}/${repository}@${digest}`, digest, children };
}

/**
 * The source of every index of the plan, and of every mirror. Mirrors are promoted like images: from
 * the source registry's mirrored copy, by the digest this stack pins (a mirror is a carbon copy of
 * its pinned upstream index, so the copy in the source registry has that digest). Production then
 * needs no access to upstream registries (air-gapped sites) and gets the bytes the source tested.
 * Every image or tag missing from the source is one problem at `key`, all reported together.
 */
export function promotionSources(
  plan: Plan,
  summary: SourceSummary,
  sourceRegistry: string,
  key: string,
  problems: Problems,
): Promotion {
  const indexes: Record<string, PromotedSource> = {};
  for (const index of allIndexes(plan)) {
    const p = promotedIndex(index, summary, sourceRegistry, plan.registry);
    if (typeof p === "string") problems.at(key, p);
    else indexes[index.id] = p;
  }
  return { indexes, mirrors: promotedMirrors(plan, sourceRegistry, problems) };
}

/**
 * Mirror name → where promote mode copies it from: known from this stack's settings alone (its pins
 * and the source registry's address), so it needs no source summary.
 */
export function promotedMirrors(
  plan: Plan,
  sourceRegistry: string,
  problems: Problems,
): Record<string, string> {
  const mirrors: Record<string, string> = {};
  for (const m of plan.mirrors) {
    const digest = digestOf(m.source);
    if (digest === undefined) problems.at(`mirrorSources.${m.name}`, "is not pinned by digest");
    else mirrors[m.name] = promotedMirrorSource(m, plan.registry, sourceRegistry, digest);
  }
  return mirrors;
}

/** A user's mistake in the promotion source (missing image or tag, malformed digest file). */
export class PromotionError extends EstateInputError {
  constructor(problems: string[]) {
    super(problems, "the promotion source does not match this stack's plan");
  }
}

/**
 * The whole promotion of a plan from a raw summary (a stack output or a digest file), or one
 * {@link PromotionError} listing every problem, each at `key` formatted by `where`.
 */
export function resolvePromotion(
  plan: Plan,
  raw: unknown,
  sourceRegistry: string,
  key: string,
  where: KeyFormatter,
): Promotion {
  const problems = new Problems(where);
  const summary = parseSourceSummary(raw, key, problems);
  const promotion = promotionSources(plan, summary, sourceRegistry, key, problems);
  problems.throwIfAny(PromotionError);
  return promotion;
}

/** `source-registry/<mirror repository path>@<pinned digest>`. */
export function promotedMirrorSource(
  m: PlannedMirror,
  registry: string,
  sourceRegistry: string,
  digest: string,
): string {
  return `${sourceRegistry}/${pathOf(m.repository, registry)}@${digest}`;
}

// ---------------------------------------------------------------------------------------------------
// Adoption: the first `up` for a release tag that the registry already holds.

/** What the registry serves under a tag: the index digest and its children by platform. */
export interface ServedIndex {
  digest: string;
  children: Record<string, string>;
}

/** What the program would publish: the index digest when known (promotion), else its children. */
export interface WantedIndex {
  digest?: string;
  children: Record<string, string>;
}

/** What the first `up` for a release tag does. */
export type AdoptionDecision =
  /** The tag is absent, or already holds what the program publishes. */
  | { action: "publish" }
  /** `adopt: true`: keep the existing index; the Index re-pushes it by digest (same bytes). */
  | { action: "record"; digest: string }
  /** Listed in `replaceExisting`: move it. */
  | { action: "replace"; digest: string }
  | { action: "refuse"; message: string };

/** Inputs of {@link adoptionDecision}. */
export interface AdoptionInputs {
  /** `registry/repository:tag`. */
  tag: string;
  /** What the registry serves under the tag now; undefined when the tag is absent. */
  existing?: ServedIndex;
  wanted: WantedIndex;
  /** The stack's `adopt`. */
  adopt: boolean;
  /** Whether the stack's `replaceExisting` lists this tag. */
  replace: boolean;
}

const sameChildren = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a).sort();
  return (
    ka.length === Object.keys(b).length && ka.every((p) => a[p] !== undefined && a[p] === b[p])
  );
};

/** How the wanted index reads in a message. */
function describeWanted(w: WantedIndex): string {
  if (w.digest) return w.digest;
  const parts = Object.entries(w.children).map(([p, d]) => `${p} ${d}`);
  return `an index of ${parts.join(", ")}`;
}

/**
 * The adoption rule: an absent tag, or one holding the same content (same index digest when the
 * wanted digest is known, else the same child per platform), is published as usual. Other content is
 * moved only when the tag is listed in `replaceExisting`, recorded as it is with `adopt`, and refused
 * otherwise, naming the tag, its current digest and what the program would publish.
 */
export function adoptionDecision(i: AdoptionInputs): AdoptionDecision {
  const e = i.existing;
  if (!e) return { action: "publish" };
  const same = i.wanted.digest
    ? i.wanted.digest === e.digest
    : sameChildren(e.children, i.wanted.children);
  if (same) return { action: "publish" };
  if (i.replace) return { action: "replace", digest: e.digest };
  if (i.adopt) return { action: "record", digest: e.digest };
  const short = i.tag.slice(i.tag.indexOf("/") + 1);
  return {
    action: "refuse",
    message:
      `release tag ${i.tag} already exists in the registry at ${e.digest}, and this stack would publish ` +
      `${describeWanted(i.wanted)}: the first up never moves it silently. Keep it with adopt: true, or ` +
      `move it by listing "${short}" in replaceExisting.`,
  };
}

/**
 * Whether `replaceExisting` lists the tag `ref` (`registry/repository:tag`); entries are written
 * without the registry (a registry address never contains a slash), the full reference also counts.
 */
export function listedForReplace(ref: string, list: readonly string[]): boolean {
  return list.includes(ref.slice(ref.indexOf("/") + 1)) || list.includes(ref);
}

/** Entries of `replaceExisting` that name no release index of the plan (a typo would silently do nothing). */
export function replaceExistingProblems(
  plan: Plan,
  list: readonly string[],
  problems: Problems,
): void {
  const releases = allIndexes(plan).filter((i) => i.release);
  list.forEach((entry, n) => {
    if (!releases.some((i) => listedForReplace(i.ref, [entry]))) {
      const some = releases.slice(0, 3).map((i) => pathOf(i.ref, plan.registry));
      problems.at(
        `replaceExisting[${n}]`,
        `"${entry}" is not a release tag of this stack (e.g. ${some.join(", ")})`,
      );
    }
  });
}

/** The files promote mode reads: the source registry's CA and, for air-gapped sites, the digest file. */
export interface PromoteFiles {
  /** PEM of `promote.registry.caFile`. */
  sourceCa?: string;
  /** The parsed JSON of `promote.digestFile` (checked later against the plan). */
  digestFile?: unknown;
}

/** Reads {@link PromoteFiles}; a missing file, a non-PEM CA or invalid JSON is a problem at its key. */
export function loadPromoteFiles(
  promote: PromoteSettings | undefined,
  projectDir: string,
  files: FileSource,
  problems: Problems,
): PromoteFiles {
  const out: PromoteFiles = {};
  const read = (key: string, file: string): string | undefined => {
    const abs = path.resolve(projectDir, file);
    if (files.isFile(abs)) return Buffer.from(files.read(abs)).toString("utf8");
    problems.at(key, `${abs} does not exist`);
    return undefined;
  };
  if (promote?.registry.caFile) {
    const pem = read("promote.registry.caFile", promote.registry.caFile);
    if (pem !== undefined && !pem.includes("-----BEGIN CERTIFICATE-----")) {
      problems.at("promote.registry.caFile", `${promote.registry.caFile} is not a PEM certificate`);
    } else out.sourceCa = pem;
  }
  if (promote?.digestFile) {
    const text = read("promote.digestFile", promote.digestFile);
    try {
      if (text !== undefined) out.digestFile = JSON.parse(text);
    } catch (err) {
      problems.at("promote.digestFile", `is not JSON: ${(err as Error).message}`);
    }
  }
  return out;
}
