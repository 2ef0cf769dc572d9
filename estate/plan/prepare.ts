/**
 * Planner stage, before the image order: every (image, variant, platform, step) with its settings
 * merged, its build args read and its Dockerfile resolved the way BuildKit reads it for exactly those
 * args (`estate/dockerfile`). The references that name estate images or mirrors are matched
 * (`estate/baseRefs`) and checked against the declared base; their union per image is the inferred
 * image graph ({@link inferredDeps}), so `base:` in the catalog is optional where a FROM line names
 * an estate image.
 *
 * Two conventions, decided per build by the Dockerfile itself:
 * - Dayu's own: `FROM ${REG}/dayuhub/dayubase:${TAG}`. Each estate reference becomes a BuildKit named
 *   context pinned by digest (see `PlannedBuild.contexts`); the Dockerfile is untouched.
 * - Atom-style: a global `ARG BASE_IMAGE` and `FROM ${BASE_IMAGE}`, with the declared base (or the
 *   previous chain step) passed in that build arg.
 */
import * as path from "path";
import { decodeUtf8 } from "../argsFile";
import {
  EstateNames,
  MatchedReference,
  checkBases,
  estateNames,
  matchReferences,
} from "../baseRefs";
import { ImageDef } from "../catalog";
import { ContextSource, ResolvedDockerfile, resolveDockerfile } from "../dockerfile";
import { FileSource, kindError } from "../files";
import { Problems } from "../problems";
import { parseReference } from "../reference";
import { Step, chainSteps, stepArgs } from "./chain";
import { ResolvedSettings, imageContext, imageVariants, resolveSettings } from "./expand";
import { PlanInputs } from "./inputs";
import { DEFAULT_BASE_ARG, archOf } from "./types";

/**
 * What the resolver sees in the base arg of an Atom-style build: a valid, pinned reference that
 * stands for "the base the planner pins", so it is neither matched nor reported as floating.
 */
export const PINNED_BASE_PLACEHOLDER = `estate-base.invalid/pinned-base@sha256:${"0".repeat(64)}`;

/** One (variant, platform, step) of an image, resolved. */
export interface PreparedBuild {
  variant: string;
  platform: string;
  step: Step;
  /** Position in the chain (0 without a chain). */
  stepIndex: number;
  settings: ResolvedSettings;
  /** The build's args: the catalog's layers and the step's args file. */
  buildArgs: Record<string, string>;
  /** Undefined when the Dockerfile could not be read (reported). */
  resolved?: ResolvedDockerfile;
  /** True when the base arrives in the base arg (Atom-style), false when by named contexts. */
  viaBaseArg: boolean;
  /** The used references naming estate images or mirrors (the base arg's placeholder excluded). */
  estateRefs: MatchedReference[];
  /** The used references outside the estate (pinned or not), for the build's identity. */
  externalRefs: MatchedReference[];
  /** What the build reads from its context ({@link contextSources}); `["."]` for all of it. */
  contextSources: string[];
}

/** An image's context and its prepared builds, in variant, platform, step order. */
export interface PreparedImage {
  context: string;
  builds: PreparedBuild[];
}

/**
 * Prepares every image (images without a usable context are left out; reported). `names` defaults
 * to the catalog's names under the stack's registry and release.
 */
export function prepareImages(
  inputs: PlanInputs,
  problems: Problems,
  names: EstateNames = estateNames(
    inputs.catalog,
    inputs.opts.registry,
    inputs.opts.release,
    inputs.prefix.replace(/\/$/, "") || undefined,
  ),
): Map<string, PreparedImage> {
  const out = new Map<string, PreparedImage>();
  for (const img of inputs.images.values()) {
    const context = imageContext(img, inputs, problems);
    if (context === undefined) continue;
    out.set(img.name, { context, builds: prepareImage(img, context, inputs, names, problems) });
  }
  return out;
}

/** One image's builds, resolved (see {@link prepareImages}). */
export function prepareImage(
  img: ImageDef,
  context: string,
  inputs: PlanInputs,
  names: EstateNames,
  problems: Problems,
): PreparedBuild[] {
  const where = `image "${img.name}"`;
  const { files } = inputs.opts;
  const chain = img.chain
    ? chainSteps(path.join(context, img.chain), files, where, problems)
    : undefined;
  const texts = new Map<string, string | undefined>();
  const out: PreparedBuild[] = [];
  for (const variant of imageVariants(img, inputs)) {
    for (const platform of img.platforms) {
      const settings = resolveSettings(img, variant, platform);
      const steps: Step[] = chain ?? [
        { dockerfile: path.join(context, settings.dockerfile ?? "Dockerfile"), argsFiles: {} },
      ];
      steps.forEach((step, stepIndex) => {
        const buildArgs = {
          ...settings.buildArgs,
          ...stepArgs(step, archOf(platform), files, problems),
        };
        const stepWhere = step.descriptor ? `${where} step ${step.descriptor}` : where;
        if (!texts.has(step.dockerfile))
          texts.set(step.dockerfile, readDockerfile(step.dockerfile, stepWhere, inputs, problems));
        const text = texts.get(step.dockerfile);
        const base = { variant, platform, step, stepIndex, settings, buildArgs };
        if (text === undefined) {
          const none = { viaBaseArg: false, estateRefs: [], externalRefs: [], contextSources: [] };
          out.push({ ...base, ...none });
          return;
        }
        const r = resolveBuild(img, text, base, inputs.opts.catalogDir, names, stepWhere, problems);
        const read = r.resolved?.sources ?? [];
        out.push({ ...r, contextSources: contextSources(read, context, files, problems) });
      });
    }
  }
  return out;
}

function readDockerfile(
  file: string,
  where: string,
  { opts }: PlanInputs,
  problems: Problems,
): string | undefined {
  // The kind first: a FIFO is never opened (it would hang the plan), a directory or a dangling
  // symlink is named as such.
  const kindErr = kindError(opts.files, file, "file", "Dockerfile");
  if (kindErr) {
    problems.at(where, kindErr);
    return undefined;
  }
  try {
    return decodeUtf8(opts.files.read(file), file);
  } catch (err) {
    problems.at(where, (err as Error).message);
    return undefined;
  }
}

/** The path a message names a Dockerfile by: relative to the catalog's folder when inside it. */
function displayPath(file: string, catalogDir: string): string {
  const rel = path.relative(catalogDir, file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/** Resolves one build's Dockerfile, decides its convention and checks its bases. */
function resolveBuild(
  img: ImageDef,
  text: string,
  b: Omit<
    PreparedBuild,
    "resolved" | "viaBaseArg" | "estateRefs" | "externalRefs" | "contextSources"
  >,
  catalogDir: string,
  names: EstateNames,
  where: string,
  problems: Problems,
): Omit<PreparedBuild, "contextSources"> {
  const baseArg = img.baseArg ?? DEFAULT_BASE_ARG;
  // A base that only the base arg can carry: the declared one, or the previous chain step.
  const passesBase = b.stepIndex > 0 || b.settings.base !== undefined;
  const args =
    passesBase && b.buildArgs[baseArg] === undefined
      ? { ...b.buildArgs, [baseArg]: PINNED_BASE_PLACEHOLDER }
      : b.buildArgs;
  const resolved = resolveDockerfile(text, {
    file: displayPath(b.step.dockerfile, catalogDir),
    buildArgs: args,
    target: img.target,
    platform: b.platform,
  });
  resolved.problems.forEach((p) => problems.add(`${where}: ${p}`));
  const viaBaseArg = b.stepIndex > 0 || (passesBase && resolved.globalArgs.includes(baseArg));
  const refs = resolved.references.filter((r) => r.ref !== PINNED_BASE_PLACEHOLDER);
  const matched = matchReferences(refs, names, problems);
  // The previous chain step is the declared base of a later step: nothing to compare with.
  const declared = b.stepIndex > 0 ? undefined : b.settings.base;
  const used = checkBases(
    resolved,
    matched,
    declared,
    viaBaseArg ? baseArg : undefined,
    where,
    problems,
    `; it does not declare ARG ${baseArg} before its first FROM either, so the pinned base would be ignored`,
  );
  if (!viaBaseArg && declared?.external !== undefined) {
    checkDeclaredExternal(declared.external, matched, resolved.file, baseArg, where, problems);
  }
  return {
    ...b,
    resolved,
    viaBaseArg,
    estateRefs: used.bases,
    externalRefs: matched.filter((m) => m.match.kind === "external"),
  };
}

/**
 * A declared external base in a Dockerfile that takes no base arg must be what a FROM line reads
 * (compared as parsed references), or the declaration pins nothing.
 */
function checkDeclaredExternal(
  external: string,
  matched: readonly MatchedReference[],
  file: string,
  baseArg: string,
  where: string,
  problems: Problems,
): void {
  let want: string;
  try {
    const r = parseReference(external);
    want = `${r.registry}/${r.repository}@${r.digest ?? ""}`;
  } catch {
    return; // reported by the image graph
  }
  const same = matched.some((m) => {
    if (m.kind !== "from") return false;
    const r = parseReference(m.ref);
    return `${r.registry}/${r.repository}@${r.digest ?? ""}` === want;
  });
  if (!same)
    problems.at(
      where,
      `declares external base ${external}, which no FROM line of ${file} reads, and ${file} does not declare ARG ${baseArg} before its first FROM: the declared base would be ignored`,
    );
}

/** Characters that make a context path a pattern (BuildKit's `filepath.Match`). */
const PATTERN = /[*?[\\]/;

/**
 * What a build reads from its context, as the smallest set of files and folders (relative to the
 * context, sorted) that covers every COPY/ADD/bind-mount source of the stages it needs: a pattern
 * is covered by the folder before its first wildcard (`components/processor/*` →
 * `components/processor`), a folder covers what is under it, `.` covers everything. A source that
 * is not in the context is refused at its file:line (BuildKit would fail the build on it).
 */
export function contextSources(
  sources: readonly ContextSource[],
  context: string,
  files: FileSource,
  problems: Problems,
): string[] {
  const covered: string[] = [];
  for (const s of sources) {
    const parts = s.path.split("/");
    const first = parts.findIndex((p) => PATTERN.test(p));
    const prefix = (first < 0 ? parts : parts.slice(0, first)).join("/") || ".";
    const abs = path.join(context, prefix);
    if (prefix !== "." && !files.isFile(abs) && !files.isDirectory(abs)) {
      problems.at(s.where, `${s.instruction} source "${s.path}" is not in the context ${context}`);
      continue;
    }
    covered.push(prefix);
  }
  if (covered.includes(".")) return ["."];
  const sorted = [...new Set(covered)].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** Per image: the estate images and mirrors its Dockerfiles name, over every build. */
export interface InferredDeps {
  images: Set<string>;
  mirrors: Set<string>;
}

/** The image graph the Dockerfiles imply: the union of every build's estate references. */
export function inferredDeps(
  prepared: ReadonlyMap<string, PreparedImage>,
): Map<string, InferredDeps> {
  const out = new Map<string, InferredDeps>();
  for (const [name, p] of prepared) {
    const deps: InferredDeps = { images: new Set(), mirrors: new Set() };
    for (const b of p.builds) {
      for (const r of b.estateRefs) {
        if (r.match.kind === "image") deps.images.add(r.match.image);
        if (r.match.kind === "mirror") deps.mirrors.add(r.match.mirror);
      }
    }
    out.set(name, deps);
  }
  return out;
}

/**
 * Refuses used references outside the estate that are not pinned by digest (file:line), unless the
 * stack is `dev`: a floating tag would make a build depend on whatever the tag points at that day.
 */
export function checkFloating(
  prepared: ReadonlyMap<string, PreparedImage>,
  environment: string,
  problems: Problems,
): void {
  if (environment === "dev") return;
  for (const p of prepared.values()) {
    for (const b of p.builds) {
      for (const r of b.externalRefs) {
        if (r.match.kind === "external" && !r.match.pinned)
          problems.at(
            r.where,
            `"${r.ref}" is not pinned by digest, which a ${environment} stack requires (add @sha256:..., or mirror it in the catalog)`,
          );
      }
    }
  }
}
