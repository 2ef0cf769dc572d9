/** The read-only file access the planner needs, injectable so the planner stays testable in memory. */
import * as fs from "fs";

export interface FileSource {
  /** True when `path` is an existing regular file. */
  isFile(path: string): boolean;
  /** True when `path` is an existing directory. */
  isDirectory(path: string): boolean;
  read(path: string): Uint8Array;
  /** Entry names of a directory. */
  list(dir: string): string[];
}

/** The real file system. */
export const diskFiles: FileSource = {
  isFile: (p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false,
  isDirectory: (p) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false,
  read: (p) => fs.readFileSync(p),
  list: (d) => fs.readdirSync(d),
};

/** An in-memory file system for tests: paths are keys, directories are implied by them. */
export function memoryFiles(files: Record<string, string | Uint8Array>): FileSource {
  const norm = (p: string) => p.replace(/\/+$/, "");
  const entries = new Map(Object.entries(files).map(([k, v]) => [norm(k), v]));
  const isDirectory = (p: string) => {
    const prefix = `${norm(p)}/`;
    return [...entries.keys()].some((k) => k.startsWith(prefix));
  };
  return {
    isFile: (p) => entries.has(norm(p)),
    isDirectory,
    read: (p) => {
      const v = entries.get(norm(p));
      if (v === undefined) throw new Error(`ENOENT: ${p}`);
      return typeof v === "string" ? new TextEncoder().encode(v) : v;
    },
    list: (d) => {
      const prefix = `${norm(d)}/`;
      const names = new Set<string>();
      for (const k of entries.keys()) {
        if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split("/")[0]);
      }
      return [...names];
    },
  };
}
