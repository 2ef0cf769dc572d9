/**
 * The dynamic providers stored in state are stubs of a few hundred bytes that load the checkout's
 * module by a path relative to the project root (components/moduleProvider.ts): checked as the
 * dynamic provider process runs them, a plain `node` without ts-node registered.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { GUARD_STATE_VERSION } from "../../components/indexGuardProvider";
import { COMPILED_DIR, moduleProvider, projectRoot } from "../../components/moduleProvider";

const ROOT = path.resolve(__dirname, "../..");
const GUARD = require.resolve("../../components/indexGuardProvider");

/** What Pulumi stores as `__provider` (dynamic/index.js serializes `() => provider` this way). */
async function serialized(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
  return (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
}

describe("module providers (the provider stored in state)", () => {
  it("finds the project root from a folder inside it", () => {
    assert.equal(projectRoot(path.join(ROOT, "components")), ROOT);
    assert.throws(() => projectRoot(os.tmpdir()), /no Pulumi\.yaml/);
  });

  it("stores the tracked source's path when the program runs precompiled (program.js)", async function () {
    this.timeout(120000);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const compiled = require("../../scripts/compiled") as {
      OUT: string;
      ensureCompiled: (root: string) => unknown;
    };
    assert.equal(COMPILED_DIR, compiled.OUT);
    compiled.ensureCompiled(ROOT);
    const js = path.join(ROOT, compiled.OUT, "components/indexGuardProvider.js");
    assert.ok(fs.existsSync(js), js);
    assert.equal(
      await serialized(moduleProvider(js, "indexGuardProvider")),
      await serialized(moduleProvider(GUARD, "indexGuardProvider")),
    );
  });

  it("serializes IndexGuard's provider small and without this checkout's path", async () => {
    const text = await serialized(moduleProvider(GUARD, "indexGuardProvider"));
    assert.ok(text.length < 2200, `${text.length} bytes`);
    assert.ok(text.includes('"components/indexGuardProvider.ts"'));
    assert.ok(!text.includes(ROOT), "the serialized provider names this checkout's path");
    // The same text whatever the program's working directory: a second checkout sees no change.
    const cwd = process.cwd();
    try {
      process.chdir(path.join(ROOT, "lib"));
      assert.equal(await serialized(moduleProvider(GUARD, "indexGuardProvider")), text);
    } finally {
      process.chdir(cwd);
    }
  });

  it("serializes every dynamic provider of the program small (lock, attestation, signature)", async () => {
    for (const [file, name] of [
      ["../../components/releaseLock", "releaseLockProvider"],
      ["../../components/attestation", "sharedProvider"],
      ["../../components/indexSignature", "sharedProvider"],
    ]) {
      const text = await serialized(moduleProvider(require.resolve(file), name));
      assert.ok(text.length < 2500, `${file}: ${text.length} bytes`);
      assert.ok(!text.includes(ROOT), `${file}: names this checkout's path`);
    }
  });

  it("has exactly the methods of the real provider, so the host's defaults apply to the others", () => {
    const stub = moduleProvider(GUARD, "indexGuardProvider");
    assert.deepEqual(Object.keys(stub).sort(), ["configure", "create", "diff", "read", "update"]);
  });

  it("refuses a module without the named provider", () => {
    assert.throws(() => moduleProvider(GUARD, "nothing"), /exports no dynamic provider nothing/);
  });

  it("runs in a plain node process from a folder of the project, as the provider host does: from the transpiled cache, without ts-node", async function () {
    this.timeout(60000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-stub-"));
    try {
      fs.writeFileSync(
        path.join(dir, "stub.js"),
        await serialized(moduleProvider(GUARD, "indexGuardProvider")),
      );
      const script = `
        const p = require(${JSON.stringify(path.join(dir, "stub.js"))}).handler();
        (async () => {
          await p.configure({ config: { get: () => undefined } });
          const indexes = { "a:1": { tag: "r/a:1", sources: [], platforms: [], atLeast: false } };
          const state = { indexes, liveDigests: { "a:1": "sha256:1" },
            publishedDigests: { "a:1": "sha256:1" }, stateVersion: ${GUARD_STATE_VERSION} };
          const same = await p.diff("r/a", state, { indexes });
          const moved = await p.diff("r/a", { ...state, liveDigests: { "a:1": "sha256:2" } },
            { indexes });
          console.log(JSON.stringify({ same: same.changes, moved: moved.changes,
            tsNode: ".ts" in require.extensions,
            fromCache: Object.keys(require.cache).some((k) =>
              k.endsWith(${JSON.stringify(path.join(COMPILED_DIR, "components/indexGuardProvider.js"))})) }));
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const out = execFileSync(process.execPath, ["-e", script], {
        cwd: path.join(ROOT, "components"),
        encoding: "utf8",
        env: { ...process.env, TS_NODE_PROJECT: "", NODE_OPTIONS: "" },
      });
      assert.deepEqual(JSON.parse(out.trim().split("\n").pop() ?? ""), {
        same: false,
        moved: true,
        tsNode: false,
        fromCache: true,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
