/**
 * Matches an image reference read from a Dockerfile (see `estate/dockerfile`) to what the estate
 * builds or mirrors, so the planner can pin it with a named context: `dayuhub/dayubase:latest-jp5`,
 * `docker.io/dayuhub/dayubase:latest-jp5` and `<registry>/[<prefix>/]dayuhub/dayubase:latest-jp5` all
 * name the jp5 variant of the estate image `dayubase`. A mirror matches by its repository in the
 * private registry (or at docker.io, where Dayu's `${REG}` default points) or by its upstream source.
 * Pure.
 */
import { BaseSpec, Catalog } from "./catalog";
import { ExternalReference, namesIn, ResolvedDockerfile } from "./dockerfile";
import { Problems } from "./problems";
import { parseReference, ParsedReference } from "./reference";

/** The estate's names, as the matcher needs them. */
export interface EstateNames {
  /** Private registry address, e.g. `registry.dayu.test:5443`. */
  registry: string;
  /** Prefix of every private repository (the stack's `repositoryPrefix`). Default: none. */
  repositoryPrefix?: string;
  /** Catalog namespace: the default repository is `<namespace>/<name>`. */
  namespace: string;
  images: {
    name: string;
    /** Repository without the stack prefix. Default: `<namespace>/<name>`. */
    repository?: string;
    /** The image's tags for the default variant, `${release}` already replaced, e.g. `["latest"]`. */
    tags: string[];
    /** The variants the image publishes: each adds `<tag><tagSuffix>` for every tag. */
    variants?: { name: string; tagSuffix: string }[];
  }[];
  mirrors?: {
    name: string;
    /** Upstream reference, e.g. `docker.io/library/node:20`. */
    source: string;
    /** Repository in the private registry, e.g. `node`. */
    repository: string;
    tags: string[];
  }[];
}

/** What a reference names. */
export type RefMatch =
  | { kind: "image"; image: string; variant: string }
  | { kind: "mirror"; mirror: string }
  /** Not the estate's: `pinned` when it carries a digest. */
  | { kind: "external"; ref: string; pinned: boolean }
  /** It names an estate image or mirror by repository, but with a tag the estate does not push. */
  | { kind: "unknown-tag"; of: "image" | "mirror"; name: string; tag: string; known: string[] };

/** The default variant's name (the planner's `DEFAULT_VARIANT`). */
const DEFAULT = "default";

/** Repository paths a private repository is known by: with the stack prefix, and without it. */
function privateRepository(parsed: ParsedReference, names: EstateNames): string | undefined {
  if (parsed.registry === "docker.io") return parsed.repository.replace(/^library\//, "");
  if (parsed.registry !== names.registry) return undefined;
  const prefix = names.repositoryPrefix ? `${names.repositoryPrefix}/` : "";
  return prefix && parsed.repository.startsWith(prefix)
    ? parsed.repository.slice(prefix.length)
    : parsed.repository;
}

/** The variant an image tag selects, or undefined. */
function variantOfTag(image: EstateNames["images"][number], tag: string): string | undefined {
  if (image.tags.includes(tag)) return DEFAULT;
  for (const v of image.variants ?? []) {
    if (image.tags.some((t) => `${t}${v.tagSuffix}` === tag)) return v.name;
  }
  return undefined;
}

/** Every tag an image publishes, for messages. */
function tagsOf(image: EstateNames["images"][number]): string[] {
  const suffixes = ["", ...(image.variants ?? []).map((v) => v.tagSuffix)];
  return suffixes.flatMap((s) => image.tags.map((t) => `${t}${s}`));
}

/**
 * Matches one reference. A reference without a tag means `latest`, as Docker reads it. Throws with
 * the reference named when it is not a valid reference (see {@link matchReferences} for collection).
 */
export function matchReference(ref: string, names: EstateNames): RefMatch {
  const parsed = parseReference(ref);
  const tag = parsed.tag ?? (parsed.digest ? undefined : "latest");
  const repo = privateRepository(parsed, names);
  if (repo !== undefined) {
    const image = names.images.find(
      (i) => (i.repository ?? `${names.namespace}/${i.name}`) === repo,
    );
    if (image) {
      const variant = tag === undefined ? DEFAULT : variantOfTag(image, tag);
      if (variant !== undefined) return { kind: "image", image: image.name, variant };
      const known = tagsOf(image);
      return { kind: "unknown-tag", of: "image", name: image.name, tag: tag as string, known };
    }
    const mirror = names.mirrors?.find((m) => m.repository === repo);
    if (mirror) {
      if (tag === undefined || mirror.tags.includes(tag))
        return { kind: "mirror", mirror: mirror.name };
      // At docker.io the same path may just be the upstream image at another tag.
      if (parsed.registry === names.registry) {
        return { kind: "unknown-tag", of: "mirror", name: mirror.name, tag, known: mirror.tags };
      }
    }
  }
  for (const m of names.mirrors ?? []) {
    const source = parseReference(m.source);
    const sameRepo = source.registry === parsed.registry && source.repository === parsed.repository;
    const sameTag = (source.tag ?? "latest") === tag || (tag === undefined && !!parsed.digest);
    if (
      sameRepo &&
      sameTag &&
      (!parsed.digest || !source.digest || parsed.digest === source.digest)
    ) {
      return { kind: "mirror", mirror: m.name };
    }
  }
  return { kind: "external", ref, pinned: parsed.digest !== undefined };
}

/** A Dockerfile reference with what it names. */
export type MatchedReference = ExternalReference & { match: RefMatch };

/**
 * Matches the references a build uses (`used`; the `syntax` frontend included). Invalid references
 * and estate names with an unknown tag are reported at their `file:line`; they are left out.
 */
export function matchReferences(
  refs: readonly ExternalReference[],
  names: EstateNames,
  problems: Problems,
): MatchedReference[] {
  const out: MatchedReference[] = [];
  for (const r of refs.filter((x) => x.used)) {
    let match: RefMatch;
    try {
      match = matchReference(r.ref, names);
    } catch (err) {
      problems.at(r.where, `${(err as Error).message} (written "${r.raw}")`);
      continue;
    }
    if (match.kind === "unknown-tag") {
      problems.at(
        r.where,
        `"${r.ref}" names estate ${match.of} "${match.name}" with tag "${match.tag}", which the estate does not push (its tags: ${match.known.join(", ")})`,
      );
      continue;
    }
    out.push({ ...r, match });
  }
  return out;
}

/**
 * The names a catalog gives the estate, for {@link matchReference}: `${release}` in tags replaced.
 * `registry` and `repositoryPrefix` are the stack's.
 */
export function estateNames(
  catalog: Catalog,
  registry: string,
  release: string,
  repositoryPrefix?: string,
): EstateNames {
  const suffixes = new Map((catalog.variants ?? []).map((v) => [v.name, v.tagSuffix]));
  return {
    registry,
    repositoryPrefix,
    namespace: catalog.namespace,
    images: catalog.images.map((i) => ({
      name: i.name,
      repository: i.repository,
      tags: i.tags.map((t) => t.split("${release}").join(release)),
      variants: (i.variants ?? [])
        .filter((v) => suffixes.has(v))
        .map((v) => ({ name: v, tagSuffix: suffixes.get(v) as string })),
    })),
    mirrors: (catalog.mirrors ?? []).map((m) => ({
      name: m.name,
      source: m.source,
      repository: m.repository,
      tags: m.tags,
    })),
  };
}

/**
 * The name under which BuildKit looks up a named context for a FROM (or `--from`) reference: its
 * `dockerui.NamedContext` normalises the reference and uses Docker's familiar form without a
 * trailing `:latest` (`docker.io/library/node:20` → `node:20`, `docker.io/dayuhub/dayubase:latest`
 * → `dayuhub/dayubase`). BuildKit first tries `<name>::<platform>`, then `<name>`. So
 * `context.named` must use this key, or the pin is silently ignored.
 */
export function namedContextKey(ref: string): string {
  const r = parseReference(ref);
  let repository = r.repository;
  let prefix = `${r.registry}/`;
  if (r.registry === "docker.io") {
    prefix = "";
    if (/^library\/[^/]+$/.test(repository)) repository = repository.slice("library/".length);
  }
  const tag = r.tag ?? (r.digest ? undefined : "latest");
  const name = `${prefix}${repository}${tag ? `:${tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
  return name.endsWith(":latest") ? name.slice(0, -":latest".length) : name;
}

/** The estate bases a build's Dockerfile uses, after {@link checkBases}. */
export interface UsedBases {
  /** Estate images (with the variant their tag selects) and mirrors the used references name. */
  bases: MatchedReference[];
  /** External references without a digest (to be refused on non-dev stacks, file:line). */
  floating: MatchedReference[];
}

/**
 * Checks a build's declared base (catalog `base:`) against its Dockerfile and returns what it uses.
 * Refused, naming the file and line: a declared estate image or mirror the Dockerfile never uses; a
 * FROM that names a different estate image or mirror than the declared one. With `baseArg` (the
 * `ARG BASE_IMAGE` convention, where the base arrives as a build arg rather than by name): the ARG
 * must be global (before the first FROM) and the final stage must derive from a FROM that reads it.
 */
export function checkBases(
  resolved: ResolvedDockerfile,
  matched: readonly MatchedReference[],
  declared: BaseSpec | undefined,
  baseArg: string | undefined,
  where: string,
  problems: Problems,
  /** Appended to the "never uses" refusal, e.g. how the other convention would pass the base. */
  neverUsedHint = "",
): UsedBases {
  const estate = matched.filter((m) => m.match.kind === "image" || m.match.kind === "mirror");
  const nameOf = (m: MatchedReference) =>
    m.match.kind === "image"
      ? `image "${m.match.image}"`
      : m.match.kind === "mirror"
        ? `mirror "${m.match.mirror}"`
        : "";
  if (baseArg !== undefined) {
    checkBaseArg(resolved, baseArg, where, problems);
  } else if (declared?.image !== undefined || declared?.mirror !== undefined) {
    const want =
      declared.image !== undefined ? `image "${declared.image}"` : `mirror "${declared.mirror}"`;
    const fromLines = estate.filter((m) => m.kind === "from");
    for (const m of fromLines.filter((x) => nameOf(x) !== want)) {
      problems.at(
        m.where,
        `FROM "${m.ref}" names estate ${nameOf(m)}, but ${where} declares base ${want}`,
      );
    }
    if (!estate.some((m) => nameOf(m) === want)) {
      problems.at(
        where,
        `declares base ${want}, which ${resolved.file} never uses (its FROM lines: ${
          resolved.references
            .filter((r) => r.kind === "from" && r.used)
            .map((r) => `${r.ref} at line ${r.line}`)
            .join(", ") || "none"
        })${neverUsedHint}`,
      );
    }
  }
  const floating = matched.filter((m) => m.match.kind === "external" && !m.match.pinned);
  return { bases: estate, floating };
}

/** The `ARG BASE_IMAGE` convention, checked for real (see {@link checkBases}). */
function checkBaseArg(
  resolved: ResolvedDockerfile,
  baseArg: string,
  where: string,
  problems: Problems,
) {
  if (!resolved.globalArgs.includes(baseArg)) {
    problems.at(
      where,
      `${resolved.file} must declare ARG ${baseArg} before its first FROM, or the pinned base is not seen by FROM`,
    );
    return;
  }
  // Follow the final stage's parents to the FROM that names an image; it must read the base arg.
  let stage = resolved.stages[resolved.finalStage];
  const seen = new Set<number>();
  while (stage && "stage" in stage.parent && !seen.has(stage.index)) {
    seen.add(stage.index);
    stage = resolved.stages[stage.parent.stage];
  }
  if (!stage) return;
  const from = resolved.references.find((r) => r.kind === "from" && r.stage === stage.index);
  if (!from || !namesIn(from.raw).includes(baseArg)) {
    problems.at(
      `${resolved.file}:${stage.line}`,
      `the final stage derives from ${from ? `"${from.raw}"` : "scratch"}, not from \${${baseArg}}, so the pinned base would be ignored (${where})`,
    );
  }
}
