/**
 * The staging folder kept in step with the plan (estate/stage.ts): what is current stays untouched,
 * what changed is copied again, what the plan no longer reads goes. The pure parts without a disk;
 * stageContexts on a temporary project.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Plan } from "../../estate/planner";
import {
  EntryStat,
  STAGING_ROOT,
  isCurrent,
  stageContexts,
  stagedEntries,
} from "../../estate/stage";
import { plannedBuild } from "./helpers/fixtures";

const file = (size = 1, mtimeMs = 1000, mode = 0o644): EntryStat => ({
  kind: "file",
  size,
  mode,
  mtimeMs,
});
const dir: EntryStat = { kind: "dir", size: 0, mode: 0o755, mtimeMs: 0 };
const link: EntryStat = { kind: "symlink", size: 3, mode: 0o777, mtimeMs: 0 };

describe("staging, pure", () => {
  const disk: Record<string, EntryStat> = {
    "/r/app": dir,
    "/r/app/a.sh": file(),
    "/r/app/lib": dir,
    "/r/app/lib/x.py": file(),
    "/r/app/current": link,
    "/r/Dockerfile": file(),
    "/r/fifo": { ...file(), kind: "other" },
  };
  const stat = (p: string) => disk[p];
  const list = (d: string) =>
    Object.keys(disk)
      .filter((p) => path.dirname(p) === d)
      .map((p) => path.basename(p));

  it("lists a copied folder's tree, its parents, links as links, and skips an absent optional copy", () => {
    const got = stagedEntries(
      [
        { from: "/r/app", to: "s/b/context/app" },
        { from: "/r/.dockerignore", to: "s/b/context/.dockerignore", optional: true },
        { from: "/r/Dockerfile", to: "s/b/Dockerfile" },
      ],
      stat,
      list,
      "/elsewhere",
    );
    assert.deepEqual(Object.fromEntries(got), {
      s: { kind: "dir" },
      "s/b": { kind: "dir" },
      "s/b/context": { kind: "dir" },
      "s/b/context/app": { kind: "dir" },
      "s/b/context/app/a.sh": { kind: "file", from: "/r/app/a.sh", stat: disk["/r/app/a.sh"] },
      "s/b/context/app/current": {
        kind: "symlink",
        from: "/r/app/current",
        stat: disk["/r/app/current"],
      },
      "s/b/context/app/lib": { kind: "dir" },
      "s/b/context/app/lib/x.py": {
        kind: "file",
        from: "/r/app/lib/x.py",
        stat: disk["/r/app/lib/x.py"],
      },
      "s/b/Dockerfile": { kind: "file", from: "/r/Dockerfile", stat: disk["/r/Dockerfile"] },
    });
  });

  it("never copies the staging folder into itself (a context of the whole project)", () => {
    const got = stagedEntries([{ from: "/r/app", to: "s/ctx" }], stat, list, "/r/app/lib");
    assert.ok(!got.has("s/ctx/lib"));
    assert.ok(got.has("s/ctx/a.sh"));
  });

  it("names a required source that is missing, or one that is not a file, folder or link", () => {
    assert.throws(
      () => stagedEntries([{ from: "/r/nope", to: "s/x" }], stat, list, "/s"),
      /staging: \/r\/nope does not exist/,
    );
    assert.throws(
      () => stagedEntries([{ from: "/r/fifo", to: "s/x" }], stat, list, "/s"),
      /staging: \/r\/fifo is neither a file, a folder nor a symlink/,
    );
  });

  it("keeps a copy of the same kind, size, mode and time; a link by its target", () => {
    assert.equal(isCurrent(file(), file()), true);
    assert.equal(isCurrent(file(1, 1000.147), file(1, 1000.146999)), true, "utimes' rounding");
    assert.equal(isCurrent(file(1, 1000.9), file(1, 1002)), false);
    assert.equal(isCurrent(file(1), file(2)), false);
    assert.equal(isCurrent(file(1, 1000), file(1, 2000)), false);
    assert.equal(isCurrent(file(1, 1000, 0o755), file()), false);
    assert.equal(isCurrent(file(), undefined), false);
    assert.equal(isCurrent(file(), dir), false);
    assert.equal(
      isCurrent(link, link, () => "same"),
      true,
    );
    assert.equal(
      isCurrent(link, link, (p) => (p === "source" ? "a" : "b")),
      false,
    );
  });
});

describe("staging on disk", () => {
  let root: string;
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  const planOf = (...names: string[]): Plan =>
    ({
      registry: "r.test",
      mirrors: [],
      images: names.map((n) => ({
        name: n,
        repository: `r.test/${n}`,
        builds: [
          {
            ...plannedBuild(n, "amd64"),
            context: path.join(root, "src"),
            dockerfile: path.join(root, "src", `${n}.Dockerfile`),
            contextSources: ["app", "run.sh"],
          },
        ],
        indexes: [],
      })),
    }) as unknown as Plan;
  const staged = (rel: string) => path.join(root, STAGING_ROOT, rel);

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "stage-sync-"));
    write("src/app/main.py", "print(1)\n");
    write("src/app/lib/util.py", "x = 1\n");
    write("src/run.sh", "#!/bin/sh\n");
    fs.chmodSync(path.join(root, "src/run.sh"), 0o755);
    write("src/one.Dockerfile", "FROM scratch\n");
    write("src/two.Dockerfile", "FROM scratch\n");
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("stages each build's sources with their mode, and a second run rewrites nothing", () => {
    const plan = stageContexts(planOf("one"), root);
    const b = plan.images[0].builds[0];
    assert.equal(b.context, `${STAGING_ROOT}/one__amd64/context`);
    assert.equal(b.dockerfile, `${STAGING_ROOT}/one__amd64/Dockerfile`);
    const main = staged("one__amd64/context/app/main.py");
    assert.equal(fs.readFileSync(main, "utf8"), "print(1)\n");
    assert.equal(fs.statSync(staged("one__amd64/context/run.sh")).mode & 0o777, 0o755);
    const before = fs.statSync(main, { bigint: true });
    stageContexts(planOf("one"), root);
    const after = fs.statSync(main, { bigint: true });
    assert.equal(after.ino, before.ino);
    assert.equal(after.ctimeNs, before.ctimeNs, "a current copy is not written again");
  });

  it("keeps copies whose source times are not whole milliseconds (utimes rounds through a double)", () => {
    const names = Array.from({ length: 40 }, (_, i) => `app/t${i}.txt`);
    names.forEach((n, i) => {
      write(`src/${n}`, `${i}\n`);
      const t = 1795863662 + 0.033147 + i * 0.000731;
      fs.utimesSync(path.join(root, "src", n), t, t);
    });
    stageContexts(planOf("one"), root);
    const ctimes = () =>
      names.map((n) => fs.statSync(staged(`one__amd64/context/${n}`), { bigint: true }).ctimeNs);
    const before = ctimes();
    stageContexts(planOf("one"), root);
    assert.deepEqual(ctimes(), before);
  });

  it("copies a changed source again, also one of the same size", () => {
    stageContexts(planOf("one"), root);
    const src = path.join(root, "src/app/main.py");
    fs.writeFileSync(src, "print(2)\n");
    fs.utimesSync(src, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    stageContexts(planOf("one"), root);
    assert.equal(fs.readFileSync(staged("one__amd64/context/app/main.py"), "utf8"), "print(2)\n");
  });

  it("removes what the plan no longer reads: a removed source, a build gone, a stray file", () => {
    stageContexts(planOf("one", "two"), root);
    assert.ok(fs.existsSync(staged("two__amd64/Dockerfile")));
    fs.rmSync(path.join(root, "src/app/lib"), { recursive: true });
    fs.writeFileSync(staged("one__amd64/context/stray.txt"), "left by hand\n");
    stageContexts(planOf("one"), root);
    assert.ok(!fs.existsSync(staged("two__amd64")));
    assert.ok(!fs.existsSync(staged("one__amd64/context/app/lib")));
    assert.ok(!fs.existsSync(staged("one__amd64/context/stray.txt")));
    assert.ok(fs.existsSync(staged("one__amd64/context/app/main.py")));
  });

  it("replaces an entry whose kind changed: a file that became a folder, a link's new target", () => {
    fs.symlinkSync("main.py", path.join(root, "src/app/current"));
    stageContexts(planOf("one"), root);
    assert.equal(fs.readlinkSync(staged("one__amd64/context/app/current")), "main.py");
    fs.rmSync(path.join(root, "src/run.sh"));
    write("src/run.sh/inner", "now a folder\n");
    fs.rmSync(path.join(root, "src/app/current"));
    fs.symlinkSync("lib", path.join(root, "src/app/current"));
    stageContexts(planOf("one"), root);
    assert.equal(
      fs.readFileSync(staged("one__amd64/context/run.sh/inner"), "utf8"),
      "now a folder\n",
    );
    assert.equal(fs.readlinkSync(staged("one__amd64/context/app/current")), "lib");
  });
});
