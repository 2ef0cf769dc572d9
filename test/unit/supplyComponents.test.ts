/**
 * The Attestation and IndexSignature dynamic providers, called directly with a fake tool runner and a
 * fake tag resolver: what they run, that their state holds digests and no documents, that only the
 * digest decides (a no-op `up` attests nothing), and drift (a moved tag, a missing signature or
 * attestation).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { AttestationInputs, AttestationState } from "../../components/attestation";
import type { IndexSignatureInputs, IndexSignatureState } from "../../components/indexSignature";
import {
  SLSA_PROVENANCE_V1,
  canonicalJson,
  provenancePredicate,
  sha256Of,
} from "../../lib/provenance";
import { ToolRun, ToolRunner } from "../../lib/supplyChain";
import { installMocks, isSecretInput, ofType, reset, settle } from "./helpers/mocks";

const A = "a".repeat(64);
const B = "b".repeat(64);
const REPO = "registry.dayu.test:5443/dayuhub/car-detection";
const KEY = { privateKey: "PRIVATE-PEM", password: "pw-secret", publicKey: "PUBLIC-PEM" };
const REGISTRY = { address: "registry.dayu.test:5443", username: "dayu", password: "reg-secret" };
const SBOM = JSON.stringify({ spdxVersion: "SPDX-2.3", packages: [{ name: "busybox" }] });

function attestationInputs(digestHex = A): AttestationInputs {
  return {
    ref: `${REPO}@sha256:${digestHex}`,
    provenance: {
      buildId: "car-detection/arm64",
      subject: { name: REPO, digest: `sha256:${digestHex}` },
      builder: { name: "dayu-arm64", platform: "linux/arm64" },
      dockerfile: {
        path: "dockerfiles/car-detection/Dockerfile",
        digest: `sha256:${"d".repeat(64)}`,
      },
      context: { path: "dockerfiles/car-detection", digest: `sha256:${"e".repeat(64)}` },
      buildArgs: { X: "1" },
    },
    sbomFormat: "spdx-json",
    tools: { cosign: "cosign", syft: "syft" },
    registry: REGISTRY,
    key: KEY,
  };
}

const payload = (predicateType: string, digestHex: string) =>
  JSON.stringify({
    payload: Buffer.from(
      JSON.stringify({ predicateType, subject: [{ name: REPO, digest: { sha256: digestHex } }] }),
    ).toString("base64"),
  });

/** A fake syft + cosign: records runs and the Docker config each saw; `attested` decides verify. */
function tools(opts: { attested?: string[]; signedHex?: string[] } = {}) {
  const runs: (ToolRun & { dockerConfig?: string })[] = [];
  const run: ToolRunner = async (r) => {
    const cfg = r.env?.DOCKER_CONFIG ? path.join(r.env.DOCKER_CONFIG, "config.json") : undefined;
    runs.push({ ...r, dockerConfig: cfg && fs.readFileSync(cfg, "utf8") });
    if (cfg) assert.equal(fs.statSync(cfg).mode & 0o777, 0o600, "credentials file is 0600");
    const ref = r.args[r.args.length - 1];
    const hex = ref.split("@sha256:")[1];
    switch (r.args[0]) {
      case "scan":
        return { stdout: SBOM, stderr: "" };
      case "verify-attestation": {
        const type = r.args.find((a) => a.startsWith("--type="))?.slice(7) ?? "";
        const uri = type === "spdxjson" ? "https://spdx.dev/Document" : SLSA_PROVENANCE_V1;
        if (!(opts.attested ?? []).includes(type)) throw new Error("no matching attestations");
        return { stdout: payload(uri, hex), stderr: "" };
      }
      case "verify":
        if (!(opts.signedHex ?? []).includes(hex)) throw new Error("no signatures found");
        return {
          stdout: JSON.stringify([
            { critical: { image: { "docker-manifest-digest": `sha256:${hex}` } } },
          ]),
          stderr: "",
        };
      default:
        return { stdout: "", stderr: "" };
    }
  };
  return { runs, run };
}

describe("supply-chain components", () => {
  let att: typeof import("../../components/attestation");
  let sig: typeof import("../../components/indexSignature");
  before(async () => {
    att = await import("../../components/attestation");
    sig = await import("../../components/indexSignature");
  });

  describe("Attestation", () => {
    it("create: SBOM from the registry, then SBOM and provenance attested; state keeps digests only", async () => {
      const t = tools();
      const { id, outs } = await att.attestationProvider(t.run).create!(attestationInputs());
      assert.equal(id, `${REPO}@sha256:${A}`);
      assert.deepEqual(
        t.runs.map((r) => [r.args[0], r.args.find((a) => a.startsWith("--type="))]),
        [
          ["scan", undefined],
          ["attest", "--type=spdxjson"],
          ["attest", "--type=slsaprovenance1"],
        ],
      );
      assert.equal(t.runs[1].stdin, SBOM);
      const predicate = canonicalJson(provenancePredicate(attestationInputs().provenance));
      assert.equal(t.runs[2].stdin, predicate);
      assert.equal(outs.sbomDigest, sha256Of(SBOM));
      assert.equal(outs.provenanceDigest, sha256Of(predicate));
      const state = JSON.stringify(outs);
      assert.ok(
        !state.includes("spdxVersion") && !state.includes("buildDefinition"),
        "no documents in state",
      );
      // Credentials reached the tools only through the throwaway Docker config, which is gone now.
      const auth = Buffer.from("dayu:reg-secret").toString("base64");
      assert.ok(t.runs.every((r) => r.dockerConfig?.includes(auth)));
      assert.ok(t.runs.every((r) => !r.args.join(" ").includes("secret")));
      assert.ok(!fs.existsSync(t.runs[0].env?.DOCKER_CONFIG ?? ""), "Docker config removed");
    });

    it("diff: only the digest decides; a missing attestation is drift", async () => {
      const p = att.attestationProvider(tools().run);
      const olds: AttestationState = {
        ...attestationInputs(),
        sbomDigest: "x",
        provenanceDigest: "y",
        verified: ["spdx-json", "provenance"],
      };
      const sameDigest = attestationInputs();
      sameDigest.provenance = { ...sameDigest.provenance, buildArgs: { X: "2" } };
      assert.equal(
        (await p.diff!("id", olds, sameDigest)).changes,
        false,
        "no-op up attests nothing",
      );
      const moved = await p.diff!("id", olds, attestationInputs(B));
      assert.equal(moved.changes, true);
      assert.deepEqual(moved.replaces, ["ref"]);
      const lost = await p.diff!("id", { ...olds, verified: ["provenance"] }, attestationInputs());
      assert.equal(lost.changes, true);
    });

    it("read verifies each kind on the digest", async () => {
      const olds: AttestationState = {
        ...attestationInputs(),
        sbomDigest: "x",
        provenanceDigest: "y",
        verified: ["spdx-json", "provenance"],
      };
      const p = att.attestationProvider(tools({ attested: ["slsaprovenance1"] }).run);
      const { props } = await p.read!("id", olds);
      assert.deepEqual(props.verified, ["provenance"]);
    });
  });

  describe("IndexSignature", () => {
    const inputs = (): IndexSignatureInputs => ({
      tag: `${REPO}:v1.3`,
      digest: `sha256:${A}`,
      tools: {},
      registry: REGISTRY,
      key: KEY,
    });

    it("create signs the published digest (not the tag) and checks it verifies", async () => {
      const t = tools({ signedHex: [A] });
      const { outs } = await sig.indexSignatureProvider(t.run, async () => `sha256:${A}`).create!(
        inputs(),
      );
      assert.deepEqual(
        t.runs.map((r) => r.args[0]),
        ["sign", "verify"],
      );
      assert.equal(t.runs[0].args[t.runs[0].args.length - 1], `${REPO}@sha256:${A}`);
      assert.equal(t.runs[0].env?.COSIGN_PRIVATE_KEY, "PRIVATE-PEM");
      assert.equal(outs.verified, true);
      assert.equal(outs.liveDigest, `sha256:${A}`);
    });

    it("create fails when the fresh signature does not verify", async () => {
      const p = sig.indexSignatureProvider(tools({ signedHex: [] }).run, async () => `sha256:${A}`);
      await assert.rejects(
        p.create!(inputs()),
        /v1\.3: the signature of sha256:a+ does not verify/,
      );
    });

    it("read: a moved tag, a vanished tag or a missing signature is drift; the next up re-signs", async () => {
      const base: IndexSignatureState = { ...inputs(), liveDigest: `sha256:${A}`, verified: true };
      const read = async (live: string, signed: string[]) =>
        (
          await sig.indexSignatureProvider(tools({ signedHex: signed }).run, async () => live)
            .read!("id", base)
        ).props as IndexSignatureState;
      const ok = await read(`sha256:${A}`, [A]);
      assert.equal(sig.signatureDrifted(ok), false);
      const moved = await read(`sha256:${B}`, [A, B]);
      assert.equal(moved.liveDigest, `sha256:${B}`);
      assert.equal(sig.signatureDrifted(moved), true, "tag moved to another (even signed) index");
      assert.equal(sig.signatureDrifted(await read("absent", [A])), true);
      const unsigned = await read(`sha256:${A}`, []);
      assert.equal(unsigned.verified, false);
      const p = sig.indexSignatureProvider(tools().run, async () => `sha256:${A}`);
      assert.equal((await p.diff!("id", unsigned, inputs())).changes, true);
      assert.equal((await p.diff!("id", ok, inputs())).changes, false, "no-op up signs nothing");
    });
  });

  describe("as resources (Pulumi mocks)", () => {
    it("register with the key and registry credentials as secrets, and the digest as plain input", async () => {
      reset();
      await installMocks("dayu-estate", "unit");
      const a = new att.Attestation("car-detection/arm64-attestation", {
        ref: `${REPO}@sha256:${A}`,
        provenance: attestationInputs().provenance,
        tools: {},
        registry: REGISTRY,
        key: KEY,
      });
      const s = new sig.IndexSignature("car-detection:v1.3-signature", {
        tag: `${REPO}:v1.3`,
        digest: `sha256:${A}`,
        tools: {},
        registry: REGISTRY,
        key: KEY,
      });
      await settle(a, s);
      const regs = ofType("pulumi-nodejs:dynamic:Resource");
      assert.deepEqual(regs.map((r) => r.name).sort(), [
        "car-detection/arm64-attestation",
        "car-detection:v1.3-signature",
      ]);
      for (const r of regs) {
        assert.ok(isSecretInput(r.inputs.key), `${r.name}: key is secret`);
        assert.ok(isSecretInput(r.inputs.registry), `${r.name}: registry is secret`);
      }
      const attestation = regs.find((r) => r.name.endsWith("-attestation"));
      assert.equal(attestation?.inputs.ref, `${REPO}@sha256:${A}`);
      assert.equal(attestation?.inputs.sbomFormat, "spdx-json");
    });

    it("expose their outputs as Outputs (a class field would reset them to undefined after super())", async () => {
      reset();
      await installMocks("dayu-estate", "unit");
      const { IndexGuard } = await import("../../components/indexGuard");
      const guard = new IndexGuard("app", {
        indexes: {
          "app:v1": {
            tag: `${REPO}:v1`,
            sources: [`${REPO}@sha256:${A}`],
            platforms: ["linux/amd64"],
          },
        },
        registry: REGISTRY,
      });
      const s = new sig.IndexSignature("app:v1-signature", {
        tag: `${REPO}:v1`,
        digest: guard.digestOf("app:v1"),
        tools: {},
        registry: REGISTRY,
        key: KEY,
      });
      const a = new att.Attestation("app/amd64-attestation", {
        ref: `${REPO}@sha256:${A}`,
        provenance: attestationInputs().provenance,
        tools: {},
        registry: REGISTRY,
        key: KEY,
      });
      await settle(guard, s, a);
      for (const [name, o] of Object.entries({
        "IndexGuard.publishedDigests": guard.publishedDigests,
        "IndexGuard.liveDigests": guard.liveDigests,
        "IndexSignature.verified": s.verified,
        "IndexSignature.liveDigest": s.liveDigest,
        "Attestation.verified": a.verified,
        "Attestation.sbomDigest": a.sbomDigest,
      }))
        assert.ok(pulumi.Output.isInstance(o), `${name} is an Output`);
    });
  });
});
