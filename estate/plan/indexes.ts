/** Planner stage: an image's indexes, one per (variant, tag), each joining its variant's final builds. */
import { ImageDef } from "../catalog";
import { Problems } from "../problems";
import { tagError } from "../reference";
import { PlanInputs } from "./inputs";
import { releaseTag } from "./refs";
import { DEFAULT_VARIANT, PlannedIndex } from "./types";

/** One index tag of a variant; those made from `${release}` are release tags. */
export interface VariantTag {
  tag: string;
  release: boolean;
}

/**
 * A variant's index tags: the image's tags (release substituted) with the variant's suffix. A tag
 * listed twice (also after `${release}` is substituted), or one the suffix makes invalid (too long),
 * is a problem.
 */
export function variantTags(
  img: ImageDef,
  variant: string,
  { variants, opts }: PlanInputs,
  problems: Problems,
): VariantTag[] {
  const where = `image "${img.name}"`;
  const suffix = variant === DEFAULT_VARIANT ? "" : (variants.get(variant)?.tagSuffix ?? "");
  const written = new Map<string, string>();
  return img.tags.map((t) => {
    const base = releaseTag(t, opts.release, where, problems);
    const prev = written.get(base);
    if (prev !== undefined)
      problems.at(
        where,
        prev === t ? `tag "${t}" is listed twice` : `tags "${prev}" and "${t}" are both ${base}`,
      );
    written.set(base, t);
    const tag = base + suffix;
    const err = suffix && !tagError(base) ? tagError(tag) : undefined;
    if (err)
      problems.at(where, `variant ${variant}'s tag suffix "${suffix}" makes an invalid ${err}`);
    return { tag, release: t.includes("${release}") };
  });
}

/**
 * The indexes of an image, variant by variant. `finalBuild(variant, platform)` is the id of the build
 * the variant's index lists for the platform (undefined when that build could not be planned).
 */
export function planIndexes(
  img: ImageDef,
  repository: string,
  variants: readonly string[],
  tagsOf: (variant: string) => VariantTag[],
  finalBuild: (variant: string, platform: string) => string | undefined,
): PlannedIndex[] {
  return variants.flatMap((variant) =>
    tagsOf(variant).map(({ tag, release }) => ({
      id: `${img.name}:${tag}`,
      image: img.name,
      variant,
      tag,
      ref: `${repository}:${tag}`,
      builds: img.platforms.flatMap((platform) => {
        const build = finalBuild(variant, platform);
        return build === undefined ? [] : [{ platform, build }];
      }),
      release,
    })),
  );
}
