/**
 * The PR comment renderer (scripts/preview-comment.ts) on previews in `pulumi preview --json`'s shape:
 * hand-written ones (test/fixtures/preview/hand-*.json) for every kind of change, and the real ones
 * the end-to-end test captures (leaf-change, base-change, no-change; DAYU_CAPTURE_PREVIEWS=1).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PENDING_DIGEST as ARCH_IMAGE_PENDING } from "../../components/archImage";
import { EstateInputError } from "../../estate/problems";
import {
  PENDING_DIGEST,
  classify,
  compactCapture,
  describeTag,
  marker,
  parseArgs,
  parseEventLog,
  parsePreview,
  parseUrn,
  policyEventsOnly,
  reasons,
  renderComment,
  renderPolicies,
  scrubCapture,
  shortDigest,
  summarizeBuilds,
} from "../../scripts/preview-comment";

const FIXTURES = path.resolve(__dirname, "../fixtures/preview");
const read = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const preview = (name: string) => parsePreview(read(name), name);
const events = (name: string) => parseEventLog(read(name), name);
const PACK = "dayu-estate-policies";

describe("preview comment: parsing", () => {
  it("splits URNs, keeping names that contain ::", () => {
    const u = parseUrn(
      "urn:pulumi:e2e::dayu-estate::dayu:estate:ImageEstate$dayu:estate:MultiArchImage$docker-build:index:Index::a::b",
    );
    assert.deepEqual(u, {
      stack: "e2e",
      project: "dayu-estate",
      types: ["dayu:estate:ImageEstate", "dayu:estate:MultiArchImage", "docker-build:index:Index"],
      type: "docker-build:index:Index",
      name: "a::b",
    });
  });

  it("refuses what is not a preview, naming the file", () => {
    assert.throws(
      () => parsePreview("Previewing update (e2e):", "out.json"),
      (e: EstateInputError) =>
        e.problems.length === 1 && /^out\.json: is not JSON/.test(e.problems[0]),
    );
    assert.throws(
      () => parsePreview('{"steps":[{"op":"update"}]}', "p.json"),
      (e: EstateInputError) => e.problems[0] === "p.json: steps[0]: needs a string op and urn",
    );
    assert.throws(() => parsePreview("[]", "p.json"), EstateInputError);
  });

  it("reads policy violations and the packs that ran from an event log, naming a bad line", () => {
    const r = events("hand-policy-violations.events.jsonl");
    assert.deepEqual(r.packs, { [PACK]: "0.1.0" });
    assert.deepEqual(
      r.violations.map((v) => `${v.enforcementLevel} ${v.policyName}`),
      ["advisory image-cache-per-arch", "mandatory base-pinned-by-digest"],
    );
    assert.throws(
      () => parseEventLog('{"sequence":0}\nnot json\n', "events.jsonl"),
      (e: EstateInputError) =>
        e.problems[0].startsWith("events.jsonl:2: is not a JSON engine event"),
    );
  });

  it("names a local pack as the CLI's summary keys it (<name>|local|<path>) by its name", () => {
    const line = JSON.stringify({
      sequence: 9,
      summaryEvent: { PolicyPacks: { [`${PACK}|local|policy/analyzer`]: "0.1.0" } },
    });
    assert.deepEqual(parseEventLog(`${line}\n`, "e.jsonl").packs, { [PACK]: "0.1.0" });
  });

  it("needs --stack and --preview, and names a missing one", () => {
    assert.deepEqual(parseArgs(["--stack", "dev", "--preview", "p.json"]), {
      stack: "dev",
      preview: "p.json",
    });
    assert.throws(
      () => parseArgs(["--stack", "dev"]),
      (e: EstateInputError) => e.problems.join() === "--preview: is required",
    );
  });
});

describe("preview comment: what changes", () => {
  it("a leaf change: exactly its two builds and its index tag, the guard folded into the tag", () => {
    const c = classify(preview("hand-leaf-change.json"));
    assert.deepEqual(Object.keys(c.images), ["datasource"]);
    assert.deepEqual(
      c.images.datasource.builds.map((b) => `${b.id} ${b.arch} ${b.variant} ${b.why.join("+")}`),
      ["datasource/amd64 amd64 default context", "datasource/arm64 arm64 default context"],
    );
    assert.deepEqual(c.images.datasource.tags, [
      {
        id: "datasource:v1.3",
        tag: "v1.3",
        op: "update",
        oldDigest: `sha256:${"d1".repeat(32)}`,
        newDigest: undefined,
      },
    ]);
    assert.deepEqual([c.drift, c.other, c.mirrors], [[], [], {}]);
  });

  it("a base change: the base and its dependent, the dependent because of its base", () => {
    const c = classify(preview("hand-base-change.json"));
    assert.deepEqual(Object.keys(c.images).sort(), ["datasource", "rtsp-server"]);
    assert.deepEqual(
      [...new Set(c.images.datasource.builds.flatMap((b) => b.why))],
      ["base or build args"],
    );
    assert.deepEqual(
      c.images["rtsp-server"].tags.map((t) => t.tag),
      ["latest"],
    );
  });

  it("no change: nothing at all", () => {
    const c = classify(preview("hand-no-change.json"));
    assert.deepEqual(c, { images: {}, mirrors: {}, drift: [], other: [] });
  });

  it("a tag moved by hand: drift with the live and published digests", () => {
    const c = classify(preview("hand-drift.json"));
    assert.deepEqual(c.images, {});
    assert.deepEqual(c.drift, [
      {
        id: "car-detection:v1.3",
        published: `sha256:${"f1".repeat(32)}`,
        live: `sha256:${"f2".repeat(32)}`,
      },
    ]);
  });

  it("preview --refresh: the refreshed guard records the moved tag, even when its index shows a refresh update", () => {
    const base = "dayu:estate:ImageEstate$dayu:estate:MultiArchImage";
    const at = (t: string, name: string) => `urn:pulumi:prod::dayu-estate::${base}$${t}::${name}`;
    // One guard per image: only the tag whose live digest differs is drift, not its sibling.
    const guard = (live: string) => ({
      urn: at("pulumi-nodejs:dynamic:Resource", "monitor"),
      type: "pulumi-nodejs:dynamic:Resource",
      outputs: {
        publishedDigests: { "monitor:v1.3": "sha256:aa", "monitor:v1.3-jp5": "sha256:cc" },
        liveDigests: { "monitor:v1.3": live, "monitor:v1.3-jp5": "sha256:cc" },
      },
    });
    const index = {
      urn: at("docker-build:index:Index", "monitor:v1.3"),
      type: "docker-build:index:Index",
    };
    const c = classify({
      steps: [
        { op: "update", urn: index.urn, oldState: index, newState: index },
        {
          op: "update",
          urn: guard("").urn,
          oldState: guard("sha256:aa"),
          newState: guard("sha256:bb"),
        },
        {
          op: "update",
          urn: guard("").urn,
          oldState: guard("sha256:bb"),
          newState: guard("sha256:aa"),
        },
      ],
    });
    assert.deepEqual(c.drift, [{ id: "monitor:v1.3", published: "sha256:aa", live: "sha256:bb" }]);
    assert.deepEqual(c.other, []);
  });

  it("a guard of one tag (states before one guard per image) still reports its drift", () => {
    const urn =
      "urn:pulumi:prod::dayu-estate::dayu:estate:ImageEstate$dayu:estate:MultiArchImage$pulumi-nodejs:dynamic:Resource::monitor:v1.3";
    const type = "pulumi-nodejs:dynamic:Resource";
    const old = { urn, type, outputs: { publishedDigest: "sha256:aa", liveDigest: "sha256:bb" } };
    const c = classify({ steps: [{ op: "delete", urn, oldState: old }] });
    assert.deepEqual(c.drift, [{ id: "monitor:v1.3", published: "sha256:aa", live: "sha256:bb" }]);
  });

  it("a guard changing without drift or a changing index of its image is listed with the rest", () => {
    const base = "dayu:estate:ImageEstate$dayu:estate:MultiArchImage";
    const guard = `urn:pulumi:prod::dayu-estate::${base}$pulumi-nodejs:dynamic:Resource::monitor`;
    const other = `urn:pulumi:prod::dayu-estate::${base}$docker-build:index:Index::frontend:v1.3`;
    const c = classify({
      steps: [
        { op: "update", urn: guard },
        { op: "update", urn: other },
      ],
    });
    assert.deepEqual(c.other, [
      { resource: "pulumi-nodejs:dynamic:Resource monitor", op: "update" },
    ]);
  });

  it("a re-pinned mirror: old → new digest known in advance (the copy is the pinned source)", () => {
    const c = classify(preview("hand-mirror-change.json"));
    assert.deepEqual(c.mirrors.redis, [
      {
        id: "redis:latest",
        tag: "latest",
        op: "update",
        oldDigest: `sha256:${"91".repeat(32)}`,
        newDigest: `sha256:${"92".repeat(32)}`,
      },
    ]);
    assert.deepEqual(c.drift, [], "the mirror's guard follows its index");
  });

  it("a replacement's three steps count once; other resources and release locks are listed apart", () => {
    const urn = (t: string, n: string) => `urn:pulumi:s::dayu-estate::${t}::${n}`;
    const lock = urn(
      "dayu:estate:ImageEstate$dayu:estate:MultiArchImage$pulumi-nodejs:dynamic:Resource",
      "controller:v1.3-release-lock",
    );
    const builder = urn("dayu:estate:BuildxBuilder$docker:index/container:Container", "buildkitd");
    const c = classify({
      steps: [
        { op: "create-replacement", urn: builder },
        { op: "replace", urn: builder },
        { op: "delete-replaced", urn: builder },
        { op: "create", urn: lock },
        { op: "same", urn: urn("pulumi:pulumi:Stack", "dayu-estate-s") },
      ],
    });
    assert.deepEqual(c.other, [
      { resource: "docker:index/container:Container buildkitd", op: "replace" },
      { resource: "pulumi-nodejs:dynamic:Resource controller:v1.3-release-lock", op: "create" },
    ]);
    assert.deepEqual(c.drift, []);
  });

  it("says why in words, from diff keys", () => {
    assert.deepEqual(
      reasons({
        op: "update",
        urn: "u",
        diffReasons: ["buildArgs"],
        detailedDiff: {
          "buildArgs.BASE_IMAGE": { kind: "update" },
          "dockerfile.location": { kind: "update" },
        },
      }),
      ["Dockerfile", "base or build args"],
    );
    assert.deepEqual(reasons({ op: "create", urn: "u" }), ["new"]);
  });
});

describe("preview comment: rendering", () => {
  it("digests short, the all-zero stand-in and the unknown as pending", () => {
    assert.equal(shortDigest(`sha256:${"ab".repeat(32)}`), "`sha256:abababababab`");
    assert.equal(shortDigest(PENDING_DIGEST), "pending");
    assert.equal(PENDING_DIGEST, ARCH_IMAGE_PENDING, "the stand-in components/archImage.ts lists");
    assert.equal(shortDigest(undefined), "pending");
  });

  it("groups builds by architecture with their variants", () => {
    const b = (arch: string, variant: string) => ({ id: "", arch, variant, op: "update", why: [] });
    assert.equal(
      summarizeBuilds([
        b("arm64", "jp6"),
        b("amd64", "default"),
        b("arm64", "jp5"),
        b("arm64", "default"),
      ]),
      "amd64, arm64 (default, jp5, jp6)",
    );
  });

  it("describes new, removed and moving tags", () => {
    const d = `sha256:${"12".repeat(32)}`;
    assert.equal(describeTag({ id: "x:v1", tag: "v1", op: "create" }), "`v1`: new → pending");
    assert.equal(
      describeTag({ id: "x:v1", tag: "v1", op: "delete", oldDigest: d }),
      "`v1`: removed (was `sha256:121212121212`)",
    );
  });

  it("the leaf-change comment: marker first, one row, the policy verdict", () => {
    const text = renderComment({
      stack: "staging",
      preview: preview("hand-leaf-change.json"),
      policy: events("hand-policy-pass.events.jsonl"),
      expectedPack: PACK,
    });
    assert.equal(text.split("\n")[0], marker("staging"));
    assert.match(
      text,
      /\| \*\*datasource\*\* \| 2: amd64, arm64 \| `v1\.3`: `sha256:d1d1d1d1d1d1` → pending \| context \|/,
    );
    assert.match(text, /✅ `dayu-estate-policies@0\.1\.0`: no violations/);
    assert.doesNotMatch(text, /urn:pulumi|docker-build:index/, "no raw resource list");
  });

  it("a failed preview shows the error; no change says so", () => {
    assert.match(
      renderComment({ stack: "prod", preview: preview("hand-failed.json") }),
      /❌ The preview failed:\n\n```\nerror: preview failed\n```/,
    );
    assert.match(
      renderComment({ stack: "dev", preview: preview("hand-no-change.json") }),
      /No changes: nothing rebuilds, no tag moves\.\n\nPolicy pack: not run on this stack \(dev\)\./,
    );
  });

  it("policy results: mandatory first with the first line of each message; a pack that should have run and did not fails", () => {
    const lines = renderPolicies(events("hand-policy-violations.events.jsonl"), PACK);
    assert.equal(lines[0], "❌ `dayu-estate-policies@0.1.0`: 1 mandatory, 1 advisory");
    assert.match(lines[1], /^- \*\*mandatory\*\* `base-pinned-by-digest` on `datasource\/arm64`: /);
    assert.match(lines[2], /same per-arch registry ref\.$/);
    assert.deepEqual(renderPolicies({ packs: {}, violations: [] }, PACK), [
      "❌ Policy pack `dayu-estate-policies` did not run.",
    ]);
    assert.match(renderPolicies(undefined, PACK)[0], /were not captured/);
    const many = events("hand-policy-violations.events.jsonl");
    many.violations = Array.from({ length: 25 }, () => many.violations[0]);
    const capped = renderPolicies(many, PACK);
    assert.equal(capped.length, 1 + 20 + 1);
    assert.equal(capped[21], "- … and 5 more (the job log lists them all)");
  });
});

describe("preview comment: captured fixtures", () => {
  it("scrubs the checkout's path, secrets and certificates", () => {
    const raw = JSON.stringify({
      a: "/work/x/.local/e2e/dockerfiles/datasource",
      b: "file:///work/x/index.ts",
      c: "pw-0123456789abcdef",
      d: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    });
    const out = scrubCapture(raw, { root: "/work/x", secrets: ["pw-0123456789abcdef", ""] });
    assert.deepEqual(JSON.parse(out), {
      a: "<repo>/.local/e2e/dockerfiles/datasource",
      b: "<repo>/index.ts",
      c: "[secret]",
      d: "<pem>",
    });
  });

  it("compacts a capture: unchanged steps lose their states, changed ones keep them", () => {
    const p = preview("hand-leaf-change.json");
    const c = compactCapture(p);
    assert.equal(c.steps?.length, p.steps?.length);
    assert.deepEqual(c.steps?.[1], {
      op: "same",
      urn: p.steps?.[1].urn,
      provider: p.steps?.[1].provider,
      detailedDiff: null,
    });
    assert.deepEqual(c.steps?.[2], p.steps?.[2]);
    assert.deepEqual(classify(c), classify(p));
  });

  it("keeps only the policy and summary events of an event log", () => {
    const log = ['{"resourcePreEvent":{}}', '{"policyEvent":{}}', '{"summaryEvent":{}}', ""].join(
      "\n",
    );
    assert.equal(policyEventsOnly(log), '{"policyEvent":{}}\n{"summaryEvent":{}}\n');
  });

  // The real previews, once the end-to-end test has captured them (DAYU_CAPTURE_PREVIEWS=1) and they
  // are committed: each must render, and say what its e2e step changed.
  const expected: Record<string, string[]> = {
    "leaf-change.json": ["datasource"],
    "base-change.json": ["datasource", "rtsp-server"],
    "no-change.json": [],
  };
  for (const [file, images] of Object.entries(expected)) {
    if (!fs.existsSync(path.join(FIXTURES, file))) continue;
    it(`captured ${file}: renders, changing exactly ${images.join(", ") || "nothing"}`, () => {
      const p = preview(file);
      assert.deepEqual(Object.keys(classify(p).images).sort(), images);
      const events = file.replace(/\.json$/, ".events.jsonl");
      const policy = fs.existsSync(path.join(FIXTURES, events))
        ? parseEventLog(read(events), events)
        : undefined;
      const text = renderComment({
        stack: "e2e",
        preview: p,
        policy,
        expectedPack: policy && PACK,
      });
      if (policy) assert.match(text, /^(✅|⚠️) `dayu-estate-policies@/m, "no mandatory violation");
      assert.ok(!/\/work\/|\/root\/|\/home\//.test(read(file)), `${file} holds a machine path`);
      if (!images.length) assert.match(text, /No changes/);
    });
  }
});
