// @ts-check
"use strict";
/**
 * What a dynamic provider stub stored in state (components/moduleProvider.ts) calls in the dynamic
 * provider's process: it loads the provider a project module exports and calls one of its methods.
 * Plain JavaScript, so it runs before any TypeScript can, and kept out of the stub so that the text
 * stored twice per resource in every checkpoint stays small.
 *
 * The module comes from the program's transpiled cache (scripts/compiled.js, `.estate/js`), brought
 * up to date once per process (a refresh runs without the program), so the process pays for no
 * ts-node; where the cache cannot be made, ts-node (transpile-only) loads the source.
 */
const path = require("path");

/** @type {Map<string, Record<string, (...args: unknown[]) => unknown>>} */
const providers = new Map();
/** @type {string | undefined} */
let compiledDir;

/**
 * The provider `exportName` of the project module `file` (relative to `root`, `.ts`).
 * @param {string} root
 * @param {string} file
 * @param {string} exportName
 */
function load(root, file, exportName) {
  const key = `${root}\0${file}\0${exportName}`;
  const known = providers.get(key);
  if (known) return known;
  if (compiledDir === undefined) {
    try {
      const compiled = require("./compiled");
      compiled.ensureCompiled(root);
      compiledDir = path.join(root, compiled.OUT);
    } catch {
      compiledDir = "";
      if (!(".ts" in require.extensions)) {
        const tsNode = require(require.resolve("ts-node", { paths: [root] }));
        tsNode.register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
      }
    }
  }
  const modulePath = compiledDir
    ? path.join(compiledDir, file.replace(/\.ts$/, ".js"))
    : path.join(root, file);
  const provider = require(modulePath)[exportName];
  if (!provider) throw new Error(`${file} exports no dynamic provider ${exportName}`);
  providers.set(key, provider);
  return provider;
}

/**
 * Calls `method` of the provider `exportName` of `file`, as a method (providers keep the stack
 * config `configure` gave them on themselves).
 * @param {string} root
 * @param {string} file
 * @param {string} exportName
 * @param {string} method
 * @param {unknown[]} args
 */
function call(root, file, exportName, method, args) {
  return load(root, file, exportName)[method](...args);
}

module.exports = { call, load };
