/**
 * The estate catalog: one declarative YAML file (`estate.yaml`) that lists every image, mirror and
 * variant. This module defines its shape, validates it against a JSON Schema (ajv) and returns typed
 * data. It reads no files itself: the caller passes the text.
 */
import Ajv, { ErrorObject } from "ajv";
import { Document, LineCounter, parseDocument } from "yaml";
import { normalizePlatform } from "./platform";
import { EstateInputError, Problems } from "./problems";

/** Where a build's base image comes from. Exactly one key is set. */
export interface BaseSpec {
  /** Another image of the estate, by catalog name: passed by digest of the same platform's build. */
  image?: string;
  /** A mirrored third-party image, by mirror name: passed by digest of the mirrored copy. */
  mirror?: string;
  /** An external image, which must be pinned: `host/repo[:tag]@sha256:...`. */
  external?: string;
}

/** Settings that can differ per platform and per variant. */
export interface BuildOverride {
  /** Dockerfile path relative to the image's context. */
  dockerfile?: string;
  base?: BaseSpec;
  /** Extra build args, merged over the image's. */
  buildArgs?: Record<string, string>;
}

/** A named variant: a set of tags with a suffix whose builds may differ on some platforms. */
export interface VariantDef {
  name: string;
  /** Appended to every tag of an image for this variant, e.g. `-jp5`. */
  tagSuffix: string;
  description?: string;
}

/** A third-party image copied into the private registry. */
export interface MirrorDef {
  name: string;
  /** Upstream reference for humans and for the pin, e.g. `docker.io/library/redis:7.2`. */
  source: string;
  /** Pinned digest of the upstream index; a stack can pin (or re-point) it with `mirrorSources`. */
  digest?: string;
  /** Repository in the private registry, e.g. `redis` (registry root) or `ultralytics/ultralytics`. */
  repository: string;
  tags: string[];
  /** Platforms the mirrored copy must contain. */
  platforms: string[];
}

/** One image of the estate. */
export interface ImageDef {
  /** Unique name; also the default repository suffix. */
  name: string;
  /** Repository path in the private registry. Default: `<namespace>/<name>`. */
  repository?: string;
  /** Build context, relative to the catalog file (a stack may re-point it with `contexts`). */
  context: string;
  /** Dockerfile relative to the context. Default: `Dockerfile`. */
  dockerfile?: string;
  /** An Atom-style chain: folder (relative to the context) of `<num>-Dockerfile-<descriptor>` files. */
  chain?: string;
  platforms: string[];
  /** Tags of the multi-arch index; `${release}` is replaced by the stack's release. */
  tags: string[];
  buildArgs?: Record<string, string>;
  base?: BaseSpec;
  /** Build arg that receives the pinned base reference. Default: `BASE_IMAGE`. */
  baseArg?: string;
  /** Dockerfile stage to build. */
  target?: string;
  /** Names of estate variants this image also publishes (besides its default tags). */
  variants?: string[];
  /** Per-platform settings, e.g. a different Dockerfile for arm64. */
  platformOverrides?: Record<string, BuildOverride>;
  /** Per-variant, per-platform settings: `{ jp5: { "linux/arm64": { base: ... } } }`. */
  variantOverrides?: Record<string, Record<string, BuildOverride>>;
  /**
   * Build args whose names only look like credentials (`TOKENIZERS_PARALLELISM` is caught by no
   * rule, but e.g. `MAX_AUTH` would be): the name rule skips them; a credential-looking value is
   * still refused. Default none.
   */
  notSecret?: string[];
}

export interface Catalog {
  /** Repository prefix for images without an explicit repository. */
  namespace: string;
  variants?: VariantDef[];
  mirrors?: MirrorDef[];
  images: ImageDef[];
}

const stringMap = { type: "object", additionalProperties: { type: "string" } };
const baseSpec = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    image: { type: "string", minLength: 1 },
    mirror: { type: "string", minLength: 1 },
    external: { type: "string", minLength: 1 },
  },
};
const override = {
  type: "object",
  additionalProperties: false,
  properties: {
    dockerfile: { type: "string", minLength: 1 },
    base: baseSpec,
    buildArgs: stringMap,
  },
};
const platform = { type: "string", pattern: "^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$" };
const nameString = { type: "string", pattern: "^[a-z0-9][a-z0-9._-]*$" };

/** JSON Schema of the catalog (also usable by editors: see `estate.schema.json`). */
export const catalogSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "Dayu image estate catalog",
  type: "object",
  additionalProperties: false,
  required: ["namespace", "images"],
  properties: {
    namespace: { type: "string", minLength: 1 },
    variants: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "tagSuffix"],
        properties: {
          name: nameString,
          tagSuffix: { type: "string", pattern: "^[\\w.-]+$" },
          description: { type: "string" },
        },
      },
    },
    mirrors: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "source", "repository", "tags", "platforms"],
        properties: {
          name: nameString,
          source: { type: "string", minLength: 1 },
          digest: { type: "string" },
          repository: { type: "string", minLength: 1 },
          tags: { type: "array", minItems: 1, items: { type: "string" } },
          platforms: { type: "array", minItems: 1, items: platform },
        },
      },
    },
    images: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "context", "platforms", "tags"],
        properties: {
          name: nameString,
          repository: { type: "string", minLength: 1 },
          context: { type: "string", minLength: 1 },
          dockerfile: { type: "string", minLength: 1 },
          chain: { type: "string", minLength: 1 },
          platforms: { type: "array", minItems: 1, uniqueItems: true, items: platform },
          tags: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
          buildArgs: stringMap,
          base: baseSpec,
          baseArg: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
          target: { type: "string", minLength: 1 },
          variants: { type: "array", uniqueItems: true, items: { type: "string" } },
          platformOverrides: { type: "object", additionalProperties: override },
          variantOverrides: {
            type: "object",
            additionalProperties: { type: "object", additionalProperties: override },
          },
          notSecret: {
            type: "array",
            uniqueItems: true,
            items: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
          },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true }).compile(catalogSchema);

/** A catalog that cannot be read or does not match its schema; the headline names the file. */
export class CatalogError extends EstateInputError {}

/** The path of a schema error, naming images and mirrors by `name` rather than by index. */
function pathOf(e: ErrorObject, data: unknown): string {
  const parts = e.instancePath.split("/").slice(1);
  let where = "";
  let node: unknown = data;
  for (const p of parts) {
    node = (node as Record<string, unknown> | undefined)?.[p];
    const name = (node as { name?: unknown } | undefined)?.name;
    where += /^\d+$/.test(p) ? `[${typeof name === "string" ? name : p}]` : `.${p}`;
  }
  return where.replace(/^\./, "") || "(top level)";
}

function messageOf(e: ErrorObject, data: unknown): string {
  const extra =
    e.keyword === "additionalProperties"
      ? ` ("${(e.params as { additionalProperty: string }).additionalProperty}")`
      : "";
  return `${e.message}${extra}${platformHint(e, data)}`;
}

/** For a platform that fails the schema's pattern: what {@link normalizePlatform} says about it. */
function platformHint(e: ErrorObject, data: unknown): string {
  if (e.keyword !== "pattern" || !/\/platforms\/\d+$/.test(e.instancePath)) return "";
  const value = e.instancePath
    .split("/")
    .slice(1)
    .reduce<unknown>((node, p) => (node as Record<string, unknown> | undefined)?.[p], data);
  if (typeof value !== "string") return "";
  const r = normalizePlatform(value);
  return "platform" in r ? ` (write ${r.platform})` : ` (${r.error})`;
}

/** The keys of a JSON pointer (ajv's `instancePath`), `~1` and `~0` unescaped. */
function pointerKeys(pointer: string): (string | number)[] {
  return pointer
    .split("/")
    .slice(1)
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k.replace(/~1/g, "/").replace(/~0/g, "~")));
}

/** ` at line N` of the YAML node at `keys`, or empty when the node has no position. */
function lineAt(doc: Document, lines: LineCounter, keys: (string | number)[]): string {
  const node = doc.getIn(keys, true) as { range?: [number, number, number] } | undefined;
  const offset = node?.range?.[0];
  return offset === undefined ? "" : ` at line ${lines.linePos(offset).line}`;
}

/**
 * How far a catalog's YAML aliases may expand (the yaml library's `maxAliasCount`: each alias counts
 * the nodes it repeats). Its default of 100 refuses an estate of a few hundred images that reuses one
 * `platforms: &both` anchor; this still stops an alias bomb, which grows exponentially.
 */
export const MAX_ALIAS_EXPANSIONS = 100_000;

/**
 * Parses and validates catalog YAML, or throws a {@link CatalogError} listing every YAML error
 * (with its line) or every schema error (with its path and line), headed by the file. Platforms are
 * then normalised ({@link normalizePlatform}: `linux/aarch64` → `linux/arm64`) in lists and in
 * override keys; one refused, or two spellings of one platform in one place, is a problem too.
 */
export function parseCatalog(text: string, file: string): Catalog {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new CatalogError(
      doc.errors.map((e) => e.message.split("\n")[0]),
      `${file}: not valid YAML`,
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (err) {
    // The yaml library refuses aliases that expand past the limit ("billion laughs"); its message
    // names neither the file nor the limit.
    throw new CatalogError(
      [
        `its anchors and aliases expand to more than ${MAX_ALIAS_EXPANSIONS} nodes ` +
          `(${(err as Error).message})`,
      ],
      `${file}: not valid YAML`,
    );
  }
  if (!validate(data)) {
    const problems = new Problems();
    for (const e of validate.errors ?? []) {
      problems.at(
        pathOf(e, data),
        messageOf(e, data) + lineAt(doc, lines, pointerKeys(e.instancePath)),
      );
    }
    throw new CatalogError([...problems.list], `${file}: the catalog does not match its schema`);
  }
  const catalog = data as unknown as Catalog;
  const problems = new Problems((key) => `${file}: ${key}`);
  normalizeCatalogPlatforms(catalog, (keys) => lineAt(doc, lines, keys), problems);
  problems.throwIfAny(CatalogError);
  return catalog;
}

/**
 * Rewrites every platform of the catalog to its canonical spelling, in place. `line(keys)` gives
 * ` at line N` for a path of keys into the catalog.
 */
export function normalizeCatalogPlatforms(
  catalog: Catalog,
  line: (keys: (string | number)[]) => string,
  problems: Problems,
): void {
  const list = (owner: string, at: (string | number)[], platforms: string[]): string[] => {
    const out: string[] = [];
    platforms.forEach((p, i) => {
      const r = normalizePlatform(p);
      if ("error" in r) problems.at(`${owner}.platforms[${i}]`, r.error + line([...at, i]));
      else if (out.includes(r.platform))
        problems.at(
          `${owner}.platforms`,
          `lists ${r.platform} twice (as "${p}" too)${line([...at, i])}`,
        );
      else out.push(r.platform);
    });
    return out;
  };
  catalog.mirrors?.forEach((m, i) => {
    m.platforms = list(`mirrors[${m.name}]`, ["mirrors", i, "platforms"], m.platforms);
  });
  catalog.images.forEach((img, i) => {
    const owner = `images[${img.name}]`;
    img.platforms = list(owner, ["images", i, "platforms"], img.platforms);
    if (img.platformOverrides) {
      img.platformOverrides = keyed(img.platformOverrides, `${owner}.platformOverrides`, [
        "images",
        i,
        "platformOverrides",
      ]);
    }
    for (const [v, per] of Object.entries(img.variantOverrides ?? {})) {
      (img.variantOverrides as Record<string, Record<string, BuildOverride>>)[v] = keyed(
        per,
        `${owner}.variantOverrides.${v}`,
        ["images", i, "variantOverrides", v],
      );
    }
  });

  function keyed<T>(
    map: Record<string, T>,
    key: string,
    keys: (string | number)[],
  ): Record<string, T> {
    const out: Record<string, T> = {};
    const spelled: Record<string, string> = {};
    for (const [p, value] of Object.entries(map)) {
      const r = normalizePlatform(p);
      const at = line([...keys, p]);
      if ("error" in r) problems.at(`${key}.${p}`, r.error + at);
      else if (r.platform in out)
        problems.at(key, `"${spelled[r.platform]}" and "${p}" are both ${r.platform}${at}`);
      else {
        out[r.platform] = value;
        spelled[r.platform] = p;
      }
    }
    return out;
  }
}
