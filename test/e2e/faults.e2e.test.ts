/**
 * Runtime faults, for real on the local services, each step bounded in time (issue 12):
 *   1. wrong registry credentials (found by the pre-flight, naming the stack key);
 *   2. a rotated password: the pre-flight names the stack key; once the new password is in config,
 *      `up` works and a refresh reads every guard with it, not with the password in their state;
 *   3. the registry stopped in the middle of an `up` and started again;
 *   4. a builder killed mid-build.
 * Not here yet (they have not passed on the merged estate; see issue 12's note): the 5xx/reset
 * proxy (test/e2e/faultProxy.ts, unit-tested), the disk-full registry (its `up` did not fail).
 * A tiny estate of its own (a mirror, a base and an app, each for amd64 and arm64) on stack `faults`
 * in its own file backend (.local/faults), so a fault never touches the dev or e2e stacks and each
 * `up` takes seconds. Needs the local services; it stops and starts them itself.
 */
import { strict as assert } from "assert";
import { execFile, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml } from "yaml";
import { flatPlan, type FlatPlan as Plan } from "../../estate/planner";
import { RegistryClient, isIndex, splitRef } from "../../lib/registry";
import { planForStack } from "../../scripts/plan";
import {
  ROOT,
  TOOLS,
  type Run,
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
const SERVICES = path.join(ROOT, "scripts/local-services.sh");
/** The longest any one step may take: a failing step fails the test instead of hanging it. */
const STEP_MS = 4 * 60 * 1000;

const registryAddress = () => localRegistry();
const stackFile = (stack: string) => path.join(ROOT, `Pulumi.${stack}.yaml`);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Runs the Pulumi CLI on one of this file's stacks, within {@link STEP_MS}. */
function pulumi(args: string[], stack = STACK, input?: string): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      path.join(TOOLS, "pulumi"),
      [...args, "--stack", stack, "--non-interactive"],
      {
        cwd: ROOT,
        env: { ...env(), PULUMI_BACKEND_URL: `file://${WORK}/state`, PULUMI_STACK: stack },
        maxBuffer: 256 << 20,
        timeout: STEP_MS,
      },
      (err, stdout, stderr) => {
        const run = {
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          seconds: (Date.now() - started) / 1000,
        };
        const log = path.join(WORK, "logs", `${String(Date.now())}-${stack}-${args[0]}.log`);
        fs.mkdirSync(path.dirname(log), { recursive: true });
        fs.writeFileSync(
          log,
          `$ pulumi ${args.join(" ")}\n# exit ${run.code}\n${stdout}\n${stderr}`,
        );
        resolve(run);
      },
    );
    child.stdin?.end(input);
  });
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

  after(() => {
    for (const s of [STACK, PROXY_STACK]) fs.rmSync(stackFile(s), { force: true });
    console.log(`\n      wall times (s): ${JSON.stringify(times)}`);
  });

  describe("1. registry credentials", () => {
    it("a wrong password is found by the pre-flight, before any build, naming the stack key", async () => {
      appendToDockerfile("app", "RUN echo would-build > /would-build");
      ok(await pulumi(["config", "set", "--secret", "registryPassword"], STACK, "wrong"), "set");
      const before = await liveIndexes(client, plan);
      const run = await pulumi(["up", "--yes", "--skip-preview"]);
      times.wrongPassword = run.seconds;
      const text = run.stdout + run.stderr;
      assert.notEqual(run.code, 0, "up must fail");
      assert.match(text, /pre-flight failed, nothing was built/);
      assert.match(text, /dayu-estate:registryPassword in Pulumi\.faults\.yaml/);
      assert.match(
        text,
        new RegExp(`registry ${escape(registryAddress())} refused the credentials`),
      );
      assert.doesNotMatch(text, /docker-build:index:Image\s+\S+\s+(updating|creating)/);
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
  });

  it("2. a rotated password: pre-flight names the stack key; `pulumi refresh` with the new credentials works", async () => {
    const credsFile = path.join(LOCAL, "credentials.env");
    const original = fs.readFileSync(credsFile, "utf8");
    const rotated = `rotated${Date.now().toString(16)}`;
    const setPassword = async (password: string, what: string) =>
      ok(await pulumi(["config", "set", "--secret", "registryPassword"], STACK, password), what);
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
      ok(await pulumi(["up", "--yes", "--skip-preview"]), "up with the rotated password");
      // Every guard's state still holds the old password; the refresh reads with the new one.
      const refresh = ok(
        await pulumi(["refresh", "--yes", "--skip-preview"]),
        "refresh with the rotated password",
      );
      times.refreshRotated = refresh.seconds;
      assert.doesNotMatch(refresh.stdout + refresh.stderr, /Unknown Error|refused the password/i);
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
    // The arm64 step is slow under QEMU on purpose, so the kill lands while it runs.
    appendToDockerfile("app", 'RUN if [ "$(uname -m)" = aarch64 ]; then sleep 30; fi; echo k > /k');
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
});
