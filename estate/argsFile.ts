/**
 * Atom-style args files: one `KEY=VALUE` build argument a line. Blank lines and `#` comments are
 * ignored. A bare `KEY` is an error: unlike `docker build --build-arg KEY`, it never reads the host's
 * environment, so a build cannot change with whoever runs it.
 */

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses an args file's text. `file` only names the file in error messages. */
export function parseArgsFile(text: string, file: string): Record<string, string> {
  const args: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    if (raw.includes("\uFFFD")) throw new Error(`${where}: not valid UTF-8`);
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq < 0) {
      throw new Error(
        `${where}: "${line}" has no "=" (write KEY=VALUE; a bare KEY would read the host environment and is not allowed)`,
      );
    }
    const key = line.slice(0, eq);
    if (!KEY.test(key)) {
      throw new Error(
        `${where}: "${key}" is not a valid build-arg name (letters, digits, _; no whitespace)`,
      );
    }
    if (key in args) throw new Error(`${where}: ${key} is set twice`);
    args[key] = line.slice(eq + 1);
  });
  return args;
}

/** Decodes bytes as UTF-8, failing (with the file name) on invalid sequences. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${file}: not valid UTF-8`);
  }
}
