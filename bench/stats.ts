/**
 * The bench's arithmetic and its tables: medians, min/max, ratios, markdown. Pure.
 */

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no values");
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** min, median, max of a non-empty list. */
export function spread(xs: readonly number[]): { min: number; median: number; max: number } {
  if (xs.length === 0) throw new Error("spread of no values");
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

/** a / b, or undefined when b is 0 or either is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/**
 * The median of the pairwise ratios a[i] / b[i] (runs i of the two sides were taken back to back,
 * so a ratio holds when the machine's speed drifts between runs).
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number | undefined {
  const pairs: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const r = ratio(a[i], b[i]);
    if (r !== undefined) pairs.push(r);
  }
  return pairs.length ? median(pairs) : undefined;
}

/** One measured run of one side. */
export interface Sample {
  seconds: number;
  builds: number;
  indexes: number;
  ok: boolean;
  /** The script's median wall seconds per build, by platform. */
  perPlatform?: Record<string, number>;
}

/** A scenario's figures for both sides. */
export interface ScenarioResult {
  workload: string;
  scenario: string;
  script: Sample[];
  program: Sample[];
  /** What the program should build and index, when the scenario says (a leaf: exactly its own). */
  expected?: { builds: number; indexes: number };
}

/** `12.3 s (11.9–13.0)` for several values, `12.3 s` for one. */
export function fmtSeconds(xs: readonly number[]): string {
  if (xs.length === 0) return "—";
  const s = spread(xs);
  const f = (x: number) => x.toFixed(1);
  return xs.length > 1 ? `${f(s.median)} s (${f(s.min)}–${f(s.max)})` : `${f(s.median)} s`;
}

/** `0.42×`, or `—`. */
export function fmtRatio(r: number | undefined): string {
  return r === undefined ? "—" : `${r.toFixed(2)}×`;
}

/** Counts, `60` when every run agrees, `60/58` otherwise. */
export function fmtCounts(xs: readonly number[]): string {
  if (xs.length === 0) return "—";
  const distinct = [...new Set(xs)];
  return distinct.length === 1 ? String(distinct[0]) : xs.join("/");
}

/** Seconds of the runs that succeeded. */
function okSeconds(xs: readonly Sample[]): number[] {
  return xs.filter((x) => x.ok).map((x) => x.seconds);
}

/** The side-by-side table: one row per (workload, scenario). */
export function scenarioTable(rows: readonly ScenarioResult[]): string {
  const head = [
    "workload",
    "run",
    "script wall",
    "script builds / indexes",
    "program wall",
    "program builds / indexes",
    "expected (program)",
    "program / script",
    "failed runs",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const failed = [...r.script, ...r.program].filter((x) => !x.ok).length;
    const okPairs = r.script
      .map((s, i) => (s.ok && r.program[i]?.ok ? i : -1))
      .filter((i) => i >= 0);
    const cells = [
      r.workload,
      r.scenario,
      fmtSeconds(okSeconds(r.script)),
      `${fmtCounts(r.script.map((x) => x.builds))} / ${fmtCounts(r.script.map((x) => x.indexes))}`,
      fmtSeconds(okSeconds(r.program)),
      `${fmtCounts(r.program.map((x) => x.builds))} / ${fmtCounts(r.program.map((x) => x.indexes))}`,
      r.expected ? `${r.expected.builds} / ${r.expected.indexes}` : "—",
      fmtRatio(
        pairedRatio(
          okPairs.map((i) => r.program[i].seconds),
          okPairs.map((i) => r.script[i].seconds),
        ),
      ),
      String(failed),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** One scale measurement. */
export interface ScaleResult {
  images: number;
  builds: number;
  indexes: number;
  command: "preview" | "up";
  seconds: number[];
  /** Peak RSS of the node program (MiB), per run. */
  nodePeakMiB: number[];
  /** Peak RSS of the pulumi CLI process (engine), per run. */
  cliPeakMiB: number[];
  /** The checkpoint an `up` left: bytes of the state file and resources in it (absent for a preview). */
  checkpoint?: CheckpointFacts;
  ok: boolean;
}

/** Size of a stack's checkpoint (the file the engine rewrites after every step of an `up`). */
export interface CheckpointFacts {
  bytes: number;
  resources: number;
}

/**
 * Bytes and resources of a file-backend checkpoint (`pulumi stack export` shape, or the state
 * file's `{ checkpoint: { latest } }`). Throws naming what is missing.
 */
export function checkpointFacts(text: string): CheckpointFacts {
  const doc = JSON.parse(text) as {
    checkpoint?: { latest?: { resources?: unknown[] } };
    deployment?: { resources?: unknown[] };
  };
  const resources = doc.checkpoint?.latest?.resources ?? doc.deployment?.resources;
  if (!Array.isArray(resources)) throw new Error("not a Pulumi checkpoint: no resources list");
  return { bytes: Buffer.byteLength(text), resources: resources.length };
}

/** The scaling table. */
export function scaleTable(rows: readonly ScaleResult[]): string {
  const head = [
    "command",
    "images",
    "builds / indexes",
    "wall",
    "node peak RSS",
    "engine peak RSS",
    "checkpoint",
    "s per image",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  const mib = (xs: number[]) => (xs.length ? `${Math.round(median(xs))} MiB` : "—");
  for (const r of rows) {
    const wall = r.ok ? fmtSeconds(r.seconds) : `failed (${fmtSeconds(r.seconds)})`;
    const per = r.ok && r.seconds.length ? (median(r.seconds) / r.images).toFixed(2) : "—";
    const cp = r.checkpoint
      ? `${(r.checkpoint.bytes / 1e6).toFixed(2)} MB, ${r.checkpoint.resources} resources`
      : "—";
    lines.push(
      `| ${[r.command, r.images, `${r.builds} / ${r.indexes}`, wall, mib(r.nodePeakMiB), mib(r.cliPeakMiB), cp, per].join(" | ")} |`,
    );
  }
  return lines.join("\n");
}

/**
 * Growth between two sizes: the exponent k of seconds ∝ images^k (1 linear, 2 quadratic), from
 * the medians of the two sizes.
 */
export function growthExponent(
  a: { images: number; seconds: number },
  b: { images: number; seconds: number },
): number | undefined {
  if (a.images <= 0 || b.images <= 0 || a.images === b.images || a.seconds <= 0 || b.seconds <= 0)
    return undefined;
  return Math.log(b.seconds / a.seconds) / Math.log(b.images / a.images);
}

/**
 * Wall seconds of each build the script ran, by platform, from its log's `-- built <image>
 * <variant> <platform> <seconds>` lines.
 */
export function buildSecondsByPlatform(scriptLog: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const m of scriptLog.matchAll(/^-- built \S+ \S+ (\S+) ([0-9.]+)$/gm)) {
    (out[m[1]] ??= []).push(Number(m[2]));
  }
  return out;
}

/** `linux/amd64 1.2 s, linux/arm64 3.4 s (arm64/amd64 2.83×)` from samples' per-platform medians. */
export function perPlatformLine(samples: readonly Sample[]): string | undefined {
  const by: Record<string, number[]> = {};
  for (const s of samples) {
    for (const [p, v] of Object.entries(s.perPlatform ?? {})) (by[p] ??= []).push(v);
  }
  const m = Object.fromEntries(Object.entries(by).map(([p, v]) => [p, median(v)]));
  if (Object.keys(m).length === 0) return undefined;
  const parts = Object.keys(m)
    .sort()
    .map((p) => `${p} ${m[p].toFixed(1)} s`);
  const r = ratio(m["linux/arm64"], m["linux/amd64"]);
  return `${parts.join(", ")}${r === undefined ? "" : ` (arm64/amd64 ${r.toFixed(2)}×)`}`;
}
