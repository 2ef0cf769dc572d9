/**
 * Dayu's runtime contract: its backend deploys `<registry>/<repository>/<image>:<tag>` for every
 * `image:` a deployment template (`template/**.yaml`) names by bare name, and on an edge node running
 * JetPack N it appends `-jpN` for monitor and the processors. So every image a template folder names
 * must exist in the estate with its tag, with an arm64 build where it runs on the edge, and for the
 * JetPack kinds with every `-jpN` tag on the same platforms. `checkTemplates` is pure (parsed
 * templates + the tags a plan publishes); `readTemplates` is the thin file walk.
 */
import * as path from "path";
import { isMap, isPair, isScalar, LineCounter, parseAllDocuments, visit } from "yaml";
import { FileSource } from "./files";
import type { FlatPlan } from "./planner";
import { Problems } from "./problems";
import { parseReference } from "./reference";

/** One deployment template, as far as the contract needs it. */
export interface DeploymentTemplate {
  /** Path as shown in messages, e.g. `template/processor/car-detection.yaml`. */
  file: string;
  /** Top-level `position`: `cloud`, `edge` or `both`. Absent: `both` (it may run on the edge). */
  position?: string;
  /** Folder of the template below the template root, e.g. `processor`. */
  kind: string;
  /** Every `image:` value: a bare name, possibly with a tag. */
  images: { name: string; tag?: string; line: number }[];
}

/** Parses one template's YAML. Problems (not YAML, an `image:` that is not a name) name file:line. */
export function parseTemplate(text: string, file: string, kind: string, problems: Problems) {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  const template: DeploymentTemplate = { file, kind, images: [] };
  const lineOf = (offset: number | undefined) => lineCounter.linePos(offset ?? 0).line;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    for (const e of doc.errors)
      problems.at(`${file}:${lineOf(e.pos[0])}`, `not valid YAML: ${e.code}`);
    const top = doc.contents;
    if (isMap(top)) {
      const position = top.get("position");
      if (typeof position === "string") template.position = position;
    }
    visit(doc, {
      Pair(_, pair) {
        if (!isPair(pair) || !isScalar(pair.key) || pair.key.value !== "image") return;
        const where = `${file}:${lineOf(isScalar(pair.value) ? pair.value.range?.[0] : pair.key.range?.[0])}`;
        const value = isScalar(pair.value) ? pair.value.value : undefined;
        const m =
          typeof value === "string"
            ? /^([a-z0-9][a-z0-9._-]*)(?::([\w][\w.-]{0,127}))?$/.exec(value)
            : null;
        if (!m) {
          problems.at(
            where,
            `image ${JSON.stringify(value)} is not a bare image name (Dayu prefixes registry and repository itself)`,
          );
          return;
        }
        template.images.push({ name: m[1], tag: m[2], line: Number(where.split(":").pop()) });
      },
    });
  }
  return template;
}

/** What the estate publishes: image name (last path component of its repository) → tags. */
export interface PublishedImages {
  images: { name: string; tags: { tag: string; platforms: string[] }[] }[];
}

/** One published index: its full reference (`<registry>/<repository>:<tag>`), tag and platforms. */
export interface PublishedIndex {
  ref: string;
  tag: string;
  platforms: string[];
}

/**
 * Groups published indexes by the name Dayu's templates use: the last path component of the
 * repository. Shared by the plan (below) and the policy pack (from the stack's resources).
 */
export function publishedFromIndexes(indexes: readonly PublishedIndex[]): PublishedImages {
  const byName = new Map<string, { tag: string; platforms: string[] }[]>();
  for (const i of indexes) {
    const name = parseReference(i.ref).repository.split("/").pop() as string;
    byName.set(name, [...(byName.get(name) ?? []), { tag: i.tag, platforms: i.platforms }]);
  }
  return { images: [...byName].map(([name, tags]) => ({ name, tags })) };
}

/** The tags a plan publishes, with each index's platforms. */
export function publishedFromPlan(plan: Pick<FlatPlan, "indexes">): PublishedImages {
  return publishedFromIndexes(
    plan.indexes.map((i) => ({
      ref: i.ref,
      tag: i.tag,
      platforms: i.builds.map((b) => b.platform),
    })),
  );
}

/**
 * The JetPack suffixes the estate publishes (`-jp4`, `-jp5`, …: any tag ending in `-jp<N>`). Both the
 * plan-time check and the policy take the suffixes from what is published, so they never disagree:
 * an edge node may ask for any JetPack the estate serves, so every JetPack kind must have each.
 */
export function jetpackSuffixesOf(published: PublishedImages): string[] {
  const suffixes = published.images.flatMap((i) =>
    i.tags.map((t) => /-jp\d+$/.exec(t.tag)?.[0]).filter((s): s is string => s !== undefined),
  );
  return [...new Set(suffixes)].sort();
}

/**
 * The whole contract for one template folder: read it, check it against what is published with the
 * estate's own JetPack suffixes. `dir` is absolute; `shownAs` is how messages name it (the config
 * value), so findings read `<shownAs>/processor/x.yaml:3: …`.
 */
export function checkTemplateFolder(
  dir: string,
  shownAs: string,
  published: PublishedImages,
  defaultTag: string,
  files: FileSource,
  problems: Problems,
): void {
  const templates = readTemplates(dir, shownAs, files, problems);
  const jetpackSuffixes = jetpackSuffixesOf(published);
  checkTemplates(templates, published, { defaultTag, jetpackSuffixes }, problems);
}

/** What a deployment expects beyond the templates themselves. */
export interface ContractOptions {
  /** Tag Dayu deploys when a template names no tag (its `default-image-meta.tag`: the release). */
  defaultTag: string;
  /** JetPack suffixes edge nodes may ask for, e.g. `["-jp4", "-jp5", "-jp6"]`. */
  jetpackSuffixes: string[];
  /** Template folders whose images get `-jpN` on the edge. Default: `monitor`, `processor`. */
  jetpackKinds?: string[];
  /** Platform of the edge nodes. Default: `linux/arm64`. */
  edgePlatform?: string;
}

/** Checks every template against what the estate publishes; problems name file:line. */
export function checkTemplates(
  templates: readonly DeploymentTemplate[],
  published: PublishedImages,
  opts: ContractOptions,
  problems: Problems,
): void {
  const edgePlatform = opts.edgePlatform ?? "linux/arm64";
  const jetpackKinds = opts.jetpackKinds ?? ["monitor", "processor"];
  const images = new Map(
    published.images.map((i) => [i.name, new Map(i.tags.map((t) => [t.tag, t.platforms]))]),
  );
  for (const t of templates) {
    const position = t.position ?? "both";
    const edge = position !== "cloud";
    for (const ref of t.images) {
      const where = `${t.file}:${ref.line}`;
      const tags = images.get(ref.name);
      if (!tags) {
        problems.at(where, `image "${ref.name}" is not in the estate`);
        continue;
      }
      const tag = ref.tag ?? opts.defaultTag;
      const platforms = tags.get(tag);
      if (!platforms) {
        problems.at(
          where,
          `"${ref.name}:${tag}" is not in the estate (its tags: ${[...tags.keys()].join(", ")})`,
        );
        continue;
      }
      if (edge && !platforms.includes(edgePlatform)) {
        problems.at(
          where,
          `"${ref.name}:${tag}" has no ${edgePlatform} build, but the template runs on the edge (position: ${position})`,
        );
      }
      if (!edge || !jetpackKinds.includes(t.kind)) continue;
      for (const suffix of opts.jetpackSuffixes) {
        const jp = tags.get(`${tag}${suffix}`);
        const missing = jp ? platforms.filter((p) => !jp.includes(p)) : [];
        if (!jp) {
          problems.at(
            where,
            `"${ref.name}:${tag}${suffix}" is not in the estate, but Dayu deploys it on JetPack ${suffix.replace(/\D/g, "")} edge nodes`,
          );
        } else if (missing.length > 0) {
          problems.at(
            where,
            `"${ref.name}:${tag}${suffix}" lacks ${missing.join(", ")}, which "${ref.name}:${tag}" has`,
          );
        }
      }
    }
  }
}

/** Reads every `*.yaml`/`*.yml` below `dir` (the config key's folder); file names as `shownAs/…`. */
export function readTemplates(
  dir: string,
  shownAs: string,
  files: FileSource,
  problems: Problems,
): DeploymentTemplate[] {
  const out: DeploymentTemplate[] = [];
  const walk = (rel: string) => {
    for (const entry of files.list(path.join(dir, rel)).sort()) {
      const relPath = rel ? `${rel}/${entry}` : entry;
      const full = path.join(dir, relPath);
      if (files.isDirectory(full)) walk(relPath);
      else if (/\.ya?ml$/.test(entry)) {
        const text = new TextDecoder().decode(files.read(full));
        const kind = relPath.includes("/") ? relPath.split("/")[0] : "";
        out.push(parseTemplate(text, `${shownAs}/${relPath}`, kind, problems));
      }
    }
  };
  if (!files.isDirectory(dir)) problems.at(shownAs, `template folder ${dir} does not exist`);
  else walk("");
  return out;
}
