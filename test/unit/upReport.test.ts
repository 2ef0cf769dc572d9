/**
 * The `up` report (scripts/up-report.ts) on real event logs of the local estate, captured with
 * `pulumi up --event-log` (scripts/quiet-up.sh) and cut down with compactEvents: a cold up of the whole
 * estate, a no-op, one leaf changed (backend's start script) and a build that fails (a RUN step of the
 * scheduler's Dockerfile), each with the CLI v3.259.0 and docker-build v0.0.22.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { EstateInputError } from "../../estate/problems";
import {
  LOG_TAIL,
  classifyUpdate,
  compactEvents,
  parseArgs,
  parseEvents,
  renderReport,
  short,
  tagOf,
} from "../../scripts/up-report";

const FIXTURES = path.resolve(__dirname, "../fixtures/up");
const read = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const report = (name: string) => classifyUpdate(parseEvents(read(name), name));

describe("up report: real event logs", () => {
  it("cold up: every build and index tag of the estate, each with its digest", () => {
    const r = report("cold.events.jsonl");
    const builds = r.changes.filter((c) => c.arch !== "index");
    const indexes = r.changes.filter((c) => c.arch === "index");
    assert.equal(builds.length, 60, "the plan's 60 builds");
    assert.equal(indexes.filter((c) => !c.mirror).length, 56, "56 indexes");
    assert.equal(indexes.filter((c) => c.mirror).length, 6, "6 mirrors");
    assert.ok(
      r.changes.every((c) => c.op === "create" && /^sha256:[0-9a-f]{64}$/.test(c.digest ?? "")),
    );
    assert.deepEqual(
      r.changes.filter((c) => c.image === "dayubase").map((c) => `${c.arch} ${c.tag}`),
      [
        "index latest",
        "amd64 latest-amd64",
        "arm64 latest-arm64",
        // jp4's arm64 half is the default arm64 build (JetPack 4 is dayubase's default Jetson base).
        "index latest-jp4",
        "index latest-jp5",
        "arm64 latest-jp5-arm64",
        "index latest-jp6",
        "arm64 latest-jp6-arm64",
      ],
    );
    assert.equal(r.failures.length + r.errors.length + r.warnings.length, 0);
    assert.ok(r.finished);
    const text = renderReport(r, { log: ".local/up/up.log", summary: ".local/up/summary.json" });
    assert.match(text, /^Changed: 60 build\(s\), 62 index tag\(s\)/);
    assert.match(text, /\n {2}datasource +arm64 +v1\.3-arm64 +sha256:[0-9a-f]{12} +create\n/);
    assert.match(text, /\n {2}redis \(mirror\) +index +latest +sha256:8ae00e889af0 +create\n/);
    assert.match(
      text,
      /Full summary \(image → tag → index and per-arch refs\): \.local\/up\/summary\.json/,
    );
    // The BuildKit progress of 60 builds is in the log, not in the report: one line per change.
    assert.ok(text.split("\n").length < 140, `${text.split("\n").length} lines`);
    assert.doesNotMatch(text, /#\d+ /);
  });

  it("no-op: one line says nothing changed, and how much was checked", () => {
    const r = report("no-op.events.jsonl");
    assert.deepEqual(r.changes, []);
    assert.deepEqual(r.unchanged, { builds: 60, indexes: 62 });
    const text = renderReport(r);
    assert.match(text, /^No changes: 60 build\(s\) and 62 index tag\(s\) as they were\.\n/);
    assert.match(text, /Resources: 275 same in \d+s\./);
    assert.ok(text.split("\n").length <= 4, text);
  });

  it("one leaf changed: exactly its build and its index, as updates", () => {
    const r = report("leaf-change.events.jsonl");
    assert.deepEqual(
      r.changes.map((c) => `${c.image} ${c.arch} ${c.tag} ${c.op}`),
      ["backend index v1.3 update", "backend amd64 v1.3-amd64 update"],
    );
    assert.match(renderReport(r), /^Changed: 1 build\(s\), 1 index tag\(s\) \(unchanged: 59/);
  });

  it("a failing build: its error and the end of its BuildKit log, no other build's log", () => {
    const r = report("build-fails.events.jsonl");
    assert.equal(r.failures.length, 1);
    const [f] = r.failures;
    assert.equal(f.resource, "docker-build:index:Image scheduler/amd64");
    assert.match(
      f.errors.join("\n"),
      /ls \/no\/such\/dir" did not complete successfully: exit code: 1/,
    );
    assert.ok(f.log.length > 0 && f.log.length <= LOG_TAIL);
    assert.match(f.log[f.log.length - 1], /#\d+ ERROR: process/);
    assert.ok(f.log.some((l) => l.includes("ls: /no/such/dir: No such file or directory")));
    assert.ok(
      f.log.every((l) => l.trim() !== ""),
      "no blank status lines",
    );
    const text = renderReport(r);
    assert.match(text, /\nFAILED docker-build:index:Image scheduler\/amd64\n/);
    assert.match(text, /last \d+ line\(s\) of its BuildKit log:/);
    // Only the failed build's progress lines: the one that succeeded shows as a row, not as a log.
    assert.equal((text.match(/#\d+ \[internal\] load build definition/g) ?? []).length <= 1, true);
    assert.doesNotMatch(text, /^No changes/);
  });
});

describe("up report: pieces", () => {
  it("reads tags from references with a registry port", () => {
    assert.equal(tagOf("registry.dayu.test:5451/dayuhub/backend:v1.3-amd64"), "v1.3-amd64");
    assert.equal(tagOf("registry.dayu.test:5451/dayuhub/backend@sha256:abc"), "latest");
    assert.equal(short(undefined), "—");
    assert.equal(short(`sha256:${"ab".repeat(32)}`), "sha256:abababababab");
  });

  it("names a line that is not an engine event, and the missing flag", () => {
    assert.throws(
      () => parseEvents('{"sequence":1}\nPreviewing update\n', "events.jsonl"),
      (e: EstateInputError) =>
        e.problems[0].startsWith("events.jsonl:2: is not a JSON engine event"),
    );
    assert.throws(() => parseArgs(["--log", "x"]), /--events: is required/);
  });

  it("an update cut short (no summary event) says so; errors without a resource are listed", () => {
    const lines = read("build-fails.events.jsonl")
      .split("\n")
      .filter((l) => l && !l.includes('"summaryEvent"'));
    lines.push(
      JSON.stringify({ diagnosticEvent: { message: "the program failed\n", severity: "error" } }),
    );
    const r = classifyUpdate(parseEvents(lines.join("\n"), "cut.jsonl"));
    assert.equal(r.finished, false);
    const text = renderReport(r);
    assert.match(text, /The update did not finish/);
    assert.match(text, /Errors:\n(?: {2}.*\n)* {2}the program failed\n/);
  });

  it("leaves out the preview steps of an up that previews first (prod)", () => {
    const planned = read("leaf-change.events.jsonl")
      .split("\n")
      .filter((l) => l.includes('"resOutputsEvent"'))
      .map((l) => {
        const e = JSON.parse(l);
        e.resOutputsEvent.planning = true;
        e.resOutputsEvent.metadata.op = "create";
        return JSON.stringify(e);
      });
    const r = classifyUpdate(parseEvents([...planned, read("no-op.events.jsonl")].join("\n"), "p"));
    assert.deepEqual(r.changes, []);
  });

  it("compactEvents keeps what the report reads, and the report reads the same", () => {
    const full = read("build-fails.events.jsonl");
    const compact = compactEvents(full, 0);
    assert.ok(compact.length <= full.length);
    assert.deepEqual(
      classifyUpdate(parseEvents(compact, "c")),
      classifyUpdate(parseEvents(full, "f")),
    );
  });
});
