/**
 * Runtime faults, for real on the local services, each step bounded in time (issue 12). In order:
 *   1. wrong registry credentials: found by the pre-flight before any build, naming the stack key;
 *   2. the registry answering 5xx and resetting connections, through a fault-injecting proxy on
 *      loopback (test/e2e/faultProxy.ts) that fails only the program's own requests (pre-flight,
 *      read-back; BuildKit's pushes pass): (a) now and then, on a cold `up` and a `refresh`: the calls
 *      retry with backoff and both succeed; (b) for good: the `up` fails in the pre-flight, naming
 *      the registry and `registry.address`, after one call and three retries with growing waits;
 *      nothing moved, and the next `up` converges building only what was pending;
 *   2c. a rotated password: the pre-flight names the stack key; once the new password is in config,
 *      a plain refresh (which reads with the password stored in state) fails naming
 *      `npm run refresh`, and that works: an up that changes nothing stores the new password, then
 *      the refresh reads every resource with it;
 *   3. the registry stopped in the middle of an `up` and started again;
 *   4. a builder killed mid-build;
 *   5. the registry's disk full: its storage copied onto a tmpfs with 1 MiB to spare and an 8 MiB
 *      layer no run pushed before: the pre-flight's 64 KiB test upload fits, the push does not, the
 *      `up` fails naming the registry and the repository; with the disk full to the last byte the
 *      next `up` is refused by the pre-flight quoting "no space left on device", before any build.
 *      Each time no tag moves and every published reference is whole down to its blobs; the tmpfs
 *      is grown under the running registry, only the app's builds are pending, the next `up`
 *      converges; the storage then goes back to disk.
 * A tiny estate of its own (a mirror, a base and an app, each for amd64 and arm64) on stacks `faults`
 * and `faults-proxy` in their own file backend (.local/faults), so a fault never touches the dev or
 * e2e stacks and each `up` takes seconds. Needs root (tmpfs) and the local services; it stops and
 * starts the registry and the arm64 builder itself and leaves all of them running.
 */
import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml } from "yaml";
import { flatPlan, type FlatPlan as Plan } from "../../estate/planner";
import { RegistryClient, isIndex, splitRef } from "../../lib/registry";
import { planForStack } from "../../scripts/plan";
import { FaultProxy } from "./faultProxy";
import {
  ROOT,
  TOOLS,
  type Run,
  runPulumi,
  credentials,
  localRegistry,
  devConfig,
  env,
  ok,
  registryClient,
  requirePrerequisites,
  sleep,
} from "./harness";

const WORK = path.join(ROOT, ".local/faults");
const STACK = "faults";
const PROXY_STACK = "faults-proxy";
const CATALOG_DIR = path.join(WORK, "catalog");
const LOCAL = path.join(ROOT, ".local");
const PKI = path.join(LOCAL, "pki");
const REG_DATA = path.join(LOCAL, "registry/data");
const SERVICES = path.join(ROOT, "scripts/local-services.sh");
/** The longest any one step may take: a failing step fails the test instead of hanging it. */
const STEP_MS = 4 * 60 * 1000;
/** scripts/refresh.ts, run as `npm run refresh` runs it. */
const REFRESH = [process.execPath, "-r", "ts-node/register/transpile-only", "scripts/refresh.ts"];
/** An `up`'s progress line for a build that started (the non-interactive display). */
const BUILD_STARTED = /docker-build:index:Image\s+\S+\s+(updating|creating)/;

const registryAddress = () => localRegistry();
const stackFile = (stack: string) => path.join(ROOT, `Pulumi.${stack}.yaml`);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Runs the Pulumi CLI on one of this file's stacks, within {@link STEP_MS}. */
function pulumi(args: string[], stack = STACK, input?: string): Promise<Run> {
  return runPulumi({ stack, work: WORK, timeoutMs: STEP_MS, ownBackend: true }, args, input);
}

/** `scripts/local-services.sh start`: (re)starts what is down and waits until it is ready. */
function startServices(): void {
  execFileSync(SERVICES, ["start"], { stdio: "pipe", timeout: STEP_MS });
}

/** Kills one local service (as a crash would) by the pid its script recorded. */
function killService(svc: "registry" | "buildkitd-arm64", signal: NodeJS.Signals): void {
  const pid = Number(fs.readFileSync(path.join(LOCAL, "run", `${svc}.pid`), "utf8").trim());
  process.kill(pid, signal);
}

/**
 * Stops the registry and waits until its process is gone (it drains uploads for up to 15 s), so its
 * storage can be unmounted; SIGKILL after 25 s.
 */
async function stopRegistry(): Promise<void> {
  const file = path.join(LOCAL, "run", "registry.pid");
  if (!fs.existsSync(file)) return;
  const pid = Number(fs.readFileSync(file, "utf8").trim());
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 50 && alive(); i++) await sleep(500);
  if (alive()) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 10 && alive(); i++) await sleep(500);
}

/** True when `dir` is a mount point (a tmpfs a crashed run left behind). */
function isMountPoint(dir: string): boolean {
  return fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === dir);
}

/** KiB in use on the filesystem holding `dir`. */
function usedKiB(dir: string): number {
  const s = fs.statfsSync(dir);
  return Math.ceil(((s.blocks - s.bfree) * s.bsize) / 1024);
}

/** Resizes the tmpfs at `dir` (the registry keeps running on it). */
function resizeTmpfs(dir: string, kib: number): void {
  execFileSync("mount", ["-o", `remount,size=${kib}k`, dir], { timeout: 30000 });
}

/** The tiny catalog and its Dockerfiles. */
function writeCatalog(): void {
  const dockerfile = (what: string) =>
    `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nRUN echo "${what} on $(uname -m)" > /${what}\n`;
  for (const name of ["base", "app"]) {
    fs.mkdirSync(path.join(CATALOG_DIR, name), { recursive: true });
    fs.writeFileSync(path.join(CATALOG_DIR, name, "Dockerfile"), dockerfile(name));
  }
  const catalog = {
    namespace: "faults",
    mirrors: [
      {
        name: "redis",
        source: "docker.io/library/redis:7.2",
        repository: "redis",
        tags: ["latest"],
        platforms: ["linux/amd64", "linux/arm64"],
      },
    ],
    images: [
      {
        name: "base",
        context: "base",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["latest"],
        base: { mirror: "redis" },
      },
      {
        name: "app",
        context: "app",
        platforms: ["linux/amd64", "linux/arm64"],
        tags: ["${release}"],
        base: { image: "base" },
      },
    ],
  };
  fs.writeFileSync(path.join(CATALOG_DIR, "estate.yaml"), toYaml(catalog));
}

/** A stack file of this test: the dev services, the tiny catalog, a registry address and prefix. */
function writeStack(stack: string, address: string): void {
  const dev = devConfig();
  const pins = Object.fromEntries(
    fs
      .readFileSync(path.join(LOCAL, "standins.txt"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" ")),
  );
  const config = {
    "dayu-estate:environment": "dev",
    "dayu-estate:release": "v1.3",
    "dayu-estate:catalog": path.relative(ROOT, path.join(CATALOG_DIR, "estate.yaml")),
    "dayu-estate:repositoryPrefix": stack,
    "dayu-estate:registry": { ...(dev["dayu-estate:registry"] as object), address },
    "dayu-estate:builders": dev["dayu-estate:builders"],
    "dayu-estate:registryCache": false,
    "dayu-estate:mirrorSources": { redis: pins.redis },
  };
  fs.writeFileSync(
    stackFile(stack),
    `# Written by test/e2e/faults.e2e.test.ts; not committed.\n${toYaml({ config })}`,
  );
}

function appendToDockerfile(name: string, line: string): void {
  fs.appendFileSync(path.join(CATALOG_DIR, name, "Dockerfile"), `${line}\n`);
}

/** `registry/repository` of the tiny estate's app, as the plan of stack `faults` names it. */
function appRepository(): string {
  const app = flatPlan(planForStack(STACK)).builds.find((b) => b.image === "app");
  assert.ok(app, "the app is planned");
  return app.repository;
}

/** image:tag → index digest as the registry serves it now. */
async function liveIndexes(client: RegistryClient, plan: Plan): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const i of plan.indexes) {
    const { repository, reference } = splitRef(i.ref);
    out[i.id] = (await client.resolve(repository, reference)) ?? "absent";
  }
  return out;
}

/** Every index the registry serves for the plan has every child it lists. */
async function assertNoDanglingIndex(client: RegistryClient, plan: Plan): Promise<void> {
  for (const i of plan.indexes) {
    const { repository, reference } = splitRef(i.ref);
    const m = await client.getManifest(repository, reference).catch(() => undefined);
    if (!m || !isIndex(m.mediaType)) continue;
    for (const child of m.json.manifests ?? []) {
      await client.getManifest(repository, child.digest).catch((err: Error) => {
        assert.fail(`index ${i.ref} points at a missing child ${child.digest}: ${err.message}`);
      });
    }
  }
}

/** Every reference the plan publishes (indexes, per-arch tags, mirrors) → digest served, or "absent". */
async function servedRefs(client: RegistryClient, plan: Plan): Promise<Record<string, string>> {
  const refs = [
    ...plan.indexes.map((i) => i.ref),
    ...plan.builds.map((b) => b.archRef),
    ...plan.mirrors.flatMap((m) => m.refs),
  ];
  const out: Record<string, string> = {};
  for (const ref of refs) {
    const { repository, reference } = splitRef(ref);
    out[ref] = (await client.resolve(repository, reference)) ?? "absent";
  }
  return out;
}

/**
 * Nothing published half: every reference of the plan the registry serves is whole, down to the
 * blobs: each index's children exist, and each image manifest's config and layers are there.
 */
async function assertWhole(client: RegistryClient, plan: Plan): Promise<void> {
  const check = async (ref: string, repository: string, reference: string, depth: number) => {
    const m = await client.getManifest(repository, reference).catch((err: Error) => {
      assert.fail(`${ref}: ${repository}@${reference} is missing: ${err.message}`);
    });
    if (isIndex(m.mediaType)) {
      assert.ok(depth < 2, `${ref}: an index nested in an index`);
      for (const child of m.json.manifests ?? [])
        await check(ref, repository, child.digest, depth + 1);
      return;
    }
    for (const blob of [m.json.config, ...(m.json.layers ?? [])]) {
      if (!blob) continue;
      const res = await client.call("HEAD", `/v2/${repository}/blobs/${blob.digest}`);
      assert.equal(res.status, 200, `${ref}: blob ${blob.digest} of ${m.digest} is missing`);
    }
  };
  for (const [ref, digest] of Object.entries(await servedRefs(client, plan))) {
    if (digest === "absent") continue;
    const { repository } = splitRef(ref);
    await check(ref, repository, digest, 0);
  }
}

/** The docker-build Images a preview would build, as their names. */
async function pendingBuilds(stack = STACK): Promise<string[]> {
  const run = ok(await pulumi(["preview", "--json"], stack), "preview --json");
  const doc = JSON.parse(run.stdout) as { steps?: { op: string; urn: string }[] };
  return (doc.steps ?? [])
    .filter((s) => s.op !== "same" && s.op !== "read" && s.urn.includes("docker-build:index:Image"))
    .map((s) => s.urn.split("::").slice(3).join("::"))
    .sort();
}

/**
 * Starts an `up` and calls `fault` once the output shows `trigger`; resolves with the run. The
 * whole `up` is bounded by {@link STEP_MS}.
 */
function upWithFault(trigger: RegExp, fault: () => void): Promise<Run & { fired: boolean }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      path.join(TOOLS, "pulumi"),
      ["up", "--yes", "--skip-preview", "--stack", STACK, "--non-interactive"],
      {
        cwd: ROOT,
        env: { ...env(), PULUMI_BACKEND_URL: `file://${WORK}/state`, PULUMI_STACK: STACK },
      },
    );
    let out = "";
    let fired = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!fired && trigger.test(out)) {
        fired = true;
        fault();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => child.kill("SIGKILL"), STEP_MS);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? 1,
        stdout: out,
        stderr: "",
        seconds: (Date.now() - started) / 1000,
        fired,
      });
    });
  });
}

describe("runtime faults on the local estate", function () {
  this.timeout(12 * 60 * 1000);
  let plan: Plan;
  let client: RegistryClient;
  const times: Record<string, number> = {};

  before(async () => {
    requirePrerequisites();
    fs.rmSync(WORK, { recursive: true, force: true });
    fs.mkdirSync(path.join(WORK, "state"), { recursive: true, mode: 0o700 });
    writeCatalog();
    writeStack(STACK, registryAddress());
    ok(await pulumi(["stack", "init"]), "stack init");
    ok(
      await pulumi(
        ["config", "set", "--secret", "registryPassword"],
        STACK,
        credentials().password,
      ),
      "config set",
    );
    plan = flatPlan(planForStack(STACK));
    client = registryClient();
    const cold = ok(await pulumi(["up", "--yes", "--skip-preview"]), "cold up of the tiny estate");
    times.coldUp = cold.seconds;
  });

  after(async () => {
    await proxy?.stop();
    for (const s of [STACK, PROXY_STACK]) fs.rmSync(stackFile(s), { force: true });
    console.log(`\n      wall times (s): ${JSON.stringify(times)}`);
  });

  it("1. a wrong password is found by the pre-flight, before any build, naming the stack key", async () => {
    appendToDockerfile("app", "RUN echo would-build > /would-build");
    ok(await pulumi(["config", "set", "--secret", "registryPassword"], STACK, "wrong"), "set");
    const before = await liveIndexes(client, plan);
    const run = await pulumi(["up", "--yes", "--skip-preview"]);
    times.wrongPassword = run.seconds;
    const text = run.stdout + run.stderr;
    assert.notEqual(run.code, 0, "up must fail");
    assert.match(text, /pre-flight failed, nothing was built/);
    assert.match(text, /dayu-estate:registryPassword in Pulumi\.faults\.yaml/);
    assert.match(text, new RegExp(`registry ${escape(registryAddress())} refused the credentials`));
    assert.doesNotMatch(text, BUILD_STARTED);
    assert.deepEqual(await liveIndexes(client, plan), before, "nothing moved");
    ok(
      await pulumi(
        ["config", "set", "--secret", "registryPassword"],
        STACK,
        credentials().password,
      ),
      "set back",
    );
  });

  /**
   * The proxy between the program and the registry (TLS with the registry's own certificate, on a
   * free loopback port) and the stack `faults-proxy` that uses it as its registry address; made once.
   */
  let proxy: FaultProxy | undefined;
  let proxyAddress = "";
  let proxyPlan: Plan;
  async function proxyStack(): Promise<FaultProxy> {
    if (proxy) return proxy;
    const [host, port] = registryAddress().split(":");
    const p = new FaultProxy(
      {
        host: "127.0.0.1",
        port: Number(port),
        tls: { ca: fs.readFileSync(path.join(PKI, "ca.crt"), "utf8"), servername: host },
      },
      {
        cert: fs.readFileSync(path.join(PKI, "registry.crt"), "utf8"),
        key: fs.readFileSync(path.join(PKI, "registry.key"), "utf8"),
      },
    );
    proxyAddress = `${host}:${await p.start()}`;
    proxy = p;
    writeStack(PROXY_STACK, proxyAddress);
    ok(await pulumi(["stack", "init"], PROXY_STACK), "stack init");
    ok(
      await pulumi(
        ["config", "set", "--secret", "registryPassword"],
        PROXY_STACK,
        credentials().password,
      ),
      "config set",
    );
    proxyPlan = flatPlan(planForStack(PROXY_STACK));
    return p;
  }

  it("2a. 5xx and resets now and then (proxy): the program's own calls retry, the up and a refresh succeed", async () => {
    const p = await proxyStack();
    // A cold up of the estate through the proxy. Three requests of the program's own client (the
    // pre-flight, the read-backs: no User-Agent), every second one, answer 503; BuildKit's pushes and
    // buildx's index pushes pass untouched (retrying them is BuildKit's business).
    p.set({ mode: "status", status: 503, every: 2, count: 3, userAgent: /^$/ });
    const run = ok(await pulumi(["up", "--yes", "--skip-preview"], PROXY_STACK), "up via proxy");
    times.upThrough503 = run.seconds;
    assert.equal(p.injected, 3, "three 503s were answered and retried");
    const agents = [...p.agents.entries()];
    assert.ok(
      agents.some(([a, n]) => a !== "" && n > 0),
      `the pushes did not go through the proxy: ${JSON.stringify(agents)}`,
    );
    assert.ok((p.agents.get("") ?? 0) > 6, `own requests: ${JSON.stringify(agents)}`);
    const served = await liveIndexes(client, proxyPlan);
    assert.ok(
      Object.values(served).every((d) => d !== "absent"),
      `every index is published: ${JSON.stringify(served)}`,
    );
    await assertWhole(client, proxyPlan);
    // A refresh reads every guarded tag back: its first two connections are reset.
    p.set({ mode: "reset", count: 2, userAgent: /^$/ });
    const refresh = ok(await pulumi(["refresh", "--yes"], PROXY_STACK), "refresh via proxy");
    times.refreshThroughResets = refresh.seconds;
    assert.equal(p.injected, 2, "two connections were reset and retried");
    p.set({ mode: "none" });
    ok(await pulumi(["preview", "--expect-no-changes"], PROXY_STACK), "converged");
  });

  it("2b. 5xx or resets for good (proxy): the up fails before any build, naming the registry and its key", async function () {
    // Up to five CLI runs of at most STEP_MS each: the step is bounded by them, not by the suite.
    this.timeout(6 * STEP_MS);
    const p = await proxyStack();
    appendToDockerfile("app", "RUN echo proxy > /proxy");
    const before = await servedRefs(client, proxyPlan);
    const address = escape(proxyAddress);

    p.set({ mode: "status", status: 503, userAgent: /^$/ });
    const run = await pulumi(["up", "--yes", "--skip-preview"], PROXY_STACK);
    times.upAgainst503 = run.seconds;
    const text = run.stdout + run.stderr;
    assert.notEqual(run.code, 0, "the up fails");
    assert.match(text, /pre-flight failed, nothing was built/);
    assert.match(text, /dayu-estate:registry\.address in Pulumi\.faults-proxy\.yaml/);
    assert.match(text, new RegExp(`registry ${address} answered 503 to GET /v2/`));
    assert.doesNotMatch(text, BUILD_STARTED);
    assert.equal(p.injected, 4, "one call and three retries");
    // With backoff: 250, 500, 1000 ms less up to 20% jitter.
    const gaps = p.injectedAt.slice(1).map((t, i) => t - p.injectedAt[i]);
    gaps.forEach((g, i) =>
      assert.ok(g >= 200 * 2 ** i, `wait ${i} was ${g} ms (${gaps.join(", ")}): no backoff`),
    );

    p.set({ mode: "reset", userAgent: /^$/ });
    const reset = await pulumi(["up", "--yes", "--skip-preview"], PROXY_STACK);
    times.upAgainstResets = reset.seconds;
    const resetText = reset.stdout + reset.stderr;
    assert.notEqual(reset.code, 0, "the up fails");
    assert.match(resetText, /pre-flight failed, nothing was built/);
    assert.match(resetText, /dayu-estate:registry\.address in Pulumi\.faults-proxy\.yaml/);
    assert.match(resetText, new RegExp(`registry ${address}: GET https://${address}/v2/: `));
    assert.match(resetText, /gave up after 4 attempts/);
    assert.doesNotMatch(resetText, BUILD_STARTED);
    assert.equal(p.injected, 4, "one call and three retries");

    p.set({ mode: "none" });
    assert.deepEqual(await servedRefs(client, proxyPlan), before, "nothing moved");
    const pending = await pendingBuilds(PROXY_STACK);
    assert.ok(
      pending.length > 0 && pending.every((n) => n.startsWith("app")),
      `only the app's builds are pending: ${pending.join(", ")}`,
    );
    ok(await pulumi(["up", "--yes", "--skip-preview"], PROXY_STACK), "the next up");
    ok(await pulumi(["preview", "--expect-no-changes"], PROXY_STACK), "converged");
    await assertWhole(client, proxyPlan);
  });

  it("2c. a rotated password: pre-flight names the stack key; `pulumi refresh` with the new credentials works", async () => {
    const credsFile = path.join(LOCAL, "credentials.env");
    const original = fs.readFileSync(credsFile, "utf8");
    const rotated = `rotated${Date.now().toString(16)}`;
    const setPassword = async (password: string, what: string) =>
      ok(await pulumi(["config", "set", "--secret", "registryPassword"], STACK, password), what);
    // Step 2b changed the app for the proxy stack: this stack takes it now, so the rotation below
    // starts from a converged stack (npm run refresh stores a new password only with an up that
    // changes nothing).
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "converged before the rotation");
    try {
      // The registry's password changes (local-services.sh rewrites htpasswd from credentials.env
      // and restarts the registry); the stack still holds the old one, in config and in state.
      fs.writeFileSync(
        credsFile,
        original.replace(/^REGISTRY_PASSWORD=.*$/m, `REGISTRY_PASSWORD=${rotated}`),
        { mode: 0o600 },
      );
      startServices();
      const stale = await pulumi(["preview"]);
      assert.notEqual(stale.code, 0, "a preview with the old password fails");
      assert.match(
        stale.stdout + stale.stderr,
        /dayu-estate:registryPassword in Pulumi\.faults\.yaml/,
      );

      await setPassword(rotated, "set the rotated password");
      // A plain refresh reads with what the last up stored: the guards are refused, naming the
      // remedy (docker-build skips its Indexes' reads and drops their digests from state).
      const plain = await pulumi(["refresh", "--yes", "--skip-preview"]);
      assert.notEqual(plain.code, 0, "a plain refresh with the old password in state fails");
      assert.match(plain.stdout + plain.stderr, /npm run refresh -- --stack/);
      // npm run refresh stores the new password with an up that changes nothing, then refreshes;
      // nothing published hangs on the digests the plain refresh dropped.
      const refresh = ok(
        await runPulumi(
          { stack: STACK, work: WORK, timeoutMs: STEP_MS, ownBackend: true, command: REFRESH },
          ["--yes", "--skip-preview"],
        ),
        "npm run refresh with the rotated password",
      );
      times.refreshRotated = refresh.seconds;
      assert.match(
        refresh.stdout,
        /hold registry credentials for \S+ other than the stack config's/,
      );
      assert.doesNotMatch(refresh.stdout + refresh.stderr, /Unknown Error|refused the password/i);
      assert.doesNotMatch(
        refresh.stdout + refresh.stderr,
        new RegExp(escape(rotated)),
        "no secret shown",
      );
      assert.doesNotMatch(
        refresh.stdout,
        BUILD_STARTED,
        "the up that stores the password builds nothing",
      );
      ok(await pulumi(["preview", "--expect-no-changes"]), "converged, nothing drifted");
    } finally {
      fs.writeFileSync(credsFile, original, { mode: 0o600 });
      startServices();
      await setPassword(credentials().password, "set the original password back");
    }
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "up with the original password");
    ok(await pulumi(["refresh", "--yes", "--skip-preview"]), "refresh with the original password");
    ok(await pulumi(["preview", "--expect-no-changes"]), "converged on the original password");
  });

  it("3. the registry stopped mid-up: the up fails naming it, no dangling index, the next up converges", async () => {
    const before = await liveIndexes(client, plan);
    appendToDockerfile("app", "RUN echo registry-stop > /registry-stop && sleep 3");
    const run = await upWithFault(/docker-build:index:Image\s+app\S*\s+updating/, () =>
      killService("registry", "SIGKILL"),
    );
    times.registryStopped = run.seconds;
    assert.ok(run.fired, `no app build started:\n${run.stdout.slice(-2000)}`);
    assert.notEqual(run.code, 0, "the up fails");
    assert.match(run.stdout, new RegExp(escape(registryAddress())), "the error names the registry");
    await sleep(2000);
    startServices();
    await assertNoDanglingIndex(client, plan);
    const after = await liveIndexes(client, plan);
    assert.equal(after["base:latest"], before["base:latest"], "the base did not move");
    // Only app builds are left to do: nothing that had finished is built again.
    const pending = await pendingBuilds();
    assert.ok(
      pending.every((n) => n.startsWith("app")),
      `only app builds may be pending: ${pending.join(", ")}`,
    );
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "the next up");
    ok(await pulumi(["preview", "--expect-no-changes"]), "converged");
    await assertNoDanglingIndex(client, plan);
  });

  it("4. the arm64 builder killed mid-build: arm64 fails, the index stays, amd64's work is kept", async () => {
    const idx = plan.indexes.find((i) => i.id === "app:v1.3");
    assert.ok(idx, "app:v1.3 is planned");
    const { repository, reference } = splitRef(idx.ref);
    const published = await client.resolve(repository, reference);
    // The arm64 step is slow on purpose, so the kill lands while it runs; the nonce keeps BuildKit's
    // cache from an earlier run of this file from answering it at once (the up would then succeed).
    const nonce = `${Date.now()}-${process.pid}`;
    appendToDockerfile(
      "app",
      `RUN if [ "$(uname -m)" = aarch64 ]; then sleep 30; fi; echo k ${nonce} > /k`,
    );
    const run = await upWithFault(/docker-build:index:Image\s+app\S*arm64\S*\s+updating/, () =>
      setTimeout(() => killService("buildkitd-arm64", "SIGKILL"), 3000),
    );
    times.builderKilled = run.seconds;
    assert.ok(run.fired, `no arm64 app build started:\n${run.stdout.slice(-2000)}`);
    assert.notEqual(run.code, 0, "the up fails");
    assert.equal(await client.resolve(repository, reference), published, "the index did not move");
    startServices();
    const pending = await pendingBuilds();
    assert.ok(pending.length > 0, "the arm64 build is still to do");
    assert.ok(
      pending.every((n) => /arm64/.test(n)),
      `only arm64 builds may be pending (amd64's work is kept): ${pending.join(", ")}`,
    );
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "the next up");
    ok(await pulumi(["preview", "--expect-no-changes"]), "converged");
  });

  it("5. the registry's disk full: the up fails naming it, nothing published half, the next up after space is freed converges", async function () {
    // Up to five CLI runs of at most STEP_MS each: the step is bounded by them, not by the suite.
    this.timeout(6 * STEP_MS);
    assert.ok(!isMountPoint(REG_DATA), `${REG_DATA} is still a mount point: a run crashed there`);
    const real = `${REG_DATA}.real`;
    assert.ok(!fs.existsSync(real), `${real} exists: a run crashed there; move it back by hand`);
    const before = await servedRefs(client, plan);
    // The registry's storage moves onto a tmpfs holding a copy of it, with 1 MiB to spare: manifests
    // fit, the 8 MiB layer below cannot. The registry is stopped for the copy.
    await stopRegistry();
    fs.renameSync(REG_DATA, real);
    fs.mkdirSync(REG_DATA, { mode: 0o700 });
    const back = `${REG_DATA}.after`;
    let mounted = false;
    let restored = false;
    try {
      const diskKiB = Number(
        execFileSync("du", ["-sk", real], { encoding: "utf8" }).split("\t")[0],
      );
      const opts = `size=${Math.ceil(diskKiB * 1.25) + 16384}k,mode=0700`;
      execFileSync("mount", ["-t", "tmpfs", "-o", opts, "dayu-faults-registry", REG_DATA]);
      mounted = true;
      execFileSync("cp", ["-a", `${real}/.`, REG_DATA], { timeout: STEP_MS });
      resizeTmpfs(REG_DATA, usedKiB(REG_DATA) + 1024);
      startServices();

      // A layer no earlier run pushed (the nonce defeats BuildKit's cache and the registry's dedup).
      const nonce = `${Date.now()}-${process.pid}`;
      appendToDockerfile(
        "app",
        `RUN echo ${nonce} > /nonce && head -c 8388608 /dev/urandom > /big`,
      );
      const run = await pulumi(["up", "--yes", "--skip-preview"]);
      times.diskFullMidPush = run.seconds;
      const text = run.stdout + run.stderr;
      assert.notEqual(run.code, 0, "the up fails");
      assert.match(text, BUILD_STARTED, "the pre-flight's test upload fitted: the builds ran");
      assert.match(
        text,
        new RegExp(`error: .*failed to push ${escape(appRepository())}:`),
        "the error names the registry and the repository",
      );
      assert.deepEqual(await servedRefs(client, plan), before, "no tag moved");
      await assertNoDanglingIndex(client, plan);
      await assertWhole(client, plan);

      // The disk now full to the last byte (as the failed upload left it, made certain): the next
      // up is refused by the pre-flight's test upload, quoting the registry, before any build.
      resizeTmpfs(REG_DATA, usedKiB(REG_DATA));
      const full = await pulumi(["up", "--yes", "--skip-preview"]);
      times.diskFullPreflight = full.seconds;
      const fullText = full.stdout + full.stderr;
      assert.notEqual(full.code, 0, "the up fails");
      assert.match(fullText, /pre-flight failed, nothing was built/);
      assert.match(
        fullText,
        new RegExp(
          `dayu-estate:registry\\.address in Pulumi\\.faults\\.yaml: registry ${escape(registryAddress())} could not store a test upload`,
        ),
      );
      assert.match(fullText, /no space left on device/);
      assert.doesNotMatch(fullText, BUILD_STARTED);
      assert.deepEqual(await servedRefs(client, plan), before, "no tag moved");

      // Space is freed under the running registry: only the app's builds are left to do (what had
      // finished, the mirror and the base, is kept), and the next up converges.
      resizeTmpfs(REG_DATA, usedKiB(REG_DATA) + 128 * 1024);
      const pending = await pendingBuilds();
      assert.ok(
        pending.length > 0 && pending.every((n) => n.startsWith("app")),
        `only the app's builds are pending: ${pending.join(", ")}`,
      );
      const next = ok(await pulumi(["up", "--yes", "--skip-preview"]), "the next up, space freed");
      times.afterDiskFreed = next.seconds;
      ok(await pulumi(["preview", "--expect-no-changes"]), "converged");
      await assertNoDanglingIndex(client, plan);
      await assertWhole(client, plan);
      const after = await servedRefs(client, plan);
      const moved = Object.keys(after).filter((r) => after[r] !== before[r]);
      assert.ok(
        moved.length > 0 && moved.every((r) => /\/faults\/app:/.test(r)),
        `only the app's tags moved: ${moved.join(", ")}`,
      );

      // The registry goes back to its disk with what the tmpfs received.
      await stopRegistry();
      fs.rmSync(back, { recursive: true, force: true });
      execFileSync("cp", ["-a", `${REG_DATA}/.`, back], { timeout: STEP_MS });
      execFileSync("umount", [REG_DATA]);
      mounted = false;
      fs.rmdirSync(REG_DATA);
      fs.renameSync(back, REG_DATA);
      fs.rmSync(real, { recursive: true, force: true });
      restored = true;
      startServices();
      assert.deepEqual(await servedRefs(client, plan), after, "the storage came back whole");
    } finally {
      if (!restored) {
        // A failure: the registry goes back to its storage as it was before this step.
        await stopRegistry();
        if (mounted) execFileSync("umount", [REG_DATA]);
        fs.rmSync(REG_DATA, { recursive: true, force: true });
        fs.rmSync(back, { recursive: true, force: true });
        fs.renameSync(real, REG_DATA);
        startServices();
      }
    }
  });
});
