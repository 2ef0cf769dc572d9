import { strict as assert } from "assert";
import { decodeUtf8, parseArgsFile } from "../../estate/argsFile";
import { parseCatalog } from "../../estate/catalog";
import { CycleError, topologicalOrder } from "../../estate/graph";
import { archOf } from "../../estate/planner";
import {
  parseReference,
  registryHostError,
  repositoryError,
  tagError,
} from "../../estate/reference";

describe("OCI reference grammar", () => {
  it("accepts valid repositories and rejects invalid ones with a reason", () => {
    for (const ok of ["dayuhub/car-detection", "redis", "a/b_c/d__e/f.g", "x-----y"])
      assert.equal(repositoryError(ok), undefined, ok);
    assert.match(repositoryError("Dayuhub/x") ?? "", /must be lowercase/);
    assert.match(repositoryError("a//b") ?? "", /invalid path component ""/);
    assert.match(repositoryError("a/-b") ?? "", /invalid path component "-b"/);
    assert.match(repositoryError("a/b_") ?? "", /invalid path component "b_"/);
  });

  it("limits tags to 128 characters not starting with . or -", () => {
    assert.equal(tagError("v1.3-jp4"), undefined);
    assert.equal(tagError("x".repeat(128)), undefined);
    assert.match(tagError("x".repeat(129)) ?? "", /longer than 128/);
    assert.match(tagError(".hidden") ?? "", /invalid/);
    assert.match(tagError("a/b") ?? "", /invalid/);
  });

  it("requires a real host for private names", () => {
    assert.equal(registryHostError("registry.dayu.test:5443"), undefined);
    assert.equal(registryHostError("localhost"), undefined);
    assert.equal(registryHostError("10.0.0.5:5000"), undefined);
    assert.match(registryHostError("dayuregistry") ?? "", /silently mean docker.io/);
    assert.match(registryHostError("bad host") ?? "", /not a host/);
  });

  it("parses references like Docker does", () => {
    assert.deepEqual(parseReference("redis"), {
      registry: "docker.io",
      repository: "library/redis",
      tag: undefined,
      digest: undefined,
    });
    const d = `sha256:${"0".repeat(64)}`;
    assert.deepEqual(parseReference(`reg.test:5000/dayuhub/x:v1@${d}`), {
      registry: "reg.test:5000",
      repository: "dayuhub/x",
      tag: "v1",
      digest: d,
    });
    assert.throws(() => parseReference("reg.test/x@sha256:abc"), /not of the form sha256/);
  });

  it("labels platforms by arch", () => {
    assert.equal(archOf("linux/amd64"), "amd64");
    assert.equal(archOf("linux/arm/v7"), "arm-v7");
  });
});

describe("args files", () => {
  it("parses KEY=VALUE lines, skipping blanks and comments, keeping '=' in values", () => {
    assert.deepEqual(parseArgsFile("A=1\n\n# c\nC=a=b\nD=\n", "f"), { A: "1", C: "a=b", D: "" });
  });

  it("refuses a bare KEY (it would read the host environment), naming file and line", () => {
    assert.throws(
      () => parseArgsFile("A=1\nHOME\n", "x-amd64-args"),
      /^Error: x-amd64-args:2: "HOME" has no "="/,
    );
  });

  it("refuses whitespace in names and duplicates", () => {
    assert.throws(
      () => parseArgsFile("MY KEY=1\n", "f"),
      /f:1: "MY KEY" is not a valid build-arg name/,
    );
    assert.throws(() => parseArgsFile("A=1\nA=2\n", "f"), /f:2: A is set twice/);
  });

  it("refuses bad UTF-8", () => {
    assert.throws(
      () => decodeUtf8(new Uint8Array([0x41, 0xff, 0x42]), "g-arm64-args"),
      /g-arm64-args: not valid UTF-8/,
    );
  });
});

describe("catalog schema", () => {
  it("names the image and the key of a schema error", () => {
    const yaml =
      "namespace: n\nimages:\n  - name: a\n    context: a\n    platforms: [linux/amd64]\n    tags: [t]\n    dockerfle: x\n";
    assert.throws(
      () => parseCatalog(yaml, "estate.yaml"),
      /estate\.yaml: the catalog does not match its schema \(1 problem\):\n {2}- images\[a\]: must NOT have additional properties \("dockerfle"\)/,
    );
  });

  it("rejects a bad platform string and invalid YAML", () => {
    const yaml =
      "namespace: n\nimages:\n  - name: a\n    context: a\n    platforms: [amd64]\n    tags: [t]\n";
    assert.throws(
      () => parseCatalog(yaml, "e.yaml"),
      /images\[a\]\.platforms\[0\]: must match pattern/,
    );
    assert.throws(() => parseCatalog("images: [", "e.yaml"), /e\.yaml: not valid YAML/);
  });

  it("takes a few hundred images sharing one anchor, and refuses an alias bomb naming the file", () => {
    const images = Array.from(
      { length: 300 },
      (_, i) =>
        `  - name: a${i}\n    context: a\n    platforms: ${i === 0 ? "&both [linux/amd64, linux/arm64]" : "*both"}\n    tags: [t]\n`,
    ).join("");
    const catalog = parseCatalog(`namespace: n\nimages:\n${images}`, "e.yaml");
    assert.equal(catalog.images.length, 300);
    assert.deepEqual(catalog.images[299].platforms, ["linux/amd64", "linux/arm64"]);
    // Each level repeats the one below ten times: 10^6 nodes from a dozen lines.
    const levels = Array.from(
      { length: 6 },
      (_, i) =>
        `l${i + 1}: &l${i + 1} [${Array(10)
          .fill(i === 0 ? "x" : `*l${i}`)
          .join(", ")}]`,
    );
    assert.throws(
      () => parseCatalog(`${levels.join("\n")}\nnamespace: n\nimages: []\n`, "bomb.yaml"),
      /bomb\.yaml: not valid YAML.*anchors and aliases expand to more than 100000 nodes/s,
    );
  });

  it("requires exactly one kind of base", () => {
    const yaml =
      "namespace: n\nimages:\n  - name: a\n    context: a\n    platforms: [linux/amd64]\n    tags: [t]\n    base: { image: b, mirror: c }\n";
    assert.throws(
      () => parseCatalog(yaml, "e.yaml"),
      /images\[a\]\.base: must NOT have more than 1 properties/,
    );
  });
});

describe("topological order", () => {
  it("keeps input order among independent nodes and puts dependencies first", () => {
    const deps: Record<string, string[]> = { a: ["c"], b: [], c: [] };
    assert.deepEqual(
      topologicalOrder<string>(["a", "b", "c"], (n) => deps[n]),
      ["c", "a", "b"],
    );
  });

  it("spells out a cycle", () => {
    const deps: Record<string, string[]> = { a: ["b"], b: ["c"], c: ["a"] };
    assert.throws(
      () => topologicalOrder<string>(["a", "b", "c"], (n) => deps[n]),
      (err: unknown) => {
        assert.ok(err instanceof CycleError);
        assert.deepEqual(err.cycle, ["a", "b", "c", "a"]);
        assert.equal(err.message, "dependency cycle: a → b → c → a");
        return true;
      },
    );
  });
});

describe("estate.schema.json", () => {
  it("is the schema the program validates with (regenerate it from estate/catalog.ts)", async () => {
    const fs = await import("fs");
    const path = await import("path");
    const { catalogSchema } = await import("../../estate/catalog");
    const committed = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, "../../estate.schema.json"), "utf8"),
    );
    assert.deepEqual(committed, JSON.parse(JSON.stringify(catalogSchema)));
  });
});

describe("README estate graph", () => {
  it("matches the plan of the dev stack (refresh it with npm run plan -- --write-graph)", async () => {
    const fs = await import("fs");
    const path = await import("path");
    const { planForStack, withGraph } = await import("../../scripts/plan");
    const { renderMermaid } = await import("../../estate/render");
    const readme = fs.readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
    assert.equal(readme, withGraph(readme, renderMermaid(planForStack("dev"))));
  });
});
