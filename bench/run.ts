/**
 * `npm run bench [-- flags]`: the program side by side with a Dayu-style script (bench/dayu-script.sh)
 * on this checkout's builders and registry, and the program's scaling. See bench/README.md.
 *
 * Side by side, per workload (stand-ins as they are; realistic: the same catalog with builds that cost
 * CPU and tens of MB, bench/workload.ts), per run, each side's sequence on its own, caches pruned the
 * same way first: cold (fresh repositories, fresh stack, both BuildKit daemons' caches pruned), no-op
 * (the same command again), one leaf changed (car-detection's Dockerfile), a base changed (dayubase's
 * Dockerfiles). Each side changes the files to its own mark, so neither reuses a build the other made.
 * The driver times each command itself (wall clock around the process) because every run needs its
 * own set-up between runs (pruning, a fresh stack, a changed file) and counts read from the command's
 * own output (the script's JSON line, the program's engine event log).
 *
 * Scaling: `pulumi preview` of N generated images (wall; peak RSS of the node program and of the
 * CLI, read from /proc while it runs), and cold `up` of N images (warm daemon caches, tiny builds).
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { diskFiles } from "../estate/files";
import { Plan, planForSettings } from "../estate/planner";
import { settingsFromStackFile } from "../estate/settings";
import { countWrites } from "./events";
import { affected, stepCounts, stepLines, stepsForStack } from "./scriptPlan";
import {
  CheckpointFacts,
  checkpointFacts,
  buildSecondsByPlatform,
  perPlatformLine,
  ScaleResult,
  Sample,
  ScenarioResult,
  growthExponent,
  median,
  scaleTable,
  scenarioTable,
} from "./stats";
import {
  markDockerfile,
  readDockerfiles,
  realisticDockerfiles,
  scaleWorkload,
  writeWorkload,
} from "./workload";

const ROOT = path.resolve(__dirname, "..");
const BENCH = path.join(ROOT, ".local/bench");
const TOOLS = path.join(ROOT, ".tools/bin");
const SCENARIOS = ["cold", "noop", "leaf", "base"] as const;
type Scenario = (typeof SCENARIOS)[number];
type Side = "script" | "program";
const LEAF = "car-detection";
const BASE = "dayubase";

/** The command line. */
export interface BenchOptions {
  runs: number;
  workloads: string[];
  scenarios: Scenario[];
  /** Cost of the realistic workload's builds (1 = bench/workload.ts's defaults). */
  cost: number;
  /** Image counts for `pulumi preview` (empty: none). */
  scalePreview: number[];
  /** Image counts for cold `up` (empty: none). */
  scaleUp: number[];
  /** Bound of each command, seconds. */
  timeout: number;
  /** Keep the bench's repositories in the registry (default: removed and garbage-collected). */
  keep: boolean;
  /** Which sides run (default both; one side alone gives no ratios). */
  sides: Side[];
  out?: string;
}

const USAGE = `usage: npm run bench -- [--runs N] [--workloads standins,realistic] [--scenarios cold,noop,leaf,base]
  [--cost X] [--scale 50,100,200,500] [--scale-up 50,100,200] [--timeout SECONDS] [--keep] [--sides script,program] [--out FILE]
  --workloads none / --scale none / --scale-up none skip a part.`;

/** Parses the flags; throws with the usage on a bad one. */
export function parseArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    runs: 3,
    workloads: ["standins", "realistic"],
    scenarios: [...SCENARIOS],
    cost: 1,
    scalePreview: [50, 100, 200, 500],
    scaleUp: [50, 100, 200],
    timeout: 3600,
    keep: false,
    sides: ["script", "program"],
  };
  const list = (v: string) => (v === "none" || v === "" ? [] : v.split(",").map((s) => s.trim()));
  const nums = (flag: string, v: string) =>
    list(v).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 2)
        throw new Error(`${flag}: ${s} is not a whole number ≥ 2\n${USAGE}`);
      return n;
    });
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case "--runs": {
        o.runs = Number(value());
        if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 20)
          throw new Error(`--runs: 1 to 20\n${USAGE}`);
        break;
      }
      case "--workloads": {
        o.workloads = list(value());
        const bad = o.workloads.filter((w) => w !== "standins" && w !== "realistic");
        if (bad.length) throw new Error(`--workloads: unknown ${bad.join(", ")}\n${USAGE}`);
        break;
      }
      case "--scenarios": {
        const s = list(value());
        const bad = s.filter((x) => !(SCENARIOS as readonly string[]).includes(x));
        if (bad.length) throw new Error(`--scenarios: unknown ${bad.join(", ")}\n${USAGE}`);
        o.scenarios = SCENARIOS.filter((x) => s.includes(x));
        break;
      }
      case "--cost": {
        o.cost = Number(value());
        if (!(o.cost > 0 && o.cost <= 10)) throw new Error(`--cost: a number in (0, 10]\n${USAGE}`);
        break;
      }
      case "--scale":
        o.scalePreview = nums(flag, value());
        break;
      case "--scale-up":
        o.scaleUp = nums(flag, value());
        break;
      case "--timeout": {
        o.timeout = Number(value());
        if (!(o.timeout >= 10)) throw new Error(`--timeout: seconds, at least 10\n${USAGE}`);
        break;
      }
      case "--sides": {
        const v = list(value());
        const bad = v.filter((x) => x !== "script" && x !== "program");
        if (bad.length || v.length === 0)
          throw new Error(`--sides: script, program or both\n${USAGE}`);
        o.sides = (["script", "program"] as const).filter((x) => v.includes(x));
        break;
      }
      case "--keep":
        o.keep = true;
        break;
      case "--out":
        o.out = value();
        break;
      case "-h":
      case "--help":
        throw new Error(USAGE);
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return o;
}

// --- processes -------------------------------------------------------------------------------------

let sourced: NodeJS.ProcessEnv | undefined;

/** scripts/env.sh (the one definition of the local environment) with the bench's own state folder. */
function env(): NodeJS.ProcessEnv {
  if (!sourced) {
    const out = spawnSync("bash", ["-c", "source scripts/env.sh >/dev/null && env -0"], {
      cwd: ROOT,
      maxBuffer: 16 << 20,
    });
    if (out.status !== 0) throw new Error(`source scripts/env.sh failed: ${out.stderr.toString()}`);
    sourced = Object.fromEntries(
      out.stdout
        .toString()
        .split("\0")
        .filter((kv) => kv.includes("="))
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
  }
  return {
    ...sourced,
    PULUMI_BACKEND_URL: `file://${path.join(BENCH, "state")}`,
    // --event-log is a debug command flag on the real CLI.
    PULUMI_DEBUG_COMMANDS: "true",
  };
}

interface Ran {
  code: number;
  seconds: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Peak RSS (MiB) of the node processes below the command and of the command itself. */
  nodePeakMiB: number;
  selfPeakMiB: number;
}

/** VmHWM (peak RSS) of a process in MiB, 0 when gone. */
function peakMiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The descendants of `root` with their command names. */
function descendants(root: number): { pid: number; comm: string }[] {
  const children = new Map<number, { pid: number; comm: string }[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push({ pid: Number(d), comm });
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/**
 * Runs a command with a time bound (its whole process group is killed at the bound), output to
 * `log`; with `sample`, reads the peak RSS of its node descendants and of itself every 250 ms.
 */
function run(
  cmd: string,
  args: string[],
  opts: { timeout: number; log: string; sample?: boolean; input?: string; quiet?: boolean },
): Promise<Ran> {
  fs.mkdirSync(path.dirname(opts.log), { recursive: true });
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, env: env(), detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin?.end(opts.input ?? "");
    let timedOut = false;
    let nodePeak = 0;
    let selfPeak = 0;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    }, opts.timeout * 1000);
    const sampler = opts.sample
      ? setInterval(() => {
          const pid = child.pid as number;
          selfPeak = Math.max(selfPeak, peakMiB(pid));
          for (const d of descendants(pid)) {
            if (d.comm === "node") nodePeak = Math.max(nodePeak, peakMiB(d.pid));
            else if (d.comm === "pulumi") selfPeak = Math.max(selfPeak, peakMiB(d.pid));
          }
        }, 250)
      : undefined;
    child.on("close", (code) => {
      clearTimeout(timer);
      if (sampler) clearInterval(sampler);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      fs.writeFileSync(
        opts.log,
        `$ ${cmd} ${args.join(" ")}\n# exit ${code ?? "signal"} in ${seconds.toFixed(1)} s${timedOut ? " (timed out)" : ""}\n${stdout}\n${stderr}`,
      );
      if (!opts.quiet)
        log(
          `  ${path.basename(cmd)} ${args[0]} → exit ${code ?? "killed"} in ${seconds.toFixed(1)} s`,
        );
      resolve({
        code: code ?? 137,
        seconds,
        stdout,
        stderr,
        timedOut,
        nodePeakMiB: nodePeak,
        selfPeakMiB: selfPeak,
      });
    });
  });
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Fails with the tail of the output. */
function must(r: Ran, what: string): Ran {
  if (r.code !== 0)
    throw new Error(
      `${what} exited ${r.code}${r.timedOut ? " (timed out)" : ""}:\n${(r.stdout + r.stderr).split("\n").slice(-30).join("\n")}`,
    );
  return r;
}

// --- the local estate ------------------------------------------------------------------------------

function requirePrerequisites(): void {
  const missing: string[] = [];
  for (const t of [
    "pulumi",
    "pulumi-language-nodejs",
    "pulumi-resource-docker-build",
    "buildx",
    "registry",
  ]) {
    if (!fs.existsSync(path.join(TOOLS, t)))
      missing.push(`.tools/bin/${t} (scripts/toolchain.sh builds it)`);
  }
  for (const f of [".local/credentials.env", ".local/pki/ca.crt", ".local/passphrase"]) {
    if (!fs.existsSync(path.join(ROOT, f)))
      missing.push(
        `${f} (npm run local, or scripts/local-services.sh start and scripts/local-estate.sh)`,
      );
  }
  const status = spawnSync(path.join(ROOT, "scripts/local-services.sh"), ["status"], {
    encoding: "utf8",
  });
  if (status.status !== 0)
    missing.push(
      `local services are not all up (scripts/local-services.sh start):\n${status.stdout}`,
    );
  if (missing.length)
    throw new Error(`bench prerequisites missing:\n  - ${missing.join("\n  - ")}`);
}

function registryPassword(): string {
  const text = fs.readFileSync(path.join(ROOT, ".local/credentials.env"), "utf8");
  return /^REGISTRY_PASSWORD=(.*)$/m.exec(text)?.[1] ?? "";
}

function devConfig(): Record<string, unknown> {
  return (
    parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    }
  ).config;
}

/** The stand-ins' pins (scripts/standins.sh: builds them once, then reuses them). */
async function standinPins(timeout: number): Promise<Record<string, string>> {
  const r = must(
    await run("bash", ["scripts/standins.sh"], {
      timeout,
      log: path.join(BENCH, "logs/standins.log"),
      quiet: true,
    }),
    "scripts/standins.sh",
  );
  return Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ") as [string, string]),
  );
}

/** The bench's stack file: the dev services, the workload's catalog, its own repository prefix. */
function writeStackFile(
  stack: string,
  catalog: string,
  prefix: string,
  pins: Record<string, string>,
): void {
  const dev = devConfig();
  const reg = dev["dayu-estate:registry"] as Record<string, unknown>;
  const config = {
    "dayu-estate:environment": "dev",
    "dayu-estate:release": "v1.3",
    "dayu-estate:catalog": path.relative(ROOT, catalog),
    "dayu-estate:repositoryPrefix": prefix,
    "dayu-estate:registry": { ...reg, address: env().DAYU_REGISTRY ?? reg.address },
    "dayu-estate:builders": dev["dayu-estate:builders"],
    "dayu-estate:registryCache": dev["dayu-estate:registryCache"],
    "dayu-estate:mirrorSources": pins,
  };
  fs.writeFileSync(
    path.join(ROOT, `Pulumi.${stack}.yaml`),
    `# Written by npm run bench (bench/run.ts); not committed.\n${toYaml({ config })}`,
  );
}

function planOf(stack: string): Plan {
  const settings = settingsFromStackFile(
    fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"),
    stack,
  );
  return planForSettings(settings, ROOT, diskFiles, true);
}

const pulumiBin = () => path.join(TOOLS, "pulumi");

/** A fresh stack: its state removed, created again, the registry password set (a secret). */
async function freshStack(stack: string, o: BenchOptions): Promise<void> {
  const logs = path.join(BENCH, "logs");
  await run(
    pulumiBin(),
    ["stack", "rm", "--force", "--yes", "--non-interactive", "--stack", stack, "--preserve-config"],
    { timeout: 300, log: path.join(logs, `${stack}-rm.log`), quiet: true },
  );
  must(
    await run(pulumiBin(), ["stack", "init", stack, "--non-interactive"], {
      timeout: 300,
      log: path.join(logs, `${stack}-init.log`),
      quiet: true,
    }),
    `pulumi stack init ${stack}`,
  );
  must(
    await run(
      pulumiBin(),
      ["config", "set", "--secret", "registryPassword", "--stack", stack, "--non-interactive"],
      {
        timeout: Math.min(o.timeout, 300),
        log: path.join(logs, `${stack}-config.log`),
        input: registryPassword(),
        quiet: true,
      },
    ),
    "pulumi config set registryPassword",
  );
}

/** Both daemons' build caches emptied: the same for both sides. */
async function pruneCaches(o: BenchOptions): Promise<void> {
  for (const arch of ["amd64", "arm64"]) {
    must(
      await run(
        path.join(TOOLS, "buildx"),
        ["prune", "--all", "--force", "--builder", `dayu-${arch}`],
        {
          timeout: Math.min(o.timeout, 600),
          log: path.join(BENCH, "logs", `prune-${arch}.log`),
          quiet: true,
        },
      ),
      `buildx prune dayu-${arch}`,
    );
  }
}

/** Removes the bench's repositories of this run from the registry's storage and collects garbage. */
async function cleanRegistry(runId: string, o: BenchOptions): Promise<void> {
  if (o.keep) return;
  const repos = path.join(
    ROOT,
    ".local/registry/data/docker/registry/v2/repositories/bench",
    runId,
  );
  fs.rmSync(repos, { recursive: true, force: true });
  // Nothing pushes to this checkout's registry between two sides of the bench.
  await run(
    path.join(TOOLS, "registry"),
    ["garbage-collect", path.join(ROOT, ".local/registry/config.yml")],
    { timeout: Math.min(o.timeout, 600), log: path.join(BENCH, "logs", "gc.log"), quiet: true },
  );
}

// --- workloads -------------------------------------------------------------------------------------

/** Writes a side-by-side workload afresh (the files the leaf and base changes edit included). */
function prepareWorkload(name: string, o: BenchOptions): string {
  const dir = path.join(BENCH, "work", name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, "estate.yaml"), path.join(dir, "estate.yaml"));
  fs.cpSync(path.join(ROOT, "dockerfiles"), path.join(dir, "dockerfiles"), { recursive: true });
  if (name === "realistic") {
    const changed = realisticDockerfiles(readDockerfiles(path.join(ROOT, "dockerfiles")), o.cost);
    for (const [rel, text] of Object.entries(changed))
      fs.writeFileSync(path.join(dir, "dockerfiles", rel), text);
  }
  return path.join(dir, "estate.yaml");
}

/** Marks every Dockerfile an image's builds use. */
function markImage(plan: Plan, image: string, mark: string): void {
  const files = new Set(
    plan.images.find((i) => i.name === image)?.builds.map((b) => b.dockerfile) ?? [],
  );
  if (files.size === 0) throw new Error(`bench: image ${image} has no builds in the plan`);
  for (const f of files) fs.writeFileSync(f, markDockerfile(fs.readFileSync(f, "utf8"), mark));
}

// --- one side --------------------------------------------------------------------------------------

/** Runs one side's sequence (cold, no-op, leaf, base) for one run; returns the timed samples. */
async function runSide(
  side: Side,
  workload: string,
  r: number,
  runId: string,
  pins: Record<string, string>,
  o: BenchOptions,
): Promise<Partial<Record<Scenario, Sample>>> {
  const stack = `bench-${workload}`;
  const catalog = prepareWorkload(workload, o);
  const prefix = `bench/${runId}/${workload}-${side}-${r}`;
  writeStackFile(
    stack,
    catalog,
    side === "program" ? prefix : `bench/${runId}/${workload}-unused`,
    pins,
  );
  const logs = path.join(BENCH, "logs", runId, `${workload}-${side}-${r}`);
  const out: Partial<Record<Scenario, Sample>> = {};
  log(`${workload} run ${r}: ${side}`);
  await pruneCaches(o);
  if (side === "program") await freshStack(stack, o);

  const once = async (scenario: Scenario): Promise<Sample> => {
    if (side === "script") {
      // The step list is written first, not timed (Dayu's scripts have theirs written in).
      const steps = stepsForStack(ROOT, stack, prefix);
      const file = path.join(logs, `${scenario}.steps`);
      fs.mkdirSync(logs, { recursive: true });
      fs.writeFileSync(file, `${stepLines(steps).join("\n")}\n`);
      const ran = await run(
        "bash",
        [
          path.join(ROOT, "bench/dayu-script.sh"),
          "--steps",
          file,
          "--log",
          path.join(logs, `${scenario}.script.log`),
        ],
        { timeout: o.timeout, log: path.join(logs, `${scenario}.log`) },
      );
      const last = ran.stdout.trim().split("\n").pop() ?? "{}";
      let counts = { builds: 0, indexes: 0 };
      try {
        counts = JSON.parse(last) as typeof counts;
      } catch {
        // no summary line: killed
      }
      const want = stepCounts(steps);
      const scriptLog = path.join(logs, `${scenario}.script.log`);
      const perBuild = buildSecondsByPlatform(
        fs.existsSync(scriptLog) ? fs.readFileSync(scriptLog, "utf8") : "",
      );
      const perPlatform = Object.fromEntries(
        Object.entries(perBuild).map(([p, v]) => [p, median(v)]),
      );
      return {
        seconds: ran.seconds,
        builds: counts.builds,
        indexes: counts.indexes,
        ok: ran.code === 0 && counts.builds === want.builds,
        perPlatform,
      };
    }
    const events = path.join(logs, `${scenario}.events.jsonl`);
    fs.mkdirSync(logs, { recursive: true });
    fs.rmSync(events, { force: true });
    const ran = await run(
      pulumiBin(),
      [
        "up",
        "--yes",
        "--skip-preview",
        "--non-interactive",
        "--stack",
        stack,
        "--event-log",
        events,
      ],
      { timeout: o.timeout, log: path.join(logs, `${scenario}.log`) },
    );
    const counts = countWrites(fs.existsSync(events) ? fs.readFileSync(events, "utf8") : "");
    return {
      seconds: ran.seconds,
      builds: counts.builds,
      indexes: counts.indexes,
      ok: ran.code === 0,
    };
  };

  const plan = planOf(stack);
  for (const scenario of SCENARIOS) {
    // The earlier scenarios set the next up: a cold one always runs, timed or not.
    if (scenario === "leaf") markImage(plan, LEAF, `${side}-leaf-${r}`);
    if (scenario === "base") markImage(plan, BASE, `${side}-base-${r}`);
    if (scenario !== "cold" && !o.scenarios.includes(scenario)) continue;
    if (!o.scenarios.some((s) => SCENARIOS.indexOf(s) >= SCENARIOS.indexOf(scenario))) break;
    const sample = await once(scenario);
    if (o.scenarios.includes(scenario)) out[scenario] = sample;
    if (!sample.ok) {
      log(
        `  ${side} ${scenario} failed: the rest of this run is skipped (logs: ${path.relative(ROOT, logs)})`,
      );
      break;
    }
  }
  await cleanRegistry(runId, o);
  return out;
}

// --- scaling ---------------------------------------------------------------------------------------

async function runScale(
  command: "preview" | "up",
  n: number,
  runId: string,
  pins: Record<string, string>,
  o: BenchOptions,
): Promise<ScaleResult> {
  const stack = `bench-scale-${n}`;
  const dir = path.join(BENCH, "work", `scale-${n}`);
  const redis = pins.redis;
  if (!redis) throw new Error("bench: no stand-in pin for the redis mirror (scripts/standins.sh)");
  writeWorkload(dir, scaleWorkload(n, "docker.io/library/redis:7.2"));
  writeStackFile(stack, path.join(dir, "estate.yaml"), `bench/${runId}/scale-${n}-${command}`, {
    redis,
  });
  const plan = planOf(stack);
  const builds = plan.images.reduce((k, i) => k + i.builds.length, 0);
  const indexes = plan.images.reduce((k, i) => k + i.indexes.length, 0);
  log(`scale: ${command} of ${n} images (${builds} builds, ${indexes} indexes)`);
  await freshStack(stack, o);
  const args =
    command === "preview"
      ? ["preview", "--non-interactive", "--stack", stack]
      : ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack];
  const ran = await run(pulumiBin(), args, {
    timeout: o.timeout,
    log: path.join(BENCH, "logs", runId, `scale-${n}-${command}.log`),
    sample: true,
  });
  const checkpoint = command === "up" && ran.code === 0 ? stackCheckpoint(stack) : undefined;
  if (command === "up") await cleanRegistry(runId, o);
  return {
    images: n,
    builds,
    indexes,
    command,
    seconds: [ran.seconds],
    nodePeakMiB: ran.nodePeakMiB ? [ran.nodePeakMiB] : [],
    cliPeakMiB: ran.selfPeakMiB ? [ran.selfPeakMiB] : [],
    checkpoint,
    ok: ran.code === 0,
  };
}

/** The checkpoint of a bench stack, read from the file backend (`.pulumi/stacks/<project>/<stack>.json`). */
function stackCheckpoint(stack: string): CheckpointFacts {
  const stacks = path.join(BENCH, "state", ".pulumi", "stacks");
  const file = fs
    .readdirSync(stacks, { recursive: true, encoding: "utf8" })
    .map((f) => path.join(stacks, f))
    .find((f) => path.basename(f) === `${stack}.json`);
  if (!file) throw new Error(`bench: no checkpoint of ${stack} under ${stacks}`);
  return checkpointFacts(fs.readFileSync(file, "utf8"));
}

// --- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  requirePrerequisites();
  const runId = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").toLowerCase();
  fs.mkdirSync(path.join(BENCH, "state"), { recursive: true, mode: 0o700 });
  const pins = await standinPins(Math.min(o.timeout, 900));
  const started = Date.now();
  const load = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();

  const side: ScenarioResult[] = [];
  const scale: ScaleResult[] = [];
  const out = o.out ?? path.join(BENCH, `results-${runId}.json`);
  /** The JSON so far: written after every workload and scale size, so a cut-short run keeps them. */
  const save = () => {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(
      out,
      `${JSON.stringify({ runId, options: o, loadBefore, loadAfter: load(), sideBySide: side, scale }, null, 2)}\n`,
    );
  };
  for (const workload of o.workloads) {
    const rows = new Map<Scenario, ScenarioResult>(
      o.scenarios.map((s) => [s, { workload, scenario: s, script: [], program: [] }]),
    );
    const plan = (() => {
      writeStackFile(`bench-${workload}`, prepareWorkload(workload, o), "bench/plan", pins);
      return planOf(`bench-${workload}`);
    })();
    const leaf = affected(plan, LEAF);
    const base = affected(plan, BASE);
    const all = {
      builds: plan.images.reduce((k, i) => k + i.builds.length, 0),
      indexes: plan.images.reduce((k, i) => k + i.indexes.length, 0),
    };
    const expected: Record<Scenario, { builds: number; indexes: number }> = {
      cold: all,
      noop: { builds: 0, indexes: 0 },
      leaf: { builds: leaf.builds, indexes: leaf.indexes },
      base: { builds: base.builds, indexes: base.indexes },
    };
    for (let r = 1; r <= o.runs; r++) {
      const script = o.sides.includes("script")
        ? await runSide("script", workload, r, runId, pins, o)
        : {};
      const program = o.sides.includes("program")
        ? await runSide("program", workload, r, runId, pins, o)
        : {};
      for (const s of o.scenarios) {
        const row = rows.get(s) as ScenarioResult;
        if (script[s]) row.script.push(script[s]);
        if (program[s]) row.program.push(program[s]);
        row.expected = expected[s];
      }
    }
    side.push(...rows.values());
    save();
    fs.rmSync(path.join(ROOT, `Pulumi.bench-${workload}.yaml`), { force: true });
  }

  for (const [command, sizes] of [
    ["preview", o.scalePreview],
    ["up", o.scaleUp],
  ] as const) {
    for (const n of sizes) {
      const results: ScaleResult[] = [];
      for (let r = 0; r < (command === "preview" ? o.runs : 1); r++)
        results.push(await runScale(command, n, runId, pins, o));
      scale.push({
        ...results[0],
        seconds: results.flatMap((x) => x.seconds),
        nodePeakMiB: results.flatMap((x) => x.nodePeakMiB),
        cliPeakMiB: results.flatMap((x) => x.cliPeakMiB),
        ok: results.every((x) => x.ok),
      });
      fs.rmSync(path.join(ROOT, `Pulumi.bench-scale-${n}.yaml`), { force: true });
      save();
    }
  }

  const ups = scale.filter((s) => s.command === "up" && s.ok);
  const growth = ups.slice(1).map((b, i) => {
    const a = ups[i];
    const k = growthExponent(
      { images: a.images, seconds: median(a.seconds) },
      { images: b.images, seconds: median(b.seconds) },
    );
    return `${a.images}→${b.images}: ${k === undefined ? "—" : k.toFixed(2)}`;
  });
  const text = [
    `# npm run bench ${process.argv.slice(2).join(" ")}`.trim(),
    "",
    `run ${runId}: ${o.runs} run(s), realistic cost ${o.cost}; load average before ${loadBefore}, after ${load()}; ${Math.round((Date.now() - started) / 1000)} s in all`,
    "",
    ...(side.length
      ? [
          "## Side by side (medians, min–max; ratio: median of the per-run ratios)",
          "",
          scenarioTable(side),
          "",
          ...side
            .filter((r) => r.scenario === "cold" && perPlatformLine(r.script))
            .map(
              (r) =>
                `script, ${r.workload}, cold: median wall per build ${perPlatformLine(r.script)}`,
            ),
          "",
        ]
      : []),
    ...(scale.length
      ? [
          "## Scaling (generated images; `up`: cold, warm daemon caches)",
          "",
          scaleTable(scale),
          "",
          ...(growth.length
            ? [`cold up growth exponent (1 linear, 2 quadratic): ${growth.join(", ")}`, ""]
            : []),
        ]
      : []),
  ].join("\n");
  save();
  console.log(text);
  console.log(`\n(JSON: ${path.relative(ROOT, out)})`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
