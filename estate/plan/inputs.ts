/**
 * Stage 1 of the planner: read the catalog and the stack options into lookup tables, checking what
 * does not depend on any one image (registry, release, builders, unique names, config keys naming
 * catalog entries).
 */
import { Catalog, ImageDef, MirrorDef, VariantDef } from "../catalog";
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

  const builderFor = new Map<string, string>();
  for (const b of opts.builders) {
    const other = builderFor.get(b.platform);
    if (other)
      problems.add(
        `builders "${other}" and "${b.name}" both serve ${b.platform}: declare one builder per platform`,
      );
    else builderFor.set(b.platform, b.name);
  }

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
    variants: new Map((catalog.variants ?? []).map((v) => [v.name, v])),
  };
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
