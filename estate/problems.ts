/**
 * One way to collect and report a user's mistakes: every part that reads input (catalog, settings,
 * planner, backends, pre-flight) gathers problems with `at(key, message)` and, when done, throws one
 * {@link EstateInputError} listing them all. The program turns that error into a single clear block
 * (no stack trace); the list stays on the error for tests and tools.
 */

/** Turns a key into the place a person looks for it, e.g. `dayu-estate:release in Pulumi.dev.yaml`. */
export type KeyFormatter = (key: string) => string;

/** `<project>:<key> in Pulumi.<stack>.yaml`: where a stack config key lives. */
export function stackKey(project: string, stack: string): KeyFormatter {
  return (key) => `${project}:${key} in Pulumi.${stack}.yaml`;
}

/** Keys as they are: for problems whose key already says where it is (`image "x"`, a file:line). */
export const plainKey: KeyFormatter = (key) => key;

/** Collects problems; {@link Problems.throwIfAny} reports them together. */
export class Problems {
  private readonly items: string[];

  // Fields are set in the constructor, not by initializers: Pulumi's closure serializer keeps only
  // the constructor's body, and a dynamic provider (Attestation's provenance check) builds these.
  constructor(private readonly where: KeyFormatter = plainKey) {
    this.items = [];
  }

  /** A problem with `key` (formatted by this collector's formatter). */
  at(key: string, message: string): void {
    this.add(`${this.where(key)}: ${message}`);
  }

  /** A problem whose text already says where it is. Duplicates are kept once. */
  add(problem: string): void {
    if (!this.items.includes(problem)) this.items.push(problem);
  }

  /** Takes over another error's problems (an {@link EstateInputError}) or its message. */
  absorb(err: unknown): void {
    if (err instanceof EstateInputError) err.problems.forEach((p) => this.add(p));
    else this.add(err instanceof Error ? err.message : String(err));
  }

  get list(): readonly string[] {
    return this.items;
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  /** Throws `new make(list)` when any problem was found. */
  throwIfAny(make: new (problems: string[]) => EstateInputError = EstateInputError): void {
    if (!this.empty) throw new make([...this.items]);
  }
}

/**
 * A user's mistake (catalog, stack config, files, registry or builder answers): a headline and the
 * list of problems. Printed as one block; never a stack trace.
 */
export class EstateInputError extends Error {
  constructor(
    public readonly problems: string[],
    headline = "invalid input",
  ) {
    super(formatProblems(headline, problems));
    // Inside a dynamic provider (serialized by Pulumi) `super` becomes `Error.call(this, …)`, which
    // leaves this error without its message, and the constructor runs without `new.target`.
    this.message = formatProblems(headline, problems);
    this.name = new.target?.name ?? "EstateInputError";
  }
}

/** `headline (N problems):` followed by one `  - problem` line each. */
export function formatProblems(headline: string, problems: readonly string[]): string {
  const n = problems.length;
  return `${headline} (${n} problem${n === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}
