/**
 * What a Dayu-style script builds, from the same catalog and plan the program uses: one
 * `buildx build --push` per (image, variant, platform), no dedup, bases by tag (the script passes
 * `REG=<registry>[/<prefix>]`, so a Dockerfile's `FROM ${REG}/dayuhub/dayubase:${TAG}` pulls the
 * base's index by tag, and an Atom-style `ARG BASE_IMAGE` gets the base's tag, not a digest), then
 * one `buildx imagetools create` per index. Mirrors are copied first, as the program's are.
 *
 * Pure: {@link scriptSteps} reads a parsed catalog and its plan. `npx ts-node bench/scriptPlan.ts
 * --stack <stack> --prefix <repository prefix>` prints the steps as tab-separated lines for
 * bench/dayu-script.sh.
 */
import * as fs from "fs";
import * as path from "path";
import { decodeUtf8 } from "../estate/argsFile";
import { Catalog, ImageDef, parseCatalog } from "../estate/catalog";
import { diskFiles } from "../estate/files";
import { resolveSettings } from "../estate/plan/expand";
import { DEFAULT_BASE_ARG, DEFAULT_VARIANT, Plan, planForSettings } from "../estate/planner";
import { EstateInputError } from "../estate/problems";
import { settingsFromStackFile } from "../estate/settings";

/** A step the script runs, in order. */
export type ScriptStep =
  | { kind: "mirror"; name: string; source: string; target: string }
  | {
      kind: "build";
      image: string;
      variant: string;
      platform: string;
      builder: string;
      context: string;
      dockerfile: string;
      /** `registry/repository:<variant tag>-<arch>`. */
      ref: string;
      buildArgs: Record<string, string>;
    }
  | { kind: "index"; image: string; ref: string; sources: string[] };

/** A catalog the bench script cannot build as Dayu's scripts would. */
export class BenchScriptError extends EstateInputError {}

/** `linux/arm64` → `arm64`, `linux/arm/v7` → `arm-v7`: the arch label of per-arch tags. */
export function archLabel(platform: string): string {
  return platform.split("/").slice(1).join("-");
}

/**
 * The script's steps: mirrors, then image by image in the plan's dependency order every (variant,
 * platform) build, each followed (once the image's builds are pushed) by its indexes. `registryPath`
 * is `registry[/prefix]`, what the script passes as `REG`; the plan must have been made with the
 * same prefix (its repositories and index refs are used as they are).
 */
export function scriptSteps(catalog: Catalog, plan: Plan, registryPath: string): ScriptStep[] {
  const defs = new Map(catalog.images.map((i) => [i.name, i]));
  const planned = new Map(plan.images.map((i) => [i.name, i]));
  const steps: ScriptStep[] = [];
  for (const m of plan.mirrors) {
    for (const target of m.refs) {
      steps.push({ kind: "mirror", name: m.name, source: m.source, target });
      // `FROM ${REG}/node:20` means library/node on Docker Hub only; on another registry it is
      // <REG>/node: Dayu's scripts need the official images there too.
      const official = `${registryPath}/library/`;
      if (target.startsWith(official))
        steps.push({
          kind: "mirror",
          name: m.name,
          source: m.source,
          target: `${registryPath}/${target.slice(official.length)}`,
        });
    }
  }
  // The first index tag of (image, variant): the per-arch tags hang off it, bases are pulled by it.
  const variantTag = (image: string, variant: string): string | undefined =>
    planned.get(image)?.indexes.find((x) => x.variant === variant)?.tag;
  for (const img of plan.images) {
    const def = defs.get(img.name);
    if (!def) throw new BenchScriptError([`image "${img.name}": not in the catalog`]);
    const context = img.builds[0]?.context;
    if (!context) continue;
    const builderOf = new Map(img.builds.map((b) => [b.platform, b.builder]));
    const refOf = new Map<string, string>();
    if (def.chain)
      steps.push(
        ...chainSteps(img, def, registryPath, refOf, (b) =>
          baseByTag(b, DEFAULT_VARIANT, plan, defs, variantTag),
        ),
      );
    else
      for (const variant of variantsOf(def, catalog)) {
        const tag = variantTag(img.name, variant);
        if (tag === undefined) continue;
        for (const platform of def.platforms) {
          const settings = resolveSettings(def, variant, platform);
          const buildArgs: Record<string, string> = { REG: registryPath, ...settings.buildArgs };
          const base = settings.base;
          if (base) {
            const baseRef = baseByTag(base, variant, plan, defs, variantTag);
            if (baseRef) buildArgs[def.baseArg ?? DEFAULT_BASE_ARG] = baseRef;
          }
          const ref = `${img.repository}:${tag}-${archLabel(platform)}`;
          refOf.set(`${variant} ${platform}`, ref);
          steps.push({
            kind: "build",
            image: img.name,
            variant,
            platform,
            builder: builderOf.get(platform) ?? "",
            context,
            dockerfile: path.join(context, settings.dockerfile ?? "Dockerfile"),
            ref,
            buildArgs,
          });
        }
      }
    for (const index of img.indexes) {
      const sources = index.builds.map((b) => refOf.get(`${index.variant} ${b.platform}`) ?? "");
      steps.push({ kind: "index", image: img.name, ref: index.ref, sources });
    }
  }
  return steps;
}

/**
 * An Atom-style chain as a script runs it: each step's Dockerfile in order per platform, the first
 * step on the declared base by tag, every later step on the previous step's per-arch tag (by tag, as
 * the script has no digests). Records the final steps' refs in `refOf` for the indexes.
 */
function chainSteps(
  img: Plan["images"][number],
  def: ImageDef,
  registryPath: string,
  refOf: Map<string, string>,
  declaredBase: (base: NonNullable<ImageDef["base"]>) => string | undefined,
): ScriptStep[] {
  const archRefOf = new Map(img.builds.map((b) => [b.id, b.archRef]));
  return img.builds.map((b) => {
    const buildArgs: Record<string, string> = { REG: registryPath, ...b.buildArgs };
    const baseRef =
      b.base?.kind === "step" ? archRefOf.get(b.base.build) : def.base && declaredBase(def.base);
    if (baseRef) buildArgs[b.baseArg] = baseRef;
    if (b.final) for (const v of b.variants) refOf.set(`${v} ${b.platform}`, b.archRef);
    return {
      kind: "build",
      image: img.name,
      variant: b.variants[0] ?? DEFAULT_VARIANT,
      platform: b.platform,
      builder: b.builder,
      context: b.context,
      dockerfile: b.dockerfile,
      ref: b.archRef,
      buildArgs,
    };
  });
}

/** `default`, then the image's declared variants the catalog knows. */
function variantsOf(def: ImageDef, catalog: Catalog): string[] {
  const known = new Set((catalog.variants ?? []).map((v) => v.name));
  return [DEFAULT_VARIANT, ...(def.variants ?? []).filter((v) => known.has(v))];
}

/** A base as Dayu's scripts name it: the base image's tag of the same variant (else default). */
function baseByTag(
  base: NonNullable<ImageDef["base"]>,
  variant: string,
  plan: Plan,
  defs: ReadonlyMap<string, ImageDef>,
  variantTag: (image: string, variant: string) => string | undefined,
): string | undefined {
  if (base.image !== undefined) {
    const baseDef = defs.get(base.image);
    const v = (baseDef?.variants ?? []).includes(variant) ? variant : DEFAULT_VARIANT;
    const repo = plan.images.find((i) => i.name === base.image)?.repository;
    const tag = variantTag(base.image, v);
    return repo && tag ? `${repo}:${tag}` : undefined;
  }
  if (base.mirror !== undefined) return plan.mirrors.find((m) => m.name === base.mirror)?.refs[0];
  return base.external;
}

/** The steps as tab-separated lines: `mirror name source target`, `build image variant platform
 * builder context dockerfile ref K=V...`, `index image ref source...`. */
export function stepLines(steps: readonly ScriptStep[]): string[] {
  return steps.map((s) => {
    const fields =
      s.kind === "mirror"
        ? [s.kind, s.name, s.source, s.target]
        : s.kind === "build"
          ? [
              s.kind,
              s.image,
              s.variant,
              s.platform,
              s.builder,
              s.context,
              s.dockerfile,
              s.ref,
              ...Object.entries(s.buildArgs).map(([k, v]) => `${k}=${v}`),
            ]
          : [s.kind, s.image, s.ref, ...s.sources];
    for (const f of fields) {
      if (/[\t\n]/.test(f))
        throw new BenchScriptError([`step field ${JSON.stringify(f)}: a tab or newline`]);
    }
    return fields.join("\t");
  });
}

/** Counts of a step list, for the driver's table. */
export function stepCounts(steps: readonly ScriptStep[]): {
  builds: number;
  indexes: number;
  mirrors: number;
} {
  const n = (k: ScriptStep["kind"]) => steps.filter((s) => s.kind === k).length;
  return { builds: n("build"), indexes: n("index"), mirrors: n("mirror") };
}

/** The steps of a stack's catalog with the script's own repository prefix. */
export function stepsForStack(projectDir: string, stack: string, prefix: string): ScriptStep[] {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  const settings = {
    ...settingsFromStackFile(fs.readFileSync(file, "utf8"), stack),
    repositoryPrefix: prefix,
  };
  const plan = planForSettings(settings, projectDir, diskFiles, true);
  const catalogPath = path.resolve(projectDir, settings.catalog);
  const catalog = parseCatalog(
    decodeUtf8(diskFiles.read(catalogPath), settings.catalog),
    settings.catalog,
  );
  const registryPath = prefix
    ? `${settings.registry.address}/${prefix.replace(/\/+$/, "")}`
    : settings.registry.address;
  return scriptSteps(catalog, plan, registryPath);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const stack = opt("--stack");
  if (!stack) {
    console.error(
      "usage: ts-node bench/scriptPlan.ts --stack <stack> [--prefix <repository prefix>]",
    );
    process.exit(2);
  }
  try {
    console.log(
      stepLines(stepsForStack(path.resolve(__dirname, ".."), stack, opt("--prefix") ?? "")).join(
        "\n",
      ),
    );
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}

/**
 * What the program must build and index again when `image` changes: its builds and indexes and
 * those of every image based on it, transitively (the plan's image edges).
 */
export function affected(
  plan: Plan,
  image: string,
): { builds: number; indexes: number; images: string[] } {
  const hit = new Set([image]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const e of plan.imageEdges) {
      if (e.kind === "base" && hit.has(e.from) && !hit.has(e.to)) {
        hit.add(e.to);
        grew = true;
      }
    }
  }
  const imgs = plan.images.filter((i) => hit.has(i.name));
  return {
    builds: imgs.reduce((n, i) => n + i.builds.length, 0),
    indexes: imgs.reduce((n, i) => n + i.indexes.length, 0),
    images: imgs.map((i) => i.name),
  };
}
