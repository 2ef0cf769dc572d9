/**
 * Imports a `docker buildx bake --print` definition (buildx has already resolved HCL, variables,
 * `inherits` and `matrix`) into an estate catalog, in named stages: `bakeEntries` (one entry per
 * target: repository, tags without a per-arch suffix, platforms, Dockerfile, args, contexts) →
 * `groupByRepository` → `variantSuffixes` (tags that are another tag plus `-x` are variant `x`) →
 * `imageOf` (image-level settings from the default variant, differences as platform and variant
 * overrides, `contexts` → `base`). Whatever cannot be expressed in the catalog is listed, never
 * dropped silently. Pure: running buildx and writing files is `scripts/import.ts`'s job.
 */
import * as path from "path";
import { estateNames, EstateNames, matchReference } from "./baseRefs";
import { BaseSpec, BuildOverride, Catalog, ImageDef, VariantDef } from "./catalog";
import { resolveDockerfile } from "./dockerfile";
import { FileSource } from "./files";
import { archOf, DEFAULT_VARIANT } from "./planner";
import { parseReference } from "./reference";

/** One target of `bake --print` (the fields the importer reads; the rest are reported). */
export interface BakeTarget {
  context?: string;
  dockerfile?: string;
  args?: Record<string, string>;
  tags?: string[];
  platforms?: string[];
  contexts?: Record<string, string>;
  target?: string;
  [field: string]: unknown;
}

/** The JSON `docker buildx bake --print` writes. */
export interface BakePrint {
  group?: Record<string, { targets?: string[] }>;
  target: Record<string, BakeTarget>;
}

/** Where the catalog will live relative to the bake file, and how to name its tags. */
export interface ImportOptions {
  /** The bake file's folder as seen from the catalog's folder, e.g. `../dayu`. */
  root: string;
  /** A tag equal to this is written `${release}` (e.g. `v1.4`). Default: tags are kept literally. */
  release?: string;
}

/** What the import produced. */
export interface ImportResult {
  catalog: Catalog;
  /** Everything of the bake definition the catalog does not express, each naming the target. */
  unmapped: string[];
  /** Registries the bake tags push to (the stack's `registry.address` replaces them). */
  registries: string[];
  /** Per-platform builds bake runs: the sum over targets of their platforms. */
  bakeBuilds: number;
}

/** Target fields the estate handles itself (pushing, caching), so they are not imported. */
const HANDLED = new Set(["output", "cache-from", "cache-to", "pull", "no-cache", "description"]);
const MAPPED = new Set([
  "context",
  "dockerfile",
  "args",
  "tags",
  "platforms",
  "contexts",
  "target",
]);

/** One bake target, read. */
export interface BakeEntry {
  target: string;
  registry: string;
  repository: string;
  /** Tags with a single-platform target's `-<arch>` suffix removed (joined into one index later). */
  tags: string[];
  platforms: string[];
  context: string;
  dockerfile: string;
  args: Record<string, string>;
  contexts: Record<string, string>;
  stage?: string;
}

/** Reads every target into an entry; a target without a usable tag is reported. */
export function bakeEntries(print: BakePrint, unmapped: string[]): BakeEntry[] {
  const out: BakeEntry[] = [];
  for (const [name, t] of Object.entries(print.target ?? {}).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    for (const field of Object.keys(t)) {
      if (!MAPPED.has(field) && !HANDLED.has(field)) {
        unmapped.push(`target "${name}": ${field} is not mapped to the catalog`);
      }
    }
    const platforms = t.platforms ?? [];
    if (platforms.length === 0) {
      unmapped.push(`target "${name}": no platforms (the catalog needs them explicitly)`);
      continue;
    }
    const refs: { registry: string; repository: string; tag: string }[] = [];
    for (const tag of t.tags ?? []) {
      try {
        const r = parseReference(tag);
        refs.push({ registry: r.registry, repository: r.repository, tag: r.tag ?? "latest" });
      } catch (err) {
        unmapped.push(`target "${name}": ${(err as Error).message}`);
      }
    }
    if (refs.length === 0) {
      unmapped.push(`target "${name}": no tags, so it pushes nothing the estate could own`);
      continue;
    }
    const repos = [...new Set(refs.map((r) => r.repository))];
    if (repos.length > 1) {
      unmapped.push(
        `target "${name}": tags in several repositories (${repos.join(", ")}); kept ${repos[0]}`,
      );
    }
    // A single-platform target tagged `<tag>-<arch>` is one half of an index a script joins later.
    const arch = platforms.length === 1 ? `-${archOf(platforms[0])}` : undefined;
    const tags = refs
      .filter((r) => r.repository === repos[0])
      .map((r) => (arch && r.tag.endsWith(arch) ? r.tag.slice(0, -arch.length) : r.tag));
    out.push({
      target: name,
      registry: refs[0].registry,
      repository: repos[0],
      tags: [...new Set(tags)],
      platforms,
      context: t.context ?? ".",
      dockerfile: t.dockerfile ?? "Dockerfile",
      args: t.args ?? {},
      contexts: t.contexts ?? {},
      stage: t.target,
    });
  }
  return out;
}

/** Entries by repository, in first-seen order. */
export function groupByRepository(entries: readonly BakeEntry[]): Map<string, BakeEntry[]> {
  const groups = new Map<string, BakeEntry[]>();
  for (const e of entries) groups.set(e.repository, [...(groups.get(e.repository) ?? []), e]);
  return groups;
}

/**
 * The default tags of a repository and each entry's variant suffix: a tag that is another tag of the
 * same repository plus `-<x>` (or `_`/`.`) belongs to variant `<x>`; the others are default tags.
 */
export function variantSuffixes(entries: readonly BakeEntry[]): {
  baseTags: string[];
  suffixOf: Map<BakeEntry, string>;
  problems: string[];
} {
  const all = [...new Set(entries.flatMap((e) => e.tags))];
  const baseOf = (t: string) =>
    all
      .filter((b) => b !== t && t.startsWith(b) && /^[-_.]/.test(t.slice(b.length)))
      .sort((a, b) => b.length - a.length)[0];
  const baseTags = all.filter((t) => baseOf(t) === undefined);
  const suffixOf = new Map<BakeEntry, string>();
  const problems: string[] = [];
  for (const e of entries) {
    const suffixes = [...new Set(e.tags.map((t) => t.slice((baseOf(t) ?? t).length)))];
    if (suffixes.length > 1) {
      problems.push(
        `target "${e.target}": its tags mix variants (${e.tags.join(", ")}); read as "${suffixes[0]}"`,
      );
    }
    suffixOf.set(e, suffixes[0]);
  }
  return { baseTags, suffixOf, problems };
}

/** A variant's name from its suffix: `-jp5` → `jp5`. */
export const variantName = (suffix: string): string =>
  suffix.replace(/^[-_.]+/, "") || DEFAULT_VARIANT;

/** The part of `want` that differs from `have`; an arg `have` sets and `want` lacks is reported. */
function overrideOf(
  have: { dockerfile: string; args: Record<string, string> },
  want: { dockerfile: string; args: Record<string, string> },
  where: string,
  unmapped: string[],
): BuildOverride | undefined {
  const o: BuildOverride = {};
  if (want.dockerfile !== have.dockerfile) o.dockerfile = want.dockerfile;
  const args = Object.fromEntries(Object.entries(want.args).filter(([k, v]) => have.args[k] !== v));
  if (Object.keys(args).length > 0) o.buildArgs = args;
  for (const k of Object.keys(have.args)) {
    if (!(k in want.args))
      unmapped.push(`${where}: does not set arg ${k}, which the catalog cannot unset`);
  }
  return Object.keys(o).length > 0 ? o : undefined;
}

/** The base a target's named contexts declare, if any (`target:x` or a pinned `docker-image://`). */
function baseOfContexts(
  e: BakeEntry,
  imageOfTarget: (t: string) => string | undefined,
  unmapped: string[],
): BaseSpec | undefined {
  let base: BaseSpec | undefined;
  for (const [name, value] of Object.entries(e.contexts)) {
    const where = `target "${e.target}": contexts.${name} = "${value}"`;
    if (value.startsWith("target:")) {
      const image = imageOfTarget(value.slice("target:".length));
      if (image) base = { image };
      else unmapped.push(`${where} names a target the import did not map`);
    } else if (value.startsWith("docker-image://") && value.includes("@sha256:")) {
      base = { external: value.slice("docker-image://".length) };
    } else {
      unmapped.push(`${where} is not an estate target or a pinned image: not mapped`);
    }
  }
  return base;
}

/**
 * One repository's entries as a catalog image (its base resolved later, when all names are known).
 * Kept as one function past ~80 lines on purpose: every override it writes is a difference against
 * the image-level settings it chooses first, and splitting would pass those around piecemeal.
 */
function imageOf(
  name: string,
  entries: readonly BakeEntry[],
  opts: ImportOptions,
  variants: Map<string, string>,
  unmapped: string[],
): { image: ImageDef; variantOf: Map<BakeEntry, string> } {
  const { baseTags, suffixOf, problems } = variantSuffixes(entries);
  unmapped.push(...problems);
  const variantOf = new Map(entries.map((e) => [e, variantName(suffixOf.get(e) ?? "")]));
  for (const e of entries) {
    const suffix = suffixOf.get(e) ?? "";
    const v = variantOf.get(e) as string;
    if (suffix === "") continue;
    if (variants.has(v) && variants.get(v) !== suffix) {
      unmapped.push(
        `target "${e.target}": variant "${v}" has suffix "${suffix}" here, "${variants.get(v)}" elsewhere`,
      );
    } else variants.set(v, suffix);
  }
  let defaults = entries.filter((e) => variantOf.get(e) === DEFAULT_VARIANT);
  if (defaults.length === 0) {
    unmapped.push(
      `image "${name}": no target pushes its plain tags (${baseTags.join(", ")}); its first variant stands in`,
    );
    defaults = [entries[0]];
  }
  const first = defaults[0];
  const platforms = [...new Set(defaults.flatMap((e) => e.platforms))];
  const image: ImageDef = {
    name,
    context: path.posix.join(opts.root, first.context),
    platforms,
    tags: baseTags.map((t) =>
      opts.release !== undefined && t === opts.release ? "${release}" : t,
    ),
  };
  if (first.dockerfile !== "Dockerfile") image.dockerfile = first.dockerfile;
  if (Object.keys(first.args).length > 0) image.buildArgs = { ...first.args };
  if (first.stage !== undefined) image.target = first.stage;
  const top = { dockerfile: first.dockerfile, args: first.args };
  const names = [...new Set(entries.map((e) => variantOf.get(e) as string))];
  if (names.length > 1) image.variants = names.filter((v) => v !== DEFAULT_VARIANT);
  for (const v of names) {
    const mine = entries.filter((e) => variantOf.get(e) === v);
    const has = [...new Set(mine.flatMap((e) => e.platforms))];
    if (has.length !== platforms.length || !has.every((p) => platforms.includes(p))) {
      unmapped.push(
        `image "${name}": variant "${v}" builds ${has.join(", ")} but the default builds ${platforms.join(", ")}; the catalog gives every variant the image's platforms`,
      );
    }
  }
  for (const e of entries) {
    const v = variantOf.get(e) as string;
    if (e.context !== first.context) {
      unmapped.push(
        `target "${e.target}": context "${e.context}" differs from "${first.context}" (one context per image)`,
      );
    }
    if (e.stage !== first.stage) {
      unmapped.push(
        `target "${e.target}": target stage "${e.stage ?? ""}" differs from "${first.stage ?? ""}"`,
      );
    }
    for (const p of e.platforms) {
      const want = { dockerfile: e.dockerfile, args: e.args };
      const where = `target "${e.target}" (${p})`;
      if (v === DEFAULT_VARIANT) {
        const o = overrideOf(top, want, where, unmapped);
        if (o) image.platformOverrides = { ...image.platformOverrides, [p]: o };
        continue;
      }
      const po = image.platformOverrides?.[p];
      const have = {
        dockerfile: po?.dockerfile ?? top.dockerfile,
        args: { ...top.args, ...po?.buildArgs },
      };
      const o = overrideOf(have, want, where, unmapped);
      if (o) {
        const vo = image.variantOverrides ?? {};
        vo[v] = { ...vo[v], [p]: o };
        image.variantOverrides = vo;
      }
    }
  }
  return { image, variantOf };
}

/** The most common first path component of the repositories: the catalog's namespace. */
function namespaceOf(repositories: string[]): string {
  const counts = new Map<string, number>();
  for (const r of repositories.filter((x) => x.includes("/"))) {
    const ns = r.split("/")[0];
    counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "library";
}

/** Maps a `bake --print` definition to a catalog (see the module comment for the stages). */
export function importBake(print: BakePrint, opts: ImportOptions): ImportResult {
  const unmapped: string[] = [];
  const entries = bakeEntries(print, unmapped);
  const groups = groupByRepository(entries);
  const namespace = namespaceOf([...groups.keys()]);
  const variants = new Map<string, string>();
  const imageOfTarget = new Map<string, string>();
  const images: { image: ImageDef; entries: BakeEntry[]; variantOf: Map<BakeEntry, string> }[] = [];
  const taken = new Set<string>();
  for (const [repository, group] of groups) {
    let name = repository.split("/").pop() as string;
    if (taken.has(name)) {
      const unique = repository.replace(/\//g, "-");
      unmapped.push(`repository ${repository}: image name "${name}" is taken; named "${unique}"`);
      name = unique;
    }
    taken.add(name);
    const { image, variantOf } = imageOf(name, group, opts, variants, unmapped);
    if (repository !== `${namespace}/${name}`) image.repository = repository;
    group.forEach((e) => imageOfTarget.set(e.target, name));
    images.push({ image, entries: group, variantOf });
  }
  for (const { image, entries: group, variantOf } of images) {
    const bases = group.map((e) => baseOfContexts(e, (t) => imageOfTarget.get(t), unmapped));
    const distinct = new Set(bases.map((b) => JSON.stringify(b ?? null)));
    if (distinct.size === 1 && bases[0]) image.base = bases[0];
    else if (distinct.size > 1) {
      group.forEach((e, i) => {
        const b = bases[i];
        if (!b) return;
        for (const p of e.platforms) {
          const v = variantOf.get(e) as string;
          if (v === DEFAULT_VARIANT) {
            const po = image.platformOverrides ?? {};
            po[p] = { ...po[p], base: b };
            image.platformOverrides = po;
          } else {
            const vo = image.variantOverrides ?? {};
            vo[v] = { ...vo[v], [p]: { ...vo[v]?.[p], base: b } };
            image.variantOverrides = vo;
          }
        }
      });
    }
  }
  const variantDefs: VariantDef[] = [...variants].map(([name, tagSuffix]) => ({ name, tagSuffix }));
  const catalog: Catalog = {
    namespace,
    ...(variantDefs.length > 0 ? { variants: variantDefs } : {}),
    images: images.map((i) => i.image),
  };
  return {
    catalog,
    unmapped,
    registries: [...new Set(entries.map((e) => e.registry))],
    bakeBuilds: Object.values(print.target ?? {}).reduce(
      (n, t) => n + Math.max(1, t.platforms?.length ?? 0),
      0,
    ),
  };
}

/** How many per-platform builds a catalog needs once bases are pinned from the Dockerfiles. */
export interface BuildCount {
  /** Distinct builds over all images. */
  builds: number;
  /** Image → its distinct builds. */
  perImage: Record<string, number>;
  /** Dockerfiles that could not be read or resolved (`file:line: …`). */
  problems: string[];
}

/**
 * Counts the builds a catalog needs when a build's identity is what BuildKit would build: its
 * context, Dockerfile, target, the build args its needed stages declare (global ARGs that only feed
 * FROM lines left out) and the identities of the estate builds its FROM lines name (a mirror or an
 * external reference by name). So Dayu's JetPack variants, which differ only in `TAG=latest-jpN`,
 * share their amd64 build exactly when the base's amd64 builds are shared. This is the estimate the
 * importer prints next to bake's count; the planner makes the real decision.
 */
export function countPlannedBuilds(
  catalog: Catalog,
  catalogDir: string,
  files: FileSource,
  names: EstateNames = estateNames(catalog, "registry.invalid", "${release}"),
): BuildCount {
  const images = new Map(catalog.images.map((i) => [i.name, i]));
  const problems: string[] = [];
  const memo = new Map<string, string>();
  const identity = (
    imageName: string,
    variant: string,
    platform: string,
    seen: string[],
  ): string => {
    const key = `${imageName}/${variant}/${platform}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const image = images.get(imageName);
    if (!image || seen.includes(key)) return `unknown:${key}`;
    const layers = [
      { dockerfile: image.dockerfile, base: image.base, buildArgs: image.buildArgs },
      image.platformOverrides?.[platform],
      image.variantOverrides?.[variant]?.[platform],
    ];
    let dockerfile = "Dockerfile";
    let base: BaseSpec | undefined;
    const args: Record<string, string> = {};
    for (const l of layers) {
      dockerfile = l?.dockerfile ?? dockerfile;
      base = l?.base ?? base;
      Object.assign(args, l?.buildArgs ?? {});
    }
    const file = path.posix.join(image.context, dockerfile);
    let text = "";
    try {
      text = new TextDecoder().decode(files.read(path.resolve(catalogDir, file)));
    } catch {
      problems.push(`image "${imageName}": ${file} cannot be read`);
    }
    const r = resolveDockerfile(text, { file, buildArgs: args, platform, target: image.target });
    problems.push(...r.problems);
    const baseOf = (img: string, v: string) => {
      const vs = images.get(img)?.variants ?? [];
      return identity(img, vs.includes(v) ? v : DEFAULT_VARIANT, platform, [...seen, key]);
    };
    const refs = r.references
      .filter((x) => x.used)
      .map((x) => {
        try {
          const m = matchReference(x.ref, names);
          if (m.kind === "image") return baseOf(m.image, m.variant);
          if (m.kind === "mirror") return `mirror:${m.mirror}`;
        } catch {
          // An invalid reference is the planner's to report; here it only has to stay distinct.
        }
        return `ref:${x.ref}`;
      });
    const declared = base?.image !== undefined ? baseOf(base.image, variant) : JSON.stringify(base);
    const stageArgs = Object.entries(args).filter(([k]) => r.stageArgs.includes(k));
    const id = JSON.stringify([
      image.context,
      dockerfile,
      image.target,
      stageArgs.sort(),
      refs,
      declared,
    ]);
    memo.set(key, id);
    return id;
  };
  const perImage: Record<string, number> = {};
  let builds = 0;
  for (const image of catalog.images) {
    const ids = new Set<string>();
    for (const v of [DEFAULT_VARIANT, ...(image.variants ?? [])]) {
      for (const p of image.platforms) ids.add(identity(image.name, v, p, []));
    }
    perImage[image.name] = ids.size;
    builds += ids.size;
  }
  return { builds, perImage, problems: [...new Set(problems)] };
}
