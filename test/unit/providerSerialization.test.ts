/**
 * The supply-chain providers as `pulumi up` runs them: serialized by Pulumi's closure serializer,
 * loaded from the text, then called. The serializer keeps a class's constructor body but not its
 * field initializers, and turns `super(...)` of an Error subclass into `Error.call(this, ...)`: the
 * first `up` of the supply-chain end-to-end test failed every Attestation with "Cannot read properties
 * of undefined (reading 'length')" (the provenance check's `Problems` had no list), which the
 * provider tests that call the provider directly could not see.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { AttestationInputs } from "../../components/attestation";
import { ToolRunner } from "../../lib/supplyChain";
import { Problems } from "../../estate/problems";

/** Serializes `fn` as Pulumi does for a dynamic provider and loads the result. */
async function roundTrip<T extends (...args: never[]) => unknown>(fn: T): Promise<T> {
  const serialized = await pulumi.runtime.serializeFunction(fn);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dayu-ser-")), "f.js");
  fs.writeFileSync(file, serialized.text);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file)[serialized.exportName] as T;
}

const HEX = "c".repeat(64);
const REPO = "registry.dayu.test:5443/dayuhub/app";

/** syft prints an SPDX document; cosign verifies whatever digest it is asked about. */
const fakeTools: ToolRunner = async (r) => {
  const ref = r.args[r.args.length - 1];
  const hex = ref.split("@sha256:")[1];
  if (r.args[0] === "scan")
    return { stdout: JSON.stringify({ spdxVersion: "SPDX-2.3", packages: [] }), stderr: "" };
  if (r.args[0] === "verify")
    return {
      stdout: JSON.stringify([
        { critical: { image: { "docker-manifest-digest": `sha256:${hex}` } } },
      ]),
      stderr: "",
    };
  return { stdout: "", stderr: "" };
};

function inputs(dockerfileDigest = `sha256:${"d".repeat(64)}`): AttestationInputs {
  return {
    ref: `${REPO}@sha256:${HEX}`,
    sbomFormat: "spdx-json",
    provenance: {
      buildId: "app/amd64",
      subject: { name: REPO, digest: `sha256:${HEX}` },
      builder: { name: "dayu-amd64", platform: "linux/amd64" },
      dockerfile: { path: "app/Dockerfile", digest: dockerfileDigest },
      context: { path: "app", digest: `sha256:${"e".repeat(64)}` },
    },
    tools: { cosign: "cosign", syft: "syft" },
    registry: { address: "registry.dayu.test:5443", username: "dayu", password: "reg-secret" },
    key: { privateKey: "-----BEGIN KEY-----x", password: "key-secret", publicKey: "PUB" },
  };
}

describe("supply-chain providers after Pulumi's closure serialization", () => {
  it("Problems and EstateInputError keep their list and message", async () => {
    const check = await roundTrip(() => {
      const p = new Problems();
      p.add("first");
      p.add("second");
      try {
        p.throwIfAny();
      } catch (err) {
        return {
          list: p.list,
          message: (err as Error).message,
          name: (err as Error).name,
        };
      }
      return undefined;
    });
    assert.deepEqual(check(), {
      list: ["first", "second"],
      message: "invalid input (2 problems):\n  - first\n  - second",
      name: "EstateInputError",
    });
  });

  it("Attestation create attests a digest", async () => {
    const { attestationProvider } = await import("../../components/attestation");
    const provider = attestationProvider(fakeTools);
    const create = await roundTrip((i: AttestationInputs) => provider.create(i));
    const { outs } = await create(inputs());
    assert.match(outs.sbomDigest, /^sha256:[0-9a-f]{64}$/);
    assert.match(outs.provenanceDigest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(outs.verified, ["spdx-json", "provenance"]);
  });

  it("Attestation create refuses a bad provenance naming the build (the message survives)", async () => {
    const { attestationProvider } = await import("../../components/attestation");
    const provider = attestationProvider(fakeTools);
    const create = await roundTrip((i: AttestationInputs) => provider.create(i));
    await assert.rejects(create(inputs("sha256:nope")), (err: Error) => {
      assert.match(err.message, /build "app\/amd64" dockerfile digest: "sha256:nope" is not/);
      return true;
    });
  });

  it("IndexSignature create signs and verifies; read reports the verdict", async () => {
    const { indexSignatureProvider } = await import("../../components/indexSignature");
    const provider = indexSignatureProvider(fakeTools, async () => `sha256:${HEX}`);
    const i = {
      tag: `${REPO}:v1`,
      digest: `sha256:${HEX}`,
      tools: {},
      registry: inputs().registry,
      key: inputs().key,
    };
    const create = await roundTrip(() => provider.create(i));
    const { outs } = await create();
    assert.equal(outs.verified, true);
    const read = await roundTrip(() => provider.read!("id", outs));
    assert.equal((await read()).props?.verified, true);
  });
});
