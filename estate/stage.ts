/**
 * Narrowed build contexts. Dayu builds every image with the whole repository as context
 * (`-f build/car_detection.Dockerfile .`); docker-build hashes the context it sends, so a change to
 * any file would show every build as changing. Instead each build gets a staged copy of exactly what
 * it reads (`PlannedBuild.contextSources`, from its resolved COPY/ADD sources) and of its Dockerfile,
 * under the project's git-ignored `.estate/contexts/<build>/`, brought to exactly that on every run (so
 * deterministic) and never inside the user's checkout. Locations are relative to the project, so a
 * second checkout at another path (a CI runner) records the same state.
 *
 * {@link stagingOf} and {@link stagedEntries} are the pure part (what goes where); {@link stageContexts}
 * brings the folder to it.
 */
import * as fs from "fs";
import * as path from "path";
import { Plan, PlannedBuild } from "./plan/types";

/** The folder, relative to the project, that holds every staged context. */
export const STAGING_ROOT = ".estate/contexts";

/** What staging one build copies, and the locations the build then uses. */
export interface Staging {
  /** The build's staging folder, relative to the project. */
  dir: string;
  /** The staged context, relative to the project. */
  context: string;
  /** The staged Dockerfile, relative to the project (outside the context: it is not sent). */
  dockerfile: string;
  /** Absolute source → destination relative to the project; a source may be absent (optional). */
  copies: { from: string; to: string; optional?: boolean }[];
}

/** The staging folder's name for a build id: `car-detection/jp5/arm64` → `car-detection__jp5__arm64`. */
export function stagingName(id: string): string {
  return id.replace(/\//g, "__");
}

/**
 * What staging a build copies: its context sources, the context's `.dockerignore` and the
 * Dockerfile's own `<Dockerfile>.dockerignore` (BuildKit reads either), and the Dockerfile.
 */
export function stagingOf(build: PlannedBuild): Staging {
  const dir = path.posix.join(STAGING_ROOT, stagingName(build.id));
  const context = path.posix.join(dir, "context");
  const dockerfile = path.posix.join(dir, "Dockerfile");
  const copies: Staging["copies"] = build.contextSources.map((s) => ({
    from: path.join(build.context, s),
    to: s === "." ? context : path.posix.join(context, s),
  }));
  if (!build.contextSources.includes(".")) {
    copies.push({
      from: path.join(build.context, ".dockerignore"),
      to: path.posix.join(context, ".dockerignore"),
      optional: true,
    });
  }
  copies.push({ from: build.dockerfile, to: dockerfile });
  copies.push({
    from: `${build.dockerfile}.dockerignore`,
    to: `${dockerfile}.dockerignore`,
    optional: true,
  });
  return { dir, context, dockerfile, copies };
}

/**
 * One entry of the staging tree: a folder, or a file or symlink copied from `from`, with the source's
 * `stat` as the walk read it (so the copy step reads no source twice).
 */
export type StagedEntry =
  { kind: "dir" } | { kind: "file" | "symlink"; from: string; stat: EntryStat };

/** How a staged entry is seen on disk: an `lstat` reduced to what staging compares. */
export interface EntryStat {
  kind: "dir" | "file" | "symlink" | "other";
  size: number;
  mode: number;
  /** Modification time in milliseconds. */
  mtimeMs: number;
}

/**
 * Every entry the staging tree must hold (path relative to the project → entry), from the copies of
 * every build: a copied folder's whole tree (symlinks as links, never followed), each path's parent
 * folders, and nothing from `skip` (the staging root itself, when a context holds the project).
 * `list` gives a folder's entries and `stat` an entry's kind; an optional copy whose source is absent
 * is left out. Pure given those two readers.
 */
export function stagedEntries(
  copies: readonly Staging["copies"][number][],
  stat: (p: string) => EntryStat | undefined,
  list: (dir: string) => string[],
  skip: string,
): Map<string, StagedEntry> {
  const out = new Map<string, StagedEntry>();
  const parents = (to: string) => {
    for (
      let d = path.posix.dirname(to);
      d !== "." && d !== "/" && !out.has(d);
      d = path.posix.dirname(d)
    )
      out.set(d, { kind: "dir" });
  };
  const walk = (from: string, to: string) => {
    if (path.resolve(from) === skip) return;
    const st = stat(from);
    if (!st) throw new Error(`staging: ${from} does not exist`);
    if (st.kind === "dir") {
      out.set(to, { kind: "dir" });
      for (const name of list(from).sort()) walk(path.join(from, name), path.posix.join(to, name));
    } else if (st.kind === "file" || st.kind === "symlink") {
      out.set(to, { kind: st.kind, from, stat: st });
    } else {
      throw new Error(`staging: ${from} is neither a file, a folder nor a symlink`);
    }
  };
  for (const c of copies) {
    if (c.optional && stat(c.from) === undefined) continue;
    parents(c.to);
    walk(c.from, c.to);
  }
  return out;
}

/**
 * Whether a staged copy is current: the same kind, size, mode and modification time as its source
 * (staging copies the source's time onto the copy), as rsync's quick check decides. A symlink is
 * compared by its target.
 */
export function isCurrent(
  source: EntryStat,
  staged: EntryStat | undefined,
  linkTarget?: (p: "source" | "staged") => string,
): boolean {
  if (!staged || staged.kind !== source.kind) return false;
  if (source.kind === "symlink")
    return !!linkTarget && linkTarget("source") === linkTarget("staged");
  return (
    staged.size === source.size &&
    staged.mode === source.mode &&
    // utimes takes seconds as a double: the copy's time is the source's to well under a millisecond.
    Math.abs(staged.mtimeMs - source.mtimeMs) < 1
  );
}

function lstatEntry(p: string): EntryStat | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const kind = st.isDirectory()
    ? "dir"
    : st.isFile()
      ? "file"
      : st.isSymbolicLink()
        ? "symlink"
        : "other";
  return { kind, size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
}

/**
 * Stages every build's context under `projectDir` and returns the plan with each build's `context`
 * and `dockerfile` pointing at its staged copy (relative to the project). Afterwards
 * {@link STAGING_ROOT} holds exactly what this plan reads: what is already there and current is kept
 * (so a no-op run writes nothing, and a second run in the same checkout does not pull files from under
 * a build of the first), what changed is copied again with its source's time, and everything else
 * is removed.
 */
export function stageContexts(plan: Plan, projectDir: string): Plan {
  const root = path.join(projectDir, STAGING_ROOT);
  const perImage = plan.images.map((image) => image.builds.map((b) => stagingOf(b)));
  const stagings = perImage.flat();
  const want = stagedEntries(
    stagings.flatMap((s) => s.copies),
    lstatEntry,
    (d) => fs.readdirSync(d),
    root,
  );
  // Every build's context folder exists, even when it reads nothing.
  for (const s of stagings) {
    for (let d = s.context; d !== "." && !want.has(d); d = path.posix.dirname(d))
      want.set(d, { kind: "dir" });
  }
  want.set(STAGING_ROOT, { kind: "dir" });
  const abs = (rel: string) => path.join(projectDir, rel);

  // Remove what this plan does not stage (or stages as another kind), deepest first.
  const prune = (rel: string) => {
    const st = lstatEntry(abs(rel));
    if (!st) return;
    const w = want.get(rel);
    if (st.kind === "dir" && w?.kind === "dir") {
      for (const name of fs.readdirSync(abs(rel))) prune(path.posix.join(rel, name));
      return;
    }
    if (!w || w.kind !== st.kind) fs.rmSync(abs(rel), { recursive: true, force: true });
  };
  prune(STAGING_ROOT);

  for (const [rel, w] of want) {
    const to = abs(rel);
    if (w.kind === "dir") {
      fs.mkdirSync(to, { recursive: true });
      continue;
    }
    const source = w.stat;
    const target = (p: "source" | "staged") => fs.readlinkSync(p === "source" ? w.from : to);
    if (isCurrent(source, lstatEntry(to), target)) continue;
    fs.rmSync(to, { force: true });
    if (w.kind === "symlink") {
      fs.symlinkSync(fs.readlinkSync(w.from), to);
      continue;
    }
    fs.copyFileSync(w.from, to);
    fs.chmodSync(to, source.mode);
    fs.utimesSync(to, source.mtimeMs / 1000, source.mtimeMs / 1000);
  }
  return {
    ...plan,
    images: plan.images.map((image, i) => ({
      ...image,
      builds: image.builds.map((b, j) => {
        const s = perImage[i][j];
        return { ...b, context: s.context, dockerfile: s.dockerfile };
      }),
    })),
  };
}
