/**
 * Atom-style chains: a folder of `<num>-Dockerfile-<descriptor>` files built in numeric order, each
 * on the previous one, with build args from `<descriptor>-<arch>-args` files.
 *
 * Nothing in the folder that looks meant for the chain is dropped silently: a Dockerfile-like name
 * off the pattern (`10-dockerfile-base`, `Dockerfile-base`), an args file whose descriptor is no
 * step's (`pyhton-arm64-args`) or whose arch is unknown, two args files for one architecture under
 * two spellings (`base-arm64-args` and `base-aarch64-args`), and a chain file that is not a regular
 * file (a directory, a FIFO, a dangling symlink) are problems. Other files (notes, scripts) are
 * the context's business and are left alone.
 */
import * as path from "path";
import { decodeUtf8, parseArgsFile } from "../argsFile";
import { FileSource, kindError } from "../files";
import { normalizeArch } from "../platform";
import { Problems } from "../problems";
import { repositoryError, tagError } from "../reference";
import { archOf } from "./types";

const CHAIN_FILE = /^(\d+)-Dockerfile-(.+)$/;
/** Names that mention a Dockerfile: in a chain folder they are meant as steps. */
const DOCKERFILE_LIKE = /dockerfile/i;
const ARGS_FILE = /^(.+)-args$/;

/** One Dockerfile to build: a chain step (with its descriptor) or an image's only Dockerfile. */
export interface Step {
  descriptor?: string;
  dockerfile: string;
  /** Atom args files by arch label (`arm64`, `amd64`, `arm-v7`). */
  argsFiles: Record<string, string>;
}

/** Lists a chain folder's steps in numeric order; problems are reported at `where`. */
export function chainSteps(
  dir: string,
  files: FileSource,
  where: string,
  problems: Problems,
): Step[] {
  const dirErr = kindError(files, dir, "directory", "chain folder");
  if (dirErr) {
    problems.at(where, dirErr);
    return [];
  }
  const names = files.list(dir).sort();
  const steps: (Step & { num: number })[] = [];
  const seen = new Map<string, string>();
  for (const n of names) {
    const m = CHAIN_FILE.exec(n);
    if (!m) {
      if (DOCKERFILE_LIKE.test(n) && !ARGS_FILE.test(n))
        problems.at(
          where,
          `chain file ${n} does not follow <num>-Dockerfile-<descriptor> (e.g. 10-Dockerfile-base; "Dockerfile" with this case), so it would not be built`,
        );
      continue;
    }
    const descriptor = m[2];
    const fileErr = kindError(files, path.join(dir, n), "file", "chain file");
    if (fileErr) {
      problems.at(where, fileErr);
      continue;
    }
    const prev = seen.get(descriptor);
    if (prev)
      problems.at(where, `chain descriptor "${descriptor}" is used by both ${prev} and ${n}`);
    seen.set(descriptor, n);
    if (repositoryError(descriptor) || tagError(descriptor)) {
      problems.at(
        where,
        `chain file ${n}: descriptor "${descriptor}" must be lowercase [a-z0-9._-]`,
      );
    }
    steps.push({ num: Number(m[1]), descriptor, dockerfile: path.join(dir, n), argsFiles: {} });
  }
  if (steps.length === 0)
    problems.at(where, `chain folder ${dir} has no <num>-Dockerfile-<descriptor> files`);
  assignArgsFiles(steps, names, dir, files, where, problems);
  const nums = new Map<number, string>();
  for (const s of steps) {
    const other = nums.get(s.num);
    if (other)
      problems.at(
        where,
        `chain files ${other} and ${path.basename(s.dockerfile)} have the same number ${s.num}`,
      );
    nums.set(s.num, path.basename(s.dockerfile));
  }
  return steps.sort((a, b) => a.num - b.num);
}

/**
 * Gives each `<descriptor>-<arch>-args` file to its step, by the longest descriptor it starts with
 * (descriptors may contain `-`), its arch normalised like every platform (`aarch64` → arm64).
 */
function assignArgsFiles(
  steps: Step[],
  names: readonly string[],
  dir: string,
  files: FileSource,
  where: string,
  problems: Problems,
): void {
  const byLength = [...steps].sort(
    (a, b) => (b.descriptor as string).length - (a.descriptor as string).length,
  );
  const known = steps.map((s) => s.descriptor).join(", ") || "none";
  for (const n of names) {
    const am = ARGS_FILE.exec(n);
    if (!am) continue;
    const step = byLength.find((s) => am[1].startsWith(`${s.descriptor}-`));
    if (!step) {
      problems.at(
        where,
        `args file ${n} belongs to no chain step (<descriptor>-<arch>-args; descriptors: ${known})`,
      );
      continue;
    }
    const archPart = am[1].slice((step.descriptor as string).length + 1);
    const arch = normalizeArch(archPart);
    if ("error" in arch) {
      problems.at(where, `args file ${n}: ${arch.error}`);
      continue;
    }
    const file = path.join(dir, n);
    const fileErr = kindError(files, file, "file", "args file");
    if (fileErr) {
      problems.at(where, fileErr);
      continue;
    }
    const label = archOf(arch.platform);
    const other = step.argsFiles[label];
    if (other)
      problems.at(
        where,
        `args files ${path.basename(other)} and ${n} are both for ${arch.platform}: keep one`,
      );
    else step.argsFiles[label] = file;
  }
}

/** Build args from a step's args file for `arch`, if it has one (a bad line is a problem, file:line). */
export function stepArgs(
  step: Step,
  arch: string,
  files: FileSource,
  problems: Problems,
): Record<string, string> {
  const file = step.argsFiles[arch];
  if (!file) return {};
  try {
    return parseArgsFile(decodeUtf8(files.read(file), file), file);
  } catch (err) {
    problems.absorb(err);
    return {};
  }
}
