/**
 * The registry's blob garbage collection, run the safe way: distribution's own offline
 * `registry garbage-collect` on the registry's config file, only while that registry takes no pushes
 * (stopped, or in read-only maintenance mode), and a report of what it removed and the bytes it freed.
 *
 * Why offline: a push that uploads a blob during the mark phase and links its manifest after the sweep
 * loses that blob (distribution's docs: "the registry should be in read-only mode or not running").
 * `--delete-untagged` is right for distribution v3 without the referrers API (it marks an index's
 * children and the bundles a cosign fallback index lists before sweeping, see docs/supply-chain.md);
 * on a registry that stores referrers untagged pass `deleteUntagged: false`.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { EstateInputError } from "../estate/problems";

/** What the GC needs from the registry's config file. */
export interface RegistryGcConfig {
  /** The config file itself. */
  file: string;
  /** `http.addr`: where the registry listens when it runs. */
  addr?: string;
  /** `storage.maintenance.readonly.enabled`. */
  readOnly: boolean;
  /** `storage.filesystem.rootdirectory`, when the storage is a local filesystem. */
  rootDirectory?: string;
}

/** A user's mistake with `--gc`: names the config file and what to do. */
export class GcRefusedError extends EstateInputError {}

/** Reads the fields of a distribution config file that decide whether and how GC may run. */
export function readGcConfig(file: string): RegistryGcConfig {
  if (!fs.existsSync(file))
    throw new GcRefusedError([`--gc ${file}: no such registry config file`]);
  const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as {
    http?: { addr?: string };
    storage?: {
      filesystem?: { rootdirectory?: string };
      maintenance?: { readonly?: { enabled?: boolean } };
    };
  };
  return {
    file,
    addr: doc.http?.addr,
    readOnly: doc.storage?.maintenance?.readonly?.enabled === true,
    rootDirectory: doc.storage?.filesystem?.rootdirectory,
  };
}

/** True when something accepts TCP connections at `host:port` (within `timeoutMs`). */
export function listening(addr: string, timeoutMs = 2000): Promise<boolean> {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i) || "127.0.0.1";
  const port = Number(addr.slice(i + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Bytes under a directory (the registry's storage); 0 when it does not exist. */
export function directoryBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += directoryBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** Runs the registry binary; injectable for tests. */
export type GcRunner = (bin: string, args: string[]) => Promise<string>;

const execRunner: GcRunner = (bin, args) =>
  new Promise((resolve, reject) =>
    execFile(bin, args, { maxBuffer: 64 << 20, timeout: 30 * 60 * 1000 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${bin} ${args.join(" ")}: ${(stderr || err.message).trim()}`))
        : resolve(`${stdout}\n${stderr}`),
    ),
  );

/** What a GC run removed. */
export interface GcReport {
  /** Lines `... eligible for deletion` the collector printed (blobs and manifests it removed). */
  removed: number;
  /** Storage bytes before and after (filesystem storage only). */
  bytesBefore?: number;
  bytesAfter?: number;
}

/**
 * Refuses while the registry could take pushes (listening at `http.addr` and not read-only), then
 * runs `registry garbage-collect [--delete-untagged] <config>` and measures the storage around it.
 */
export async function garbageCollect(
  config: RegistryGcConfig,
  opts: { bin: string; deleteUntagged?: boolean; run?: GcRunner } = { bin: "registry" },
): Promise<GcReport> {
  if (!config.readOnly && config.addr && (await listening(config.addr))) {
    throw new GcRefusedError([
      `--gc ${config.file}: the registry is running at ${config.addr} and not read-only; stop it (scripts/local-services.sh stop) or set storage.maintenance.readonly.enabled: true for the collection (a push during it can lose blobs)`,
    ]);
  }
  const before = config.rootDirectory ? directoryBytes(config.rootDirectory) : undefined;
  const args = [
    "garbage-collect",
    ...((opts.deleteUntagged ?? true) ? ["--delete-untagged"] : []),
    config.file,
  ];
  const out = await (opts.run ?? execRunner)(opts.bin, args);
  const removed = out.split("\n").filter((l) => /eligible for deletion/.test(l)).length;
  return {
    removed,
    ...(before === undefined
      ? {}
      : { bytesBefore: before, bytesAfter: directoryBytes(config.rootDirectory as string) }),
  };
}

/** One line for a person. */
export function formatGcReport(r: GcReport, deleteUntagged = true): string {
  const what = `garbage-collect${deleteUntagged ? " --delete-untagged" : ""}: ${r.removed} blob(s) and manifest(s) removed`;
  if (r.bytesBefore === undefined || r.bytesAfter === undefined) return what;
  return `${what}; storage ${r.bytesBefore} → ${r.bytesAfter} bytes (${r.bytesBefore - r.bytesAfter} reclaimed)`;
}
