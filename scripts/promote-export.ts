/**
 * `npm run promote:export -- --stack <source> [--out <file>]`: writes the digest file an air-gapped
 * promote stack reads (`promote.digestFile`) from the source stack's `summary` output
 * (`pulumi stack output --json summary`). The summary's shape is checked first, so a file that would
 * be refused later is never written. Default output: `promote-<stack>.json`.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { parseSourceSummary } from "../estate/promote";
import { Problems } from "../estate/problems";

/** The digest file's text for a summary given as `pulumi stack output --json` prints it; throws naming each problem. */
export function digestFileText(outputJson: string, stack: string): string {
  const problems = new Problems((k) => `${k} of stack ${stack}`);
  let value: unknown;
  try {
    value = JSON.parse(outputJson);
  } catch (err) {
    throw new Error(`the summary output of stack ${stack} is not JSON: ${(err as Error).message}`);
  }
  const summary = parseSourceSummary(value, "summary", problems);
  if (!problems.empty) throw new Error(problems.list.join("\n"));
  return `${JSON.stringify(summary, null, 2)}\n`;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const stack = arg("--stack");
  if (!stack) {
    console.error("usage: npm run promote:export -- --stack <source stack> [--out <file>]");
    process.exit(2);
  }
  const out = arg("--out") ?? `promote-${stack.replace(/[^A-Za-z0-9_.-]+/g, "-")}.json`;
  try {
    const json = execFileSync(
      process.env.DAYU_PULUMI ?? "pulumi",
      ["stack", "output", "--json", "summary", "--stack", stack],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    fs.writeFileSync(out, digestFileText(json, stack));
    console.log(`wrote ${out}: set promote.digestFile to it on the promoting stack`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
