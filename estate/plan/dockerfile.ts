/** The Dockerfile check: it exists, has a FROM, and declares the base arg when a base is passed in it. */
import { decodeUtf8 } from "../argsFile";
import { FileSource, kindError } from "../files";
import { Problems } from "../problems";

/**
 * Checks `file`; `baseArg` is the build arg the pinned base is passed in (undefined without a base).
 * Problems are reported at `where`.
 */
export function checkDockerfile(
  file: string,
  baseArg: string | undefined,
  where: string,
  files: FileSource,
  problems: Problems,
): void {
  // The kind first: a FIFO must never be opened (the read would hang), a directory or a dangling
  // symlink would surface as a raw EISDIR/ENOENT naming no image.
  const kindErr = kindError(files, file, "file", "Dockerfile");
  if (kindErr) {
    problems.at(where, kindErr);
    return;
  }
  let text: string;
  try {
    text = decodeUtf8(files.read(file), file);
  } catch (err) {
    problems.at(where, (err as Error).message);
    return;
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (!lines.some((l) => /^FROM\s+\S/i.test(l)))
    problems.at(where, `${file} has no FROM instruction`);
  if (baseArg && !lines.some((l) => new RegExp(`^ARG\\s+${baseArg}(\\s|=|$)`, "i").test(l))) {
    problems.at(
      where,
      `${file} does not declare ARG ${baseArg}, so the pinned base would be ignored`,
    );
  }
}
