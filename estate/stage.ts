/**
 * Narrowed build contexts. Dayu builds every image with the whole repository as context
 * (`-f build/car_detection.Dockerfile .`); docker-build hashes the context it sends, so a change to
 * any file would show every build as changing. Instead each build gets a staged copy of exactly what
 * it reads (`PlannedBuild.contextSources`, from its resolved COPY/ADD sources) and of its Dockerfile,
 * under the project's git-ignored `.estate/contexts/<build>/`, rebuilt from scratch on every run (so
 * deterministic) and never inside the user's checkout. Locations are relative to the project, so a
 * second checkout at another path (a CI runner) records the same state.
 *
 * {@link stagingOf} is the pure part (what goes where); {@link stageContexts} does the copies.
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
 * Stages every build's context under `projectDir` and returns the plan with each build's `context`
 * and `dockerfile` pointing at its staged copy (relative to the project). Everything under
 * {@link STAGING_ROOT} is removed first: what is there is exactly what this plan reads.
 */
export function stageContexts(plan: Plan, projectDir: string): Plan {
  const root = path.join(projectDir, STAGING_ROOT);
  fs.rmSync(root, { recursive: true, force: true });
  const images = plan.images.map((image) => ({
    ...image,
    builds: image.builds.map((b) => {
      const s = stagingOf(b);
      fs.mkdirSync(path.join(projectDir, s.context), { recursive: true });
      for (const c of s.copies) {
        if (c.optional && !fs.existsSync(c.from)) continue;
        const to = path.join(projectDir, c.to);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.cpSync(c.from, to, {
          recursive: true,
          verbatimSymlinks: true,
          // A context that holds the project (context ".") must not copy the staging into itself.
          filter: (src) => path.resolve(src) !== root,
        });
      }
      return { ...b, context: s.context, dockerfile: s.dockerfile };
    }),
  }));
  return { ...plan, images };
}
