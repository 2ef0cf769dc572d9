/** Command-line flags shared by our scripts (preview-comment, up-report). */
import { Problems } from "../estate/problems";

/**
 * Reads `--name value` pairs. A flag without a value, a bare word, or a missing `required` flag is a
 * problem naming the flag; all of them are reported at once.
 */
export function flagPairs(argv: string[], required: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const problems = new Problems((key) => `--${key}`);
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    if (!flag.startsWith("--") || argv[i + 1] === undefined) {
      problems.add(`${flag}: expected --flag value pairs`);
      continue;
    }
    out[flag.slice(2)] = argv[i + 1];
  }
  for (const key of required) if (!out[key]) problems.at(key, "is required");
  problems.throwIfAny();
  return out;
}
