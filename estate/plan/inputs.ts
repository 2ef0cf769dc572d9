/**
 * Stage 1 of the planner: read the catalog and the stack options into lookup tables, checking what
 * does not depend on any one image (registry, release, builders, unique names, config keys naming
 * catalog entries).
 */
import { Catalog, ImageDef, MirrorDef, VariantDef } from "../catalog";
import { builderNameError, builderNameKey, normalizePlatform } from "../platform";
import { Problems } from "../problems";
import { registryHostError, tagError } from "../reference";
import { PlanOptions } from "./types";

/** The catalog and options as the later stages read them. */
export interface PlanInputs {
  catalog: Catalog;
  opts: PlanOptions;
  /** `e2e/` for `repositoryPrefix: e2e`, else empty. */
  prefix: string;
  /** Platform → the one builder serving it. */
  builderFor: ReadonlyMap<string, string>;
  /** `name (platform), ...` for messages, or `none`. */
  builderList: string;
  images: ReadonlyMap<string, ImageDef>;
  mirrors: ReadonlyMap<string, MirrorDef>;
  variants: ReadonlyMap<string, VariantDef>;
}

/** Builds the lookup tables; problems go to `problems` (of a name declared twice, the later entry is kept). */
export function readInputs(catalog: Catalog, opts: PlanOptions, problems: Problems): PlanInputs {
  const hostErr = registryHostError(opts.registry);
  if (hostErr) problems.at("config registry", hostErr);
  const releaseErr = opts.release ? tagError(opts.release) : undefined;
  if (releaseErr) problems.at("config release", releaseErr);

  const builderFor = readBuilders(opts, problems);
  const images = uniqueByName(catalog.images, "image", problems);
  const mirrors = uniqueByName(catalog.mirrors ?? [], "mirror", problems);
  for (const name of Object.keys(opts.contexts ?? {})) {
    if (!images.has(name))
      problems.at(`config contexts.${name}`, `no image "${name}" in the catalog`);
  }
  for (const name of Object.keys(opts.mirrorSources ?? {})) {
    if (!mirrors.has(name))
      problems.at(`config mirrorSources.${name}`, `no mirror "${name}" in the catalog`);
  }
  return {
    catalog,
    opts,
    prefix: opts.repositoryPrefix ? `${opts.repositoryPrefix.replace(/\/+$/, "")}/` : "",
    builderFor,
    builderList: opts.builders.map((b) => `${b.name} (${b.platform})`).join(", ") || "none",
    images,
    mirrors,
    variants: readVariants(catalog.variants ?? [], problems),
  };
}

/**
 * Platform → builder. Each builder's platform is normalised like the catalog's (so `linux/aarch64`
 * there meets `linux/arm64` here), its name checked against buildx's rule; two builders for one
 * platform, or two names buildx would store as one (it lowercases), are problems.
 */
function readBuilders(opts: PlanOptions, problems: Problems): Map<string, string> {
  const builderFor = new Map<string, string>();
  const names = new Map<string, string>();
  opts.builders.forEach((b, i) => {
    const nameErr = builderNameError(b.name);
    if (nameErr) problems.at(`config builders[${i}].name`, nameErr);
    const other = names.get(builderNameKey(b.name));
    if (other !== undefined)
      problems.at(
        `config builders[${i}].name`,
        `builders "${other}" and "${b.name}" are one builder to buildx (it lowercases names)`,
      );
    names.set(builderNameKey(b.name), b.name);
    const r = normalizePlatform(b.platform);
    if ("error" in r) {
      problems.at(`config builders[${i}].platform`, r.error);
      return;
    }
    const prev = builderFor.get(r.platform);
    if (prev)
      problems.add(
        `builders "${prev}" and "${b.name}" both serve ${r.platform}: declare one builder per platform`,
      );
    else builderFor.set(r.platform, b.name);
  });
  return builderFor;
}

/**
 * Variants by name. Two variants with one name, or with one tag suffix, would publish the same tags
 * twice; both are problems (of a name declared twice, the later entry is kept).
 */
function readVariants(list: readonly VariantDef[], problems: Problems): Map<string, VariantDef> {
  const out = uniqueByName(list, "variant", problems);
  const bySuffix = new Map<string, string>();
  for (const v of list) {
    const other = bySuffix.get(v.tagSuffix);
    if (other !== undefined && other !== v.name)
      problems.add(
        `variants "${other}" and "${v.name}" have the same tagSuffix "${v.tagSuffix}": their tags would collide`,
      );
    bySuffix.set(v.tagSuffix, v.name);
  }
  return out;
}

function uniqueByName<T extends { name: string }>(
  items: readonly T[],
  kind: string,
  problems: Problems,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const item of items) {
    if (out.has(item.name)) problems.add(`${kind} "${item.name}" is declared twice in the catalog`);
    out.set(item.name, item);
  }
  return out;
}
