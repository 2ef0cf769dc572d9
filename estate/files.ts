/** The read-only file access the planner needs, injectable so the planner stays testable in memory. */
import * as fs from "fs";

/**
 * What a path is, told without opening it (so a FIFO is never opened and cannot hang a plan): a
 * symlink is followed, and one that points nowhere or loops is its own kind.
 */
export type FileKind =
  | "file"
  | "directory"
  | "missing"
  | "fifo"
  | "socket"
  | "device"
  | "dangling-symlink"
  | "symlink-loop"
  | "unreadable";

export interface FileSource {
  /** What `path` is (symlinks followed). Never opens the path. */
  kind(path: string): FileKind;
  /** True when `path` is an existing regular file (through symlinks). */
  isFile(path: string): boolean;
  /** True when `path` is an existing directory (through symlinks). */
  isDirectory(path: string): boolean;
  /** The bytes of a regular file; throws (naming the path and its kind) for anything else. */
  read(path: string): Uint8Array;
  /** Entry names of a directory. */
  list(dir: string): string[];
}

/** `a FIFO (named pipe)` etc.: a kind as a person reads it in a message. */
export function describeKind(kind: FileKind): string {
  switch (kind) {
    case "file":
      return "a regular file";
    case "directory":
      return "a directory";
    case "missing":
      return "missing";
    case "fifo":
      return "a FIFO (named pipe)";
    case "socket":
      return "a socket";
    case "device":
      return "a device";
    case "dangling-symlink":
      return "a symlink to nothing (dangling)";
    case "symlink-loop":
      return "a symlink loop";
    case "unreadable":
      return "not readable (permission denied)";
  }
}

/**
 * Why `path` cannot serve as `expected`, or undefined when it can. `what` names the role in the
 * message, e.g. `Dockerfile`, `context`, `args file`.
 */
export function kindError(
  files: FileSource,
  path: string,
  expected: "file" | "directory",
  what: string,
): string | undefined {
  const kind = files.kind(path);
  if (kind === expected) return undefined;
  if (kind === "missing") return `${what} ${path} does not exist`;
  const want = expected === "file" ? "a regular file" : "a directory";
  return `${what} ${path} is ${describeKind(kind)}, not ${want}`;
}

/** The kind of a real path: lstat first, so a symlink's target is examined on purpose. */
function diskKind(p: string): FileKind {
  let link: fs.Stats | undefined;
  try {
    link = fs.lstatSync(p, { throwIfNoEntry: false });
  } catch (err) {
    return errnoKind(err);
  }
  if (!link) return "missing";
  let st: fs.Stats = link;
  if (link.isSymbolicLink()) {
    try {
      st = fs.statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return "dangling-symlink";
      if (code === "ELOOP") return "symlink-loop";
      return errnoKind(err);
    }
  }
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  return "device";
}

function errnoKind(err: unknown): FileKind {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return "symlink-loop";
  if (code === "EACCES" || code === "EPERM") return "unreadable";
  if (code === "ENOENT" || code === "ENOTDIR") return "missing";
  throw err;
}

/** The real file system. `read` checks the kind first: a FIFO is never opened. */
export const diskFiles: FileSource = {
  kind: diskKind,
  isFile: (p) => diskKind(p) === "file",
  isDirectory: (p) => diskKind(p) === "directory",
  read: (p) => {
    const kind = diskKind(p);
    if (kind !== "file") throw new Error(`${p} is ${describeKind(kind)}, not a regular file`);
    return fs.readFileSync(p);
  },
  list: (d) => fs.readdirSync(d),
};

/**
 * An in-memory file system for tests: paths are keys, directories are implied by them. `special`
 * gives paths of other kinds (a FIFO, a dangling symlink, ...), listed in their folder like files.
 */
export function memoryFiles(
  files: Record<string, string | Uint8Array>,
  special: Record<string, Exclude<FileKind, "file" | "directory" | "missing">> = {},
): FileSource {
  const norm = (p: string) => p.replace(/\/+$/, "");
  const entries = new Map(Object.entries(files).map(([k, v]) => [norm(k), v]));
  const others = new Map(Object.entries(special).map(([k, v]) => [norm(k), v]));
  const all = () => [...entries.keys(), ...others.keys()];
  const isDirectory = (p: string) => {
    const prefix = `${norm(p)}/`;
    return all().some((k) => k.startsWith(prefix));
  };
  const kind = (p: string): FileKind =>
    entries.has(norm(p))
      ? "file"
      : (others.get(norm(p)) ?? (isDirectory(p) ? "directory" : "missing"));
  return {
    kind,
    isFile: (p) => entries.has(norm(p)),
    isDirectory,
    read: (p) => {
      const v = entries.get(norm(p));
      if (v === undefined) {
        const k = kind(p);
        throw new Error(
          k === "missing" ? `ENOENT: ${p}` : `${p} is ${describeKind(k)}, not a regular file`,
        );
      }
      return typeof v === "string" ? new TextEncoder().encode(v) : v;
    },
    list: (d) => {
      const prefix = `${norm(d)}/`;
      const names = new Set<string>();
      for (const k of all()) {
        if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split("/")[0]);
      }
      return [...names];
    },
  };
}
