/**
 * Promotion and adoption end to end (issue 9), for real on the local services plus the second
 * registry standing for production (`scripts/local-services.sh start --prod-registry`):
 *
 *   - `promote-staging` (the first registry) builds a tiny estate of its own: a mirror, a base and
 *     two leaves, `viewer` (tags latest, edge) and `detector` (tags ${release}, latest);
 *   - `promote-prod` (environment prod, the second registry, its own TLS certificate and user) is in
 *     promote mode from the staging stack (a StackReference to its `summary`): it builds nothing.
 *
 * Adoption first, against the prod registry: a release tag already holding other content refuses the
 * first up (naming the tag, its digest and the one prod would publish); with `adopt` the existing
 * digest is kept and recorded; on a fresh stack with `replaceExisting` listing it, it moves. Then the
 * promotion itself: same index digests, children and platforms read back from the prod registry, no
 * docker-build Image in prod's state, a second promote is a no-op, one leaf change on staging moves
 * exactly that image's indexes on prod (from the preview JSON), and a change that would move a
 * published release tag on prod is refused.
 *
 * Both stacks live in their own file backend (.local/promote/state), under the repository prefix
 * `promote`, so the dev and e2e stacks are never touched. Every Pulumi command is bounded by STEP_MS.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml } from "yaml";
import { flatPlan, type FlatPlan as Plan } from "../../estate/planner";
import {
  RegistryClient,
  isAttestation,
  isIndex,
  platformString,
  splitRef,
} from "../../lib/registry";
import { planForStack } from "../../scripts/plan";
import {
  ROOT,
  TOOLS,
  type Run,
  runPulumi,
  changedResources,
  credentials,
  devConfig,
  env,
  localRegistry,
  ok,
  prodCredentials,
  prodRegistry,
  prodRegistryClient,
  registryClient,
  requirePrerequisites,
} from "./harness";

const WORK = path.join(ROOT, ".local/promote");
const STAGING = "promote-staging";
const PROD = "promote-prod";
const PREFIX = "promote";
const CATALOG_DIR = path.join(WORK, "catalog");
const CA_FILE = ".local/pki/ca.crt";
/** The longest any one Pulumi command may take: a stuck step fails the test instead of hanging it. */
const STEP_MS = 5 * 60 * 1000;
/** The release tag the adoption steps seed on the prod registry (catalog repository, no registry). */
const DETECTOR_RELEASE = `${PREFIX}/dayuhub/detector:v1.3`;

const stackFile = (stack: string) => path.join(ROOT, `Pulumi.${stack}.yaml`);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Runs the Pulumi CLI on one of this file's stacks, within {@link STEP_MS}; logs in WORK/logs. */
function pulumi(args: string[], stack: string, input?: string): Promise<Run> {
  return runPulumi({ stack, work: WORK, timeoutMs: STEP_MS, ownBackend: true }, args, input);
}

/** The tiny catalog and its Dockerfiles: a mirror, a base, two leaves. */
function writeCatalog(): void {
  const dockerfile = (what: string) =>
    `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nRUN echo "${what} on $(uname -m)" > /${what}\n`;
  for (const name of ["base", "viewer", "detector"]) {
    fs.mkdirSync(path.join(CATALOG_DIR, name), { recursive: true });
    fs.writeFileSync(path.join(CATALOG_DIR, name, "Dockerfile"), dockerfile(name));
  }
  const both = ["linux/amd64", "linux/arm64"];
  const catalog = {
    namespace: "dayuhub",
    mirrors: [
      {
        name: "redis",
        source: "docker.io/library/redis:7.2",
        repository: "dayuhub/redis",
        tags: ["latest"],
        platforms: both,
      },
    ],
    images: [
      {
        name: "base",
        context: "base",
        platforms: both,
        tags: ["latest"],
        base: { mirror: "redis" },
      },
      {
        name: "viewer",
        context: "viewer",
        platforms: both,
        tags: ["latest", "edge"],
        base: { image: "base" },
      },
      {
        name: "detector",
        context: "detector",
        platforms: both,
        tags: ["${release}", "latest"],
        base: { image: "base" },
      },
    ],
  };
  fs.writeFileSync(path.join(CATALOG_DIR, "estate.yaml"), toYaml(catalog));
}

function appendToDockerfile(name: string, line: string): void {
  fs.appendFileSync(path.join(CATALOG_DIR, name, "Dockerfile"), `${line}\n`);
}

/** The pin of the redis stand-in (scripts/standins.sh). */
function redisPin(): string {
  const pins = Object.fromEntries(
    fs
      .readFileSync(path.join(ROOT, ".local/standins.txt"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" ")),
  );
  return pins.redis;
}

/** What both stacks share: the catalog, release, prefix and mirror pin. */
function common(): Record<string, unknown> {
  return {
    "dayu-estate:release": "v1.3",
    "dayu-estate:catalog": path.relative(ROOT, path.join(CATALOG_DIR, "estate.yaml")),
    "dayu-estate:repositoryPrefix": PREFIX,
    "dayu-estate:mirrorSources": { redis: redisPin() },
  };
}

/**
 * Staging: builds on the local builders into the first registry. Its environment is `dev` because the
 * local builders are plain `tcp://` entries without the mTLS keys a staging stack requires; release
 * tags are not locked on it (as on the committed staging stack).
 */
function writeStagingStack(): void {
  const dev = devConfig();
  const config = {
    "dayu-estate:environment": "dev",
    ...common(),
    "dayu-estate:registry": {
      ...(dev["dayu-estate:registry"] as object),
      address: localRegistry(),
    },
    "dayu-estate:builders": dev["dayu-estate:builders"],
    "dayu-estate:registryCache": false,
    "dayu-estate:protectReleases": false,
  };
  fs.writeFileSync(
    stackFile(STAGING),
    `# Written by test/e2e/promote.e2e.test.ts; not committed.\n${toYaml({ config })}`,
  );
}

/**
 * Prod: environment prod (auth and TLS required, release tags locked), the second registry with its
 * own user, promote mode from the staging stack. The supply chain is off: signing is issue 10's
 * end-to-end test, and promote mode copies what staging produced.
 */
function writeProdStack(): void {
  const config = {
    "dayu-estate:environment": "prod",
    ...common(),
    "dayu-estate:registry": {
      mode: "external",
      address: prodRegistry(),
      username: prodCredentials().username,
      caFile: CA_FILE,
    },
    "dayu-estate:builders": [
      { name: "dayu-amd64", platform: "linux/amd64" },
      { name: "dayu-arm64", platform: "linux/arm64" },
    ],
    "dayu-estate:protectReleases": true,
    "dayu-estate:supplyChain": { enabled: false },
    "dayu-estate:promote": {
      fromStack: `organization/dayu-estate/${STAGING}`,
      registry: { address: localRegistry(), username: credentials().username, caFile: CA_FILE },
    },
  };
  fs.writeFileSync(
    stackFile(PROD),
    `# Written by test/e2e/promote.e2e.test.ts; not committed.\n${toYaml({ config })}`,
  );
}

/** Creates the prod stack (its file, state and two secrets) from scratch. */
async function initProd(): Promise<void> {
  writeProdStack();
  ok(await pulumi(["stack", "init"], PROD), "stack init prod");
  ok(
    await pulumi(
      ["config", "set", "--secret", "registryPassword"],
      PROD,
      prodCredentials().password,
    ),
    "prod registryPassword",
  );
  ok(
    await pulumi(
      ["config", "set", "--secret", "promoteRegistryPassword"],
      PROD,
      credentials().password,
    ),
    "prod promoteRegistryPassword",
  );
}

/** image:tag → index digest a registry serves now ("absent" when the tag is not there). */
async function liveIndexes(client: RegistryClient, plan: Plan): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const i of [...plan.indexes, ...mirrorIndexes(plan)]) {
    const { repository, reference } = splitRef(i.ref);
    out[i.id] = (await client.resolve(repository, reference)) ?? "absent";
  }
  return out;
}

/** The mirror's tags as pseudo-indexes (`mirror:<name>:<tag>`). */
function mirrorIndexes(plan: Plan): { id: string; ref: string }[] {
  return plan.mirrors.flatMap((m) =>
    m.refs.map((ref) => ({ id: `mirror:${m.name}:${ref.slice(ref.lastIndexOf(":") + 1)}`, ref })),
  );
}

/** Platform → child digest of the index under `ref` (attestations left out). */
async function children(client: RegistryClient, ref: string): Promise<Record<string, string>> {
  const { repository, reference } = splitRef(ref);
  const m = await client.getManifest(repository, reference);
  assert.ok(isIndex(m.mediaType), `${ref} is an index (got ${m.mediaType})`);
  const out: Record<string, string> = {};
  for (const d of m.json.manifests ?? []) {
    if (!isAttestation(d) && d.platform) out[platformString(d.platform)] = d.digest;
  }
  return out;
}

/** `ref` with the registry replaced (the same repository and tag on the other registry). */
const onRegistry = (ref: string, registry: string) =>
  `${registry}/${ref.slice(ref.indexOf("/") + 1)}`;

/** The resource types in a stack's state, and the outputs of the resource whose URN ends with `name`. */
async function stateOf(
  stack: string,
): Promise<{ types: string[]; outputs: (name: string) => Record<string, unknown> | undefined }> {
  const run = ok(await pulumi(["stack", "export"], stack), `stack export ${stack}`);
  const doc = JSON.parse(run.stdout) as {
    deployment: { resources?: { urn: string; type: string; outputs?: Record<string, unknown> }[] };
  };
  const resources = doc.deployment.resources ?? [];
  return {
    types: resources.map((r) => r.type),
    outputs: (name) => resources.find((r) => r.urn.endsWith(`::${name}`))?.outputs,
  };
}

/**
 * Puts other content under `tag` on the prod registry: a copy of `sourceRef` (an index of the
 * staging registry), with buildx imagetools and a docker config holding both registries' logins.
 */
function seedProd(sourceRef: string, tag: string): void {
  const dir = path.join(WORK, "docker");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const auth = (c: { username: string; password: string }) =>
    Buffer.from(`${c.username}:${c.password}`).toString("base64");
  fs.writeFileSync(
    path.join(dir, "config.json"),
    JSON.stringify({
      auths: {
        [localRegistry()]: { auth: auth(credentials()) },
        [prodRegistry()]: { auth: auth(prodCredentials()) },
      },
    }),
    { mode: 0o600 },
  );
  execFileSync(
    path.join(TOOLS, "buildx"),
    ["imagetools", "create", "--progress=plain", "--tag", tag, sourceRef],
    { env: { ...env(), DOCKER_CONFIG: dir }, stdio: "pipe", timeout: STEP_MS },
  );
}

describe("promotion and adoption across two local registries", function () {
  this.timeout(30 * 60 * 1000);
  let plan: Plan;
  let staging: RegistryClient;
  let prod: RegistryClient;
  let seeded = "";
  const times: Record<string, number> = {};
  const detectorRelease = () => plan.indexes.find((i) => i.id === "detector:v1.3")!;
  const prodRef = (ref: string) => onRegistry(ref, prodRegistry());

  before(async () => {
    requirePrerequisites({ prodRegistry: true });
    fs.rmSync(WORK, { recursive: true, force: true });
    fs.mkdirSync(path.join(WORK, "state"), { recursive: true, mode: 0o700 });
    writeCatalog();
    writeStagingStack();
    ok(await pulumi(["stack", "init"], STAGING), "stack init staging");
    ok(
      await pulumi(
        ["config", "set", "--secret", "registryPassword"],
        STAGING,
        credentials().password,
      ),
      "staging registryPassword",
    );
    plan = flatPlan(planForStack(STAGING));
    staging = registryClient();
    prod = prodRegistryClient();
    const up = ok(await pulumi(["up", "--yes", "--skip-preview"], STAGING), "staging cold up");
    times.stagingColdUp = up.seconds;
  });

  after(() => {
    for (const s of [STAGING, PROD]) fs.rmSync(stackFile(s), { force: true });
    console.log(`\n      wall times (s): ${JSON.stringify(times)}`);
  });

  it("staging built every index into the first registry; the prod registry is another one", async () => {
    assert.notEqual(prodRegistry(), localRegistry());
    const live = await liveIndexes(staging, plan);
    for (const [id, digest] of Object.entries(live)) assert.notEqual(digest, "absent", id);
    await prod.ping();
    // Its own credentials: the first registry's are refused there.
    const ca = fs.readFileSync(path.join(ROOT, CA_FILE), "utf8");
    await assert.rejects(
      new RegistryClient({ address: prodRegistry(), ...credentials(), ca }).ping(),
      /refused the credentials/,
    );
  });

  describe("adoption of a registry that already holds a release tag", () => {
    it("the first up is refused, naming the tag, its current digest and the one it would publish", async () => {
      const base = plan.indexes.find((i) => i.id === "base:latest")!;
      const target = prodRef(detectorRelease().ref);
      seedProd(base.ref, target);
      const { repository, reference } = splitRef(target);
      seeded = (await prod.resolve(repository, reference)) ?? "";
      assert.match(seeded, /^sha256:/, "the seed is on the prod registry");
      const wanted = await staging.resolve(
        splitRef(detectorRelease().ref).repository,
        splitRef(detectorRelease().ref).reference,
      );
      assert.notEqual(seeded, wanted);

      await initProd();
      const run = await pulumi(["up", "--yes", "--skip-preview"], PROD);
      times.prodRefused = run.seconds;
      const text = run.stdout + run.stderr;
      assert.notEqual(run.code, 0, "the first up must fail");
      assert.match(
        text,
        new RegExp(
          `release tag ${escape(target)} already exists in the registry at ${seeded}, and this stack would publish ${wanted}`,
        ),
      );
      assert.match(text, new RegExp(`listing "${escape(DETECTOR_RELEASE)}" in replaceExisting`));
      assert.equal(await prod.resolve(repository, reference), seeded, "the tag did not move");
    });

    it("with adopt, the existing digest is recorded and not moved", async () => {
      ok(await pulumi(["config", "set", "adopt", "true"], PROD), "set adopt");
      const run = ok(await pulumi(["up", "--yes", "--skip-preview"], PROD), "up with adopt");
      times.prodAdopt = run.seconds;
      const { repository, reference } = splitRef(prodRef(detectorRelease().ref));
      assert.equal(await prod.resolve(repository, reference), seeded, "the tag kept its content");
      const lock = (await stateOf(PROD)).outputs("detector:v1.3-release-lock");
      assert.equal(lock?.adoptedDigest, seeded, "the lock recorded the adopted digest");
      ok(await pulumi(["preview", "--expect-no-changes"], PROD), "adopted: converged");
    });

    it("on a fresh stack with replaceExisting listing the tag, the first up moves it", async () => {
      ok(await pulumi(["stack", "rm", "--force", "--yes"], PROD), "stack rm prod");
      await initProd();
      ok(
        await pulumi(
          ["config", "set", "replaceExisting", JSON.stringify([DETECTOR_RELEASE])],
          PROD,
        ),
        "set replaceExisting",
      );
      const run = ok(await pulumi(["up", "--yes", "--skip-preview"], PROD), "up with replace");
      times.prodReplace = run.seconds;
      const src = splitRef(detectorRelease().ref);
      const { repository, reference } = splitRef(prodRef(detectorRelease().ref));
      const now = await prod.resolve(repository, reference);
      assert.equal(now, await staging.resolve(src.repository, src.reference), "moved to staging's");
      const lock = (await stateOf(PROD)).outputs("detector:v1.3-release-lock");
      assert.equal(lock?.replacedDigest, seeded, "the lock recorded what it replaced");
    });
  });

  describe("promotion", () => {
    it("prod serves the same index digests, children and platforms, and holds no Image", async () => {
      const src = await liveIndexes(staging, plan);
      const dst = await liveIndexes(prod, plan);
      assert.deepEqual(dst, src, "every index (and the mirror) has staging's digest on prod");
      for (const i of plan.indexes) {
        const want = await children(staging, i.ref);
        assert.deepEqual(Object.keys(want).sort(), ["linux/amd64", "linux/arm64"], i.id);
        assert.deepEqual(await children(prod, prodRef(i.ref)), want, `${i.id}: same children`);
        // Every child is there with its config blob (the copy moved the blobs).
        const { repository } = splitRef(prodRef(i.ref));
        for (const [p, d] of Object.entries(want)) {
          assert.equal(`linux/${await prod.configArchitecture(repository, d)}`, p, `${i.id} ${p}`);
        }
      }
      const state = await stateOf(PROD);
      assert.ok(!state.types.includes("docker-build:index:Image"), "prod declares no Image");
      assert.ok(state.types.includes("docker-build:index:Index"), "prod publishes Indexes");
      assert.ok(state.types.includes("pulumi:pulumi:StackReference"), "from the staging stack");
    });

    it("a second promote is a no-op", async () => {
      const before = await liveIndexes(prod, plan);
      const preview = ok(await pulumi(["preview", "--json"], PROD), "preview --json");
      assert.deepEqual(changedResources(preview.stdout), [], "the preview shows no change");
      const up = ok(await pulumi(["up", "--yes"], PROD), "second promote");
      times.prodNoop = up.seconds;
      assert.doesNotMatch(up.stdout, /\d+ (created|updated|replaced|deleted)/, up.stdout);
      assert.deepEqual(await liveIndexes(prod, plan), before);
    });

    it("after one leaf change on staging, promote moves exactly that image's indexes", async () => {
      const stagingBefore = await liveIndexes(staging, plan);
      const prodBefore = await liveIndexes(prod, plan);
      appendToDockerfile("viewer", "RUN echo leaf-change > /leaf-change");
      ok(await pulumi(["up", "--yes", "--skip-preview"], STAGING), "staging up after the change");
      const stagingAfter = await liveIndexes(staging, plan);
      const moved = Object.keys(stagingAfter)
        .filter((id) => stagingAfter[id] !== stagingBefore[id])
        .sort();
      assert.deepEqual(moved, ["viewer:edge", "viewer:latest"], "staging moved the leaf only");

      const preview = ok(await pulumi(["preview", "--json"], PROD), "prod preview --json");
      const changed = changedResources(preview.stdout);
      fs.writeFileSync(path.join(WORK, "leaf-change-preview.json"), preview.stdout);
      assert.ok(changed.length > 0, "the preview shows the promotion");
      assert.ok(
        // viewer's Indexes, and the guard that reads viewer's tags back (named after the image).
        changed.every((c) => / viewer(:(latest|edge))?$/.test(c)),
        `only viewer's indexes and its guard change: ${changed.join(", ")}`,
      );
      for (const tag of ["latest", "edge"]) {
        assert.ok(
          changed.includes(`docker-build:index:Index viewer:${tag}`),
          `viewer:${tag}'s Index changes: ${changed.join(", ")}`,
        );
      }
      const up = ok(await pulumi(["up", "--yes"], PROD), "promote the leaf change");
      times.prodLeafChange = up.seconds;
      const prodAfter = await liveIndexes(prod, plan);
      for (const id of Object.keys(prodAfter)) {
        const want = moved.includes(id) ? stagingAfter[id] : prodBefore[id];
        assert.equal(prodAfter[id], want, id);
      }
      ok(await pulumi(["preview", "--expect-no-changes"], PROD), "prod converged");
    });

    it("a promotion that would move a published release tag on prod is refused", async () => {
      const prodBefore = await liveIndexes(prod, plan);
      appendToDockerfile("detector", "RUN echo release-change > /release-change");
      ok(await pulumi(["up", "--yes", "--skip-preview"], STAGING), "staging up after the change");
      const stagingNow = await liveIndexes(staging, plan);
      assert.notEqual(stagingNow["detector:v1.3"], prodBefore["detector:v1.3"]);
      const run = await pulumi(["up", "--yes"], PROD);
      times.prodRefusedRelease = run.seconds;
      const text = run.stdout + run.stderr;
      assert.notEqual(run.code, 0, "the promotion must fail");
      assert.match(
        text,
        new RegExp(`release tag ${escape(prodRef(detectorRelease().ref))} is immutable`),
      );
      assert.deepEqual(await liveIndexes(prod, plan), prodBefore, "nothing moved on prod");
    });
  });
});
