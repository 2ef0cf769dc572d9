/**
 * `ts-node --transpile-only scripts/up-report.ts --events <events.jsonl> [--log <up.log>]
 *  [--summary <summary.json>] [--out <report.txt>]`
 *
 * What one `pulumi up` did, in one screen, from the engine's event log (`--event-log`): a table of
 * what changed (image, arch, tag, digest, op), the failures with the tail of a failing build's
 * BuildKit log, the warnings, and where the full output and the full per-image summary live. The CLI's
 * own output stays in the log file: a cold `up` prints one line per BuildKit progress line and every
 * `up` prints the whole `summary` output (hundreds of lines), neither of which a person reads.
 *
 * Stages, as in scripts/preview-comment.ts: parse → classify → render, pure and tested on real
 * captured event logs (test/fixtures/up/, test/unit/upReport.test.ts).
 */
import { flagPairs } from "./flags";
import * as fs from "fs";
import { EstateInputError, Problems } from "../estate/problems";
import { UNKNOWN, digestOf, parseUrn } from "./preview-comment";

/** The parts of a step's state the report reads (apitype.StepEventStateMetadata). */
export interface EventState {
  type?: string;
  urn?: string;
  inputs?: Record<string, unknown> | null;
  outputs?: Record<string, unknown> | null;
}

/** apitype.StepEventMetadata, the fields the report reads. */
export interface StepMetadata {
  op: string;
  urn: string;
  type: string;
  old?: EventState | null;
  new?: EventState | null;
}

/** apitype.DiagnosticEvent. */
export interface DiagnosticEvent {
  urn?: string;
  prefix?: string;
  message: string;
  severity: string;
  ephemeral?: boolean;
}

/** One line of `--event-log` (apitype.EngineEvent), the kinds the report reads. */
export interface EngineEvent {
  sequence?: number;
  /** `planning`: a step of the preview that `up` runs first (without --skip-preview). */
  resOutputsEvent?: { metadata: StepMetadata; planning?: boolean };
  resOpFailedEvent?: { metadata: StepMetadata };
  diagnosticEvent?: DiagnosticEvent;
  summaryEvent?: {
    maybeCorrupt?: boolean;
    durationSeconds?: number;
    resourceChanges?: Record<string, number>;
    isPreview?: boolean;
  };
}

/** Parses an event log (one JSON engine event per line); a bad line is named by file and number. */
export function parseEvents(text: string, file: string): EngineEvent[] {
  const problems = new Problems((key) => `${file}:${key}`);
  const events: EngineEvent[] = [];
  text.split("\n").forEach((line, n) => {
    if (!line.trim()) return;
    try {
      events.push(JSON.parse(line) as EngineEvent);
    } catch {
      problems.at(
        String(n + 1),
        "is not a JSON engine event: pass the file of pulumi up --event-log",
      );
    }
  });
  problems.throwIfAny();
  return events;
}

const IMAGE = "docker-build:index:Image";
const INDEX = "docker-build:index:Index";
const MULTI_ARCH = "dayu:estate:MultiArchImage";
const MIRROR = "dayu:estate:MirroredImage";
/** Ops that change nothing in the registry. */
const QUIET = new Set(["same", "read", "refresh", "discard", "remove-pending-replace"]);
/** Lines of a failing build's BuildKit log the report shows; the log file has all of them. */
export const LOG_TAIL = 25;

/** One changed build or index tag. */
export interface ChangeRow {
  image: string;
  /** `amd64`, `arm64` for a build; `index` for a tag's manifest index. */
  arch: string;
  /** The tag written: a build's per-arch tag, an index's tag. */
  tag: string;
  /** Digest written; undefined when the step recorded none (a delete). */
  digest?: string;
  /** create, update, replace, delete. */
  op: string;
  mirror: boolean;
}

/** One failed resource: its name, its errors, and (a build) the end of its BuildKit log. */
export interface Failure {
  resource: string;
  errors: string[];
  log: string[];
}

/** Everything the report prints. */
export interface UpReport {
  changes: ChangeRow[];
  /** Builds and index tags that the update left as they were. */
  unchanged: { builds: number; indexes: number };
  failures: Failure[];
  /** Errors of the run that name no resource (the program's, the engine's). */
  errors: string[];
  warnings: string[];
  durationSeconds?: number;
  resourceChanges: Record<string, number>;
  /** The engine's summary never arrived: the run was cut short. */
  finished: boolean;
}

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v !== "" && v !== UNKNOWN ? v : undefined;

/** The tag of `host:port/repo:tag` (the part after the last `:` that follows the last `/`). */
export function tagOf(ref: string): string {
  const name = ref.split("@")[0];
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  return colon > slash ? name.slice(colon + 1) : "latest";
}

/** A changed Image or Index as a row; undefined for any other resource. */
function rowOf(m: StepMetadata, op: string): ChangeRow | undefined {
  const urn = parseUrn(m.urn);
  const state = (op === "delete" ? m.old : m.new) ?? m.old ?? m.new;
  const inputs = state?.inputs ?? {};
  const outputs = state?.outputs ?? {};
  const mirror = urn.types.includes(MIRROR);
  if (urn.type === IMAGE) {
    const labels = (inputs.labels ?? {}) as Record<string, unknown>;
    const id = str(labels["dev.dayu.estate.build"]) ?? urn.name;
    const platform = str((inputs.platforms as unknown[] | undefined)?.[0]);
    const tag = str((inputs.tags as unknown[] | undefined)?.[0]);
    return {
      image: str(labels["org.opencontainers.image.title"]) ?? id.split("/")[0],
      arch: platform ? platform.split("/").slice(1).join("/") : (id.split("/").pop() ?? ""),
      tag: tag ? tagOf(tag) : "",
      digest: op === "delete" ? undefined : str(outputs.digest),
      op,
      mirror,
    };
  }
  if (urn.type === INDEX && (mirror || urn.types.includes(MULTI_ARCH))) {
    const tag = str(inputs.tag) ?? urn.name;
    return {
      image: urn.name.split(":")[0],
      arch: "index",
      tag: tagOf(tag),
      digest: op === "delete" ? undefined : digestOf(outputs.ref),
      op,
      mirror,
    };
  }
  return undefined;
}

/** The op a resource's steps add up to: a replacement's three steps are one `replace`. */
function opOf(ops: string[]): string {
  const loud = ops.filter((o) => !QUIET.has(o));
  if (loud.length === 0) return "same";
  if (loud.some((o) => o.includes("replace"))) return "replace";
  return loud[loud.length - 1];
}

/** A BuildKit log line worth showing: not the blank ones the provider emits to clear its status. */
const logLines = (text: string): string[] =>
  text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");

/** Sorts an update's events into changes, failures, errors and warnings. */
export function classifyUpdate(events: EngineEvent[]): UpReport {
  const steps = new Map<string, StepMetadata[]>();
  const failed = new Set<string>();
  const diags = new Map<string, DiagnosticEvent[]>();
  const progress = new Map<string, string[]>();
  const report: UpReport = {
    changes: [],
    unchanged: { builds: 0, indexes: 0 },
    failures: [],
    errors: [],
    warnings: [],
    resourceChanges: {},
    finished: false,
  };
  for (const e of events) {
    // The preview inside an `up` says what would happen; the update's own steps say what did.
    const done = e.resOutputsEvent?.planning ? undefined : e.resOutputsEvent?.metadata;
    if (done) steps.set(done.urn, [...(steps.get(done.urn) ?? []), done]);
    const fail = e.resOpFailedEvent?.metadata;
    if (fail) failed.add(fail.urn);
    const d = e.diagnosticEvent;
    // Ephemeral diagnostics are progress (BuildKit's lines while a build runs): reported only for a
    // resource that fails.
    if (d?.ephemeral && d.urn) progress.set(d.urn, [...(progress.get(d.urn) ?? []), d.message]);
    else if (d) diags.set(d.urn ?? "", [...(diags.get(d.urn ?? "") ?? []), d]);
    if (e.summaryEvent && !e.summaryEvent.isPreview) {
      report.finished = true;
      report.durationSeconds = e.summaryEvent.durationSeconds;
      report.resourceChanges = e.summaryEvent.resourceChanges ?? {};
    }
  }
  for (const [, ms] of steps) {
    const op = opOf(ms.map((m) => m.op));
    const last =
      ms.find((m) => m.op === "replace" || m.op === "create-replacement") ?? ms[ms.length - 1];
    const row = rowOf(last, op);
    if (!row) continue;
    if (op !== "same") report.changes.push(row);
    else if (row.arch === "index") report.unchanged.indexes++;
    else report.unchanged.builds++;
  }
  report.changes.sort(
    (a, b) =>
      Number(a.mirror) - Number(b.mirror) ||
      a.image.localeCompare(b.image) ||
      a.tag.localeCompare(b.tag) ||
      a.arch.localeCompare(b.arch),
  );
  for (const urn of failed) {
    const own = diags.get(urn) ?? [];
    diags.delete(urn);
    const errors = own.filter((d) => d.severity === "error").map((d) => d.message.trim());
    // A failing build's BuildKit log: the provider's progress lines (ephemeral, one per line), or the
    // whole output it re-logs as one message when the build call itself fails.
    const kept = own.filter((d) => d.severity === "info" || d.severity === "info#err");
    const log = [...(progress.get(urn) ?? []), ...kept.map((d) => d.message)].flatMap(logLines);
    const u = parseUrn(urn);
    report.failures.push({
      resource: `${u.type} ${u.name}`,
      errors,
      log: log.slice(-LOG_TAIL),
    });
    for (const w of own.filter((d) => d.severity === "warning"))
      report.warnings.push(`${u.name}: ${w.message.trim()}`);
  }
  for (const [urn, ds] of diags) {
    const name = urn ? parseUrn(urn).name : "";
    for (const d of ds) {
      const text = `${name && !urn.includes("pulumi:pulumi:Stack") ? `${name}: ` : ""}${d.message.trim()}`;
      if (d.severity === "error") report.errors.push(text);
      else if (d.severity === "warning") report.warnings.push(text);
    }
  }
  report.warnings = [...new Set(report.warnings)];
  report.errors = [...new Set(report.errors)];
  return report;
}

/** `sha256:0123456789ab`: 12 hex digits are plenty to compare by eye. */
export function short(digest: string | undefined): string {
  if (!digest) return "—";
  const [alg, hex] = digest.includes(":") ? digest.split(":") : ["sha256", digest];
  return `${alg}:${hex.slice(0, 12)}`;
}

/** Columns padded to their widest cell. */
export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

/** Where the full output lives, for the report's last lines. */
export interface ReportFiles {
  /** The CLI's own output of the run. */
  log?: string;
  /** The full per-image summary (`pulumi stack output --json summary`), written after the run. */
  summary?: string;
}

/** The report: one screen, however large the estate. */
export function renderReport(r: UpReport, files: ReportFiles = {}): string {
  const out: string[] = [];
  const builds = r.changes.filter((c) => c.arch !== "index").length;
  const indexes = r.changes.length - builds;
  if (r.changes.length) {
    out.push(
      `Changed: ${builds} build(s), ${indexes} index tag(s)` +
        ` (unchanged: ${r.unchanged.builds} build(s), ${r.unchanged.indexes} index tag(s))`,
      "",
      ...table([
        ["image", "arch", "tag", "digest", "op"],
        ...r.changes.map((c) => [
          c.mirror ? `${c.image} (mirror)` : c.image,
          c.arch,
          c.tag,
          short(c.digest),
          c.op,
        ]),
      ]).map((l) => `  ${l}`),
      "",
    );
  } else if (r.finished && !r.failures.length && !r.errors.length) {
    out.push(
      `No changes: ${r.unchanged.builds} build(s) and ${r.unchanged.indexes} index tag(s) as they were.`,
      "",
    );
  }
  for (const f of r.failures) {
    out.push(`FAILED ${f.resource}`);
    for (const e of f.errors) out.push(...e.split("\n").map((l) => `  ${l}`));
    if (f.log.length) {
      out.push(`  last ${f.log.length} line(s) of its BuildKit log:`);
      out.push(...f.log.map((l) => `    ${l}`));
    }
    out.push("");
  }
  if (r.errors.length) {
    out.push("Errors:", ...r.errors.flatMap((e) => e.split("\n").map((l) => `  ${l}`)), "");
  }
  if (r.warnings.length) {
    out.push("Warnings:", ...r.warnings.flatMap((w) => w.split("\n").map((l) => `  ${l}`)), "");
  }
  if (!r.finished) out.push("The update did not finish (no summary event): see the full output.");
  const counts = Object.entries(r.resourceChanges)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${n} ${op}`)
    .join(", ");
  if (r.finished) {
    const took = r.durationSeconds === undefined ? "" : ` in ${r.durationSeconds}s`;
    out.push(`Resources: ${counts || "none"}${took}.`);
  }
  if (files.summary)
    out.push(`Full summary (image → tag → index and per-arch refs): ${files.summary}`);
  if (files.log) out.push(`Full output of pulumi up (BuildKit logs included): ${files.log}`);
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------------
// Capturing fixtures: a real event log, cut to what the report reads

/** Input and output keys the report reads; the rest of a state (a guard's serialized provider) goes. */
const KEPT_INPUTS = ["labels", "platforms", "tags", "tag"];
const KEPT_OUTPUTS = ["digest", "ref"];

const pick = (o: Record<string, unknown> | null | undefined, keys: string[]) =>
  o ? Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]])) : o;

const slimState = (st: EventState | null | undefined): EventState | null | undefined =>
  st && {
    type: st.type,
    urn: st.urn,
    inputs: pick(st.inputs, KEPT_INPUTS),
    outputs: pick(st.outputs, KEPT_OUTPUTS),
  };

/**
 * An event log with only the events the report reads (builds and indexes done, any step failed,
 * diagnostics but the debug ones, the summary), each state cut to the keys it reads; the progress
 * lines of a failed resource all kept, of the others at most `ephemeral` (so a test still sees that they
 * are left out). A cold `up` of the estate logs megabytes; this keeps about a hundred kilobytes.
 */
export function compactEvents(text: string, ephemeral = 20): string {
  let kept = 0;
  const out: string[] = [];
  const events = text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EngineEvent & Record<string, unknown>);
  const failed = new Set(events.map((e) => e.resOpFailedEvent?.metadata.urn).filter(Boolean));
  for (const e of events) {
    const d = e.diagnosticEvent;
    if (d?.severity === "debug") continue;
    if (d?.ephemeral && !failed.has(d.urn) && kept++ >= ephemeral) continue;
    const step = e.resOutputsEvent ?? e.resOpFailedEvent;
    const read = e.resOpFailedEvent || [IMAGE, INDEX].includes(step?.metadata.type ?? "");
    if ((step && !read) || (!step && !d && !e.summaryEvent)) continue;
    if (step) {
      const m = step.metadata;
      step.metadata = {
        op: m.op,
        urn: m.urn,
        type: m.type,
        old: slimState(m.old),
        new: slimState(m.new),
      };
    }
    out.push(JSON.stringify(e));
  }
  return out.map((l) => `${l}\n`).join("");
}

/** Reads `--name value` pairs; `--events` is required. */
export function parseArgs(argv: string[]): Record<string, string> {
  return flagPairs(argv, ["events"]);
}

function main(argv: string[]): void {
  const args = parseArgs(argv);
  // An up that failed before the engine started leaves no event log: the report says so.
  const text = fs.existsSync(args.events) ? fs.readFileSync(args.events, "utf8") : "";
  const report = renderReport(classifyUpdate(parseEvents(text, args.events)), {
    log: args.log,
    summary: args.summary,
  });
  if (args.out) fs.writeFileSync(args.out, report);
  process.stdout.write(report);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof EstateInputError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
