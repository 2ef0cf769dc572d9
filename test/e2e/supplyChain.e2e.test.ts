/**
 * The supply chain and retention end to end, on the local services (distribution v3): a small
 * estate of its own (one image, amd64 + arm64, `FROM scratch`, so no mirror is needed) on its own
 * stack `e2e-sc` and repository prefix, with the supply chain on and a throwaway cosign key pair.
 *
 * Three releases are published (each changes the image, so each has its own digests); then
 * `npm run prune -- --apply` with keepReleases 2: the oldest release's index and per-arch tags are
 * gone, both kept indexes still pass the read-back and verify (signature, SBOM, provenance), the
 * registry's storage shrinks after the garbage collection (registry stopped), and a second prune
 * plans nothing. Fails, never skips, when the local services are missing.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify as toYaml } from "yaml";
import { readBackIndex } from "../../lib/indexCheck";
import { SupplyChain, withDockerConfig } from "../../lib/supplyChain";
import { listTags } from "../../lib/retentionRegistry";
import { directoryBytes } from "../../scripts/prune";
import {
  ROOT,
  TOOLS,
  changedResources,
  credentials,
  devConfig,
  env,
  localRegistry,
  ok,
  registryClient,
  requirePrerequisites,
  runPulumi,
  type Run,
} from "./harness";

const STACK = "e2e-sc";
const WORK = path.join(ROOT, ".local/e2e-sc");
const STACK_FILE = path.join(ROOT, `Pulumi.${STACK}.yaml`);
const PREFIX = "e2e-sc";
const RELEASES = ["v1.1", "v1.2", "v1.3"];
const REPO = `${PREFIX}/dayuhub/sc-app`;
const DATA = path.join(ROOT, ".local/registry/data");
const REG_CONFIG = path.join(ROOT, ".local/registry/config.yml");

/** The Pulumi CLI on this test's stack and backend. */
function pulumi(args: string[], input?: string): Promise<Run> {
  return runPulumi(
    { stack: STACK, work: WORK, timeoutMs: 20 * 60 * 1000, ownBackend: true },
    args,
    input,
  );
}

/** `npm run prune` on this stack; returns its report. */
function prune(...extra: string[]): string {
  return execFileSync(
    path.join(ROOT, "node_modules/.bin/ts-node"),
    ["scripts/prune.ts", "--stack", STACK, ...extra],
    {
      cwd: ROOT,
      env: { ...env(), DAYU_REGISTRY_BIN: path.join(TOOLS, "registry") },
      encoding: "utf8",
    },
  );
}

/** The scratch catalog and context; `release` goes into the image so each release differs. */
function writeEstate(release: string): void {
  const ctx = path.join(WORK, "sc-app");
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM scratch\nCOPY release.txt /release.txt\n");
  fs.writeFileSync(path.join(ctx, "release.txt"), `${release}\n`);
  fs.writeFileSync(
    path.join(WORK, "estate.yaml"),
    toYaml({
      namespace: "dayuhub",
      images: [
        {
          name: "sc-app",
          context: "sc-app",
          platforms: ["linux/amd64", "linux/arm64"],
          tags: ["${release}"],
        },
      ],
    }),
  );
}

describe("supply chain and retention, end to end (local services, distribution v3)", function () {
  this.timeout(60 * 60 * 1000);
  let publicKey = "";
  let keyDir = "";

  before(async () => {
    requirePrerequisites({ standins: false });
    for (const t of ["cosign", "syft", "registry"])
      assert.ok(fs.existsSync(path.join(TOOLS, t)), `.tools/bin/${t} (run scripts/toolchain.sh)`);
    fs.rmSync(WORK, { recursive: true, force: true });
    fs.mkdirSync(path.join(WORK, "state"), { recursive: true });
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-sc-key-"));
    execFileSync(path.join(TOOLS, "cosign"), ["generate-key-pair"], {
      cwd: keyDir,
      env: { ...process.env, COSIGN_PASSWORD: "e2e-cosign-password" },
      stdio: "ignore",
    });
    publicKey = fs.readFileSync(path.join(keyDir, "cosign.pub"), "utf8");
    writeEstate(RELEASES[0]);
    const dev = devConfig();
    const config = {
      "dayu-estate:environment": "dev",
      "dayu-estate:release": RELEASES[0],
      "dayu-estate:catalog": path.relative(ROOT, path.join(WORK, "estate.yaml")),
      "dayu-estate:repositoryPrefix": PREFIX,
      // This checkout's registry: another checkout on the machine may hold the dev stack's port.
      "dayu-estate:registry": {
        ...(dev["dayu-estate:registry"] as Record<string, unknown>),
        address: localRegistry(),
      },
      "dayu-estate:builders": dev["dayu-estate:builders"],
      "dayu-estate:registryCache": dev["dayu-estate:registryCache"],
      "dayu-estate:supplyChain": { enabled: true, sbomFormat: "spdx-json" },
      "dayu-estate:cosignPublicKey": publicKey,
      "dayu-estate:retention": { keepReleases: 2 },
    };
    fs.writeFileSync(
      STACK_FILE,
      `# Written by test/e2e/supplyChain.e2e.test.ts; not committed.\n${toYaml({ config })}`,
    );
    ok(await pulumi(["stack", "init"]), "stack init");
    const secrets: [string, string][] = [
      ["registryPassword", credentials().password],
      ["cosignPrivateKey", fs.readFileSync(path.join(keyDir, "cosign.key"), "utf8")],
      ["cosignPassword", "e2e-cosign-password"],
    ];
    for (const [k, v] of secrets)
      ok(await pulumi(["config", "set", "--secret", k], v), `config set ${k}`);
  });

  after(async () => {
    await pulumi(["destroy", "--yes"]);
    await pulumi(["stack", "rm", "--yes", "--force"]);
    fs.rmSync(STACK_FILE, { force: true });
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  it("publishes three releases, each index signed and each child attested", async () => {
    for (const release of RELEASES) {
      writeEstate(release);
      ok(await pulumi(["config", "set", "release", release]), `release ${release}`);
      const up = ok(await pulumi(["up", "--yes", "--skip-preview"]), `up ${release}`);
      console.log(`      up ${release}: ${up.seconds.toFixed(1)} s`);
      assert.match(up.stdout, /-attestation/, `${release}: attestations created`);
      assert.match(up.stdout, /-signature/, `${release}: signature created`);
    }
    const tags = await listTags(registryClient(), REPO);
    for (const r of RELEASES)
      for (const t of [r, `${r}-amd64`, `${r}-arm64`]) assert.ok(tags.includes(t), `${REPO}:${t}`);
  });

  it("a no-op up attests and signs nothing", async () => {
    const noop = ok(
      await pulumi(["up", "--yes", "--expect-no-changes", "--skip-preview"]),
      "no-op up",
    );
    console.log(`      no-op up: ${noop.seconds.toFixed(1)} s`);
    // Step lines start with + ~ or - (the "Updating (stack):" header does not).
    assert.doesNotMatch(
      noop.stdout,
      /^\s*[-+~]+\s+pulumi-nodejs:dynamic:Resource/m,
      "nothing attested or signed",
    );
  });

  it("a signature that no longer matches is drift: refresh sees it, up signs again", async () => {
    const current = RELEASES[RELEASES.length - 1];
    const client = registryClient();
    const index = await client.getManifest(REPO, current);
    // Replace the index's signatures by one made with another key (cosign's fallback tag for a
    // registry without the referrers API is `sha256-<hex>`, listing the signature bundles).
    const fallback = `sha256-${index.digest.slice("sha256:".length)}`;
    const del = await client.call("DELETE", `/v2/${REPO}/manifests/${fallback}`);
    assert.equal(del.status, 202, `DELETE ${REPO}:${fallback}`);
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-sc-other-"));
    try {
      execFileSync(path.join(TOOLS, "cosign"), ["generate-key-pair"], {
        cwd: otherDir,
        env: { ...process.env, COSIGN_PASSWORD: "other" },
        stdio: "ignore",
      });
      const reg = localRegistry();
      await withDockerConfig({ address: reg, ...credentials() }, (dockerConfig) =>
        new SupplyChain({ ...tools(), dockerConfig }).sign(`${reg}/${REPO}@${index.digest}`, {
          privateKey: fs.readFileSync(path.join(otherDir, "cosign.key"), "utf8"),
          password: "other",
          publicKey: fs.readFileSync(path.join(otherDir, "cosign.pub"), "utf8"),
        }),
      );
    } finally {
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
    const reg = localRegistry();
    await withDockerConfig({ address: reg, ...credentials() }, async (dockerConfig) => {
      const chain = new SupplyChain({ ...tools(), dockerConfig });
      assert.equal(
        await chain.verifySignature(`${reg}/${REPO}@${index.digest}`, publicKey),
        false,
        "our key no longer verifies the index",
      );
    });

    ok(await pulumi(["refresh", "--yes", "--skip-preview"]), "refresh");
    const state = JSON.parse(ok(await pulumi(["stack", "export"]), "export").stdout) as {
      deployment: { resources: { urn: string; outputs?: Record<string, unknown> }[] };
    };
    const signature = state.deployment.resources.find((r) =>
      r.urn.endsWith(`::sc-app:${current}-signature`),
    );
    assert.equal(signature?.outputs?.liveDigest, index.digest, "the tag did not move");
    assert.equal(signature?.outputs?.verified, false, "refresh recorded the broken signature");
    const preview = ok(await pulumi(["preview", "--json"]), "preview after refresh");
    assert.deepEqual(
      changedResources(preview.stdout),
      [`pulumi-nodejs:dynamic:Resource sc-app:${current}-signature`],
      "only the signature is to be redone",
    );
    ok(await pulumi(["up", "--yes", "--skip-preview"]), "up re-signs");
    await verifyRelease(current, publicKey);
    ok(await pulumi(["up", "--yes", "--expect-no-changes", "--skip-preview"]), "no-op up after");
  });

  let bytesBefore = 0;
  it("prunes the oldest release: its tags go, the kept indexes still verify", async () => {
    bytesBefore = directoryBytes(DATA);
    const preview = prune();
    assert.match(preview, new RegExp(`would delete tag ${REPO}:v1\\.1 `));
    assert.equal(
      (await listTags(registryClient(), REPO)).includes("v1.1"),
      true,
      "preview deletes nothing",
    );
    const applied = prune("--apply");
    console.log(applied.replace(/^/gm, "      "));
    assert.match(applied, /deleted tag/);
    const tags = await listTags(registryClient(), REPO);
    for (const t of ["v1.1", "v1.1-amd64", "v1.1-arm64"]) assert.ok(!tags.includes(t), `${t} gone`);
    for (const r of RELEASES.slice(1)) await verifyRelease(r, publicKey);
  });

  it("the registry's storage shrinks after garbage collection (registry stopped)", async () => {
    const services = path.join(ROOT, "scripts/local-services.sh");
    // Refused while the registry runs and takes pushes.
    const refused = spawnSync(
      path.join(ROOT, "node_modules/.bin/ts-node"),
      ["scripts/prune.ts", "--gc", REG_CONFIG],
      {
        cwd: ROOT,
        env: { ...env(), DAYU_REGISTRY_BIN: path.join(TOOLS, "registry") },
        encoding: "utf8",
      },
    );
    assert.notEqual(refused.status, 0, "gc refused while the registry runs");
    assert.match(refused.stderr, /is running at .* and not read-only/);
    assert.equal(spawnSync(services, ["stop"], { stdio: "ignore" }).status, 0, "stop");
    let report = "";
    try {
      report = prune("--gc", REG_CONFIG);
    } finally {
      assert.equal(spawnSync(services, ["start"], { stdio: "ignore" }).status, 0, "start");
    }
    const m = /storage (\d+) → (\d+) bytes/.exec(report);
    assert.ok(m, report);
    assert.ok(Number(m[2]) < Number(m[1]), report);
    const after = directoryBytes(DATA);
    assert.ok(after < bytesBefore, `storage ${bytesBefore} → ${after} bytes`);
    console.log(`      prune + gc: storage ${bytesBefore} → ${after} bytes; ${report}`);
    for (const r of RELEASES.slice(1)) await verifyRelease(r, publicKey);
  });

  it("a second prune removes nothing", () => {
    assert.match(prune(), /nothing to delete/);
  });
});

/** cosign and syft of the toolchain, and the local CA. */
function tools() {
  return {
    cosign: path.join(TOOLS, "cosign"),
    syft: path.join(TOOLS, "syft"),
    caFile: path.join(ROOT, ".local/pki/ca.crt"),
  };
}

/** Read-back of one release's index, its signature, and both attestations of each child. */
async function verifyRelease(release: string, publicKey: string): Promise<void> {
  const reg = localRegistry();
  const client = registryClient();
  const tag = `${reg}/${REPO}:${release}`;
  const index = await client.getManifest(REPO, release);
  const children = (
    index.json as { manifests: { digest: string; platform: { architecture: string } }[] }
  ).manifests;
  const sources = children.map((c) => `${reg}/${REPO}@${c.digest}`);
  await readBackIndex(client, { tag, sources, platforms: ["linux/amd64", "linux/arm64"] });
  await withDockerConfig({ address: reg, ...credentials() }, async (dockerConfig) => {
    const chain = new SupplyChain({ ...tools(), dockerConfig });
    assert.ok(
      await chain.verifySignature(`${reg}/${REPO}@${index.digest}`, publicKey),
      `${tag} signed`,
    );
    for (const s of sources)
      assert.deepEqual(
        (await chain.verifiedAttestations(s, publicKey, ["spdx-json", "provenance"])).sort(),
        ["provenance", "spdx-json"],
        `${s} attested`,
      );
  });
}
