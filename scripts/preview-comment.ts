/**
 * `npm run preview-comment -- --stack <name> --preview <preview.json> [--events <events.jsonl>]
 *  [--policy-pack <name>] [--out <comment.md>]`
 *
 * Renders what a reviewer needs from one stack's `pulumi preview --json` in one screen: per image,
 * which architectures and variants rebuild and why, which index tags move (old → new digest where
 * known), which mirrors change, which tags moved behind the program's back (drift), and the policy
 * results. Not the raw resource list. The stages are pure functions (parse → classify → render),
 * tested on captured and hand-written previews in test/unit/previewComment.test.ts.
 *
 * Policy results come from the `--event-log` of the same run: `pulumi preview --json` leaves policy
 * events out of its digest (the CLI's ShowPreviewDigest skips them), the engine's event log keeps them.
 */
import { flagPairs } from "./flags";
import * as fs from "fs";
import { EstateInputError, Problems } from "../estate/problems";

/** One property's change in a step (`detailedDiff`). */
export interface PropertyDiff {
  kind: string;
  inputDiff?: boolean;
}

/** A resource's state as `pulumi preview --json` prints it (apitype.ResourceV3, the fields we read). */
export interface ResourceState {
  urn: string;
  type: string;
  custom?: boolean;
  id?: string;
  parent?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** One step the engine intends to take (display.PreviewStep). */
export interface PreviewStep {
  op: string;
  urn: string;
  provider?: string;
  oldState?: ResourceState;
  newState?: ResourceState;
  diffReasons?: string[];
  replaceReasons?: string[];
  detailedDiff?: Record<string, PropertyDiff> | null;
}

/** A warning or error of the run (display.PreviewDiagnostic). */
export interface PreviewDiagnostic {
  urn?: string;
  prefix?: string;
  message?: string;
  severity?: string;
}

/** The document `pulumi preview --json` prints (display.PreviewDigest). */
export interface PreviewDigest {
  config?: Record<string, string>;
  steps?: PreviewStep[];
  diagnostics?: PreviewDiagnostic[];
  duration?: number;
  changeSummary?: Record<string, number>;
  maybeCorrupt?: boolean;
}

/** A policy violation from the event log (apitype.PolicyEvent). */
export interface PolicyViolation {
  resourceUrn?: string;
  message: string;
  policyName: string;
  policyPackName: string;
  policyPackVersion: string;
  /** `advisory`, `mandatory`, `remediate` or `disabled`. */
  enforcementLevel: string;
}

/** What the event log says about policies: the packs that ran and their violations. */
export interface PolicyReport {
  /** Pack name → version, from the run's summary event; empty when no pack ran. */
  packs: Record<string, string>;
  violations: PolicyViolation[];
}

/** The value Pulumi prints for a property that is not known until the update runs. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/**
 * What an index lists for a build that has not run yet: components/archImage.ts's PENDING_DIGEST,
 * repeated so this script loads no Pulumi SDK (a unit test keeps the two equal).
 */
export const PENDING_DIGEST = `sha256:${"0".repeat(64)}`;
/** The first line of every comment for `stack`: the workflow finds and updates its own comment by it. */
export const marker = (stack: string): string => `<!-- dayu-estate-preview stack=${stack} -->`;

const IMAGE = "docker-build:index:Image";
const INDEX = "docker-build:index:Index";
const GUARD = "pulumi-nodejs:dynamic:Resource";
const MULTI_ARCH = "dayu:estate:MultiArchImage";
const MIRROR = "dayu:estate:MirroredImage";
/** ReleaseLock names (components/releaseLock.ts); a lock is listed with the other resources. */
const RELEASE_LOCK_SUFFIX = "-release-lock";
/** Violations listed in a comment; one screen, and a comment has a size limit. Mandatory ones first. */
const MAX_VIOLATIONS = 20;
/** Ops that change nothing. */
const QUIET_OPS = new Set(["same", "read", "refresh"]);

// ---------------------------------------------------------------------------------------------------
// Stage 1: parse the inputs (a person can hand us any file: name it in every problem)

/** Parses `pulumi preview --json` output; throws an {@link EstateInputError} naming the file. */
export function parsePreview(text: string, file: string): PreviewDigest {
  const problems = new Problems((key) => `${file}${key}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    problems.at(
      "",
      `is not JSON (${(err as Error).message}): pass the output of pulumi preview --json`,
    );
    problems.throwIfAny();
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    problems.at("", "is not a pulumi preview --json document (expected an object)");
  } else {
    const steps = (doc as PreviewDigest).steps;
    if (steps !== undefined && !Array.isArray(steps)) problems.at(": steps", "must be a list");
    (Array.isArray(steps) ? steps : []).forEach((s: unknown, i) => {
      const step = s as Partial<PreviewStep> | null;
      if (typeof step?.op !== "string" || typeof step.urn !== "string")
        problems.at(`: steps[${i}]`, "needs a string op and urn");
    });
  }
  problems.throwIfAny();
  return doc as PreviewDigest;
}

/** Parses a `pulumi … --event-log` file (one engine event per line) into the policy results. */
export function parseEventLog(text: string, file: string): PolicyReport {
  const problems = new Problems((key) => `${file}:${key}`);
  const report: PolicyReport = { packs: {}, violations: [] };
  text.split("\n").forEach((line, n) => {
    if (!line.trim()) return;
    let event: {
      policyEvent?: PolicyViolation;
      summaryEvent?: { PolicyPacks?: Record<string, string> };
    };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      problems.at(String(n + 1), "is not a JSON engine event: pass the file of --event-log");
      return;
    }
    if (event.policyEvent) report.violations.push(event.policyEvent);
    // The CLI keys a local pack as `<name>|local|<path>`: the comment names the pack.
    for (const [key, version] of Object.entries(event.summaryEvent?.PolicyPacks ?? {}))
      report.packs[key.split("|")[0]] = version;
  });
  problems.throwIfAny();
  return report;
}

// ---------------------------------------------------------------------------------------------------
// Stage 2: classify the steps by what they mean for the estate

/** The parts of `urn:pulumi:<stack>::<project>::<parent$…$type>::<name>`. */
export interface UrnParts {
  stack: string;
  project: string;
  /** The type chain, outermost parent first; the resource's own type last. */
  types: string[];
  type: string;
  name: string;
}

/** Splits a URN (names may contain `::`, types never do). */
export function parseUrn(urn: string): UrnParts {
  const parts = urn.split("::");
  const types = (parts[2] ?? "").split("$");
  return {
    stack: (parts[0] ?? "").replace(/^urn:pulumi:/, ""),
    project: parts[1] ?? "",
    types,
    type: types[types.length - 1],
    name: parts.slice(3).join("::"),
  };
}

/** One per-arch build about to run (or go). */
export interface BuildChange {
  /** Build id, e.g. `car-detection/jp5/arm64`. */
  id: string;
  arch: string;
  /** Variant (or chain step) of the build; `default` when the id has none. */
  variant: string;
  op: string;
  /** What changed in its inputs, in words (`base`, `context`, `Dockerfile`, …). */
  why: string[];
}

/** One tag of an index (a catalog image's or a mirror's). */
export interface TagChange {
  /** `image:tag` (the resource name). */
  id: string;
  tag: string;
  op: string;
  /** Digest published now, when the stack knows one. */
  oldDigest?: string;
  /** Digest after the update, when a preview can know it (a mirror's pinned source); else pending. */
  newDigest?: string;
}

/** A tag whose live digest differs from the one the stack published: moved behind our back. */
export interface Drift {
  id: string;
  published?: string;
  live?: string;
}

/** Everything a reviewer reads, per image and mirror. */
export interface Changes {
  images: Record<string, { builds: BuildChange[]; tags: TagChange[] }>;
  mirrors: Record<string, TagChange[]>;
  drift: Drift[];
  /** Other resources (registry, builders, …) changing: `type name` → op. */
  other: { resource: string; op: string }[];
}

/** A resource's steps and its op across them. */
interface UrnSteps {
  op: string;
  /** The step that says what happens: `replace` of a replacement, else the last one. */
  step: PreviewStep;
  steps: PreviewStep[];
}

/**
 * Groups the changing steps by URN. A replacement shows as three steps (create-replacement, replace,
 * delete-replaced); `preview --refresh` adds a refresh step, rewritten as an update when the refresh
 * changed the state, before the step of the change itself. Resources whose steps are all quiet go.
 */
function opsByUrn(all: PreviewStep[]): Map<string, UrnSteps> {
  const byUrn = new Map<string, PreviewStep[]>();
  for (const step of all) byUrn.set(step.urn, [...(byUrn.get(step.urn) ?? []), step]);
  const out = new Map<string, UrnSteps>();
  for (const [urn, steps] of byUrn) {
    const loud = steps.filter((s) => !QUIET_OPS.has(s.op));
    if (loud.length === 0) continue;
    const replaced = loud.find((s) => s.op.includes("replace"));
    out.set(urn, {
      op: replaced ? "replace" : loud[loud.length - 1].op,
      step: loud.find((s) => s.op === "replace") ?? loud[loud.length - 1],
      steps: loud,
    });
  }
  return out;
}

/**
 * The tags of an image whose guard records a live digest other than the published one (a refresh
 * read it), by index id, from the newest state of the guard that records any. States written before
 * one guard per image (issue 11) held one tag's digests under `publishedDigest` and `liveDigest`.
 */
function driftOf(steps: PreviewStep[], name: string): Drift[] {
  const states = steps.flatMap((s) => [s.oldState, s.newState]).reverse();
  for (const state of states) {
    const outs = state?.outputs ?? {};
    const published = (outs.publishedDigests ?? { [name]: outs.publishedDigest }) as Record<
      string,
      unknown
    >;
    const live = (outs.liveDigests ?? { [name]: outs.liveDigest }) as Record<string, unknown>;
    const moved = Object.keys(published)
      .sort()
      .flatMap((id) => {
        const [p, l] = [str(published[id]), str(live[id])];
        return p && l && p !== l ? [{ id, published: p, live: l }] : [];
      });
    if (moved.length) return moved;
  }
  return [];
}

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v !== UNKNOWN && v !== "" ? v : undefined;

/** The digest of `repo:tag@sha256:…` (undefined when unknown or absent). */
export function digestOf(ref: unknown): string | undefined {
  const s = str(ref);
  const at = s?.lastIndexOf("@") ?? -1;
  return s && at >= 0 ? s.slice(at + 1) : undefined;
}

/** Input keys of a docker-build Image, in a reviewer's words. */
const WHY: Record<string, string> = {
  buildArgs: "base or build args",
  context: "context",
  contextHash: "context",
  dockerfile: "Dockerfile",
  target: "target",
  platforms: "platform",
  builder: "builder",
  tags: "tag",
  labels: "labels",
  cacheFrom: "cache",
  cacheTo: "cache",
};

/** Why an Image step changes: its diff keys (top-level property names), in words, deduplicated. */
export function reasons(step: PreviewStep): string[] {
  const keys = [
    ...(step.diffReasons ?? []),
    ...(step.replaceReasons ?? []),
    ...Object.keys(step.detailedDiff ?? {}),
  ].map((k) => k.split(/[.[]/)[0]);
  if (step.op === "create") return ["new"];
  if (step.op === "delete") return ["removed"];
  return [...new Set(keys.map((k) => WHY[k] ?? k))].sort();
}

/** A build's id, image and variant from its labels (set by archImage), or from the resource name. */
function buildOf(step: PreviewStep, op: string, urn: UrnParts): { image: string; b: BuildChange } {
  const state = step.newState ?? step.oldState;
  const inputs = state?.inputs ?? {};
  const labels = (inputs.labels ?? {}) as Record<string, unknown>;
  const id = str(labels["dev.dayu.estate.build"]) ?? urn.name;
  const segs = id.split("/");
  const platform = str((inputs.platforms as unknown[] | undefined)?.[0]);
  return {
    image: str(labels["org.opencontainers.image.title"]) ?? segs[0],
    b: {
      id,
      arch: platform ? platform.split("/").slice(1).join("-") : segs[segs.length - 1],
      variant: segs.length > 2 ? segs.slice(1, -1).join("/") : "default",
      op,
      why: reasons(step),
    },
  };
}

/** An Index step as a tag change; a mirror's new digest is its pinned source's, known in advance. */
function tagOf(step: PreviewStep, op: string, urn: UrnParts, mirror: boolean): TagChange {
  const inputs = step.newState?.inputs ?? {};
  const sources = (inputs.sources ?? []) as unknown[];
  const newRef = digestOf(step.newState?.outputs?.ref);
  const mirrored = mirror && sources.length === 1 ? digestOf(sources[0]) : undefined;
  const tag = str(inputs.tag) ?? str(step.oldState?.inputs?.tag) ?? urn.name;
  return {
    id: urn.name,
    tag: tag.slice(tag.lastIndexOf(":") + 1),
    op,
    oldDigest: digestOf(step.oldState?.outputs?.ref),
    newDigest: op === "delete" ? undefined : (newRef ?? mirrored),
  };
}

/** Sorts the changing steps into images, mirrors, drift and other resources. */
export function classify(preview: PreviewDigest): Changes {
  const changes: Changes = { images: {}, mirrors: {}, drift: [], other: [] };
  const image = (name: string) => (changes.images[name] ??= { builds: [], tags: [] });
  // An image's guard has the image's name and its indexes' parent; an index is named `image:tag`:
  // `<parent type>::<image>` pairs them.
  const pairKey = (urn: UrnParts) =>
    `${urn.types[urn.types.length - 2] ?? ""}::${urn.name.split(":")[0]}`;
  const indexKeys = new Set<string>();
  const guards: { urn: UrnParts; steps: PreviewStep[] }[] = [];
  for (const [urnText, { op, step, steps }] of opsByUrn(preview.steps ?? [])) {
    const urn = parseUrn(urnText);
    const mirror = urn.types.includes(MIRROR);
    if (urn.type === IMAGE) {
      const { image: name, b } = buildOf(step, op, urn);
      image(name).builds.push(b);
    } else if (urn.type === INDEX && (mirror || urn.types.includes(MULTI_ARCH))) {
      indexKeys.add(pairKey(urn));
      const t = tagOf(step, op, urn, mirror);
      if (mirror) (changes.mirrors[urn.name.split(":")[0]] ??= []).push(t);
      else image(urn.name.split(":")[0]).tags.push(t);
    } else if (urn.type === GUARD && !urn.name.endsWith(RELEASE_LOCK_SUFFIX)) {
      guards.push({ urn, steps });
    } else if (urn.type !== "pulumi:pulumi:Stack" && !urn.type.startsWith("dayu:estate:")) {
      changes.other.push({ resource: `${urn.type} ${urn.name}`, op });
    }
  }
  // A tag moved behind the program's back: a state of its image's guard records a live digest other
  // than the published one (a refresh read it). A guard changing for another reason is listed with
  // the rest, unless one of its indexes changes too (then the tags' rows say it all).
  for (const { urn, steps } of guards) {
    const moved = driftOf(steps, urn.name);
    if (moved.length) changes.drift.push(...moved);
    else if (!indexKeys.has(pairKey(urn)))
      changes.other.push({ resource: `${GUARD} ${urn.name}`, op: steps[steps.length - 1].op });
  }
  return changes;
}

// ---------------------------------------------------------------------------------------------------
// Stage 3: render

/** `sha256:0123456789ab` (12 hex digits are plenty to compare by eye); pending for the all-zero stand-in. */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return "pending";
  if (digest === PENDING_DIGEST) return "pending";
  const [alg, hex] = digest.includes(":") ? digest.split(":") : ["sha256", digest];
  return `\`${alg}:${hex.slice(0, 12)}\``;
}

/** `amd64, arm64 (default, jp5, jp6)`: archs that rebuild, with the variants they rebuild for. */
export function summarizeBuilds(builds: BuildChange[]): string {
  const byArch = new Map<string, Set<string>>();
  for (const b of builds)
    (byArch.get(b.arch) ?? byArch.set(b.arch, new Set()).get(b.arch))?.add(b.variant);
  return [...byArch.keys()]
    .sort()
    .map((arch) => {
      const variants = [...(byArch.get(arch) ?? [])].sort();
      return variants.length === 1 && variants[0] === "default"
        ? arch
        : `${arch} (${variants.join(", ")})`;
    })
    .join(", ");
}

/** `v1.3: sha256:aaa → pending`, `latest: new`, `v1.2: removed`. */
export function describeTag(t: TagChange): string {
  if (t.op === "create") return `\`${t.tag}\`: new → ${shortDigest(t.newDigest)}`;
  if (t.op === "delete") return `\`${t.tag}\`: removed (was ${shortDigest(t.oldDigest)})`;
  return `\`${t.tag}\`: ${shortDigest(t.oldDigest)} → ${shortDigest(t.newDigest)}`;
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** Policy lines: which packs ran, and every violation by level; a skipped pack says so. */
export function renderPolicies(policy: PolicyReport | undefined, expected?: string): string[] {
  if (!policy) {
    return expected
      ? [`⚠️ Policy results were not captured (expected \`${expected}\`).`]
      : ["Policy pack: not run on this stack (dev)."];
  }
  const packs = Object.entries(policy.packs).map(([n, v]) => `\`${n}@${v}\``);
  if (packs.length === 0 && expected) return [`❌ Policy pack \`${expected}\` did not run.`];
  if (packs.length === 0) return ["Policy pack: not run on this stack (dev)."];
  const mandatory = policy.violations.filter((v) => v.enforcementLevel === "mandatory");
  const advisory = policy.violations.filter((v) => v.enforcementLevel !== "mandatory");
  const head =
    mandatory.length > 0
      ? `❌ ${packs.join(", ")}: ${mandatory.length} mandatory, ${advisory.length} advisory`
      : advisory.length > 0
        ? `⚠️ ${packs.join(", ")}: ${advisory.length} advisory, no mandatory violation`
        : `✅ ${packs.join(", ")}: no violations`;
  const all = [...mandatory, ...advisory];
  const lines = all.slice(0, MAX_VIOLATIONS).map((v) => {
    const where = v.resourceUrn ? ` on \`${parseUrn(v.resourceUrn).name}\`` : "";
    return `- **${v.enforcementLevel}** \`${v.policyName}\`${where}: ${cell(v.message.split("\n")[0])}`;
  });
  const more = all.length - lines.length;
  return [
    head,
    ...lines,
    ...(more > 0 ? [`- … and ${more} more (the job log lists them all)`] : []),
  ];
}

/** Inputs of {@link renderComment}. */
export interface CommentInput {
  stack: string;
  preview: PreviewDigest;
  /** Policy results from the event log; undefined when no log was passed. */
  policy?: PolicyReport;
  /** The pack that should have run (non-dev stacks); undefined on dev. */
  expectedPack?: string;
}

/** The whole comment: one screen per stack, a marker first so the workflow can update it in place. */
export function renderComment(input: CommentInput): string {
  const c = classify(input.preview);
  const errors = (input.preview.diagnostics ?? []).filter((d) => d.severity === "error");
  const names = Object.keys(c.images).sort();
  const mirrors = Object.keys(c.mirrors).sort();
  const nothing = !names.length && !mirrors.length && !c.drift.length && !c.other.length;
  const out = [marker(input.stack), `### Estate preview: \`${input.stack}\``, ""];
  if (errors.length) {
    out.push(
      `❌ The preview failed:`,
      "",
      "```",
      ...errors.map((e) => (e.message ?? "").trim()),
      "```",
      "",
    );
  } else if (nothing) {
    out.push("No changes: nothing rebuilds, no tag moves.", "");
  }
  if (names.length) {
    out.push("| image | rebuilds | index tags (old → new) | why |", "| --- | --- | --- | --- |");
    for (const name of names) {
      const { builds, tags } = c.images[name];
      const why = [...new Set(builds.flatMap((b) => b.why))].sort().join(", ");
      const rebuilds = builds.length ? `${builds.length}: ${summarizeBuilds(builds)}` : "—";
      const moving = tags.sort((a, b) => a.tag.localeCompare(b.tag)).map(describeTag);
      out.push(`| **${name}** | ${rebuilds} | ${moving.join("<br>") || "—"} | ${why || "—"} |`);
    }
    out.push("");
  }
  if (mirrors.length) {
    out.push("**Mirrors**", "");
    for (const m of mirrors) out.push(`- \`${m}\`: ${c.mirrors[m].map(describeTag).join(", ")}`);
    out.push("");
  }
  if (c.drift.length) {
    out.push("**Tags moved behind the program's back (the update puts them back)**", "");
    for (const d of c.drift) {
      out.push(`- \`${d.id}\`: live ${shortDigest(d.live)}, published ${shortDigest(d.published)}`);
    }
    out.push("");
  }
  if (c.other.length) {
    const ops = c.other.map((o) => `\`${o.resource}\` (${o.op})`).sort();
    out.push(`**Other resources**: ${ops.join(", ")}`, "");
  }
  out.push(...renderPolicies(input.policy, input.expectedPack), "");
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------------
// Capturing fixtures (test/e2e): real output, without this machine's paths or any secret

/** What {@link scrubCapture} removes. */
export interface ScrubOptions {
  /** Absolute path of the checkout: written as `<repo>`. */
  root: string;
  /** Secret values (the registry password): written as `[secret]`. Empty strings are ignored. */
  secrets: string[];
}

/** Rewrites captured CLI output for committing: `<repo>` for the checkout, no secrets, no PEM. */
export function scrubCapture(text: string, opts: ScrubOptions): string {
  let out = text.split(`file://${opts.root}`).join("<repo>").split(opts.root).join("<repo>");
  for (const secret of opts.secrets.filter((s) => s.length > 0))
    out = out.split(secret).join("[secret]");
  // CA certificates are public, but long and machine-made: they would only bloat a fixture.
  return out.replace(/-----BEGIN [A-Z ]+-----[^"]*?-----END [A-Z ]+-----(\\n)?/g, "<pem>");
}

/**
 * A captured preview without the states of unchanged resources (a no-op preview of the estate lists
 * every resource twice over, old and new); the comment never reads them, and the steps stay.
 */
export function compactCapture(preview: PreviewDigest): PreviewDigest {
  return {
    ...preview,
    steps: preview.steps?.map((s) =>
      s.op === "same" ? { op: s.op, urn: s.urn, provider: s.provider, detailedDiff: null } : s,
    ),
  };
}

/** The lines of an event log the comment reads (policy events, the summary): the rest is noise. */
export function policyEventsOnly(eventLog: string): string {
  return eventLog
    .split("\n")
    .filter((l) => /"(policyEvent|policyLoadEvent|summaryEvent)"/.test(l))
    .map((l) => `${l}\n`)
    .join("");
}

// ---------------------------------------------------------------------------------------------------
// Command line

/** Reads `--name value` pairs; a missing required one is a problem naming the flag. */
export function parseArgs(argv: string[]): Record<string, string> {
  return flagPairs(argv, ["stack", "preview"]);
}

function main(argv: string[]): void {
  const args = parseArgs(argv);
  const read = (file: string) => {
    if (!fs.existsSync(file)) throw new EstateInputError([`${file}: no such file`]);
    return fs.readFileSync(file, "utf8");
  };
  const text = renderComment({
    stack: args.stack,
    preview: parsePreview(read(args.preview), args.preview),
    policy: args.events ? parseEventLog(read(args.events), args.events) : undefined,
    expectedPack: args["policy-pack"],
  });
  if (args.out) fs.writeFileSync(args.out, text);
  else process.stdout.write(text);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    // A person's mistake (a wrong file or flag) is one block, never a stack trace.
    if (err instanceof EstateInputError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
