import * as pulumi from "@pulumi/pulumi";
import { moduleProvider } from "./moduleProvider";
import { AdoptionDecision, ServedIndex, adoptionDecision } from "../estate/promote";
import {
  RegistryClient,
  RegistryError,
  isAttestation,
  isIndex,
  platformString,
  splitRef,
} from "../lib/registry";
import { RegistryCredentials, clientFor } from "./credentials";

/**
 * A source pinned by a real digest (what an update passes), as opposed to a preview's stand-in for a
 * build that has not run yet (the all-zero digest, see archImage).
 */
const PINNED = /@sha256:(?!0{64}$)[a-f0-9]{64}$/;

interface LockInputs {
  tag: string;
  sources: string[];
  /**
   * The adoption check's inputs (absent: no check). Only create() reads them: it is where "the
   * first up for this tag" is known.
   */
  registry?: RegistryCredentials;
  caCert?: string;
  adopt?: boolean;
  /** The stack's `replaceExisting` lists this tag. */
  replace?: boolean;
  /** The index digest the program publishes, when known before the push (a promotion). */
  wantDigest?: string;
}

/** What create() found: set only when the registry held other content under the tag. */
interface LockState extends LockInputs {
  /** `adopt`: the digest kept; the Index re-publishes it by digest instead of the program's sources. */
  adoptedDigest?: string;
  /** `replaceExisting`: the digest the tag was moved away from. */
  replacedDigest?: string;
}

/** What the registry serves under `tag` (index digest, children by platform), or undefined. */
async function served(client: RegistryClient, tag: string): Promise<ServedIndex | undefined> {
  const { repository, reference } = splitRef(tag);
  try {
    const m = await client.getManifest(repository, reference);
    const children: Record<string, string> = {};
    if (isIndex(m.mediaType)) {
      for (const d of m.json.manifests ?? []) {
        if (!isAttestation(d) && d.platform) children[platformString(d.platform)] = d.digest;
      }
    }
    return { digest: m.digest, children };
  } catch (err) {
    if (err instanceof RegistryError && err.status === 404) return undefined;
    throw err;
  }
}

/**
 * The adoption decision for a lock being created, reading the registry: what the tag holds now and,
 * unless the wanted index digest is known, the children the program's per-arch sources would give.
 */
export async function adoptionAtCreate(
  inputs: LockInputs,
  client: RegistryClient,
): Promise<AdoptionDecision> {
  const existing = await served(client, inputs.tag);
  const children: Record<string, string> = {};
  if (existing && !inputs.wantDigest) {
    for (const s of inputs.sources) {
      const { repository, reference } = splitRef(s);
      for (const [p, d] of await client.platforms(repository, reference)) children[p] = d;
    }
  }
  return adoptionDecision({
    tag: inputs.tag,
    existing,
    wanted: { digest: inputs.wantDigest || undefined, children },
    adopt: inputs.adopt ?? false,
    replace: inputs.replace ?? false,
  });
}

/** Why moving `tag` from `olds` to `news` is refused, or undefined when it is allowed. */
export function releaseMoveError(tag: string, olds: string[], news: string[]): string | undefined {
  if (JSON.stringify(olds) === JSON.stringify(news)) return undefined;
  return (
    `release tag ${tag} is immutable on this stack: it was published from ${olds.join(", ")} and would now ` +
    `point at ${news.join(", ")}. Publish a new release (config release) instead, or set protectReleases: false ` +
    `on a stack where release tags may move.`
  );
}

/**
 * create() with the adoption check, through `client`: refuses other content under the tag (throws the
 * decision's message), or records what `adopt` kept or `replaceExisting` moved.
 */
export async function createLock(
  inputs: LockInputs,
  client: RegistryClient,
): Promise<{ id: string; outs: LockState }> {
  const decision = await adoptionAtCreate(inputs, client);
  switch (decision.action) {
    case "refuse":
      throw new Error(decision.message);
    case "record":
      return { id: inputs.tag, outs: { ...inputs, adoptedDigest: decision.digest } };
    case "replace":
      return { id: inputs.tag, outs: { ...inputs, replacedDigest: decision.digest } };
    default:
      return { id: inputs.tag, outs: inputs };
  }
}

/**
 * The dynamic provider. It only records the sources a release tag was published from; any later
 * change of them is refused: at preview time when both lists are pinned by digest, otherwise (a
 * pending build's digest is not known yet) at update time, before the Index that depends on the lock
 * can move the tag. Re-running with the same digests is an idempotent no-op.
 */
export const releaseLockProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<LockInputs>, news: LockInputs) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const known = (s?: string[]) =>
      Array.isArray(s) && s.length > 0 && s.every((x) => PINNED.test(x));
    if (olds.sources && known(olds.sources) && known(news.sources)) {
      const err = releaseMoveError(news.tag, olds.sources, news.sources);
      if (err) failures.push({ property: "sources", reason: err });
    }
    return { inputs: news, failures };
  },

  async create(inputs: LockInputs) {
    if (!inputs.registry) return { id: inputs.tag, outs: inputs };
    return createLock(inputs, clientFor(inputs.registry, inputs.caCert));
  },

  async diff(_id: string, olds: LockInputs, news: LockInputs) {
    return {
      changes:
        JSON.stringify(olds.sources) !== JSON.stringify(news.sources) || olds.tag !== news.tag,
      replaces: olds.tag !== news.tag ? ["tag"] : [],
    };
  },

  async update(_id: string, olds: LockState, news: LockInputs) {
    const err = releaseMoveError(news.tag, olds.sources, news.sources);
    if (err) throw new Error(err);
    // What create() found stays recorded for the life of the lock.
    const { adoptedDigest, replacedDigest } = olds;
    return {
      outs: {
        ...news,
        ...(adoptedDigest ? { adoptedDigest } : {}),
        ...(replacedDigest ? { replacedDigest } : {}),
      },
    };
  },
};

/**
 * What Pulumi stores in each lock's state: a stub of a few hundred bytes that loads
 * `releaseLockProvider` from this module (components/moduleProvider.ts). Made on first use, when this
 * module has finished loading.
 */
let stored: pulumi.dynamic.ResourceProvider | undefined;

/** Arguments of {@link ReleaseLock}. */
export interface ReleaseLockArgs {
  /** The release tag, `registry/repository:tag`. */
  tag: pulumi.Input<string>;
  /** The per-arch sources its index is made from (a promotion: the target's copy by digest). */
  sources: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Check, on the first up for this tag, what the registry already holds under it (see
   * `adoptionDecision` in estate/promote.ts). Default: no check.
   */
  adoption?: LockAdoption;
}

/** {@link ReleaseLockArgs.adoption}. */
export interface LockAdoption {
  /** Credentials of the registry holding the tag (secret). */
  registry: pulumi.Input<RegistryCredentials>;
  /** PEM CA of the registry, when not in the system store. */
  caCert?: pulumi.Input<string | undefined>;
  /** The stack's `adopt`: keep other content found under the tag. Default false. */
  adopt?: boolean;
  /** The stack's `replaceExisting` lists this tag: move it. Default false. */
  replace?: boolean;
  /** The index digest the program publishes, when known (a promotion). Default: compare children. */
  digest?: pulumi.Input<string>;
}

/**
 * Keeps a published release tag immutable: the tag's Index depends on this lock, which refuses any
 * change of the index's sources once the release was published.
 */
export class ReleaseLock extends pulumi.dynamic.Resource {
  /** With `adopt`: the digest the tag held before the first up, kept (else undefined). */
  declare public readonly adoptedDigest: pulumi.Output<string | undefined>;

  constructor(name: string, args: ReleaseLockArgs, opts?: pulumi.CustomResourceOptions) {
    const a = args.adoption;
    // Locks without the check keep exactly their former inputs, so existing stacks see no diff.
    const adoption = a && {
      registry: pulumi.secret(a.registry),
      caCert: a.caCert ?? "",
      adopt: a.adopt ?? false,
      replace: a.replace ?? false,
      wantDigest: a.digest ?? "",
    };
    super(
      (stored ??= moduleProvider(__filename, "releaseLockProvider")),
      `${name}-release-lock`,
      { tag: args.tag, sources: args.sources, ...adoption, adoptedDigest: undefined },
      adoption ? { ...opts, additionalSecretOutputs: ["registry"] } : opts,
    );
  }
}
