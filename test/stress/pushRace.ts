/**
 * A bounded stress test of concurrent pushes of shared layers into ONE repository: what BuildKit does
 * when an image's amd64 and arm64 builds (which share their COPY layers) and their registry cache
 * exports push into the same repository at once.
 *
 * Each round makes fresh random layers; every client then pushes them all at the same moment (HEAD,
 * and when absent a monolithic upload, so several uploads of one blob commit concurrently), its own
 * config blob, and a manifest referencing them under its own tag. Afterwards every manifest that was
 * accepted is read back and each of its layers is checked in the repository.
 *
 *   node -r ts-node/register/transpile-only test/stress/pushRace.ts --address 127.0.0.1:5901 \
 *     [--insecure] [--clients 8] [--rounds 12] [--layers 4] [--layer-kb 64] [--seconds 120]
 *
 * Credentials, when the registry needs them, come from REGISTRY_USERNAME / REGISTRY_PASSWORD. Prints
 * one JSON summary line; exit 1 when any push or read-back failed, 2 on a usage error. Bounded: at most
 * 16 clients, 50 rounds and 600 seconds, loopback addresses only.
 */
import { createHash, randomBytes } from "crypto";
import { MEDIA_TYPES, RegistryClient } from "../../lib/registry";

/** Stress parameters. */
export interface StressOptions {
  /** Registry host:port; must be loopback (127.0.0.1, localhost, or a name given with --allow-name). */
  address: string;
  /** Plain HTTP. Default false. */
  insecure: boolean;
  /** Concurrent pushers per round. Default 8, at most 16. */
  clients: number;
  /** Rounds, each with fresh layers. Default 12, at most 50. */
  rounds: number;
  /** Shared layers per round. Default 4. */
  layers: number;
  /** Size of each layer in KiB. Default 64. */
  layerKb: number;
  /** Wall-clock bound; the run stops after the round in progress. Default 120, at most 600. */
  seconds: number;
  /** The one repository every client pushes into. Default `stress/shared`. */
  repository: string;
}

export interface Failure {
  round: number;
  client: number;
  step: string;
  detail: string;
}

export interface StressResult {
  address: string;
  rounds: number;
  clients: number;
  manifestPushes: number;
  manifestsAccepted: number;
  blobUploads: number;
  failures: Failure[];
  seconds: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;

/** Parses the command line into bounded options; throws naming the offending flag. */
export function parseOptions(argv: string[], allowNames: string[] = []): StressOptions {
  const o: StressOptions = {
    address: "",
    insecure: false,
    clients: 8,
    rounds: 12,
    layers: 4,
    layerKb: 64,
    seconds: 120,
    repository: "stress/shared",
  };
  const num = (flag: string, v: string | undefined, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new Error(`${flag} must be an integer from 1 to ${max}, got "${v ?? ""}"`);
    return n;
  };
  // Numeric flags and their upper bounds (the test stays bounded whatever it is given).
  const numeric: Record<string, ["clients" | "rounds" | "layers" | "layerKb" | "seconds", number]> =
    {
      "--clients": ["clients", 16],
      "--rounds": ["rounds", 50],
      "--layers": ["layers", 16],
      "--layer-kb": ["layerKb", 4096],
      "--seconds": ["seconds", 600],
    };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--insecure") {
      o.insecure = true;
      continue;
    }
    const v = argv[++i];
    if (flag === "--address") o.address = v ?? "";
    else if (flag === "--repository") o.repository = v ?? "";
    else if (numeric[flag]) o[numeric[flag][0]] = num(flag, v, numeric[flag][1]);
    else throw new Error(`unknown flag "${flag}"`);
  }
  const host = o.address.replace(/:\d+$/, "");
  if (!LOOPBACK.test(o.address) && !allowNames.includes(host))
    throw new Error(`--address must be a loopback address (127.0.0.1:PORT), got "${o.address}"`);
  if (!/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(o.repository))
    throw new Error(`--repository "${o.repository}" is not a repository name`);
  return o;
}

interface Blob {
  digest: string;
  data: Buffer;
}

function blob(data: Buffer): Blob {
  return { digest: `sha256:${createHash("sha256").update(data).digest("hex")}`, data };
}

/** The registry's error code (`BLOB_UNKNOWN`, `DIGEST_INVALID`, ...) and message of a response body. */
export function errorCode(status: number, body: Buffer): string {
  try {
    const e = (JSON.parse(body.toString()) as { errors?: { code?: string; message?: string }[] })
      .errors?.[0];
    if (e?.code) return `${status} ${e.code}${e.message ? `: ${e.message}` : ""}`;
  } catch {
    // not JSON: fall through to the raw body
  }
  return `${status} ${body.toString().slice(0, 120)}`;
}

/** HEAD, then (when absent) POST + monolithic PUT. Throws with the registry's error code. */
async function pushBlob(client: RegistryClient, repo: string, b: Blob): Promise<boolean> {
  const head = await client.call("HEAD", `/v2/${repo}/blobs/${b.digest}`);
  if (head.status === 200) return false;
  const start = await client.call("POST", `/v2/${repo}/blobs/uploads/`, { "content-length": "0" });
  if (start.status !== 202) throw new Error(`upload start: ${errorCode(start.status, start.body)}`);
  const loc = new URL(String(start.headers.location), "http://registry.invalid");
  loc.searchParams.set("digest", b.digest);
  const put = await client.call(
    "PUT",
    `${loc.pathname}?${loc.searchParams}`,
    { "content-type": "application/octet-stream", "content-length": String(b.data.length) },
    b.data,
  );
  if (put.status !== 201) throw new Error(`upload commit: ${errorCode(put.status, put.body)}`);
  return true;
}

/** One client's push of a round: shared layers, its own config, a manifest under its own tag. */
async function pushImage(
  client: RegistryClient,
  o: StressOptions,
  round: number,
  id: number,
  layers: Blob[],
  result: StressResult,
): Promise<string | undefined> {
  const fail = (step: string, err: unknown) =>
    result.failures.push({ round, client: id, step, detail: (err as Error).message });
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: id % 2 ? "arm64" : "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
        config: { Labels: { "dev.dayu.stress": `round ${round} client ${id}` } },
      }),
    ),
  );
  try {
    const uploaded = await Promise.all(
      [...layers, config].map((b) => pushBlob(client, o.repository, b)),
    );
    result.blobUploads += uploaded.filter(Boolean).length;
  } catch (err) {
    fail("blob", err);
    return undefined;
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: config.digest,
        size: config.data.length,
      },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: l.digest,
        size: l.data.length,
      })),
    }),
  );
  const tag = `r${round}-c${id}`;
  result.manifestPushes++;
  try {
    await client.putManifest(o.repository, tag, manifest, MEDIA_TYPES.ociManifest);
    result.manifestsAccepted++;
    return tag;
  } catch (err) {
    fail("manifest PUT", err);
    return undefined;
  }
}

/** Runs the rounds; never throws for a registry failure (they are counted in `failures`). */
export async function stress(
  o: StressOptions,
  newClient: () => RegistryClient,
): Promise<StressResult> {
  const started = Date.now();
  const result: StressResult = {
    address: o.address,
    rounds: 0,
    clients: o.clients,
    manifestPushes: 0,
    manifestsAccepted: 0,
    blobUploads: 0,
    failures: [],
    seconds: 0,
  };
  for (let round = 0; round < o.rounds && Date.now() - started < o.seconds * 1000; round++) {
    const layers = Array.from({ length: o.layers }, () => blob(randomBytes(o.layerKb * 1024)));
    // A client per pusher, as separate BuildKit exporters have separate connections.
    const clients = Array.from({ length: o.clients }, newClient);
    const tags = await Promise.all(
      clients.map((c, id) => pushImage(c, o, round, id, layers, result)),
    );
    // Read-back: each accepted manifest and each of its layers must be there.
    const reader = newClient();
    for (const [id, tag] of tags.entries()) {
      if (!tag) continue;
      try {
        await reader.getManifest(o.repository, tag);
        for (const l of layers) {
          const head = await reader.call("HEAD", `/v2/${o.repository}/blobs/${l.digest}`);
          if (head.status !== 200) throw new Error(`layer ${l.digest}: HEAD ${head.status}`);
        }
      } catch (err) {
        result.failures.push({
          round,
          client: id,
          step: "read-back",
          detail: (err as Error).message,
        });
      }
    }
    result.rounds++;
  }
  result.seconds = Math.round((Date.now() - started) / 100) / 10;
  return result;
}

async function main(): Promise<number> {
  let o: StressOptions;
  try {
    o = parseOptions(process.argv.slice(2), (process.env.DAYU_STRESS_ALLOW_NAMES ?? "").split(","));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const result = await stress(
    o,
    () =>
      new RegistryClient({
        address: o.address,
        insecure: o.insecure,
        username: process.env.REGISTRY_USERNAME,
        password: process.env.REGISTRY_PASSWORD,
        timeoutMs: 60000,
      }),
  );
  const kinds: Record<string, number> = {};
  for (const f of result.failures) {
    // One bucket per step and registry error code (tags and digests differ in every message).
    const code = /"code":"([A-Z_]+)"/.exec(f.detail)?.[1];
    const kind = `${f.step}: ${code ?? f.detail.replace(/sha256:[0-9a-f]{64}|:r\d+-c\d+/g, "<x>").slice(0, 120)}`;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  process.stdout.write(
    `${JSON.stringify({ ...result, failures: result.failures.length, kinds })}\n`,
  );
  return result.failures.length ? 1 : 0;
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
