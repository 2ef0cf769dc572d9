/**
 * SLSA v1 provenance: shape, determinism (same input, same bytes, whatever the order of build args
 * or bases), refusals naming the build, and the context digest on an in-memory file system.
 */
import { strict as assert } from "assert";
import { memoryFiles } from "../../estate/files";
import { EstateInputError } from "../../estate/problems";
import {
  canonicalJson,
  contextDigest,
  DAYU_BUILD_TYPE,
  IN_TOTO_STATEMENT_V1,
  ProvenanceInput,
  provenancePredicate,
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  sha256Of,
} from "../../lib/provenance";

const hex = (c: string) => c.repeat(64);

function input(over: Partial<ProvenanceInput> = {}): ProvenanceInput {
  return {
    buildId: "car-detection/jp5/arm64",
    subject: {
      name: "registry.dayu.test:5443/dayuhub/car-detection",
      digest: `sha256:${hex("a")}`,
    },
    builder: { name: "dayu-arm64", platform: "linux/arm64", version: "v0.31.0" },
    dockerfile: { path: "dockerfiles/car-detection/Dockerfile", digest: `sha256:${hex("b")}` },
    context: { path: "dockerfiles/car-detection", digest: `sha256:${hex("c")}` },
    buildArgs: {
      BASE_IMAGE: `registry.dayu.test:5443/dayuhub/dayubase@sha256:${hex("d")}`,
      X: "1",
    },
    bases: [{ ref: `registry.dayu.test:5443/dayuhub/dayubase@sha256:${hex("d")}` }],
    source: { uri: "git+ssh://git.dayu.example/dayu.git", revision: "0123456789".repeat(4) },
    ...over,
  };
}

describe("provenance (SLSA v1)", () => {
  it("builds an in-toto v1 statement with the image digest as subject", () => {
    const s = provenanceStatement(input()) as {
      _type: string;
      predicateType: string;
      subject: { name: string; digest: Record<string, string> }[];
      predicate: {
        buildDefinition: {
          buildType: string;
          externalParameters: Record<string, unknown>;
          resolvedDependencies: { name: string; uri: string; digest: Record<string, string> }[];
        };
        runDetails: { builder: { id: string }; metadata: Record<string, string> };
      };
    };
    assert.equal(s._type, IN_TOTO_STATEMENT_V1);
    assert.equal(s.predicateType, SLSA_PROVENANCE_V1);
    assert.deepEqual(s.subject, [
      { name: "registry.dayu.test:5443/dayuhub/car-detection", digest: { sha256: hex("a") } },
    ]);
    const def = s.predicate.buildDefinition;
    assert.equal(def.buildType, DAYU_BUILD_TYPE);
    assert.equal(def.externalParameters.platform, "linux/arm64");
    assert.deepEqual(def.externalParameters.buildArgs, input().buildArgs);
    assert.deepEqual(
      def.resolvedDependencies.map((d) => [d.name, d.uri, Object.values(d.digest)[0]]),
      [
        ["base", "registry.dayu.test:5443/dayuhub/dayubase", hex("d")],
        ["context", "dockerfiles/car-detection", hex("c")],
        ["dockerfile", "dockerfiles/car-detection/Dockerfile", hex("b")],
        ["source", "git+ssh://git.dayu.example/dayu.git", "0123456789".repeat(4)],
      ],
    );
    assert.equal(s.predicate.runDetails.builder.id, "urn:dayu-estate:builder:dayu-arm64");
    assert.equal(s.predicate.runDetails.metadata.startedOn, undefined, "no clock by default");
  });

  it("is byte-for-byte deterministic whatever the order of build args and bases", () => {
    const a = input({
      buildArgs: { A: "1", B: "2" },
      bases: [{ ref: `r/x@sha256:${hex("1")}` }, { ref: `r/y@sha256:${hex("2")}` }],
    });
    const b = input({
      buildArgs: { B: "2", A: "1" },
      bases: [{ ref: `r/y@sha256:${hex("2")}` }, { ref: `r/x@sha256:${hex("1")}` }],
    });
    const bytesA = canonicalJson(provenancePredicate(a));
    assert.equal(bytesA, canonicalJson(provenancePredicate(b)));
    assert.equal(bytesA, canonicalJson(provenancePredicate(a)), "re-running yields the same bytes");
    assert.notEqual(
      bytesA,
      canonicalJson(provenancePredicate({ ...a, buildArgs: { A: "1", B: "3" } })),
      "a changed build arg changes the bytes",
    );
  });

  it("puts timestamps in only when given", () => {
    const p = provenancePredicate(
      input({ startedOn: "2026-11-28T00:00:00Z", finishedOn: "2026-11-28T00:01:00Z" }),
    ) as { runDetails: { metadata: Record<string, string> } };
    assert.equal(p.runDetails.metadata.startedOn, "2026-11-28T00:00:00Z");
    assert.equal(p.runDetails.metadata.finishedOn, "2026-11-28T00:01:00Z");
  });

  it("refuses bad inputs in one error naming the build and each field", () => {
    assert.throws(
      () =>
        provenancePredicate(
          input({
            subject: { name: "r/x", digest: "sha256:abc" },
            bases: [{ ref: "r/base:latest" }],
            source: { uri: "git+ssh://h/r.git", revision: "main" },
            builder: { name: "b", platform: "arm64" },
          }),
        ),
      (err: unknown) => {
        assert.ok(err instanceof EstateInputError);
        const text = err.problems.join("\n");
        assert.equal(err.problems.length, 4, text);
        assert.match(text, /build "car-detection\/jp5\/arm64" subject digest/);
        assert.match(text, /r\/base:latest is not pinned/);
        assert.match(text, /"main" is not a full git commit id/);
        assert.match(text, /"arm64" is not os\/arch/);
        return true;
      },
    );
  });

  it("canonical JSON sorts keys at every level and drops undefined", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }),
      '{\n  "a": {\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n',
    );
  });

  describe("contextDigest", () => {
    const tree = {
      "ctx/Dockerfile": "FROM scratch\n",
      "ctx/app/main.py": "print(1)\n",
      "ctx/app/lib/util.py": "x = 1\n",
    };

    it("does not depend on the listing order and changes with any file's bytes or path", () => {
      const d = contextDigest(memoryFiles(tree), "ctx");
      const reversed = Object.fromEntries(Object.entries(tree).reverse());
      assert.equal(contextDigest(memoryFiles(reversed), "ctx"), d);
      assert.match(d, /^sha256:[0-9a-f]{64}$/);
      assert.notEqual(
        contextDigest(memoryFiles({ ...tree, "ctx/app/main.py": "print(2)\n" }), "ctx"),
        d,
      );
      const moved: Record<string, string> = { ...tree, "ctx/app/util.py": "x = 1\n" };
      delete moved["ctx/app/lib/util.py"];
      assert.notEqual(contextDigest(memoryFiles(moved), "ctx"), d);
    });

    it("is the sha256 of the sorted path/digest lines", () => {
      const files = memoryFiles({ "c/b": "2", "c/a": "1" });
      const expected = sha256Of(`a\0${sha256Of("1")}\nb\0${sha256Of("2")}\n`);
      assert.equal(contextDigest(files, "c"), expected);
    });
  });
});
