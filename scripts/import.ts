/**
 * `npm run import -- <dayu checkout> [--bake-file docker-bake.hcl] [--group <group|target>]
 * [--release <tag>] [--out estate.imported.yaml]`: writes a catalog from a bake definition. buildx
 * resolves the HCL (`docker buildx bake --print`, which needs no builder); `estate/bake.ts` maps it;
 * this file only runs buildx, writes the catalog and prints the summary: what could not be mapped,
 * and how many per-platform builds bake would run against how many the plan runs.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import {
  BakePrint,
  countPlannedBuilds,
  importBake,
  ImportResult,
  BuildCount,
} from "../estate/bake";
import { parseCatalog } from "../estate/catalog";
import { diskFiles } from "../estate/files";

const root = path.resolve(__dirname, "..");

/** What one import needs. */
export interface ImportRun {
  /** The checkout holding the bake file (its folder is bake's working directory). */
  checkout: string;
  /** Bake file, relative to the checkout. Default: `docker-bake.hcl`. */
  bakeFile?: string;
  /** Group or target to print. Default: bake's own default (`default`). */
  group?: string;
  /** A tag equal to this is written `${release}`. Default: tags kept literally. */
  release?: string;
  /** Catalog to write. Default: `estate.imported.yaml` in the current folder. */
  out?: string;
  /** buildx binary. Default: `$DAYU_BUILDX`, else `.tools/bin/buildx` of the project. */
  buildx?: string;
}

/** Runs `buildx bake --print` in the checkout and returns its JSON. */
export function bakePrint(run: ImportRun): BakePrint {
  const buildx = run.buildx ?? process.env.DAYU_BUILDX ?? path.join(root, ".tools/bin/buildx");
  if (!fs.existsSync(buildx)) {
    throw new Error(`buildx not found at ${buildx} (set DAYU_BUILDX or run scripts/toolchain.sh)`);
  }
  const bakeFile = run.bakeFile ?? "docker-bake.hcl";
  if (!fs.existsSync(path.resolve(run.checkout, bakeFile))) {
    throw new Error(`${path.resolve(run.checkout, bakeFile)} does not exist (--bake-file)`);
  }
  const args = ["bake", "--print", "-f", bakeFile, ...(run.group ? [run.group] : [])];
  const out = execFileSync(buildx, args, {
    cwd: run.checkout,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as BakePrint;
}

/** Imports, checks the catalog against the schema, and returns the YAML and the summary. */
export function runImport(run: ImportRun): {
  result: ImportResult;
  count: BuildCount;
  yaml: string;
  summary: string;
  out: string;
} {
  const out = path.resolve(run.out ?? "estate.imported.yaml");
  const outDir = path.dirname(out);
  const rel = path.relative(outDir, path.resolve(run.checkout)).split(path.sep).join("/");
  const result = importBake(bakePrint(run), { root: rel || ".", release: run.release });
  const yaml = [
    `# Imported by \`npm run import\` from ${run.bakeFile ?? "docker-bake.hcl"}; see README.md.`,
    "# yaml-language-server: $schema=estate.schema.json",
    stringify(result.catalog, { lineWidth: 100 }),
  ].join("\n");
  parseCatalog(yaml, out); // what we write must be a catalog the program accepts
  const count = countPlannedBuilds(result.catalog, outDir, diskFiles);
  const lines = [
    `${result.catalog.images.length} images, variants: ${(result.catalog.variants ?? []).map((v) => v.name).join(", ") || "none"}`,
    `bake would run ${result.bakeBuilds} per-platform builds; the plan runs ${count.builds}` +
      ` (${result.bakeBuilds - count.builds} shared: identical inputs once bases are pinned)`,
    `bake pushes to ${result.registries.join(", ")}; the stack's registry.address replaces it`,
    ...(result.unmapped.length > 0
      ? [`not mapped (${result.unmapped.length}):`, ...result.unmapped.map((u) => `  - ${u}`)]
      : ["everything was mapped"]),
    ...(count.problems.length > 0
      ? ["Dockerfile problems:", ...count.problems.map((p) => `  - ${p}`)]
      : []),
  ];
  return { result, count, yaml, summary: lines.join("\n"), out };
}

/** `--name value` of the command line. */
function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const checkout = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
  if (!checkout) {
    console.error(
      "usage: npm run import -- <dayu checkout> [--bake-file docker-bake.hcl] [--group default] [--release v1.4] [--out estate.imported.yaml]",
    );
    process.exit(2);
  }
  try {
    const r = runImport({
      checkout,
      bakeFile: option(args, "--bake-file"),
      group: option(args, "--group"),
      release: option(args, "--release"),
      out: option(args, "--out"),
    });
    fs.writeFileSync(r.out, r.yaml);
    console.log(`wrote ${r.out}\n${r.summary}`);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    console.error(e.stderr ? `buildx bake --print failed:\n${e.stderr}` : e.message);
    process.exit(1);
  }
}
