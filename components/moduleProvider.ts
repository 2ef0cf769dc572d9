/**
 * Dynamic providers that Pulumi stores as a few hundred bytes. Pulumi serializes a dynamic provider
 * by value into the state of every resource it serves, twice (inputs and outputs): a provider that
 * captures the registry client was ~21 KB per resource, most of the checkpoint that the engine
 * rewrites after every step. A provider made here captures only a module path relative to the project
 * root and an export name; its methods load that module in the dynamic provider's process and call
 * the provider it exports.
 *
 * Why this is safe:
 * - The path is relative to the project root (found from the provider process's working directory,
 *   the project's), so two checkouts at different paths serialize identical text and preview no
 *   change; the serialized text never names this machine.
 * - The module is this checkout's current code, so `pulumi refresh` (which runs the provider stored
 *   in state) runs today's code, not the code of the last `up`.
 * - The stored path is the `.ts` source's: it is tracked in git, so it exists in every checkout, and
 *   the same path serves a program run by ts-node or precompiled. scripts/provider-host.js loads it,
 *   once per process, from the program's transpiled cache (scripts/compiled.js, `.estate/js`), which
 *   saves the process ts-node's start-up (0.6-0.8 s); where that cache cannot be made it registers
 *   ts-node (transpile-only) and loads the source.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as path from "path";

/* eslint-disable @typescript-eslint/no-require-imports -- modules loaded by path, at run time */

/** The project root: the nearest folder holding Pulumi.yaml, from `dir` up. */
export function projectRoot(dir: string = process.cwd()): string {
  const fs = require("fs") as typeof import("fs");
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "Pulumi.yaml"))) return d;
    if (path.dirname(d) === d) throw new Error(`no Pulumi.yaml in ${dir} or above it`);
  }
}

/**
 * What every method of a stub calls: `method` of the provider `exportName` of the project module
 * `file` (relative to the project root), through scripts/provider-host.js. Runs inside the dynamic
 * provider process, so it captures only the two strings: the closure serializer copies a function by
 * value, twice per resource, with everything it references; the loading lives in the host file.
 */
function forwarder(file: string, exportName: string) {
  return function (method: string, args: unknown[]): unknown {
    const p = require("path") as typeof import("path");
    let root = process.cwd();
    while (!(require("fs") as typeof import("fs")).existsSync(p.join(root, "Pulumi.yaml"))) {
      if (p.dirname(root) === root) throw new Error(`no Pulumi.yaml above ${process.cwd()}`);
      root = p.dirname(root);
    }
    const host = require(p.join(root, "scripts/provider-host.js"));
    return host.call(root, file, exportName, method, args);
  };
}

/** The optional methods of a dynamic provider, forwarded only when the real provider has them. */
/** Where program.js keeps the transpiled program (`OUT` of scripts/compiled.js; a test holds them equal). */
export const COMPILED_DIR = ".estate/js";

const METHODS = ["configure", "check", "diff", "create", "read", "update", "delete"] as const;

/**
 * A dynamic provider whose methods call the provider `exportName` of the module `file` (absolute, as
 * `require.resolve` gives it; stored relative to the project root). It has exactly the methods the
 * real provider has, so the dynamic provider host applies its own defaults for the others.
 */
export function moduleProvider(file: string, exportName: string): pulumi.dynamic.ResourceProvider {
  const rel = path
    .relative(projectRoot(path.dirname(file)), file)
    .split(path.sep)
    .join("/")
    .replace(/\.js$/, ".ts");
  // A precompiled run (program.js) names <COMPILED_DIR>/<module>.js: the stored path is the tracked
  // source's, so state does not depend on how the program was started.
  const source = rel.startsWith(`${COMPILED_DIR}/`) ? rel.slice(COMPILED_DIR.length + 1) : rel;
  const real = require(file)[exportName] as Record<string, unknown> | undefined;
  if (!real) throw new Error(`${file} exports no dynamic provider ${exportName}`);
  const go = forwarder(source, exportName);
  const stub: Record<string, unknown> = {};
  // Each method captures only its name and `go` (one copy in the serialized text).
  for (const m of METHODS)
    if (typeof real[m] === "function") stub[m] = async (...a: unknown[]) => go(m, a);
  return stub as unknown as pulumi.dynamic.ResourceProvider;
}
