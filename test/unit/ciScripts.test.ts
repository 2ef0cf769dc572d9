/**
 * The scripts the workflows call (scripts/ci/), run for real against a stand-in `pulumi` on PATH that
 * records its arguments and answers with a captured-shape preview: which flags each stack gets (the
 * policy pack on non-dev stacks, --skip-preview on staging, not on prod), the comment they write, the
 * exit status they pass on, and which stacks a change touches.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
const FIXTURES = path.join(ROOT, "test/fixtures/preview");

const STUB = `#!/usr/bin/env bash
# Stand-in pulumi: records its arguments, copies the event log fixture where --event-log asks (which,
# like the real CLI, needs PULUMI_DEBUG_COMMANDS=true), prints
# the preview fixture, exits with STUB_EXIT.
printf '%s\\n' "$*" >>"$STUB_LOG"
while [[ $# -gt 0 ]]; do
  if [[ "$1" == --event-log ]]; then
    # Like the real CLI: the flag exists only with debug commands on.
    if [[ "\${PULUMI_DEBUG_COMMANDS:-}" != true ]]; then echo "error: unknown flag: --event-log" >&2; exit 1; fi
    cp "$STUB_EVENTS" "$2"
  fi
  if [[ "$1" == --policy-pack-config ]]; then cp "$2" "$STUB_LOG.policy-config"; fi
  shift
done
if [[ -n "\${STUB_PREVIEW:-}" ]]; then cat "$STUB_PREVIEW"; fi
exit "\${STUB_EXIT:-0}"
`;

interface Result {
  status: number | null;
  out: string;
  calls: string[];
  dir: string;
}

function run(script: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Result {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-ci-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin/pulumi"), STUB, { mode: 0o755 });
  const log = path.join(dir, "pulumi.log");
  const r = spawnSync("bash", [path.join(cwd, "scripts/ci", script), ...args], {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
      STUB_LOG: log,
      STUB_EVENTS: path.join(FIXTURES, "hand-policy-pass.events.jsonl"),
      DAYU_CI_OUT: path.join(dir, "out"),
      GITHUB_STEP_SUMMARY: "",
      GITHUB_OUTPUT: "",
      ...env,
    },
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
  return { status: r.status, out: r.stdout + r.stderr, calls, dir };
}

describe("CI scripts (scripts/ci) with a stand-in pulumi", function () {
  this.timeout(60000);

  it("preview.sh staging: the policy pack, JSON and the event log; the comment with the policy verdict", () => {
    const r = run("preview.sh", ["staging"], {
      STUB_PREVIEW: path.join(FIXTURES, "hand-leaf-change.json"),
    });
    assert.equal(r.status, 0, r.out);
    assert.equal(r.calls.length, 1);
    assert.match(
      r.calls[0],
      /^preview --stack staging --non-interactive --json --event-log \S+ --policy-pack policy\/analyzer$/,
    );
    const comment = fs.readFileSync(path.join(r.dir, "out/comment.md"), "utf8");
    assert.match(comment, /^<!-- dayu-estate-preview stack=staging -->/);
    assert.match(comment, /\*\*datasource\*\* \| 2: amd64, arm64/);
    assert.match(comment, /✅ `dayu-estate-policies@0\.1\.0`: no violations/);
    assert.equal(
      fs.readFileSync(path.join(r.dir, "out/events.jsonl"), "utf8").split("\n").filter(Boolean)
        .length,
      2,
      "only the policy and summary events are kept",
    );
  });

  it("preview.sh prod: every policy mandatory, from the stack file's dayu-policy:enforcement", () => {
    const r = run("preview.sh", ["prod"], {
      STUB_PREVIEW: path.join(FIXTURES, "hand-no-change.json"),
    });
    assert.equal(r.status, 0, r.out);
    assert.match(r.calls[0], /--policy-pack policy\/analyzer --policy-pack-config \S+$/);
    assert.deepEqual(
      JSON.parse(fs.readFileSync(path.join(r.dir, "pulumi.log.policy-config"), "utf8")),
      { all: "mandatory" },
    );
  });

  it("preview.sh passes on a failed preview's status after writing the comment", () => {
    const r = run("preview.sh", ["staging"], {
      STUB_PREVIEW: path.join(FIXTURES, "hand-failed.json"),
      STUB_EXIT: "255",
    });
    assert.equal(r.status, 255);
    assert.match(fs.readFileSync(path.join(r.dir, "out/comment.md"), "utf8"), /The preview failed/);
  });

  it("up.sh: --skip-preview on staging, a preview inside up on prod, the pack on both", () => {
    const staging = run("up.sh", ["staging"]);
    assert.equal(staging.status, 0, staging.out);
    assert.equal(
      staging.calls[0],
      `up --stack staging --suppress-outputs --event-log ${staging.dir}/out/events.jsonl --yes --non-interactive --skip-preview --policy-pack policy/analyzer`,
    );
    const prod = run("up.sh", ["prod"], { DAYU_RELEASE_TAG: "v1.3" });
    assert.equal(prod.status, 0, prod.out);
    assert.match(
      prod.calls[0],
      /^up --stack prod --suppress-outputs --event-log \S+ --yes --non-interactive --policy-pack policy\/analyzer --policy-pack-config \S+$/,
    );
  });

  it("up.sh prints what changed from the event log, the full output and summary in files", () => {
    const summary = path.join(os.tmpdir(), `dayu-summary-${process.pid}.json`);
    fs.writeFileSync(summary, '{"backend":{}}\n');
    const r = run("up.sh", ["staging"], {
      STUB_EVENTS: path.join(ROOT, "test/fixtures/up/leaf-change.events.jsonl"),
      STUB_PREVIEW: summary, // what the stand-in prints, here for `pulumi stack output --json summary`
    });
    assert.equal(r.status, 0, r.out);
    assert.equal(r.calls[1], "stack output --stack staging --json summary");
    assert.match(r.out, /Changed: 1 build\(s\), 1 index tag\(s\)/);
    assert.match(r.out, /\n {2}backend +amd64 +v1\.3-amd64 +sha256:[0-9a-f]{12} +update\n/);
    assert.match(r.out, new RegExp(`Full summary .*: ${r.dir}/out/summary\\.json`));
    assert.equal(fs.readFileSync(path.join(r.dir, "out/summary.json"), "utf8"), '{"backend":{}}\n');
    assert.ok(fs.existsSync(path.join(r.dir, "out/up.log")));
    assert.match(fs.readFileSync(path.join(r.dir, "out/report.txt"), "utf8"), /^Changed: /);
  });

  it("up.sh passes on a failed up's status, with the report and without a summary", () => {
    const r = run("up.sh", ["staging"], {
      STUB_EVENTS: path.join(ROOT, "test/fixtures/up/build-fails.events.jsonl"),
      STUB_EXIT: "255",
    });
    assert.equal(r.status, 255, r.out);
    assert.deepEqual(r.calls.length, 1, "no stack output after a failed up");
    assert.match(r.out, /FAILED docker-build:index:Image scheduler\/amd64/);
    assert.ok(!fs.existsSync(path.join(r.dir, "out/summary.json")));
  });

  it("up.sh refuses a release tag that is not the stack's release, naming the key; nothing runs", () => {
    const r = run("up.sh", ["prod"], { DAYU_RELEASE_TAG: "v2.0" });
    assert.equal(r.status, 2);
    assert.match(
      r.out,
      /dayu-estate:release in Pulumi\.prod\.yaml is "v1\.3", but the tag being deployed is v2\.0/,
    );
    assert.deepEqual(r.calls, []);
  });

  it("a stack file without environment, or an unknown stack, is refused by name", () => {
    const repo = scratchRepo();
    fs.writeFileSync(path.join(repo, "Pulumi.qa.yaml"), "config:\n  dayu-estate:release: v1\n");
    const r = run("preview.sh", ["qa"], {}, repo);
    assert.equal(r.status, 2);
    assert.match(r.out, /dayu-estate:environment in Pulumi\.qa\.yaml: is required/);
    const u = run("up.sh", ["nope"], {}, repo);
    assert.match(u.out, /Pulumi\.nope\.yaml: no such stack file/);
    const d = run("preview.sh", ["dev"], {}, repo);
    assert.equal(d.status, 2);
    assert.match(
      d.out,
      /the dev stack runs as this machine's local stack: run 'npm run local' once/,
    );
    assert.deepEqual([...r.calls, ...u.calls, ...d.calls], []);
  });

  it("changed-stacks.sh: a stack file → that stack; program, catalog, Dockerfiles → all; docs → none", () => {
    const repo = scratchRepo();
    const git = (...a: string[]) =>
      spawnSync("git", a, { cwd: repo, encoding: "utf8" }).stdout.trim();
    const change = (file: string): string => {
      git("checkout", "-q", "-B", `t${file.replace(/\W/g, "")}`, "main");
      fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
      fs.appendFileSync(path.join(repo, file), "# change\n");
      git("add", "-A");
      git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", file);
      const r = run("changed-stacks.sh", ["main"], {}, repo);
      assert.equal(r.status, 0, r.out);
      return r.out.trim();
    };
    assert.equal(change("Pulumi.staging.yaml"), '["staging"]');
    assert.equal(change("dockerfiles/datasource/Dockerfile"), '["dev","staging","prod"]');
    assert.equal(change("estate.yaml"), '["dev","staging","prod"]');
    assert.equal(change("Pulumi.prod-ecr.yaml"), "[]");
    assert.equal(change("docs/workflow.md"), "[]");
    assert.match(
      run("changed-stacks.sh", ["no-such-ref"], {}, repo).out,
      /base no-such-ref is not a commit/,
    );
  });
});

/** A git repository holding scripts/ci and the committed stack files, on a branch `main`. */
function scratchRepo(): string {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-ci-repo-"));
  fs.cpSync(path.join(ROOT, "scripts/ci"), path.join(repo, "scripts/ci"), { recursive: true });
  for (const f of [
    "Pulumi.dev.yaml",
    "Pulumi.staging.yaml",
    "Pulumi.prod.yaml",
    "Pulumi.prod-ecr.yaml",
  ])
    fs.copyFileSync(path.join(ROOT, f), path.join(repo, f));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(repo, "node_modules"));
  const git = (...a: string[]) => spawnSync("git", a, { cwd: repo, encoding: "utf8" });
  git("init", "-q", "-b", "main");
  fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n");
  git("add", "-A");
  git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init");
  return repo;
}
