/**
 * End to end, for real: the Go-built Pulumi CLI and docker-build provider, two BuildKit daemons
 * (arm64 under QEMU) and the TLS+auth registry on loopback. Steps run in order on one stack; each
 * depends on the previous ones. The estate builds from a scratch copy of dockerfiles/, a tree in the
 * shape of a Dayu checkout that is the context of every image (with one Atom-style chain, atom/stock).
 * Wall times are printed for the cold, no-op, one-leaf and chain-step runs.
 */
import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readBackIndex } from "../../lib/indexCheck";
import { MEDIA_TYPES, RegistryClient, sha256, splitRef } from "../../lib/registry";
import { planForStack } from "../../scripts/plan";
import {
  classify,
  compactCapture,
  parseEventLog,
  parsePreview,
  policyEventsOnly,
  renderComment,
  scrubCapture,
} from "../../scripts/preview-comment";
import { parseCatalog } from "../../estate/catalog";
import { flatPlan, type FlatPlan as Plan } from "../../estate/planner";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import {
  ROOT,
  STACK_FILE,
  TOOLS,
  WORK,
  changedResources,
  credentials,
  env,
  ok,
  pulumi,
  registryClient,
  requirePrerequisites,
  writeStackFile,
} from "./harness";

type Summary = Record<string, Record<string, { ref: string; platforms: Record<string, string> }>>;

const DOCKERFILES = path.join(WORK, "dockerfiles");
const timings: Record<string, number> = {};

async function summary(): Promise<Summary> {
  return JSON.parse(
    ok(await pulumi(["stack", "output", "summary", "--json"]), "stack output").stdout,
  ) as Summary;
}

/** image:tag → index digest, from the registry itself. */
async function liveDigests(client: RegistryClient, plan: Plan): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const i of plan.indexes) {
    const { repository, reference } = splitRef(i.ref);
    out[i.id] = (await client.resolve(repository, reference)) ?? "absent";
  }
  return out;
}

function changedKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(b)
    .filter((k) => a[k] !== b[k])
    .sort();
}

/** The guard of each image whose indexes change (one per image, reading all its tags back). */
function guardsOf(indexes: { image: string }[]): string[] {
  return [...new Set(indexes.map((i) => `pulumi-nodejs:dynamic:Resource ${i.image}`))];
}

/** What a change to `images` must touch: their per-arch builds, indexes and index guards. */
function expectedChanges(plan: Plan, images: string[]): string[] {
  const builds = plan.builds
    .filter((b) => images.includes(b.image))
    .map((b) => `docker-build:index:Image ${b.id}`);
  const indexes = plan.indexes.filter((i) => images.includes(i.image));
  return [
    ...builds,
    ...indexes.map((i) => `docker-build:index:Index ${i.id}`),
    ...guardsOf(indexes),
  ].sort();
}

/** DAYU_CAPTURE_PREVIEWS=1: steps 2-4 save their real previews as the comment's test fixtures. */
const CAPTURE = process.env.DAYU_CAPTURE_PREVIEWS === "1";
const PREVIEW_FIXTURES = path.join(ROOT, "test/fixtures/preview");

/**
 * The PR comment renders this real preview and names exactly `images` as changing (and, with the
 * policy pack's event log, a verdict without a mandatory violation). With DAYU_CAPTURE_PREVIEWS=1 it
 * is saved as test/fixtures/preview/<name>.json (+ .events.jsonl), compacted and without this
 * machine's paths, the registry password or the passphrase, for test/unit/previewComment.test.ts.
 */
function checkPreview(name: string, json: string, images: string[], eventLog?: string): void {
  const preview = parsePreview(json, `${name}.json`);
  assert.deepEqual(Object.keys(classify(preview).images).sort(), images);
  const events = eventLog === undefined ? undefined : fs.readFileSync(eventLog, "utf8");
  const policy = events === undefined ? undefined : parseEventLog(events, eventLog ?? "");
  const text = renderComment({
    stack: "e2e",
    preview,
    policy,
    expectedPack: policy ? "dayu-estate-policies" : undefined,
  });
  assert.match(text, /^<!-- dayu-estate-preview stack=e2e -->\n/);
  if (policy) assert.match(text, /^(✅|⚠️) `dayu-estate-policies@/m, text);
  if (!CAPTURE) return;
  const secrets = [
    credentials().password,
    fs.readFileSync(path.join(ROOT, ".local/passphrase"), "utf8").trim(),
  ];
  const scrub = (t: string) => scrubCapture(t, { root: ROOT, secrets });
  fs.mkdirSync(PREVIEW_FIXTURES, { recursive: true });
  fs.writeFileSync(
    path.join(PREVIEW_FIXTURES, `${name}.json`),
    `${scrub(JSON.stringify(compactCapture(preview), null, 2))}\n`,
  );
  if (events !== undefined) {
    fs.writeFileSync(
      path.join(PREVIEW_FIXTURES, `${name}.events.jsonl`),
      scrub(policyEventsOnly(events)),
    );
  }
}

function appendTo(file: string, line: string): void {
  fs.appendFileSync(path.join(DOCKERFILES, file), `\n${line}\n`);
}

/** What a change to dayubase's jp5 Dockerfile must touch: every jp5 arm64 build and its indexes. */
function jp5Downstream(plan: Plan): string[] {
  const builds = plan.builds.filter(
    (b) => b.platform === "linux/arm64" && b.variants.includes("jp5") && b.variants.length === 1,
  );
  const images = new Set(builds.map((b) => b.image));
  const indexes = plan.indexes.filter((i) => images.has(i.image) && i.variant === "jp5");
  return [
    ...builds.map((b) => `docker-build:index:Image ${b.id}`),
    ...indexes.map((i) => `docker-build:index:Index ${i.id}`),
    ...guardsOf(indexes),
  ].sort();
}

/** The Atom-style chain of the catalog (estate.yaml `atom-stock`, dockerfiles/atom/stock). */
const CHAIN = "atom-stock";

/** The layer digests of `ref`'s image for `platform` (the platform's child when `ref` is an index). */
async function layersOf(client: RegistryClient, ref: string, platform: string): Promise<string[]> {
  const { repository, reference } = splitRef(ref);
  let m = await client.getManifest(repository, reference);
  if ([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList].includes(m.mediaType as never)) {
    const child = (await client.platforms(repository, reference)).get(platform);
    assert.ok(child, `${ref} has no ${platform} image`);
    m = await client.getManifest(repository, child);
  }
  return (m.json.layers ?? []).map((l) => l.digest);
}

/** build id → what its per-arch tag points at, for the chain's steps (intermediate ones included). */
async function stepDigests(client: RegistryClient, plan: Plan): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const b of plan.builds.filter((x) => x.image === CHAIN)) {
    const { repository, reference } = splitRef(b.archRef);
    out[b.id] = (await client.resolve(repository, reference)) ?? "absent";
  }
  return out;
}

/**
 * Each step of the chain is built on the previous step's image of the same platform: its layers
 * start with all of the previous step's layers (the first step's with dayubase's).
 */
async function checkChainStacking(client: RegistryClient, plan: Plan): Promise<void> {
  const builds = new Map(plan.builds.map((b) => [b.id, b]));
  const steps = plan.builds.filter((b) => b.image === CHAIN);
  assert.equal(steps.length, 6, "3 steps × 2 platforms");
  for (const b of steps) {
    assert.ok(b.base && (b.base.kind === "step" || b.base.kind === "build"), b.id);
    const base = builds.get(b.base.build);
    assert.ok(base, `${b.id}: base ${b.base.build} is planned`);
    const own = await layersOf(client, b.archRef, b.platform);
    const under = await layersOf(client, base.archRef, b.platform);
    assert.ok(own.length > under.length, `${b.id} adds layers to ${base.id}`);
    assert.deepEqual(own.slice(0, under.length), under, `${b.id} is built on ${base.id}`);
  }
}

describe("the local estate, end to end", function () {
  this.timeout(20 * 60 * 1000);
  let plan: Plan;
  let client: RegistryClient;

  before(async () => {
    requirePrerequisites();
    fs.rmSync(WORK, { recursive: true, force: true });
    fs.mkdirSync(path.join(WORK, "state"), { recursive: true });
    fs.cpSync(path.join(ROOT, "dockerfiles"), DOCKERFILES, { recursive: true });
    // One tree is the context of every image, as a Dayu checkout is.
    const catalog = parseCatalog(fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8"), "estate");
    writeStackFile(Object.fromEntries(catalog.images.map((i) => [i.name, DOCKERFILES])));
    ok(await pulumi(["stack", "init"]), "stack init");
    ok(
      await pulumi(["config", "set", "--secret", "registryPassword"], credentials().password),
      "config set",
    );
    plan = flatPlan(planForStack("e2e"));
    client = registryClient();
  });

  after(() => {
    console.log(`\n      wall times (s): ${JSON.stringify(timings)}`);
    fs.rmSync(STACK_FILE, { force: true });
  });

  it("1. cold up: every index holds exactly its platforms, with the right architectures", async () => {
    const run = ok(await pulumi(["up", "--yes", "--skip-preview"]), "cold pulumi up");
    timings.cold = run.seconds;
    const s = await summary();
    assert.equal(
      Object.values(s).reduce((n, tags) => n + Object.keys(tags).length, 0),
      plan.indexes.length,
    );
    for (const i of plan.indexes) {
      const entry = s[i.image][i.tag];
      assert.ok(entry, `${i.id} is missing from the summary`);
      // readBackIndex sends all four manifest/index media types, skips attestations, compares the
      // platform set exactly and reads each child's config architecture.
      const back = await readBackIndex(client, {
        tag: i.ref,
        sources: Object.values(entry.platforms),
        platforms: i.builds.map((b) => b.platform),
      });
      assert.equal(
        `${i.ref}@${back.digest}`,
        entry.ref,
        `${i.id}: the registry serves what the stack recorded`,
      );
    }
    // The Atom-style chain: its index joins the last step's build of each platform.
    const chain = plan.indexes.find((i) => i.id === `${CHAIN}:v1.3`);
    assert.ok(chain, "the chain has its index");
    assert.deepEqual(chain.builds, [
      { platform: "linux/amd64", build: `${CHAIN}/atom/amd64` },
      { platform: "linux/arm64", build: `${CHAIN}/atom/arm64` },
    ]);
    const { repository, reference } = splitRef(chain.ref);
    assert.deepEqual([...(await client.platforms(repository, reference)).keys()].sort(), [
      "linux/amd64",
      "linux/arm64",
    ]);
    assert.deepEqual(Object.keys(s[CHAIN]["v1.3"].platforms).sort(), [
      "linux/amd64",
      "linux/arm64",
    ]);
  });

  it("1a. third-party images are mirrored by digest with the platforms the estate needs", async () => {
    assert.equal(plan.mirrors.length, 6);
    for (const m of plan.mirrors) {
      for (const ref of m.refs) {
        const { repository, reference } = splitRef(ref);
        const served = await client.platforms(repository, reference);
        for (const p of m.platforms) assert.ok(served.has(p), `${ref} lacks ${p}`);
        // The copy is the pinned upstream index itself.
        const upstream = splitRef(m.source);
        assert.equal(await client.resolve(repository, reference), upstream.reference, ref);
      }
    }
    // Dayu deploys <registry>/redis:latest: at the root of the (here: e2e-prefixed) registry.
    assert.ok(plan.mirrors.find((m) => m.name === "redis")?.refs[0].endsWith("/e2e/redis:latest"));
  });

  it("1b. the read-back gets the index itself, whatever a one-type request would answer", async () => {
    // The client always sends all four types: distribution 2.8 answered a request for the plain
    // manifest type with the list's amd64 child; v3 answers with the index. Either way the read-back
    // must see the index, hash its own bytes, and find both platforms.
    const idx = plan.indexes.find((i) => i.id === "car-detection:v1.3");
    assert.ok(idx);
    const { repository, reference } = splitRef(idx.ref);
    const full = await client.getManifest(repository, reference);
    assert.ok([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList].includes(full.mediaType as never));
    assert.equal(full.digest, sha256(full.body));
    assert.deepEqual([...(await client.platforms(repository, reference)).keys()].sort(), [
      "linux/amd64",
      "linux/arm64",
    ]);
  });

  it("1c. an arm64 image really runs, as aarch64, under QEMU", async () => {
    const idx = plan.indexes.find((i) => i.id === "car-detection:v1.3-jp5");
    assert.ok(idx);
    const { repository, reference } = splitRef(idx.ref);
    const arm64 = (await client.platforms(repository, reference)).get("linux/arm64");
    assert.ok(arm64, "no linux/arm64 child");
    const manifest = await client.getManifest(repository, arm64);
    const rootfs = path.join(WORK, "rootfs-arm64");
    fs.mkdirSync(rootfs, { recursive: true });
    for (const layer of manifest.json.layers ?? []) {
      const blob = await client.getBlob(repository, layer.digest);
      execFileSync("tar", ["-xzf", "-", "-C", rootfs], { input: blob });
    }
    const out = execFileSync(
      "chroot",
      [rootfs, "/bin/sh", "-c", "uname -m; cat /opt/dayu/base /opt/dayu/car-detection/BUILD_INFO"],
      {
        encoding: "utf8",
      },
    );
    assert.deepEqual(out.trim().split("\n"), [
      "aarch64",
      "dayubase jetson jetpack5 on aarch64",
      "car-detection built on aarch64",
    ]);
  });

  it("1d. the Atom-style chain: each step on the previous one, the arm64 image runs every step's work", async () => {
    await checkChainStacking(client, plan);
    const chain = plan.indexes.find((i) => i.id === `${CHAIN}:v1.3`);
    assert.ok(chain);
    const { repository } = splitRef(chain.ref);
    const rootfs = path.join(WORK, "rootfs-chain-arm64");
    fs.mkdirSync(rootfs, { recursive: true });
    for (const layer of await layersOf(client, chain.ref, "linux/arm64")) {
      const blob = await client.getBlob(repository, layer);
      execFileSync("tar", ["-xzf", "-", "-C", rootfs], { input: blob });
    }
    // entry.sh (copied by the last step) prints what dayubase and each step left, per-arch args included.
    const out = execFileSync("chroot", [rootfs, "/bin/sh", "/opt/atom/entry.sh"], {
      encoding: "utf8",
    });
    assert.deepEqual(out.trim().split("\n"), [
      "dayubase jetson jetpack4 on aarch64",
      "base blas=openblas-armv8 on aarch64",
      "python 3.8 on aarch64",
      "atom on aarch64",
    ]);
  });

  it("2. a second up changes nothing and builds nothing", async () => {
    const run = ok(await pulumi(["up", "--yes", "--expect-no-changes"]), "no-op pulumi up");
    timings.noop = run.seconds;
    const history = JSON.parse(
      ok(await pulumi(["stack", "history", "--json"]), "history").stdout,
    ) as {
      resourceChanges?: Record<string, number>;
    }[];
    const changes = history[0].resourceChanges ?? {};
    assert.deepEqual(
      Object.keys(changes).filter((k) => k !== "same"),
      [],
      JSON.stringify(changes),
    );
    const preview = ok(await pulumi(["preview", "--json", "--expect-no-changes"]), "preview");
    checkPreview("no-change", preview.stdout, []);
  });

  it("3. one leaf Dockerfile changed: preview lists exactly its builds and index; up applies it", async () => {
    const before = await liveDigests(client, plan);
    appendTo("build/datasource.Dockerfile", "RUN echo leaf-change > /opt/dayu/datasource/CHANGE");
    const preview = ok(await pulumi(["preview", "--json"]), "preview");
    assert.deepEqual(changedResources(preview.stdout), expectedChanges(plan, ["datasource"]));
    checkPreview("leaf-change", preview.stdout, ["datasource"]);
    const run = ok(await pulumi(["up", "--yes", "--skip-preview"]), "one-leaf pulumi up");
    timings.oneLeaf = run.seconds;
    assert.deepEqual(changedKeys(before, await liveDigests(client, plan)), ["datasource:v1.3"]);
  });

  it("3a. one component's source file changed: exactly its builds and indexes; up applies them", async () => {
    // The whole tree is every image's context; only car-detection reads this file.
    const before = await liveDigests(client, plan);
    appendTo("dependency/core/applications/car_detection/app.sh", "echo source-change");
    const preview = ok(await pulumi(["preview", "--json"]), "preview");
    assert.deepEqual(changedResources(preview.stdout), expectedChanges(plan, ["car-detection"]));
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "pulumi up");
    assert.deepEqual(
      changedKeys(before, await liveDigests(client, plan)),
      plan.indexes
        .filter((i) => i.image === "car-detection")
        .map((i) => i.id)
        .sort(),
    );
  });

  it("4. a base changed: exactly its downstream images rebuild", async () => {
    const before = await liveDigests(client, plan);
    appendTo("build/rtsp_server.Dockerfile", "RUN echo base-change > /etc/rtsp-base-change");
    // With the policy pack: a pending base must not read as an unpinned one.
    const eventLog = path.join(WORK, "base-change.events.jsonl");
    const preview = ok(
      await pulumi([
        "preview",
        "--json",
        "--policy-pack",
        "policy/analyzer",
        "--event-log",
        eventLog,
      ]),
      "preview with policies",
    );
    assert.deepEqual(
      changedResources(preview.stdout),
      expectedChanges(plan, ["rtsp-server", "datasource"]),
    );
    checkPreview("base-change", preview.stdout, ["datasource", "rtsp-server"], eventLog);
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "pulumi up");
    assert.deepEqual(changedKeys(before, await liveDigests(client, plan)), [
      "datasource:v1.3",
      "rtsp-server:latest",
    ]);
  });

  it("4a. dayubase's jp5 Dockerfile changed: exactly the jp5 arm64 downstream rebuilds", async () => {
    const before = await liveDigests(client, plan);
    appendTo("build/dayubase_jp5.Dockerfile", "RUN echo jp5-change > /opt/dayu/jp5-change");
    const preview = ok(await pulumi(["preview", "--json"]), "preview");
    const expected = jp5Downstream(plan);
    assert.ok(expected.includes("docker-build:index:Image car-detection/jp5/arm64"), "sanity");
    assert.deepEqual(changedResources(preview.stdout), expected);
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "pulumi up");
    const jp5Indexes = expected
      .filter((r) => r.startsWith("docker-build:index:Index "))
      .map((r) => r.slice("docker-build:index:Index ".length))
      .sort();
    assert.deepEqual(changedKeys(before, await liveDigests(client, plan)), jp5Indexes);
  });

  it("4b. a second checkout at another path previews no changes on the same stack", async () => {
    // A CI runner's checkout: the project's tracked files and the Dayu-shaped tree, elsewhere.
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-second-checkout-"));
    const clone = path.join(elsewhere, "estate");
    const tree = path.join(elsewhere, "dayu");
    const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
      .split("\0")
      .filter((f) => f !== "" && fs.existsSync(path.join(ROOT, f)));
    for (const f of tracked) {
      fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(clone, f));
    }
    // Installed and generated things a runner would have made itself: packages, tools, the local
    // services' certificates and credentials (the dev registry's caFile lives under .local).
    for (const made of ["node_modules", ".tools", ".local"])
      fs.symlinkSync(path.join(ROOT, made), path.join(clone, made));
    fs.cpSync(DOCKERFILES, tree, { recursive: true });
    const stack = parseYaml(fs.readFileSync(STACK_FILE, "utf8")) as {
      config: Record<string, unknown>;
    };
    const contexts = stack.config["dayu-estate:contexts"] as Record<string, string>;
    for (const k of Object.keys(contexts)) contexts[k] = tree;
    fs.writeFileSync(path.join(clone, path.basename(STACK_FILE)), toYaml(stack));
    try {
      ok(
        await pulumi(["preview", "--expect-no-changes"], undefined, clone),
        "preview from a second checkout",
      );
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("5. a tag moved by hand: refresh sees it, up restores it", async () => {
    const idx = plan.indexes.find((i) => i.id === "car-detection:v1.3");
    assert.ok(idx);
    const { repository, reference } = splitRef(idx.ref);
    const published = await client.resolve(repository, reference);
    const other = await client.getManifest(repository, "v1.3-jp6");
    await client.putManifest(repository, reference, other.body, other.mediaType);
    assert.equal(await client.resolve(repository, reference), other.digest);

    ok(await pulumi(["refresh", "--yes", "--skip-preview"]), "refresh");
    const state = JSON.parse(ok(await pulumi(["stack", "export"]), "export").stdout) as {
      deployment: { resources: { urn: string; type: string; outputs?: Record<string, unknown> }[] };
    };
    const guard = state.deployment.resources.find(
      (r) => r.type === "pulumi-nodejs:dynamic:Resource" && r.urn.endsWith("::car-detection"),
    );
    const digests = (key: string) => guard?.outputs?.[key] as Record<string, string> | undefined;
    assert.equal(
      digests("liveDigests")?.["car-detection:v1.3"],
      other.digest,
      "refresh recorded the moved tag",
    );
    assert.equal(digests("publishedDigests")?.["car-detection:v1.3"], published);
    const preview = ok(await pulumi(["preview", "--json"]), "preview");
    assert.deepEqual(changedResources(preview.stdout), [
      "pulumi-nodejs:dynamic:Resource car-detection",
    ]);

    ok(await pulumi(["up", "--yes", "--skip-preview"]), "pulumi up");
    assert.equal(
      await client.resolve(repository, reference),
      published,
      "up put the published index back",
    );
    ok(await pulumi(["preview", "--expect-no-changes"]), "preview after the repair");
  });

  it("6. one arch's build fails: up fails and the index still serves the previous digest", async () => {
    const idx = plan.indexes.find((i) => i.id === "generator:v1.3");
    assert.ok(idx);
    const { repository, reference } = splitRef(idx.ref);
    const published = await client.resolve(repository, reference);
    const dockerfile = path.join(DOCKERFILES, "build/generator.Dockerfile");
    const original = fs.readFileSync(dockerfile, "utf8");
    appendTo(
      "build/generator.Dockerfile",
      'RUN [ "$(uname -m)" != aarch64 ] || { echo "e2e: the arm64 build fails on purpose" >&2; exit 1; }',
    );
    const run = await pulumi(["up", "--yes", "--skip-preview"]);
    assert.notEqual(run.code, 0, "up must fail when an arch fails");
    assert.match(run.stdout + run.stderr, /arm64 build fails on purpose/);
    assert.equal(await client.resolve(repository, reference), published, "the index did not move");

    fs.writeFileSync(dockerfile, original);
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "the rerun converges");
    ok(await pulumi(["preview", "--expect-no-changes"]), "preview after convergence");
    assert.equal(await client.resolve(repository, reference), published, "same inputs, same index");
  });

  it("7. the exported state holds no plaintext registry password", async () => {
    const { password } = credentials();
    assert.ok(password.length >= 16);
    const exported = ok(await pulumi(["stack", "export"]), "export").stdout;
    assert.ok(exported.length > 10000);
    assert.ok(!exported.includes(password), "the password appears in plaintext in the state");
    assert.ok(
      !fs.readFileSync(STACK_FILE, "utf8").includes(password),
      "the password appears in the stack file",
    );
    assert.match(
      exported,
      /"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"/,
    );
  });

  it("8. on a stack that protects releases, a published release tag does not move", async () => {
    const idx = plan.indexes.find((i) => i.id === "controller:v1.3");
    assert.ok(idx?.release);
    const { repository, reference } = splitRef(idx.ref);
    const published = await client.resolve(repository, reference);
    ok(await pulumi(["config", "set", "protectReleases", "true"]), "config set");
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "up creating the release locks");

    const dockerfile = path.join(DOCKERFILES, "build/controller.Dockerfile");
    const original = fs.readFileSync(dockerfile, "utf8");
    appendTo(
      "build/controller.Dockerfile",
      "RUN echo not-the-release > /opt/dayu/controller/CHANGE",
    );
    const run = await pulumi(["up", "--yes", "--skip-preview"]);
    assert.notEqual(run.code, 0, "moving a release tag must fail");
    assert.match(
      run.stdout + run.stderr,
      /release tag \S+controller:v1\.3 is immutable on this stack/,
    );
    assert.equal(
      await client.resolve(repository, reference),
      published,
      "the release tag did not move",
    );

    fs.writeFileSync(dockerfile, original);
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "the same release again converges");
    assert.equal(await client.resolve(repository, reference), published);
    ok(await pulumi(["config", "set", "protectReleases", "false"]), "config set");
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "up removing the locks");
  });

  it("9. the CrossGuard policy pack passes on the real estate", async () => {
    const run = ok(
      await pulumi(["preview", "--policy-pack", "policy/analyzer", "--expect-no-changes"]),
      "policy preview",
    );
    assert.match(run.stdout, /dayu-estate-policies@v0\.1\.0/);
    // Only advisory findings are allowed (the dev settings export no registry cache).
    assert.doesNotMatch(run.stdout + run.stderr, /\[mandatory\]/);
  });

  it("10. an interrupted up (SIGINT mid-build): the next up converges", async () => {
    appendTo("build/monitor.Dockerfile", "RUN echo interrupted > /opt/dayu/monitor/INTERRUPTED");
    const child = spawn(
      path.join(TOOLS, "pulumi"),
      ["up", "--yes", "--skip-preview", "--stack", "e2e", "--non-interactive"],
      {
        cwd: ROOT,
        env: env(),
      },
    );
    let out = "";
    let interrupted = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      // Interrupt once the first monitor build is under way.
      if (!interrupted && /docker-build:index:Image monitor\/\S+ updating/.test(out)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.ok(interrupted, `the update never started a monitor build:\n${out.slice(-2000)}`);
    assert.notEqual(code, 0, "the interrupted up reports failure");

    ok(await pulumi(["up", "--yes", "--skip-preview"]), "the next up");
    ok(await pulumi(["preview", "--expect-no-changes"]), "preview after convergence");
    const s = await summary();
    for (const i of plan.indexes.filter((x) => x.image === "monitor")) {
      await readBackIndex(client, {
        tag: i.ref,
        sources: Object.values(s.monitor[i.tag].platforms),
        platforms: i.builds.map((b) => b.platform),
      });
    }
  });

  it("11. one middle step of the Atom-style chain changed: exactly it, the later steps and the index", async () => {
    const before = await liveDigests(client, plan);
    const stepsBefore = await stepDigests(client, plan);
    appendTo(
      "atom/stock/20-Dockerfile-python",
      "RUN echo middle-change > /opt/atom/20-python-change",
    );
    // The changed step and the steps after it, on each platform; the first step stays.
    const rebuilt = plan.builds
      .filter((b) => b.image === CHAIN && (b.step === "python" || b.step === "atom"))
      .map((b) => b.id)
      .sort();
    assert.deepEqual(rebuilt, [
      `${CHAIN}/atom/amd64`,
      `${CHAIN}/atom/arm64`,
      `${CHAIN}/python/amd64`,
      `${CHAIN}/python/arm64`,
    ]);
    const preview = ok(await pulumi(["preview", "--json"]), "preview");
    assert.deepEqual(
      changedResources(preview.stdout),
      [
        ...rebuilt.map((id) => `docker-build:index:Image ${id}`),
        `docker-build:index:Index ${CHAIN}:v1.3`,
        `pulumi-nodejs:dynamic:Resource ${CHAIN}`,
      ].sort(),
    );
    const run = ok(await pulumi(["up", "--yes", "--skip-preview"]), "chain-step pulumi up");
    timings.chainStep = run.seconds;
    assert.deepEqual(changedKeys(before, await liveDigests(client, plan)), [`${CHAIN}:v1.3`]);
    assert.deepEqual(changedKeys(stepsBefore, await stepDigests(client, plan)), rebuilt);
    // The later steps were rebuilt on the changed step's new digest, not on its old one.
    await checkChainStacking(client, plan);
    ok(await pulumi(["preview", "--expect-no-changes"]), "preview after the chain update");
  });
});
