/**
 * The planner: catalog + stack settings → a validated plan of per-architecture builds, multi-arch
 * indexes and mirrors, in dependency order. Pure TypeScript: no Pulumi resources, no network; files are
 * read through an injectable {@link FileSource}. Every problem it finds is reported at once, each
 * naming the image, file or key, before any resource is declared.
 */
import * as path from "path";
import { decodeUtf8, parseArgsFile } from "./argsFile";
import { BaseSpec, BuildOverride, Catalog, ImageDef, MirrorDef, parseCatalog } from "./catalog";
import { FileSource } from "./files";
import { EstateInputError } from "./problems";
import { EstateSettings } from "./settings";
import { CycleError, topologicalOrder } from "./graph";
import {
  digestError,
  parseReference,
  registryHostError,
  repositoryError,
  tagError,
} from "./reference";

/** The name of the variant every image has: its plain tags. */
export const DEFAULT_VARIANT = "default";
/** The build arg that receives the pinned base reference unless an image names another. */
export const DEFAULT_BASE_ARG = "BASE_IMAGE";
/** Build-arg names that look like credentials: build args end up in image history and in state. */
const SECRET_LIKE = /(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY)/i;
const CHAIN_FILE = /^(\d+)-Dockerfile-(.+)$/;

/** A builder and the one platform it serves. */
export interface BuilderSpec {
  name: string;
  platform: string;
}

/** Stack settings the plan depends on. */
export interface PlanOptions {
  /** Absolute directory the catalog's relative paths start from. */
  catalogDir: string;
  /** Registry host[:port] every estate repository lives under. */
  registry: string;
  /** Replaces `${release}` in tags. */
  release: string;
  builders: readonly BuilderSpec[];
  /** Image name → context directory (absolute, or relative to `catalogDir`), e.g. a Dayu checkout. */
  contexts?: Readonly<Record<string, string>>;
  /** Mirror name → pinned upstream reference `host/repo[:tag]@sha256:...`, overriding the catalog. */
  mirrorSources?: Readonly<Record<string, string>>;
  /**
   * Prepended to every repository path (images and mirrors), e.g. `e2e/` to keep a test estate apart
   * from the real one in the same registry. Default none.
   */
  repositoryPrefix?: string;
  /**
   * Accept mirrors without a pin (their source stays the catalog's tag). Only for displaying a plan
   * (`npm run plan`); the program always requires pins. Default false.
   */
  allowUnpinnedMirrors?: boolean;
  files: FileSource;
}

/** Where a planned build's base comes from. */
export type PlannedBase =
  | { kind: "build"; build: string }
  | { kind: "mirror"; mirror: string }
  | { kind: "external"; ref: string };

/** One single-platform build, possibly shared by several variants. */
export interface PlannedBuild {
  /** Stable id, e.g. `dayubase/amd64`, `car-detection/jp5/arm64`, `atom/graphics/arm64`. */
  id: string;
  image: string;
  /** Chain step descriptor, for Atom-style chains. */
  step?: string;
  /** True for the last (or only) step: the build the image's indexes point at. */
  final: boolean;
  /** Variants whose index uses this build (deduplicated when their inputs are identical). */
  variants: string[];
  platform: string;
  /** Short architecture label used in tags and ids, e.g. `amd64`, `arm64`, `arm-v7`. */
  arch: string;
  builder: string;
  /** `registry/repository`. */
  repository: string;
  /** The per-architecture tag this build is pushed as (full reference). */
  archTag: string;
  /** Registry cache reference, one per (image, step, variant, arch). */
  cacheRef: string;
  context: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  target?: string;
  base?: PlannedBase;
  baseArg: string;
}

/** One multi-arch index: an (image, tag) pair and the builds it joins. */
export interface PlannedIndex {
  /** `image:tag`. */
  id: string;
  image: string;
  variant: string;
  tag: string;
  /** Full reference `registry/repository:tag`. */
  ref: string;
  /** Platform → build id, in the image's platform order. */
  builds: { platform: string; build: string }[];
  /** Release tags (from `${release}`) are immutable once published. */
  release: boolean;
}

/** A third-party image to copy into the private registry. */
export interface PlannedMirror {
  name: string;
  /** Pinned upstream reference. */
  source: string;
  /** `registry/repository`. */
  repository: string;
  /** Full target references, one per tag. */
  refs: string[];
  platforms: string[];
}

export interface PlanEdge {
  from: string;
  to: string;
  kind: "base" | "chain" | "index" | "mirror";
}

export interface Plan {
  registry: string;
  release: string;
  /** In dependency order: every build comes after its base. */
  builds: PlannedBuild[];
  indexes: PlannedIndex[];
  mirrors: PlannedMirror[];
  /** Image-level graph: base image/mirror → dependent image. */
  imageEdges: PlanEdge[];
  /** Build-level graph: base build → dependent build, build → index. */
  edges: PlanEdge[];
}

/** All problems found in a catalog, reported together. */
export class PlanError extends EstateInputError {
  constructor(problems: string[]) {
    super(problems, "the estate plan is invalid");
  }
}

/** `linux/arm/v7` → `arm-v7`; `linux/amd64` → `amd64`. */
export function archOf(platform: string): string {
  return platform.split("/").slice(1).join("-");
}

interface Step {
  descriptor?: string;
  dockerfile: string;
  /** Atom args files by arch. */
  argsFiles: Record<string, string>;
}

interface Resolved {
  dockerfile?: string;
  base?: BaseSpec;
  buildArgs: Record<string, string>;
}

/** Builds the plan, or throws a {@link PlanError} listing every problem found. */
export function planEstate(catalog: Catalog, opts: PlanOptions): Plan {
  const problems: string[] = [];
  const fail = (msg: string) => problems.push(msg);
  const { files } = opts;

  const prefix = opts.repositoryPrefix ? `${opts.repositoryPrefix.replace(/\/+$/, "")}/` : "";
  const hostErr = registryHostError(opts.registry);
  if (hostErr) fail(`config registry: ${hostErr}`);
  const releaseErr = opts.release ? tagError(opts.release) : undefined;
  if (releaseErr) fail(`config release: ${releaseErr}`);

  // Builders: exactly one per platform.
  const builderFor = new Map<string, string>();
  for (const b of opts.builders) {
    const other = builderFor.get(b.platform);
    if (other)
      fail(
        `builders "${other}" and "${b.name}" both serve ${b.platform}: declare one builder per platform`,
      );
    else builderFor.set(b.platform, b.name);
  }
  const builderList = opts.builders.map((b) => `${b.name} (${b.platform})`).join(", ") || "none";

  // Unique names.
  const images = new Map<string, ImageDef>();
  for (const img of catalog.images) {
    if (images.has(img.name)) fail(`image "${img.name}" is declared twice in the catalog`);
    images.set(img.name, img);
  }
  const mirrors = new Map<string, MirrorDef>();
  for (const m of catalog.mirrors ?? []) {
    if (mirrors.has(m.name)) fail(`mirror "${m.name}" is declared twice in the catalog`);
    mirrors.set(m.name, m);
  }
  const variants = new Map((catalog.variants ?? []).map((v) => [v.name, v]));
  for (const name of Object.keys(opts.contexts ?? {})) {
    if (!images.has(name)) fail(`config contexts.${name}: no image "${name}" in the catalog`);
  }
  for (const name of Object.keys(opts.mirrorSources ?? {})) {
    if (!mirrors.has(name))
      fail(`config mirrorSources.${name}: no mirror "${name}" in the catalog`);
  }

  const substitute = (tag: string, where: string): string => {
    if (tag.includes("${release}") && !opts.release) {
      fail(`${where}: tag "${tag}" uses \${release} but the stack sets no release`);
    }
    const out = tag.split("${release}").join(opts.release);
    const err = tagError(out);
    if (err) fail(`${where}: ${err}`);
    return out;
  };

  // Every (repository, tag) the plan pushes, to find duplicates across images and mirrors.
  const pushed = new Map<string, string>();
  const claim = (ref: string, owner: string) => {
    const prev = pushed.get(ref);
    if (prev && prev !== owner) fail(`${ref} is pushed by both ${prev} and ${owner}`);
    pushed.set(ref, owner);
  };

  // Mirrors.
  const plannedMirrors: PlannedMirror[] = [];
  for (const m of mirrors.values()) {
    const where = `mirror "${m.name}"`;
    const repoErr = repositoryError(prefix + m.repository);
    if (repoErr) fail(`${where}: ${repoErr}`);
    let source = opts.mirrorSources?.[m.name];
    if (!source && !m.digest && opts.allowUnpinnedMirrors) {
      // Display only: the plan shows the catalog's tag.
    } else if (!source) {
      if (!m.digest) {
        fail(
          `${where}: ${m.source} is not pinned: set its digest in the catalog or mirrorSources.${m.name} in the stack config`,
        );
      } else {
        const dErr = digestError(m.digest);
        if (dErr) fail(`${where}: ${dErr}`);
        source = `${m.source.split("@")[0]}@${m.digest}`;
      }
    }
    if (source) {
      try {
        if (!parseReference(source).digest && !opts.allowUnpinnedMirrors) {
          fail(`${where}: source ${source} is not pinned by digest`);
        }
      } catch (err) {
        fail(`${where}: ${(err as Error).message}`);
      }
    }
    const repository = `${opts.registry}/${prefix}${m.repository}`;
    const refs = m.tags.map((t) => `${repository}:${substitute(t, where)}`);
    refs.forEach((r) => claim(r, where));
    plannedMirrors.push({
      name: m.name,
      source: source ?? m.source,
      repository,
      refs,
      platforms: m.platforms,
    });
  }

  // Image-level graph, checked for unknown names and cycles before anything else depends on it.
  const imageEdges: PlanEdge[] = [];
  const baseSpecsOf = (img: ImageDef): BaseSpec[] => {
    const specs: BaseSpec[] = [];
    if (img.base) specs.push(img.base);
    for (const o of Object.values(img.platformOverrides ?? {})) if (o.base) specs.push(o.base);
    for (const per of Object.values(img.variantOverrides ?? {})) {
      for (const o of Object.values(per)) if (o.base) specs.push(o.base);
    }
    return specs;
  };
  const imageDeps = new Map<string, string[]>();
  for (const img of images.values()) {
    const deps = new Set<string>();
    for (const b of baseSpecsOf(img)) {
      if (b.image !== undefined) {
        if (!images.has(b.image))
          fail(`image "${img.name}": base image "${b.image}" is not in the catalog`);
        else deps.add(b.image);
      }
      if (b.mirror !== undefined) {
        if (!mirrors.has(b.mirror))
          fail(`image "${img.name}": base mirror "${b.mirror}" is not in the catalog`);
        else imageEdges.push({ from: `mirror:${b.mirror}`, to: img.name, kind: "mirror" });
      }
      if (b.external !== undefined) {
        try {
          if (!parseReference(b.external).digest) {
            fail(
              `image "${img.name}": external base ${b.external} is not pinned by digest (add @sha256:...)`,
            );
          }
        } catch (err) {
          fail(`image "${img.name}": ${(err as Error).message}`);
        }
      }
    }
    imageDeps.set(img.name, [...deps]);
    for (const d of deps) imageEdges.push({ from: d, to: img.name, kind: "base" });
  }
  let imageOrder: string[];
  try {
    imageOrder = topologicalOrder([...images.keys()], (n) => imageDeps.get(n) ?? []);
  } catch (err) {
    if (err instanceof CycleError)
      throw new PlanError([...new Set(problems), `images form a ${err.message}`]);
    throw err;
  }
  // Dedupe edges for display.
  const edgeKeys = new Set<string>();
  const uniqueImageEdges = imageEdges.filter((e) => {
    const k = `${e.from}>${e.to}`;
    return edgeKeys.has(k) ? false : (edgeKeys.add(k), true);
  });

  const builds: PlannedBuild[] = [];
  const buildByKey = new Map<string, PlannedBuild>();
  /** (image, variant, platform) → final build id. */
  const finalBuild = new Map<string, string>();
  const indexes: PlannedIndex[] = [];
  const edges: PlanEdge[] = [];
  const fk = (image: string, variant: string, platform: string) =>
    `${image}|${variant}|${platform}`;

  for (const name of imageOrder) {
    const img = images.get(name) as ImageDef;
    const where = `image "${name}"`;
    const repoPath = prefix + (img.repository ?? `${catalog.namespace}/${img.name}`);
    const repoErr = repositoryError(repoPath);
    if (repoErr) fail(`${where}: ${repoErr}`);
    const repository = `${opts.registry}/${repoPath}`;
    const baseArg = img.baseArg ?? DEFAULT_BASE_ARG;

    const imgVariants = [DEFAULT_VARIANT, ...(img.variants ?? [])];
    for (const v of img.variants ?? []) {
      if (v === DEFAULT_VARIANT)
        fail(`${where}: "${DEFAULT_VARIANT}" is implied; do not list it in variants`);
      else if (!variants.has(v))
        fail(`${where}: variant "${v}" is not declared under the catalog's variants`);
    }
    for (const v of Object.keys(img.variantOverrides ?? {})) {
      if (!imgVariants.includes(v))
        fail(`${where}: variantOverrides.${v} names a variant the image does not list`);
      for (const p of Object.keys(img.variantOverrides?.[v] ?? {})) {
        if (!img.platforms.includes(p))
          fail(`${where}: variantOverrides.${v}.${p} is not one of its platforms`);
      }
    }
    for (const p of Object.keys(img.platformOverrides ?? {})) {
      if (!img.platforms.includes(p))
        fail(`${where}: platformOverrides.${p} is not one of its platforms`);
    }
    for (const p of img.platforms) {
      if (!builderFor.has(p)) {
        fail(
          `${where}: platform ${p} is served by no configured builder (builders: ${builderList})`,
        );
      }
    }

    const contextOverride = opts.contexts?.[name];
    const context = path.resolve(opts.catalogDir, contextOverride ?? img.context);
    const contextKey = contextOverride ? `config contexts.${name}` : `${where} context`;
    if (!files.isDirectory(context)) {
      fail(`${contextKey}: directory ${context} does not exist`);
      continue;
    }
    if (
      img.chain &&
      (img.dockerfile || Object.values(img.platformOverrides ?? {}).some((o) => o.dockerfile))
    ) {
      fail(`${where}: set either chain or dockerfile, not both`);
      continue;
    }

    /** The variant's index tags; those made from `${release}` are release tags. */
    const tagsOf = (variant: string): { tag: string; release: boolean }[] => {
      const suffix = variant === DEFAULT_VARIANT ? "" : (variants.get(variant)?.tagSuffix ?? "");
      return img.tags.map((t) => ({
        tag: substitute(t, where) + suffix,
        release: t.includes("${release}"),
      }));
    };

    const chainSteps = img.chain
      ? chainStepsOf(path.join(context, img.chain), files, where, fail)
      : undefined;

    for (const variant of imgVariants) {
      if (variant !== DEFAULT_VARIANT && !variants.has(variant)) continue;
      const firstTag = tagsOf(variant)[0].tag;
      for (const platform of img.platforms) {
        const arch = archOf(platform);
        const r = resolveSettings(img, variant, platform);
        const steps: Step[] = chainSteps ?? [
          {
            dockerfile: path.join(context, r.dockerfile ?? img.dockerfile ?? "Dockerfile"),
            argsFiles: {},
          },
        ];
        if (steps.length === 0) continue;
        let prev: PlannedBase | undefined = resolveBase(r.base, variant, platform);
        steps.forEach((step, i) => {
          const final = i === steps.length - 1;
          const stepWhere = step.descriptor ? `${where} step ${step.descriptor}` : where;
          const args = {
            ...(img.buildArgs ?? {}),
            ...r.buildArgs,
            ...argsFor(step, arch, files, fail),
          };
          for (const k of Object.keys(args)) {
            if (SECRET_LIKE.test(k)) {
              fail(
                `${stepWhere}: build arg ${k} looks like a secret; build args are stored in image history and state in plaintext (use BuildKit secrets)`,
              );
            }
          }
          if (args[baseArg] !== undefined && prev) {
            fail(
              `${stepWhere}: build arg ${baseArg} is set by hand, but the planner passes the pinned base in it`,
            );
          }
          checkDockerfile(step.dockerfile, prev ? baseArg : undefined, stepWhere, files, fail);
          const key = JSON.stringify({
            name,
            step: step.descriptor,
            platform,
            context,
            dockerfile: step.dockerfile,
            args: Object.entries(args).sort(),
            base: prev,
            target: img.target,
            baseArg,
          });
          let build = buildByKey.get(key);
          if (!build) {
            const variantPart = variant === DEFAULT_VARIANT ? "" : `/${variant}`;
            const stepPart = step.descriptor ? `/${step.descriptor}` : "";
            const stepTag = step.descriptor && !final ? `-${step.descriptor}` : "";
            const cacheVariant = variant === DEFAULT_VARIANT ? "default" : variant;
            build = {
              id: `${name}${stepPart}${variantPart}/${arch}`,
              image: name,
              step: step.descriptor,
              final,
              variants: [],
              platform,
              arch,
              builder: builderFor.get(platform) ?? "",
              repository,
              archTag: `${repository}:${firstTag}${stepTag}-${arch}`,
              cacheRef: `${repository}:buildcache${step.descriptor ? `-${step.descriptor}` : ""}-${cacheVariant}-${arch}`,
              context,
              dockerfile: step.dockerfile,
              buildArgs: args,
              target: img.target,
              base: prev,
              baseArg,
            };
            buildByKey.set(key, build);
            builds.push(build);
            claim(build.archTag, where);
            if (prev?.kind === "build") {
              edges.push({
                from: prev.build,
                to: build.id,
                kind: step.descriptor && i > 0 ? "chain" : "base",
              });
            }
          }
          build.variants.push(variant);
          prev = { kind: "build", build: build.id };
          if (final) finalBuild.set(fk(name, variant, platform), build.id);
        });
      }

      for (const { tag, release } of tagsOf(variant)) {
        const ref = `${repository}:${tag}`;
        const index: PlannedIndex = {
          id: `${name}:${tag}`,
          image: name,
          variant,
          tag,
          ref,
          builds: img.platforms
            .map((platform) => ({
              platform,
              build: finalBuild.get(fk(name, variant, platform)) ?? "",
            }))
            .filter((b) => b.build !== ""),
          release,
        };
        claim(ref, where);
        indexes.push(index);
        for (const b of index.builds) edges.push({ from: b.build, to: index.id, kind: "index" });
      }
    }

    /** Image, platform and variant overrides merged, later ones winning. */
    function resolveSettings(image: ImageDef, variant: string, platform: string): Resolved {
      const layers: (BuildOverride | undefined)[] = [
        { dockerfile: image.dockerfile, base: image.base },
        image.platformOverrides?.[platform],
        image.variantOverrides?.[variant]?.[platform],
      ];
      const out: Resolved = { buildArgs: {} };
      for (const l of layers) {
        if (!l) continue;
        if (l.dockerfile !== undefined) out.dockerfile = l.dockerfile;
        if (l.base !== undefined) out.base = l.base;
        Object.assign(out.buildArgs, l.buildArgs ?? {});
      }
      return out;
    }

    function resolveBase(
      spec: BaseSpec | undefined,
      variant: string,
      platform: string,
    ): PlannedBase | undefined {
      if (!spec) return undefined;
      if (spec.image !== undefined) {
        const baseImg = images.get(spec.image);
        if (!baseImg) return undefined; // reported above
        const baseVariant = (baseImg.variants ?? []).includes(variant) ? variant : DEFAULT_VARIANT;
        const id = finalBuild.get(fk(spec.image, baseVariant, platform));
        if (!id) {
          if (!baseImg.platforms.includes(platform)) {
            fail(
              `${where}: builds for ${platform} but its base image "${spec.image}" has no ${platform} build (it declares ${baseImg.platforms.join(", ")})`,
            );
          }
          return undefined;
        }
        return { kind: "build", build: id };
      }
      if (spec.mirror !== undefined) {
        const m = mirrors.get(spec.mirror);
        if (m && !m.platforms.includes(platform)) {
          fail(
            `${where}: builds for ${platform} but its base mirror "${spec.mirror}" does not declare ${platform}`,
          );
        }
        return { kind: "mirror", mirror: spec.mirror };
      }
      return { kind: "external", ref: spec.external as string };
    }
  }

  if (problems.length > 0) throw new PlanError([...new Set(problems)]);
  // Builds were created image by image in dependency order, so `builds` is already topological;
  // check it anyway, cheaply, since the components rely on it.
  const position = new Map(builds.map((b, i) => [b.id, i]));
  for (const b of builds) {
    if (
      b.base?.kind === "build" &&
      (position.get(b.base.build) ?? Infinity) >= (position.get(b.id) ?? 0)
    ) {
      throw new Error(`internal: build ${b.id} is ordered before its base ${b.base.build}`);
    }
  }
  return {
    registry: opts.registry,
    release: opts.release,
    builds,
    indexes,
    mirrors: plannedMirrors,
    imageEdges: uniqueImageEdges,
    edges,
  };
}

/** Lists an Atom-style chain folder: `<num>-Dockerfile-<descriptor>` in numeric order. */
function chainStepsOf(
  dir: string,
  files: FileSource,
  where: string,
  fail: (m: string) => void,
): Step[] {
  if (!files.isDirectory(dir)) {
    fail(`${where}: chain folder ${dir} does not exist`);
    return [];
  }
  const names = files.list(dir);
  const steps: (Step & { num: number })[] = [];
  const seen = new Map<string, string>();
  for (const n of names) {
    const m = CHAIN_FILE.exec(n);
    if (!m) continue;
    const descriptor = m[2];
    const prev = seen.get(descriptor);
    if (prev) fail(`${where}: chain descriptor "${descriptor}" is used by both ${prev} and ${n}`);
    seen.set(descriptor, n);
    if (repositoryError(descriptor) || tagError(descriptor)) {
      fail(`${where}: chain file ${n}: descriptor "${descriptor}" must be lowercase [a-z0-9._-]`);
    }
    const argsFiles: Record<string, string> = {};
    for (const a of names) {
      const am = new RegExp(
        `^${descriptor.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-([a-z0-9]+)-args$`,
      ).exec(a);
      if (am) argsFiles[am[1] === "aarch64" ? "arm64" : am[1]] = path.join(dir, a);
    }
    steps.push({ num: Number(m[1]), descriptor, dockerfile: path.join(dir, n), argsFiles });
  }
  if (steps.length === 0)
    fail(`${where}: chain folder ${dir} has no <num>-Dockerfile-<descriptor> files`);
  const nums = new Map<number, string>();
  for (const s of steps) {
    const other = nums.get(s.num);
    if (other)
      fail(
        `${where}: chain files ${other} and ${path.basename(s.dockerfile)} have the same number ${s.num}`,
      );
    nums.set(s.num, path.basename(s.dockerfile));
  }
  return steps.sort((a, b) => a.num - b.num);
}

/** Build args from a chain step's `<descriptor>-<arch>-args` file, if it has one. */
function argsFor(
  step: Step,
  arch: string,
  files: FileSource,
  fail: (m: string) => void,
): Record<string, string> {
  const file = step.argsFiles[arch];
  if (!file) return {};
  try {
    return parseArgsFile(decodeUtf8(files.read(file), file), file);
  } catch (err) {
    fail((err as Error).message);
    return {};
  }
}

/** Checks a Dockerfile exists, has a FROM, and declares the base arg when a base is passed in it. */
function checkDockerfile(
  file: string,
  baseArg: string | undefined,
  where: string,
  files: FileSource,
  fail: (m: string) => void,
): void {
  if (!files.isFile(file)) {
    fail(`${where}: Dockerfile ${file} does not exist`);
    return;
  }
  let text: string;
  try {
    text = decodeUtf8(files.read(file), file);
  } catch (err) {
    fail(`${where}: ${(err as Error).message}`);
    return;
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (!lines.some((l) => /^FROM\s+\S/i.test(l))) fail(`${where}: ${file} has no FROM instruction`);
  if (baseArg && !lines.some((l) => new RegExp(`^ARG\\s+${baseArg}(\\s|=|$)`, "i").test(l))) {
    fail(`${where}: ${file} does not declare ARG ${baseArg}, so the pinned base would be ignored`);
  }
}

/**
 * Reads the stack's catalog and plans it with the stack's settings: what the program and
 * `npm run plan` both do. `allowUnpinnedMirrors` only for displaying a plan.
 */
export function planForSettings(
  settings: EstateSettings,
  projectDir: string,
  files: FileSource,
  allowUnpinnedMirrors = false,
): Plan {
  const catalogPath = path.resolve(projectDir, settings.catalog);
  if (!files.isFile(catalogPath)) {
    throw new Error(`config catalog: ${catalogPath} does not exist`);
  }
  const catalog = parseCatalog(
    decodeUtf8(files.read(catalogPath), settings.catalog),
    settings.catalog,
  );
  return planEstate(catalog, {
    catalogDir: path.dirname(catalogPath),
    registry: settings.registry.address,
    release: settings.release,
    builders: settings.builders,
    contexts: settings.contexts,
    mirrorSources: settings.mirrorSources,
    repositoryPrefix: settings.repositoryPrefix,
    allowUnpinnedMirrors,
    files,
  });
}
