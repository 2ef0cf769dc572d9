/**
 * FileSource kinds on the real file system, in a temp dir: a FIFO, a directory, dangling and looping
 * symlinks where a file is expected are told apart without opening them (a FIFO read would hang),
 * and the planner names the image and the file for each, for catalogs, contexts, Dockerfiles, chain
 * folders and args files.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Catalog } from "../../estate/catalog";
import { FileKind, diskFiles, kindError, memoryFiles } from "../../estate/files";
import { PlanError, planEstate, planForSettings } from "../../estate/planner";
import { EstateSettings } from "../../estate/settings";

const DF = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";
const PINNED = `docker.io/library/debian@sha256:${"b".repeat(64)}`;
const BUILDERS = [
  { name: "amd", platform: "linux/amd64" },
  { name: "arm", platform: "linux/arm64" },
];

/** A temp dir with one of each kind; removed after the suite. */
function scratch(): { dir: string; at: (p: string) => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-files-"));
  const at = (p: string) => path.join(dir, p);
  fs.writeFileSync(at("file"), "x");
  fs.mkdirSync(at("dir"));
  execFileSync("mkfifo", [at("fifo")]);
  fs.symlinkSync(at("nowhere"), at("dangling"));
  fs.symlinkSync(at("loop-b"), at("loop-a"));
  fs.symlinkSync(at("loop-a"), at("loop-b"));
  fs.symlinkSync(at("file"), at("link-to-file"));
  fs.symlinkSync(at("dir"), at("link-to-dir"));
  return { dir, at };
}

/** Every planner error's problems, or fails when the plan is accepted. */
function refusal(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof PlanError, String(err));
    return err.problems;
  }
  assert.fail("the plan was accepted");
}

describe("FileSource.kind on the real file system", () => {
  let s: ReturnType<typeof scratch>;
  before(() => (s = scratch()));
  after(() => fs.rmSync(s.dir, { recursive: true, force: true }));

  it("tells every kind apart through lstat, following good symlinks", () => {
    const kinds: Record<string, FileKind> = {
      file: "file",
      dir: "directory",
      fifo: "fifo",
      dangling: "dangling-symlink",
      "loop-a": "symlink-loop",
      "link-to-file": "file",
      "link-to-dir": "directory",
      absent: "missing",
      "file/below": "missing",
    };
    for (const [p, kind] of Object.entries(kinds)) assert.equal(diskFiles.kind(s.at(p)), kind, p);
    assert.equal(diskFiles.isFile(s.at("fifo")), false);
    assert.equal(diskFiles.isDirectory(s.at("link-to-dir")), true);
  });

  it("never opens a FIFO: read refuses it at once, naming the path and its kind", () => {
    const started = Date.now();
    assert.throws(
      () => diskFiles.read(s.at("fifo")),
      new RegExp(`^Error: ${s.at("fifo")} is a FIFO \\(named pipe\\), not a regular file$`),
    );
    assert.throws(() => diskFiles.read(s.at("loop-a")), /is a symlink loop, not a regular file/);
    assert.ok(Date.now() - started < 1000);
  });

  it("kindError says what the path is and what was expected", () => {
    assert.equal(kindError(diskFiles, s.at("file"), "file", "Dockerfile"), undefined);
    assert.equal(
      kindError(diskFiles, s.at("dir"), "file", "Dockerfile"),
      `Dockerfile ${s.at("dir")} is a directory, not a regular file`,
    );
    assert.equal(
      kindError(diskFiles, s.at("dangling"), "directory", "context"),
      `context ${s.at("dangling")} is a symlink to nothing (dangling), not a directory`,
    );
    assert.equal(
      kindError(diskFiles, s.at("absent"), "file", "catalog"),
      `catalog ${s.at("absent")} does not exist`,
    );
  });

  it("memoryFiles fakes the other kinds and lists them in their folder", () => {
    const m = memoryFiles({ "/a/f": "x" }, { "/a/p": "fifo", "/a/l": "symlink-loop" });
    assert.deepEqual(
      ["/a/f", "/a/p", "/a/l", "/a", "/b"].map((p) => m.kind(p)),
      ["file", "fifo", "symlink-loop", "directory", "missing"],
    );
    assert.deepEqual(m.list("/a").sort(), ["f", "l", "p"]);
    assert.throws(() => m.read("/a/p"), /\/a\/p is a FIFO \(named pipe\), not a regular file/);
  });
});

describe("planner: files of the wrong kind, for real", () => {
  let s: ReturnType<typeof scratch>;
  before(() => (s = scratch()));
  after(() => fs.rmSync(s.dir, { recursive: true, force: true }));

  /** An image `a` whose context is `context` (relative to the scratch dir). */
  const plan = (context: string, extra: Partial<Catalog["images"][0]> = {}) => {
    const catalog: Catalog = {
      namespace: "ns",
      images: [
        {
          name: "a",
          context,
          platforms: ["linux/amd64", "linux/arm64"],
          tags: ["t"],
          base: { external: PINNED },
          ...extra,
        },
      ],
    };
    return () =>
      planEstate(catalog, {
        catalogDir: s.dir,
        registry: "reg.test",
        release: "",
        builders: BUILDERS,
        files: diskFiles,
      });
  };

  it("refuses a context that is a FIFO, a file, a dangling symlink or a loop", () => {
    for (const [p, what] of [
      ["fifo", "a FIFO (named pipe)"],
      ["file", "a regular file"],
      ["dangling", "a symlink to nothing (dangling)"],
      ["loop-a", "a symlink loop"],
    ]) {
      assert.deepEqual(refusal(plan(p)), [
        `image "a" context: context ${s.at(p)} is ${what}, not a directory`,
      ]);
    }
  });

  it("refuses a Dockerfile that is a FIFO (without hanging), a directory or a dangling symlink", () => {
    const ctx = s.at("ctx");
    fs.mkdirSync(ctx);
    execFileSync("mkfifo", [path.join(ctx, "Dockerfile.fifo")]);
    fs.mkdirSync(path.join(ctx, "Dockerfile.dir"));
    fs.symlinkSync(path.join(ctx, "gone"), path.join(ctx, "Dockerfile.link"));
    for (const [name, what] of [
      ["Dockerfile.fifo", "a FIFO (named pipe)"],
      ["Dockerfile.dir", "a directory"],
      ["Dockerfile.link", "a symlink to nothing (dangling)"],
    ]) {
      assert.deepEqual(refusal(plan("ctx", { dockerfile: name })), [
        `image "a": Dockerfile ${path.join(ctx, name)} is ${what}, not a regular file`,
      ]);
    }
  });

  it("refuses a chain folder that is a file, and chain and args files of the wrong kind", () => {
    const ctx = s.at("atom");
    const chain = path.join(ctx, "stock");
    fs.mkdirSync(chain, { recursive: true });
    fs.writeFileSync(path.join(ctx, "notchain"), "x");
    assert.deepEqual(refusal(plan("atom", { chain: "notchain" })), [
      `image "a": chain folder ${path.join(ctx, "notchain")} is a regular file, not a directory`,
    ]);
    fs.writeFileSync(path.join(chain, "1-Dockerfile-base"), DF);
    fs.mkdirSync(path.join(chain, "2-Dockerfile-app"));
    execFileSync("mkfifo", [path.join(chain, "base-arm64-args")]);
    fs.symlinkSync(path.join(chain, "nothing"), path.join(chain, "base-amd64-args"));
    const got = refusal(plan("atom", { chain: "stock" }));
    for (const want of [
      `image "a": chain file ${path.join(chain, "2-Dockerfile-app")} is a directory, not a regular file`,
      `image "a": args file ${path.join(chain, "base-arm64-args")} is a FIFO (named pipe), not a regular file`,
      `image "a": args file ${path.join(chain, "base-amd64-args")} is a symlink to nothing (dangling), not a regular file`,
    ])
      assert.ok(got.includes(want), `${want}\nnot in\n${got.join("\n")}`);
  });

  it("refuses a catalog that is a FIFO or a directory, naming the config key", () => {
    const settings = (catalog: string) =>
      ({
        catalog,
        registry: { address: "reg.test" },
        release: "",
        builders: BUILDERS,
      }) as unknown as EstateSettings;
    assert.deepEqual(
      refusal(() => planForSettings(settings("fifo"), s.dir, diskFiles)),
      [`config catalog: catalog ${s.at("fifo")} is a FIFO (named pipe), not a regular file`],
    );
    assert.deepEqual(
      refusal(() => planForSettings(settings("dir"), s.dir, diskFiles)),
      [`config catalog: catalog ${s.at("dir")} is a directory, not a regular file`],
    );
  });
});
