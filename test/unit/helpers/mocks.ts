/**
 * Pulumi mocks that record every registration and fabricate realistic computed outputs: a pushed
 * docker-build Image gets a digest and `tag@digest` ref; an Index gets `tag@digest`, and the IndexGuard
 * behind it reads the same digest back. Digests are
 * derived from the inputs, so identical inputs give identical digests, as in a registry.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

export interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** The state the mock returned: inputs plus fabricated outputs. */
  state: Record<string, unknown>;
  /** Reference (`urn::id`) of the explicit provider the resource was registered with, if any. */
  provider?: string;
}

export const registrations: Registration[] = [];

/** An invoke the program made. */
export interface CallRecord {
  token: string;
  inputs: Record<string, unknown>;
  /** Reference of the provider the invoke went to (inherited from its parent), if explicit. */
  provider?: string;
}

export const calls: CallRecord[] = [];

/** The fake password the ECR authorization token mock returns. */
export const ECR_TEST_PASSWORD = "ecr-token-password-for-tests";

export function digestOf(value: unknown): string {
  return `sha256:${createHash("sha256").update(JSON.stringify(value)).digest("hex")}`;
}

/** Installs the mocks. Call (and await) before importing code under test. */
export async function installMocks(project = "dayu-estate", stack = "dev"): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): {
        id: string;
        state: Record<string, unknown>;
      } {
        const inputs = args.inputs as Record<string, unknown>;
        const state: Record<string, unknown> = { ...inputs };
        registrations.push({
          type: args.type,
          name: args.name,
          inputs,
          state,
          provider: args.provider ? args.provider : undefined,
        });
        if (args.type === "docker-build:index:Image") {
          const digest = digestOf({ ...inputs, registries: undefined });
          state.digest = digest;
          const tag = ((inputs.tags as string[] | undefined) ?? [])[0];
          state.ref = tag ? `${tag}@${digest}` : "";
          state.contextHash = digestOf(inputs.context);
          return { id: `${args.name}-id`, state };
        }
        if (args.type === "docker-build:index:Index") {
          state.ref = `${String(inputs.tag)}@${digestOf(inputs.sources)}`;
          return { id: `${args.name}-id`, state };
        }
        // An IndexGuard reads back what each of its Indexes pushed: the digest the Index mock gave
        // the same sources, or the promoted digest it was told to expect.
        if (args.type === "pulumi-nodejs:dynamic:Resource" && "indexes" in inputs) {
          const indexes = inputs.indexes as Record<string, { sources?: unknown; digest?: unknown }>;
          const published = Object.fromEntries(
            Object.entries(indexes).map(([id, i]) => [
              id,
              typeof i.digest === "string" && i.digest ? i.digest : digestOf(i.sources),
            ]),
          );
          state.publishedDigests = published;
          state.liveDigests = published;
          return { id: `${args.name}-id`, state };
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        const inputs = args.inputs as Record<string, unknown>;
        calls.push({
          token: args.token,
          inputs,
          provider: args.provider ? args.provider : undefined,
        });
        // ECR mode: a token shaped like AWS's (user AWS, 12-hour expiry).
        if (args.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken") {
          const registryId = String(inputs.registryId ?? "123456789012");
          return {
            authorizationToken: Buffer.from(`AWS:${ECR_TEST_PASSWORD}`).toString("base64"),
            expiresAt: "2030-01-01T12:00:00Z",
            id: registryId,
            password: ECR_TEST_PASSWORD,
            proxyEndpoint: `https://${registryId}.dkr.ecr.eu-central-1.amazonaws.com`,
            region: "eu-central-1",
            registryId,
            userName: "AWS",
          };
        }
        throw new Error(`unexpected call ${args.token} in a test (add it to the mocks on purpose)`);
      },
    },
    project,
    stack,
    false,
  );
}

/** Resolves an Output in tests. */
export function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply(resolve));
}

/** Waits until every registration currently queued has reached the mock monitor. */
export async function settle(...resources: pulumi.Resource[]): Promise<void> {
  await Promise.all(resources.map((r) => promiseOf(r.urn)));
  await new Promise((r) => setTimeout(r, 50));
}

export function ofType(type: string): Registration[] {
  return registrations.filter((r) => r.type === type);
}

/**
 * The parent's type and the resource's own type, read from its URN
 * (`...::parentType$childType::name`): how tests check parentage.
 */
export async function typeChain(r: pulumi.Resource): Promise<string[]> {
  const urn = await promiseOf(r.urn);
  return urn.split("::")[2].split("$");
}

/** Pulumi's wire signature of a secret value, as mocks receive secret inputs. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** True when a recorded input value arrived as a secret. */
export function isSecretInput(v: unknown): boolean {
  return (
    typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
  );
}

/** A recorded input with every secret wrapper removed. */
export function plain<T = unknown>(v: unknown): T {
  if (isSecretInput(v)) return plain((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map((x) => plain(x)) as T;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) as T;
  }
  return v as T;
}

export function reset(): void {
  registrations.length = 0;
  calls.length = 0;
}

const SIG = pulumi.runtime.specialSigKey;

/** True when the mock received `v` as a secret: the engine wraps secret inputs in an envelope. */
export function isSecretValue(v: unknown): boolean {
  return (
    typeof v === "object" &&
    v !== null &&
    (v as Record<string, unknown>)[SIG] === pulumi.runtime.specialSecretSig
  );
}

/** `v` with every secret envelope removed, for asserting on the plain shape. */
export function unsecret<T = unknown>(v: unknown): T {
  if (isSecretValue(v)) return unsecret<T>((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map((x) => unsecret(x)) as T;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsecret(x)])) as T;
  }
  return v as T;
}

/** Registrations of `type` whose name starts with `prefix`. */
export function ofName(prefix: string, type: string): Registration[] {
  return registrations.filter((r) => r.type === type && r.name.startsWith(prefix));
}

/** The one registration of `type` under `prefix`; fails when there are none or several. */
export function one(prefix: string, type: string): Registration {
  const found = ofName(prefix, type);
  if (found.length !== 1)
    throw new Error(`${type} registered ${found.length} times under ${prefix}`);
  return found[0];
}

/** The provider reference (`urn::id`) a resource registered with that provider carries. */
export async function providerRef(p: pulumi.ProviderResource): Promise<string> {
  return `${await promiseOf(p.urn)}::${await promiseOf(p.id)}`;
}
