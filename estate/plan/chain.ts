/**
 * Atom-style chains: a folder of `<num>-Dockerfile-<descriptor>` files built in numeric order, each
 * on the previous one, with build args from `<descriptor>-<arch>-args` files.
 */
import * as path from "path";
import { decodeUtf8, parseArgsFile } from "../argsFile";
import { FileSource } from "../files";
import { Problems } from "../problems";
import { repositoryError, tagError } from "../reference";

const CHAIN_FILE = /^(\d+)-Dockerfile-(.+)$/;

/** One Dockerfile to build: a chain step (with its descriptor) or an image's only Dockerfile. */
export interface Step {
  descriptor?: string;
  dockerfile: string;
  /** Atom args files by arch. */
  argsFiles: Record<string, string>;
}

/** Lists a chain folder's steps in numeric order; problems are reported at `where`. */
export function chainSteps(
  dir: string,
  files: FileSource,
  where: string,
  problems: Problems,
): Step[] {
  if (!files.isDirectory(dir)) {
    problems.at(where, `chain folder ${dir} does not exist`);
    return [];
  }
  const names = files.list(dir);
  const steps: (Step & { num: number })[] = [];
  const seen = new Map<string, string>();
  for (const n of names) {
    const m = CHAIN_FILE.exec(n);
    if (!m) continue;
    const descriptor = m[2];
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
    const argsFiles = argsFilesOf(descriptor, names, dir);
    steps.push({ num: Number(m[1]), descriptor, dockerfile: path.join(dir, n), argsFiles });
  }
  if (steps.length === 0)
    problems.at(where, `chain folder ${dir} has no <num>-Dockerfile-<descriptor> files`);
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

/** A step's `<descriptor>-<arch>-args` files by arch (`aarch64` means arm64). */
function argsFilesOf(descriptor: string, names: string[], dir: string): Record<string, string> {
  const pattern = new RegExp(
    `^${descriptor.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-([a-z0-9]+)-args$`,
  );
  const argsFiles: Record<string, string> = {};
  for (const a of names) {
    const am = pattern.exec(a);
    if (am) argsFiles[am[1] === "aarch64" ? "arm64" : am[1]] = path.join(dir, a);
  }
  return argsFiles;
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
