/**
 * The garbage collection run of `npm run prune -- --gc`: it reads the registry's config, refuses while
 * that registry listens and is not read-only, runs the collector with the right arguments, and
 * reports what it removed and the bytes freed. The collector is a stand-in that deletes a blob file.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import {
  GcRefusedError,
  directoryBytes,
  formatGcReport,
  garbageCollect,
  readGcConfig,
} from "../../lib/registryGc";
import { parseArgs, runPrune } from "../../scripts/prune";

describe("registry garbage collection (npm run prune -- --gc)", () => {
  let dir: string;
  let server: net.Server | undefined;
  let port = 0;
  const config = (addr: string, readOnly = false) => {
    const file = path.join(dir, "config.yml");
    fs.writeFileSync(
      file,
      [
        "version: 0.1",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${path.join(dir, "data")}`,
        ...(readOnly ? ["  maintenance:", "    readonly:", "      enabled: true"] : []),
        "http:",
        `  addr: ${addr}`,
      ].join("\n"),
    );
    return file;
  };
  /** A collector that removes one 1000-byte blob and says so, as distribution prints it. */
  const calls: string[][] = [];
  const collector = async (_bin: string, args: string[]) => {
    calls.push(args);
    fs.rmSync(path.join(dir, "data/blobs/old"), { force: true });
    return "e2e/x\nblob eligible for deletion: sha256:aa\nmanifest eligible for deletion: sha256:bb\n";
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-gc-"));
    fs.mkdirSync(path.join(dir, "data/blobs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "data/blobs/old"), Buffer.alloc(1000));
    fs.writeFileSync(path.join(dir, "data/blobs/kept"), Buffer.alloc(300));
    calls.length = 0;
    server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads the address, read-only mode and storage folder from the registry's config", () => {
    const c = readGcConfig(config(`127.0.0.1:${port}`, true));
    assert.equal(c.addr, `127.0.0.1:${port}`);
    assert.equal(c.readOnly, true);
    assert.equal(c.rootDirectory, path.join(dir, "data"));
    assert.throws(() => readGcConfig(path.join(dir, "nope.yml")), GcRefusedError);
  });

  it("refuses while the registry listens and takes pushes; runs nothing", async () => {
    await assert.rejects(
      garbageCollect(readGcConfig(config(`127.0.0.1:${port}`)), {
        bin: "registry",
        run: collector,
      }),
      (err: Error) =>
        err instanceof GcRefusedError &&
        /is running at 127\.0\.0\.1:\d+ and not read-only; stop it/.test(err.message),
    );
    assert.deepEqual(calls, []);
    assert.ok(fs.existsSync(path.join(dir, "data/blobs/old")));
  });

  it("runs on a read-only registry, and on a stopped one; reports what went and the bytes freed", async () => {
    const ro = await garbageCollect(readGcConfig(config(`127.0.0.1:${port}`, true)), {
      bin: "registry",
      run: collector,
    });
    assert.deepEqual(ro, { removed: 2, bytesBefore: 1300, bytesAfter: 300 });
    assert.equal(
      formatGcReport(ro),
      "garbage-collect --delete-untagged: 2 blob(s) and manifest(s) removed; storage 1300 → 300 bytes (1000 reclaimed)",
    );
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    const file = config(`127.0.0.1:${port}`);
    const stopped = await garbageCollect(readGcConfig(file), {
      bin: "registry",
      run: collector,
      deleteUntagged: false,
    });
    assert.equal(stopped.removed, 2);
    assert.deepEqual(calls, [
      ["garbage-collect", "--delete-untagged", path.join(dir, "config.yml")],
      ["garbage-collect", file],
    ]);
    assert.equal(directoryBytes(path.join(dir, "data")), 300);
  });

  it("npm run prune -- --gc runs only the collection (no stack file, no registry read)", async () => {
    const args = parseArgs(["--gc", config(`127.0.0.1:${port}`)]);
    assert.equal(args.keepUntagged, false);
    await assert.rejects(runPrune({ ...args, stack: "no-such-stack" }), GcRefusedError);
    assert.equal(parseArgs(["--gc", "x.yml", "--keep-untagged"]).keepUntagged, true);
  });
});
