/**
 * syft and cosign through a fake runner: the argument lists (offline flags, digests only, the referrers
 * scheme), secrets only in the environment, documents on standard input, and the parsing of their
 * output (an SBOM, verify and verify-attestation JSON) including the "not signed" answers.
 */
import { strict as assert } from "assert";
import {
  assertNoSecretInArgs,
  cosignAttestArgs,
  cosignSignArgs,
  cosignVerifyArgs,
  parseSbom,
  parseVerifyOutput,
  SigningKey,
  SupplyChain,
  syftArgs,
  ToolRun,
  ToolRunner,
} from "../../lib/supplyChain";
import { SLSA_PROVENANCE_V1 } from "../../lib/provenance";

const hex = "a".repeat(64);
const REF = `registry.dayu.test:5443/dayuhub/car-detection@sha256:${hex}`;
const KEY: SigningKey = {
  privateKey: "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecretbytes\n-----END-----\n",
  password: "hunter22",
  publicKey: "-----BEGIN PUBLIC KEY-----\npub\n-----END PUBLIC KEY-----\n",
};

/** Records every run and answers from a script keyed by the tool's first argument. */
function fakeRunner(answers: Record<string, string | Error> = {}): {
  runs: ToolRun[];
  run: ToolRunner;
} {
  const runs: ToolRun[] = [];
  return {
    runs,
    run: async (r) => {
      runs.push(r);
      const a = answers[r.args[0]] ?? "";
      if (a instanceof Error) throw a;
      return { stdout: a, stderr: "" };
    },
  };
}

const statement = (predicateType: string, digestHex = hex) =>
  Buffer.from(
    JSON.stringify({
      _type: "https://in-toto.io/Statement/v1",
      predicateType,
      subject: [{ name: "x", digest: { sha256: digestHex } }],
    }),
  ).toString("base64");

describe("supply chain (syft, cosign)", () => {
  describe("argument lists", () => {
    it("syft scans the image in the registry by digest", () => {
      assert.deepEqual(syftArgs(REF, "spdx-json"), [
        "scan",
        `registry:${REF}`,
        "-o",
        "spdx-json",
        "-q",
      ]);
      assert.throws(
        () => syftArgs("registry.dayu.test:5443/dayuhub/x:v1", "spdx-json"),
        /not a reference by digest/,
      );
    });

    it("cosign attest and sign: key from the environment, no transparency log, no signing config", () => {
      const attest = cosignAttestArgs(REF, "slsaprovenance1", {});
      for (const flag of [
        "--key=env://COSIGN_PRIVATE_KEY",
        "--tlog-upload=false",
        "--use-signing-config=false",
        "--yes",
        "--type=slsaprovenance1",
        "--predicate=-",
      ])
        assert.ok(attest.includes(flag), `attest has ${flag}`);
      assert.equal(attest[0], "attest");
      assert.equal(attest[attest.length - 1], REF);
      const sign = cosignSignArgs(REF, { insecure: true, caFile: "/pki/ca.crt" });
      assert.equal(sign[0], "sign");
      assert.ok(!sign.includes("--recursive"));
      assert.ok(sign.includes("--allow-http-registry=true"));
      assert.ok(sign.includes("--registry-cacert=/pki/ca.crt"));
    });

    it("writes cosign v3 bundles by default, classic .sig/.att tags in legacy format", () => {
      assert.ok(!cosignSignArgs(REF, {}).some((a) => a.startsWith("--new-bundle-format")));
      assert.ok(cosignSignArgs(REF, { format: "legacy" }).includes("--new-bundle-format=false"));
      assert.ok(
        cosignAttestArgs(REF, "spdxjson", { format: "legacy" }).includes(
          "--new-bundle-format=false",
        ),
      );
    });

    it("cosign verify ignores the transparency log and prints JSON", () => {
      assert.deepEqual(cosignVerifyArgs(REF, {}), [
        "verify",
        "--key=env://COSIGN_PUBLIC_KEY",
        "--insecure-ignore-tlog=true",
        "--output=json",
        REF,
      ]);
      assert.ok(cosignVerifyArgs(REF, {}, "spdxjson").includes("--type=spdxjson"));
      assert.equal(cosignVerifyArgs(REF, {}, "spdxjson")[0], "verify-attestation");
    });
  });

  describe("runs", () => {
    it("attests with the document on stdin and the key only in the environment", async () => {
      const { runs, run } = fakeRunner();
      await new SupplyChain({ cosign: "/tools/cosign", dockerConfig: "/tmp/dc" }, run).attest(
        REF,
        "provenance",
        '{"buildDefinition":{}}',
        KEY,
      );
      assert.equal(runs.length, 1);
      const r = runs[0];
      assert.equal(r.cmd, "/tools/cosign");
      assert.equal(r.stdin, '{"buildDefinition":{}}');
      assert.equal(r.env?.COSIGN_PRIVATE_KEY, KEY.privateKey);
      assert.equal(r.env?.COSIGN_PASSWORD, KEY.password);
      assert.equal(r.env?.DOCKER_CONFIG, "/tmp/dc");
      assert.ok(r.args.every((a) => !a.includes("hunter22") && !a.includes("secretbytes")));
    });

    it("refuses to put a secret on a command line", () => {
      assert.throws(() => assertNoSecretInArgs(["--password=hunter22"], ["hunter22"]), /secret/);
      assert.doesNotThrow(() => assertNoSecretInArgs(["--x"], ["hunter22", ""]));
    });

    it("returns syft's SBOM and refuses output of the wrong format, naming the image", async () => {
      const spdx = JSON.stringify({ spdxVersion: "SPDX-2.3", packages: [{}, {}] });
      const { runs, run } = fakeRunner({ scan: spdx });
      const chain = new SupplyChain({ insecure: true }, run);
      assert.equal(await chain.sbom(REF), spdx);
      assert.equal(runs[0].env?.SYFT_CHECK_FOR_APP_UPDATE, "false");
      assert.equal(runs[0].env?.SYFT_REGISTRY_INSECURE_USE_HTTP, "true");
      await assert.rejects(
        chain.sbom(REF, "cyclonedx-json"),
        /car-detection.*not a cyclonedx-json/,
      );
    });

    it("verifies a signature for exactly the digest; a failing verify is 'not signed', not an error", async () => {
      const signed = JSON.stringify([
        {
          critical: {
            image: { "docker-manifest-digest": `sha256:${hex}` },
            type: "cosign container image signature",
          },
        },
      ]);
      assert.equal(
        await new SupplyChain({}, fakeRunner({ verify: signed }).run).verifySignature(
          REF,
          KEY.publicKey,
        ),
        true,
      );
      const other = signed.replace(hex, "b".repeat(64));
      assert.equal(
        await new SupplyChain({}, fakeRunner({ verify: other }).run).verifySignature(
          REF,
          KEY.publicKey,
        ),
        false,
      );
      const none = fakeRunner({ verify: new Error("cosign verify: no signatures found") });
      assert.equal(await new SupplyChain({}, none.run).verifySignature(REF, KEY.publicKey), false);
      assert.equal(none.runs[0].env?.COSIGN_PUBLIC_KEY, KEY.publicKey);
      assert.equal(
        none.runs[0].env?.COSIGN_PRIVATE_KEY,
        undefined,
        "verify never sees the private key",
      );
    });

    it("lists the attestation kinds that verify for the digest", async () => {
      const runs: ToolRun[] = [];
      const run: ToolRunner = async (r) => {
        runs.push(r);
        if (r.args.includes("--type=slsaprovenance1"))
          return {
            stdout: `${JSON.stringify({ payload: statement(SLSA_PROVENANCE_V1) })}\n`,
            stderr: "",
          };
        if (r.args.includes("--type=spdxjson"))
          // An SBOM attestation, but for another digest: does not count.
          return {
            stdout: JSON.stringify({
              payload: statement("https://spdx.dev/Document", "c".repeat(64)),
            }),
            stderr: "",
          };
        throw new Error("none");
      };
      const kinds = await new SupplyChain({}, run).verifiedAttestations(REF, KEY.publicKey, [
        "spdx-json",
        "provenance",
        "cyclonedx-json",
      ]);
      assert.deepEqual(kinds, ["provenance"]);
      assert.equal(runs.length, 3);
    });
  });

  describe("parsing", () => {
    it("reads both verify shapes", () => {
      const lines = [statement(SLSA_PROVENANCE_V1), statement("https://spdx.dev/Document")]
        .map((p) => JSON.stringify({ payloadType: "application/vnd.in-toto+json", payload: p }))
        .join("\n");
      assert.deepEqual(parseVerifyOutput(lines), [
        { digest: `sha256:${hex}`, predicateType: SLSA_PROVENANCE_V1 },
        { digest: `sha256:${hex}`, predicateType: "https://spdx.dev/Document" },
      ]);
      assert.deepEqual(parseVerifyOutput(""), []);
      assert.throws(() => parseVerifyOutput('[{"x":1}]'), /unknown shape/);
    });

    it("counts SBOM packages in both formats", () => {
      assert.deepEqual(
        parseSbom('{"bomFormat":"CycloneDX","components":[{}]}', "cyclonedx-json", REF),
        {
          format: "cyclonedx-json",
          packages: 1,
        },
      );
      assert.throws(
        () => parseSbom("not json", "spdx-json", REF),
        /no JSON SBOM for .*car-detection/,
      );
    });
  });
});
