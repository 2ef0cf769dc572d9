// @ts-check
"use strict";
/**
 * The program as JavaScript, transpiled once per source text and cached under `.estate/js`, instead of
 * through ts-node on every run (issue 11: ts-node's start-up and transpiling cost every `pulumi`
 * command about 1.5 s of CPU). The TypeScript sources stay the single source of truth: nothing built
 * is committed, each cached file is keyed by the hash of its source text, the TypeScript version and
 * tsconfig.json, so an edit, a checkout or a compiler upgrade retranspiles just the files it touched,
 * and the outputs of deleted sources are removed. Type checking stays where it was (`npm run build`).
 *
 * Plain JavaScript on purpose: it runs before any TypeScript can (program.js, Pulumi.yaml `main`).
 * Transpiling file by file (`ts.transpileModule`) is what ts-node's transpile-only mode does, so the
 * code that runs, and the dynamic providers serialized from it, are the same either way.
 */
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

/** The program's sources, relative to the project: what index.ts can reach. */
const SOURCES = ["index.ts", "config.ts", "components", "estate", "lib"];
/** Where the transpiled program goes (git-ignored, like the staged contexts beside it). */
const OUT = ".estate/js";
const MANIFEST = "sources.json";
/** Part of every cache key: bump it when what this file writes changes. */
const FORMAT = "2";

/**
 * Every `.ts` file (not `.d.ts`) of the program, relative to `root`, sorted.
 * @param {string} root
 * @returns {string[]}
 */
function programSources(root) {
  /** @type {string[]} */
  const out = [];
  /** @param {string} rel */
  const walk = (rel) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) {
      for (const name of fs.readdirSync(abs)) walk(path.join(rel, name));
    } else if (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) {
      out.push(rel);
    }
  };
  SOURCES.forEach(walk);
  return out.sort();
}

/** @param {string} file */
const jsOf = (file) => file.replace(/\.ts$/, ".js");

/**
 * Writes `text` to `file` through a temporary file and a rename, so a concurrent run never reads half.
 * @param {string} file
 * @param {string} text
 */
function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Brings `<root>/.estate/js` up to date with the sources and returns the path of the compiled entry
 * (`index.js`) and what it did. `ts` is the TypeScript module; it is loaded only when a file is stale.
 * @param {string} root
 * @param {() => typeof import("typescript")} [loadTs]
 * @returns {{ entry: string, transpiled: string[], removed: string[] }}
 */
function ensureCompiled(root, loadTs = () => require("typescript")) {
  const out = path.join(root, OUT);
  const manifestFile = path.join(out, MANIFEST);
  /** @type {Record<string, string>} */
  let manifest = {};
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
  } catch {
    manifest = {};
  }
  const tsconfig = fs.readFileSync(path.join(root, "tsconfig.json"), "utf8");
  // The compiler's version is part of every key; reading it from package.json avoids loading the compiler.
  const tsVersion = JSON.parse(
    fs.readFileSync(require.resolve("typescript/package.json"), "utf8"),
  ).version;
  const salt = `${FORMAT}\n${tsVersion}\n${tsconfig}\n`;
  /** @type {Record<string, string>} */
  const next = {};
  /** @type {string[]} */
  const stale = [];
  for (const file of programSources(root)) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const key = crypto.createHash("sha256").update(salt).update(text).digest("hex");
    next[file] = key;
    if (manifest[file] !== key || !fs.existsSync(path.join(out, jsOf(file)))) stale.push(file);
  }
  const removed = Object.keys(manifest).filter((f) => !(f in next));
  for (const file of removed) {
    fs.rmSync(path.join(out, jsOf(file)), { force: true });
    fs.rmSync(path.join(out, `${jsOf(file)}.map`), { force: true });
  }
  if (stale.length > 0) {
    const ts = loadTs();
    const parsed = ts.convertCompilerOptionsFromJson(
      ts.parseConfigFileTextToJson("tsconfig.json", tsconfig).config?.compilerOptions ?? {},
      root,
    );
    const compilerOptions = { ...parsed.options, outDir: undefined, noEmit: false };
    for (const file of stale) {
      const source = fs.readFileSync(path.join(root, file), "utf8");
      const target = path.join(out, jsOf(file));
      const r = ts.transpileModule(source, {
        compilerOptions,
        fileName: file,
        reportDiagnostics: false,
      });
      writeAtomic(target, r.outputText);
      if (r.sourceMapText) {
        // The map names the source relative to itself, so stack traces and the resources' source
        // positions point at the TypeScript file where it is (components/x.ts), not beside the output.
        const map = JSON.parse(r.sourceMapText);
        map.sources = [path.relative(path.dirname(target), path.join(root, file))];
        writeAtomic(`${target}.map`, JSON.stringify(map));
      }
    }
  }
  if (stale.length > 0 || removed.length > 0)
    writeAtomic(manifestFile, JSON.stringify(next, null, 1));
  return { entry: path.join(out, "index.js"), transpiled: stale, removed };
}

module.exports = { ensureCompiled, programSources, OUT };
