/**
 * The fault-injecting proxy of the runtime-fault tests, against the fake registry: it forwards
 * untouched, fails exactly what its plan says, and the program's own registry calls (the client and
 * the pre-flight) retry through intermittent faults and then fail naming the registry.
 */
import { strict as assert } from "assert";
import { stackKey } from "../../estate/problems";
import { PreflightError, checkRegistry } from "../../lib/preflight";
import { RegistryClient } from "../../lib/registry";
import { FaultProxy } from "../e2e/faultProxy";
import { FakeRegistry } from "./helpers/fakeRegistry";

describe("fault-injecting proxy", () => {
  let reg: FakeRegistry;
  let proxy: FaultProxy;
  let address: string;
  let digest: string;
  const client = (retries = 3) =>
    new RegistryClient({
      address,
      insecure: true,
      username: "u",
      password: "p",
      retries,
      retryBaseMs: 1,
      timeoutMs: 2000,
    });

  before(async () => {
    reg = new FakeRegistry();
    const [, port] = (await reg.start()).split(":");
    digest = reg.addImage("ns/app", "linux", "amd64", "v1");
    proxy = new FaultProxy({ host: "127.0.0.1", port: Number(port) });
    address = `127.0.0.1:${await proxy.start()}`;
  });
  after(async () => {
    await proxy.stop();
    await reg.stop();
  });

  it("forwards requests untouched when no fault is planned", async () => {
    proxy.set({ mode: "none" });
    assert.equal(await client(0).resolve("ns/app", "v1"), digest);
    assert.equal(proxy.injected, 0);
  });

  it("intermittent 503s and resets: the client retries with backoff and succeeds", async () => {
    proxy.set({ mode: "status", status: 503, count: 2 });
    assert.equal(await client().resolve("ns/app", "v1"), digest);
    assert.equal(proxy.injected, 2, "two answers were 503s");
    proxy.set({ mode: "reset", every: 2 });
    for (let i = 0; i < 3; i++) assert.equal(await client().resolve("ns/app", "v1"), digest);
    assert.ok(proxy.injected >= 2, `resets injected: ${proxy.injected}`);
  });

  it("a registry answering 5xx for good: the calls give up naming the registry", async () => {
    proxy.set({ mode: "status", status: 502 });
    await assert.rejects(client(2).resolve("ns/app", "v1"), (err: Error) => {
      assert.match(err.message, new RegExp(`${address.replace(/\./g, "\\.")}/ns/app:v1: HTTP 502`));
      return true;
    });
    assert.equal(proxy.injected, 3, "one call and two retries");
  });

  it("the retries of one call back off: each wait at least the last one's double, less jitter", async () => {
    proxy.set({ mode: "status", status: 503 });
    const slow = new RegistryClient({ address, insecure: true, retries: 3, retryBaseMs: 50 });
    await assert.rejects(slow.resolve("ns/app", "v1"), /HTTP 503/);
    const at = proxy.injectedAt;
    assert.equal(at.length, 4, "one call and three retries");
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // backoffMs: 50, 100, 200 ms, each less up to 20% jitter.
    gaps.forEach((g, i) =>
      assert.ok(g >= 40 * 2 ** i, `wait ${i} was ${g} ms: ${gaps.join(", ")}`),
    );
    proxy.set({ mode: "none" });
  });

  it("connections reset for good: the error names the registry and the attempts", async () => {
    proxy.set({ mode: "reset" });
    await assert.rejects(client(2).resolve("ns/app", "v1"), (err: Error) => {
      assert.match(err.message, new RegExp(`^registry ${address.replace(/\./g, "\\.")}: GET `));
      assert.match(err.message, /gave up after 3 attempts/);
      return true;
    });
  });

  it("the pre-flight fails on a registry answering 503, naming registry.address", async () => {
    proxy.set({ mode: "status", status: 503 });
    await assert.rejects(
      checkRegistry(
        { address, insecure: true, username: "u", password: "p", retries: 1, retryBaseMs: 1 },
        stackKey("dayu-estate", "faults"),
      ),
      (err: Error) => {
        assert.ok(err instanceof PreflightError, String(err));
        assert.match(
          err.message,
          new RegExp(
            `dayu-estate:registry\\.address in Pulumi\\.faults\\.yaml: registry ${address.replace(/\./g, "\\.")} answered 503`,
          ),
        );
        return true;
      },
    );
    proxy.set({ mode: "none" });
  });

  it("fails only the requests its plan matches", async () => {
    proxy.set({ mode: "status", status: 500, match: /^PUT / });
    assert.equal(await client(0).resolve("ns/app", "v1"), digest);
    await assert.rejects(
      client(0).putManifest("ns/app", "v2", Buffer.from("{}"), "application/json"),
      /HTTP 500/,
    );
    assert.equal(proxy.injected, 1);
    // The program's own client sends no User-Agent; a plan for it leaves BuildKit's requests alone.
    proxy.set({ mode: "status", status: 503, userAgent: /^buildkit/ });
    assert.equal(await client(0).resolve("ns/app", "v1"), digest);
    proxy.set({ mode: "status", status: 503, userAgent: /^$/ });
    await assert.rejects(client(0).resolve("ns/app", "v1"), /HTTP 503/);
    proxy.set({ mode: "none" });
    // It counts who went through it: here only the program's client, which sends no User-Agent.
    assert.deepEqual([...proxy.agents.keys()], [""]);
    assert.equal(proxy.agents.get(""), proxy.requests);
  });
});
