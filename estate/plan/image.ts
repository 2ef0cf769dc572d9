/**
 * One image through the stages: checks → expand (variants × platforms × steps) → dedup → names →
 * base links → indexes. Images are planned in dependency order; {@link PlannedSoFar} holds what the
 * images before this one produced, so a dependent finds its base's builds.
 */
import { ImageDef } from "../catalog";
import { Problems } from "../problems";
import { repositoryError, tagError } from "../reference";
import { SharedBuild, dedupBuilds } from "./dedup";
import { checkImage, expandImage, imageContext, imageVariants } from "./expand";
import { buildNames, formerRepresentative, representativeVariant } from "./identity";
import { planIndexes, variantTags } from "./indexes";
import { PlanInputs } from "./inputs";
import { PushedRefs } from "./refs";
import { BaseLink, PlannedBuild, PlannedImage, archOf } from "./types";

/** The builds of the images planned so far. */
export class PlannedSoFar {
  private readonly byKey = new Map<string, PlannedBuild>();
  private readonly finals = new Map<string, PlannedBuild>();

  /** The build with this dedup key. */
  build(key: string): PlannedBuild | undefined {
    return this.byKey.get(key);
  }

  /** The final build the (image, variant) index lists for `platform`. */
  finalOf(image: string, variant: string, platform: string): PlannedBuild | undefined {
    return this.finals.get(JSON.stringify([image, variant, platform]));
  }

  addBuild(b: PlannedBuild): void {
    this.byKey.set(b.key, b);
  }

  addFinal(image: string, variant: string, platform: string, b: PlannedBuild): void {
    this.finals.set(JSON.stringify([image, variant, platform]), b);
  }
}

/** What planning one image reads and records. */
export interface ImageEnv {
  inputs: PlanInputs;
  problems: Problems;
  pushed: PushedRefs;
  soFar: PlannedSoFar;
}

/** Plans one image (its bases must be planned already). */
export function planImage(img: ImageDef, env: ImageEnv): PlannedImage {
  const { inputs, problems, pushed, soFar } = env;
  const where = `image "${img.name}"`;
  const repoPath = inputs.prefix + (img.repository ?? `${inputs.catalog.namespace}/${img.name}`);
  const repoErr = repositoryError(repoPath);
  if (repoErr) problems.at(where, repoErr);
  const repository = `${inputs.opts.registry}/${repoPath}`;
  pushed.claimRepository(repository, where, true);
  checkImage(img, inputs, problems);
  const context = imageContext(img, inputs, problems);
  if (context === undefined) return { name: img.name, repository, builds: [], indexes: [] };

  const finalOf = soFar.finalOf.bind(soFar);
  const expanded = expandImage(img, context, { inputs, problems, finalOf });
  const tagsOf = (variant: string) => variantTags(img, variant, inputs, problems);
  const declared = imageVariants(img, inputs);
  const builds = dedupBuilds(expanded).map((s) =>
    plannedBuild(s, repository, tagsOf, declared, env),
  );
  for (const b of builds) claimBuildRefs(b, tagsOf, where, env);
  for (const e of expanded) {
    if (e.final)
      soFar.addFinal(img.name, e.variant, e.platform, soFar.build(e.key) as PlannedBuild);
  }
  const indexes = planIndexes(
    img,
    repository,
    imageVariants(img, inputs),
    tagsOf,
    (variant, platform) => soFar.finalOf(img.name, variant, platform)?.id,
  );
  for (const i of indexes) pushed.claim(i.ref, where, `index tag of variant ${i.variant}`);
  return { name: img.name, repository, builds, indexes };
}

/**
 * Claims a build's per-arch and cache references, after checking the tags the suffixes made: a tag
 * within 128 characters can pass them only once `-<step>-<arch>` or `-<variant>-<arch>` is added.
 */
function claimBuildRefs(
  b: PlannedBuild,
  tagsOf: (variant: string) => { tag: string }[],
  where: string,
  { pushed, problems }: ImageEnv,
): void {
  const generated: [string, string][] = [
    ["per-arch tag", b.archTag],
    ["cache tag", b.cacheRef.slice(b.repository.length + 1)],
  ];
  for (const [what, tag] of generated) {
    const err = tagError(tag);
    // The index tag's own error is reported where it is declared; here only what the suffix adds.
    if (err && !tagError(tagsOf(b.variants[0])[0].tag))
      problems.at(
        where,
        `the ${what} of build ${b.id} is invalid: ${err} (made from the image's first tag; shorten it or the variant's tagSuffix)`,
      );
  }
  pushed.claim(b.archRef, where, `per-arch tag of build ${b.id}`);
  pushed.claim(b.cacheRef, where, `cache tag of build ${b.id}`);
}

/** A deduplicated build, named ({@link buildNames}) and with its base resolved to a link. */
function plannedBuild(
  s: SharedBuild,
  repository: string,
  tagsOf: (variant: string) => { tag: string }[],
  declared: readonly string[],
  { inputs, soFar }: ImageEnv,
): PlannedBuild {
  const { image, step, platform } = s.inputs;
  const arch = archOf(platform);
  const namesAfter = (variant: string) =>
    buildNames({
      image,
      step,
      final: s.final,
      arch,
      repository,
      variant,
      firstTag: tagsOf(variant)[0].tag,
    });
  const names = namesAfter(representativeVariant(s.variants));
  const former = formerRepresentative(s.variants, declared);
  const formerId = former === undefined ? undefined : namesAfter(former).id;
  const notSecret = (inputs.images.get(image)?.notSecret ?? []).filter(
    (n) => s.inputs.buildArgs[n] !== undefined,
  );
  const build: PlannedBuild = {
    ...names,
    ...(formerId !== undefined && formerId !== names.id ? { formerIds: [formerId] } : {}),
    key: s.key,
    image,
    step,
    final: s.final,
    variants: s.variants,
    platform,
    arch,
    builder: inputs.builderFor.get(platform) ?? "",
    repository,
    context: s.inputs.context,
    dockerfile: s.inputs.dockerfile,
    buildArgs: s.inputs.buildArgs,
    target: s.inputs.target,
    base: baseLink(s, soFar),
    baseArg: s.inputs.baseArg,
    ...(notSecret.length > 0 ? { notSecret } : {}),
  };
  soFar.addBuild(build);
  return build;
}

/**
 * The base as the components use it: a build of another image (named with its owner), an earlier
 * step of this image, a mirror or an external reference. Builds come in dependency order, so the
 * base build is always known here.
 */
function baseLink(s: SharedBuild, soFar: PlannedSoFar): BaseLink | undefined {
  const base = s.inputs.base;
  if (base?.kind !== "build") return base;
  const b = soFar.build(base.key);
  if (!b) throw new Error(`internal: build ${s.inputs.image} has a base no earlier build has`);
  return b.image === s.inputs.image
    ? { kind: "step", build: b.id }
    : { kind: "build", image: b.image, build: b.id };
}
