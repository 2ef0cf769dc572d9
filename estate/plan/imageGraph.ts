/**
 * Planner stage: the image-level graph. Checks every base an image names (in its base, platform
 * and variant overrides), adds what its Dockerfiles name (`inferredDeps`), and orders images so
 * each comes after the images it is built on.
 */
import { BaseSpec, ImageDef } from "../catalog";
import { CycleError, topologicalOrder } from "../graph";
import { Problems } from "../problems";
import { parseReference } from "../reference";
import { PlanInputs } from "./inputs";
import { InferredDeps } from "./prepare";
import { PlanEdge, PlanError } from "./types";

/** Images in dependency order and the image-level edges (deduplicated, for display). */
export interface ImageGraph {
  order: ImageDef[];
  edges: PlanEdge[];
}

/** Every base an image names, wherever it names it. */
export function baseSpecsOf(img: ImageDef): BaseSpec[] {
  const specs: BaseSpec[] = [];
  if (img.base) specs.push(img.base);
  for (const o of Object.values(img.platformOverrides ?? {})) if (o.base) specs.push(o.base);
  for (const per of Object.values(img.variantOverrides ?? {})) {
    for (const o of Object.values(per)) if (o.base) specs.push(o.base);
  }
  return specs;
}

/**
 * Checks the bases and orders the images. A cycle stops planning at once (nothing after this stage
 * can be ordered): it throws a {@link PlanError} with the problems found so far and the cycle.
 */
export function imageGraph(
  { images, mirrors }: PlanInputs,
  problems: Problems,
  inferred: ReadonlyMap<string, InferredDeps> = new Map(),
): ImageGraph {
  const edges: PlanEdge[] = [];
  const seen = new Set<string>();
  const edge = (from: string, to: string, kind: PlanEdge["kind"]) => {
    const k = `${from}>${to}`;
    if (!seen.has(k)) edges.push({ from, to, kind });
    seen.add(k);
  };
  const deps = new Map<string, string[]>();
  for (const img of images.values()) {
    const where = `image "${img.name}"`;
    const imageDeps = new Set<string>();
    for (const b of baseSpecsOf(img)) {
      if (b.image !== undefined) {
        if (!images.has(b.image))
          problems.at(where, `base image "${b.image}" is not in the catalog`);
        else imageDeps.add(b.image);
      }
      if (b.mirror !== undefined) {
        if (!mirrors.has(b.mirror))
          problems.at(where, `base mirror "${b.mirror}" is not in the catalog`);
        else edge(`mirror:${b.mirror}`, img.name, "mirror");
      }
      if (b.external !== undefined) checkExternal(b.external, where, problems);
    }
    // What the Dockerfiles name (already matched against the catalog, so known to exist).
    inferred.get(img.name)?.images.forEach((d) => imageDeps.add(d));
    inferred.get(img.name)?.mirrors.forEach((m) => edge(`mirror:${m}`, img.name, "mirror"));
    deps.set(img.name, [...imageDeps]);
    for (const d of imageDeps) edge(d, img.name, "base");
  }
  try {
    const order = topologicalOrder([...images.keys()], (n) => deps.get(n) ?? []);
    return { order: order.map((n) => images.get(n) as ImageDef), edges };
  } catch (err) {
    if (err instanceof CycleError)
      throw new PlanError([...problems.list, `images form a ${err.message}`]);
    throw err;
  }
}

function checkExternal(ref: string, where: string, problems: Problems): void {
  try {
    if (!parseReference(ref).digest) {
      problems.at(where, `external base ${ref} is not pinned by digest (add @sha256:...)`);
    }
  } catch (err) {
    problems.at(where, (err as Error).message);
  }
}
