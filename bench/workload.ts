/**
 * The bench's workloads, generated under .local/bench (never committed as data). Pure: each
 * function returns the files (path relative to the workload folder → text); `writeWorkload` writes
 * them.
 *
 * - `standins`: the catalog and dockerfiles/ as they are.
 * - `realistic`: the same catalog (same graph, same Dockerfiles), each Dockerfile with one more
 *   step that costs what Dayu's builds cost in proportion: CPU burnt deterministically (sha256 over
 *   a stream of zeros: ~150 MB/s of it per amd64 core here, about 3× slower for arm64 under QEMU,
 *   roughly a cloud server against a Jetson) and a layer of tens of MB of incompressible bytes.
 *   The bases (dayubase) cost 3× a component, as a CUDA/TensorRT base outweighs a service's code.
 * - `scale`: N images of the Dayu shape (a base with the JetPack variants, then leaves of the three
 *   kinds Dayu has: every JetPack variant on both platforms, one tag on both, amd64 only), tiny
 *   builds, for preview time and memory and for cold `up` against N.
 */
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml } from "yaml";

/** Cost of one build's extra step. */
export interface StepCost {
  /** MB of zeros hashed (CPU). */
  hashMB: number;
  /** MB of random bytes written into the layer. */
  layerMB: number;
}

/** The default cost of a component build; `cost` scales it (0.25 for a quick run). */
export const COMPONENT_COST: StepCost = { hashMB: 256, layerMB: 16 };
/** A base (dayubase) costs this many components. */
export const BASE_FACTOR = 3;

/** A build's cost at the given scale, whole MB, at least 1 each. */
export function scaledCost(base: boolean, cost: number): StepCost {
  const f = cost * (base ? BASE_FACTOR : 1);
  return {
    hashMB: Math.max(1, Math.round(COMPONENT_COST.hashMB * f)),
    layerMB: Math.max(1, Math.round(COMPONENT_COST.layerMB * f)),
  };
}

/**
 * The step appended to a Dockerfile: hashes `hashMB` of zeros (the digest is printed, so the step
 * cannot be skipped) and writes `layerMB` of random bytes. `mark` is a word the bench changes to
 * force a rebuild (leaf or base changed) without touching anything else.
 */
export function costStep(name: string, c: StepCost, mark = "0"): string {
  const file = `/opt/bench/${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.bin`;
  return [
    `# bench: ${c.hashMB} MB hashed, ${c.layerMB} MB layer (bench/workload.ts)`,
    `RUN mkdir -p /opt/bench && echo "bench mark ${mark}" && \\`,
    `    dd if=/dev/zero bs=1048576 count=${c.hashMB} 2>/dev/null | sha256sum && \\`,
    `    dd if=/dev/urandom of=${file} bs=1048576 count=${c.layerMB} 2>/dev/null`,
    "",
  ].join("\n");
}

/** A Dockerfile with the cost step: after the last instruction, so every build of it pays once. */
export function withCost(dockerfile: string, name: string, c: StepCost, mark = "0"): string {
  return `${dockerfile.replace(/\n*$/, "\n")}${costStep(name, c, mark)}`;
}

/** Is this Dockerfile (path relative to the context) a base's? */
export function isBaseDockerfile(rel: string): boolean {
  return /(^|\/)dayubase[^/]*\.Dockerfile$/.test(rel) || /(^|\/)scalebase\.Dockerfile$/.test(rel);
}

/** Every file under `dir`, relative to it, sorted. */
export function listFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/**
 * The realistic workload's Dockerfiles: the checkout's (path relative to dockerfiles/ → text), each
 * `build/*.Dockerfile` with the cost step at `cost` (1 = the default cost); other files are copied
 * as they are by the driver.
 */
export function realisticDockerfiles(
  dockerfiles: Readonly<Record<string, string>>,
  cost: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rel, text] of Object.entries(dockerfiles)) {
    if (!/^build\/[^/]+\.Dockerfile$/.test(rel)) continue;
    out[rel] = withCost(
      text,
      path.basename(rel, ".Dockerfile"),
      scaledCost(isBaseDockerfile(rel), cost),
    );
  }
  return out;
}

/**
 * A Dockerfile changed so that its build must run again: the cost step's mark replaced when it has
 * one (its expensive step runs again, as when a base's packages change), else a step appended.
 */
export function markDockerfile(text: string, mark: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(mark))
    throw new Error(`mark ${JSON.stringify(mark)}: letters, digits, _ . - only`);
  if (/echo "bench mark [^"]*"/.test(text))
    return text.replace(/echo "bench mark [^"]*"/g, `echo "bench mark ${mark}"`);
  return `${text.replace(/\n*$/, "\n")}RUN echo "bench mark ${mark}" > /opt/bench-mark\n`;
}

/** The kind of the i-th leaf of a scale catalog (i from 0): the mix of Dayu's catalog. */
export function leafKind(i: number): "jetpack" | "dual" | "amd64" {
  // Dayu: 11 of 21 leaves have every JetPack variant, 5 one tag on both platforms, 5 amd64 only.
  return i % 4 < 2 ? "jetpack" : i % 4 === 2 ? "dual" : "amd64";
}

const JETPACK = ["jp4", "jp5", "jp6"];

/**
 * A scale workload of `n` images (n ≥ 2): `scalebase` from the `redis` mirror (both platforms), with
 * the JetPack variants, then n-1 leaves `app-<i>` each FROM the base by Dayu's pattern, each with
 * its own code folder. `cost` adds the cost step (default none: tiny builds).
 */
export function scaleWorkload(
  n: number,
  redisSource: string,
  cost?: number,
): Record<string, string> {
  if (!Number.isInteger(n) || n < 2)
    throw new Error(`scale workload: n must be an integer ≥ 2, got ${n}`);
  const both = ["linux/amd64", "linux/arm64"];
  const files: Record<string, string> = {};
  const add = (rel: string, text: string, isBase = false) => {
    const name = path.basename(rel, ".Dockerfile");
    files[`dockerfiles/${rel}`] =
      cost !== undefined ? withCost(text, name, scaledCost(isBase, cost)) : text;
  };
  add(
    "build/scalebase.Dockerfile",
    [
      "ARG REG=docker.io",
      "FROM ${REG}/redis:latest",
      "ARG JETPACK=none",
      'RUN mkdir -p /opt/dayu && echo "scalebase ${JETPACK} on $(uname -m)" > /opt/dayu/base',
      "",
    ].join("\n"),
    true,
  );
  const images: Record<string, unknown>[] = [
    {
      name: "scalebase",
      context: "dockerfiles",
      dockerfile: "build/scalebase.Dockerfile",
      platforms: both,
      tags: ["latest"],
      variants: JETPACK,
      // As dayubase: the default arm64 build is the JetPack 4 one (shared with jp4).
      platformOverrides: { "linux/arm64": { buildArgs: { JETPACK: "jp4" } } },
      variantOverrides: Object.fromEntries(
        JETPACK.slice(1).map((v) => [v, { "linux/arm64": { buildArgs: { JETPACK: v } } }]),
      ),
    },
  ];
  for (let i = 1; i < n; i++) {
    const name = `app-${String(i).padStart(3, "0")}`;
    const kind = leafKind(i - 1);
    files[`dockerfiles/components/${name}/main.sh`] = `#!/bin/sh\necho ${name}\n`;
    add(
      `build/${name}.Dockerfile`,
      [
        "ARG REG=docker.io",
        "ARG BASE_REPO=dayuhub",
        "ARG TAG=latest",
        "FROM ${REG}/${BASE_REPO}/scalebase:${TAG}",
        `COPY components/${name}/ /opt/dayu/${name}/`,
        `RUN echo "${name} built on $(uname -m)" > /opt/dayu/${name}/BUILD_INFO`,
        `CMD ["/bin/sh", "/opt/dayu/${name}/main.sh"]`,
        "",
      ].join("\n"),
    );
    const image: Record<string, unknown> = {
      name,
      context: "dockerfiles",
      dockerfile: `build/${name}.Dockerfile`,
      platforms: kind === "amd64" ? ["linux/amd64"] : both,
      tags: ["${release}"],
    };
    if (kind === "jetpack") {
      image.variants = JETPACK;
      image.variantOverrides = Object.fromEntries(
        JETPACK.map((v) => [
          v,
          Object.fromEntries(both.map((p) => [p, { buildArgs: { TAG: `latest-${v}` } }])),
        ]),
      );
    }
    images.push(image);
  }
  const catalog = {
    namespace: "dayuhub",
    variants: JETPACK.map((v) => ({ name: v, tagSuffix: `-${v}` })),
    mirrors: [
      {
        name: "redis",
        source: redisSource,
        repository: "redis",
        tags: ["latest"],
        platforms: both,
      },
    ],
    images,
  };
  files["estate.yaml"] =
    `# Generated by bench/workload.ts (scale workload, ${n} images); not committed.\n${toYaml(catalog, { aliasDuplicateObjects: false })}`;
  return files;
}

/** Writes a workload into `dir` (emptied first). */
export function writeWorkload(dir: string, files: Readonly<Record<string, string>>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

/** The Dockerfiles under `dir`/build (relative to `dir`), for {@link realisticDockerfiles}. */
export function readDockerfiles(dir: string): Record<string, string> {
  return Object.fromEntries(
    listFiles(dir)
      .filter((rel) => /^build\/[^/]+\.Dockerfile$/.test(rel))
      .map((rel) => [rel, fs.readFileSync(path.join(dir, rel), "utf8")]),
  );
}
