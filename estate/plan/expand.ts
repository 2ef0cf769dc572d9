/**
 * Planner stage: one image's builds before dedup, variants × platforms × chain steps, each with its
 * inputs resolved (overrides merged, base resolved to a build key, args files read) and checked.
 */
import * as path from "path";
import { BaseSpec, BuildOverride, ImageDef } from "../catalog";
import { kindError } from "../files";
import { Problems } from "../problems";
import { secretBuildArgReason } from "../secrets";
import { Step, chainSteps, stepArgs } from "./chain";
import { ExpandedBuild } from "./dedup";
import { checkDockerfile } from "./dockerfile";
import { BaseInput, buildKey } from "./identity";
import { baseSpecsOf } from "./imageGraph";
import { PlanInputs } from "./inputs";
import { DEFAULT_BASE_ARG, DEFAULT_VARIANT, PlannedBuild, archOf } from "./types";

/** What expanding an image reads besides the image itself. */
export interface ExpandEnv {
  inputs: PlanInputs;
  problems: Problems;
  /** The final build of (image, variant, platform) among the images planned so far. */
  finalOf(image: string, variant: string, platform: string): PlannedBuild | undefined;
}

/** Settings of one (variant, platform) after the image's, platform's and variant's layers. */
export interface ResolvedSettings {
  dockerfile?: string;
  base?: BaseSpec;
  buildArgs: Record<string, string>;
}

/** Image, platform and variant overrides merged, later ones winning (build args key by key). */
export function resolveSettings(
  img: ImageDef,
  variant: string,
  platform: string,
): ResolvedSettings {
  const layers: (BuildOverride | undefined)[] = [
    { dockerfile: img.dockerfile, base: img.base, buildArgs: img.buildArgs },
    img.platformOverrides?.[platform],
    img.variantOverrides?.[variant]?.[platform],
  ];
  const out: ResolvedSettings = { buildArgs: {} };
  for (const l of layers) {
    if (!l) continue;
    if (l.dockerfile !== undefined) out.dockerfile = l.dockerfile;
    if (l.base !== undefined) out.base = l.base;
    Object.assign(out.buildArgs, l.buildArgs ?? {});
  }
  return out;
}

/** The image's variants: `default`, then the declared ones it lists (unknown ones are skipped). */
export function imageVariants(img: ImageDef, { variants }: PlanInputs): string[] {
  return [DEFAULT_VARIANT, ...(img.variants ?? []).filter((v) => variants.has(v))];
}

/** Checks an image's variants, overrides and platforms against the catalog and the builders. */
export function checkImage(
  img: ImageDef,
  { variants, builderFor, builderList }: PlanInputs,
  problems: Problems,
): void {
  const where = `image "${img.name}"`;
  const listed = [DEFAULT_VARIANT, ...(img.variants ?? [])];
  for (const v of img.variants ?? []) {
    if (v === DEFAULT_VARIANT)
      problems.at(where, `"${DEFAULT_VARIANT}" is implied; do not list it in variants`);
    else if (!variants.has(v))
      problems.at(where, `variant "${v}" is not declared under the catalog's variants`);
  }
  for (const v of Object.keys(img.variantOverrides ?? {})) {
    if (!listed.includes(v))
      problems.at(where, `variantOverrides.${v} names a variant the image does not list`);
    for (const p of Object.keys(img.variantOverrides?.[v] ?? {})) {
      if (!img.platforms.includes(p))
        problems.at(where, `variantOverrides.${v}.${p} is not one of its platforms`);
    }
  }
  for (const p of Object.keys(img.platformOverrides ?? {})) {
    if (!img.platforms.includes(p))
      problems.at(where, `platformOverrides.${p} is not one of its platforms`);
  }
  if (img.baseArg !== undefined && baseSpecsOf(img).length === 0)
    problems.at(
      where,
      `baseArg ${img.baseArg} would have no effect: the image names no base (base, or one in its overrides)`,
    );
  for (const p of img.platforms) {
    if (!builderFor.has(p))
      problems.at(
        where,
        `platform ${p} is served by no configured builder (builders: ${builderList})`,
      );
  }
}

/**
 * The image's build context (absolute), or undefined when the image cannot be built at all: a
 * missing context, or both a chain and a Dockerfile.
 */
export function imageContext(
  img: ImageDef,
  { opts }: PlanInputs,
  problems: Problems,
): string | undefined {
  const where = `image "${img.name}"`;
  const override = opts.contexts?.[img.name];
  const context = path.resolve(opts.catalogDir, override ?? img.context);
  const contextErr = kindError(opts.files, context, "directory", "context");
  if (contextErr) {
    problems.at(override ? `config contexts.${img.name}` : `${where} context`, contextErr);
    return undefined;
  }
  const dockerfileKeys = chainlessKeys(img);
  if (img.chain && dockerfileKeys.length > 0) {
    problems.at(
      where,
      `${dockerfileKeys.join(", ")} would have no effect: a chain image builds its chain folder's Dockerfiles (set either chain or dockerfile, not both)`,
    );
    return undefined;
  }
  return context;
}

/** Every key of an image that sets a Dockerfile: `dockerfile`, `platformOverrides.<p>.dockerfile`, ... */
function chainlessKeys(img: ImageDef): string[] {
  const keys = img.dockerfile !== undefined ? ["dockerfile"] : [];
  for (const [p, o] of Object.entries(img.platformOverrides ?? {})) {
    if (o.dockerfile !== undefined) keys.push(`platformOverrides.${p}.dockerfile`);
  }
  for (const [v, per] of Object.entries(img.variantOverrides ?? {})) {
    for (const [p, o] of Object.entries(per)) {
      if (o.dockerfile !== undefined) keys.push(`variantOverrides.${v}.${p}.dockerfile`);
    }
  }
  return keys;
}

/** Every (variant, platform, step) build of an image, in variant, platform, step order. */
export function expandImage(img: ImageDef, context: string, env: ExpandEnv): ExpandedBuild[] {
  const where = `image "${img.name}"`;
  const { files } = env.inputs.opts;
  const chain = img.chain
    ? chainSteps(path.join(context, img.chain), files, where, env.problems)
    : undefined;
  const out: ExpandedBuild[] = [];
  const argNames = new Set<string>();
  for (const variant of imageVariants(img, env.inputs)) {
    for (const platform of img.platforms) {
      const r = resolveSettings(img, variant, platform);
      const steps: Step[] = chain ?? [
        { dockerfile: path.join(context, r.dockerfile ?? "Dockerfile"), argsFiles: {} },
      ];
      let base = resolveBase(img, r.base, variant, platform, env);
      steps.forEach((step, i) => {
        const inputs = stepInputs(img, context, platform, step, r, base, env);
        Object.keys(inputs.buildArgs).forEach((k) => argNames.add(k));
        const key = buildKey(inputs);
        out.push({ variant, platform, final: i === steps.length - 1, inputs, key });
        base = { kind: "build", key };
      });
    }
  }
  // Only when something expanded: a chain folder that failed has been reported already.
  for (const n of out.length > 0 ? (img.notSecret ?? []) : []) {
    if (!argNames.has(n))
      env.problems.at(where, `notSecret lists ${n}, which is no build arg of the image`);
  }
  return out;
}

/** One step's inputs, with its checks: secret-like args, a hand-set base arg, the Dockerfile. */
function stepInputs(
  img: ImageDef,
  context: string,
  platform: string,
  step: Step,
  r: ResolvedSettings,
  base: BaseInput | undefined,
  { inputs, problems }: ExpandEnv,
): ExpandedBuild["inputs"] {
  const where = step.descriptor
    ? `image "${img.name}" step ${step.descriptor}`
    : `image "${img.name}"`;
  const baseArg = img.baseArg ?? DEFAULT_BASE_ARG;
  const buildArgs = {
    ...r.buildArgs,
    ...stepArgs(step, archOf(platform), inputs.opts.files, problems),
  };
  for (const [k, v] of Object.entries(buildArgs)) {
    const reason = secretBuildArgReason(k, v, img.notSecret);
    if (reason)
      problems.at(
        where,
        `build arg ${k} looks like a secret: ${reason}; build args are stored in image history and state in plaintext (use BuildKit secrets${reason.startsWith("its name") ? `, or list it under notSecret if it is none` : ""})`,
      );
  }
  if (buildArgs[baseArg] !== undefined && base)
    problems.at(
      where,
      `build arg ${baseArg} is set by hand, but the planner passes the pinned base in it`,
    );
  checkDockerfile(step.dockerfile, base ? baseArg : undefined, where, inputs.opts.files, problems);
  return {
    image: img.name,
    step: step.descriptor,
    platform,
    context,
    dockerfile: step.dockerfile,
    buildArgs,
    target: img.target,
    baseArg,
    base,
  };
}

/**
 * The base of a (variant, platform) as an input. A base image's build follows the variant of the
 * same name when the base image lists it, else the base's default.
 */
function resolveBase(
  img: ImageDef,
  spec: BaseSpec | undefined,
  variant: string,
  platform: string,
  { inputs, problems, finalOf }: ExpandEnv,
): BaseInput | undefined {
  const where = `image "${img.name}"`;
  if (!spec) return undefined;
  if (spec.image !== undefined) {
    const baseImg = inputs.images.get(spec.image);
    if (!baseImg) return undefined; // reported by the image graph
    const baseVariant = (baseImg.variants ?? []).includes(variant) ? variant : DEFAULT_VARIANT;
    const build = finalOf(spec.image, baseVariant, platform);
    if (!build && !baseImg.platforms.includes(platform))
      problems.at(
        where,
        `builds for ${platform} but its base image "${spec.image}" has no ${platform} build (it declares ${baseImg.platforms.join(", ")})`,
      );
    return build && { kind: "build", key: build.key };
  }
  if (spec.mirror !== undefined) {
    const m = inputs.mirrors.get(spec.mirror);
    if (m && !m.platforms.includes(platform))
      problems.at(
        where,
        `builds for ${platform} but its base mirror "${spec.mirror}" does not declare ${platform}`,
      );
    return { kind: "mirror", mirror: spec.mirror };
  }
  return { kind: "external", ref: spec.external as string };
}
