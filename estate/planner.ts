/**
 * The planner: catalog + stack settings → a validated plan of images (each with its per-architecture
 * builds and multi-arch indexes) and mirrors, in dependency order. Pure TypeScript: no Pulumi
 * resources, no network; files are read through an injectable {@link FileSource}. Every problem it
 * finds is reported at once, each naming the image, file or key, before any resource is declared.
 *
 * The stages live in `estate/plan/`, one module each, like bake's ReadTargets → ResolveTarget →
 * toBuildOpt: inputs → mirrors → image graph (order) → per image: expand → dedup → identity →
 * indexes.
 */
import * as path from "path";
import { decodeUtf8 } from "./argsFile";
import { Catalog, parseCatalog } from "./catalog";
import { FileSource, kindError } from "./files";
import { planImage, PlannedSoFar } from "./plan/image";
import { imageGraph } from "./plan/imageGraph";
import { readInputs } from "./plan/inputs";
import { planMirrors } from "./plan/mirrors";
import { PushedRefs } from "./plan/refs";
import { Plan, PlanError, PlanOptions } from "./plan/types";
import { Problems } from "./problems";
import { EstateSettings } from "./settings";

export * from "./plan/types";
export { buildKey, buildNames, representativeVariant } from "./plan/identity";

/** Builds the plan, or throws a {@link PlanError} listing every problem found. */
export function planEstate(catalog: Catalog, opts: PlanOptions): Plan {
  const problems = new Problems();
  const pushed = new PushedRefs(problems);
  const inputs = readInputs(catalog, opts, problems);
  const mirrors = planMirrors(inputs, pushed, problems);
  const graph = imageGraph(inputs, problems);
  const soFar = new PlannedSoFar();
  const images = graph.order.map((img) => planImage(img, { inputs, problems, pushed, soFar }));
  problems.throwIfAny(PlanError);
  return {
    registry: opts.registry,
    release: opts.release,
    images,
    mirrors,
    imageEdges: graph.edges,
  };
}

/**
 * Reads the stack's catalog and plans it with the stack's settings: what the program and
 * `npm run plan` both do. `allowUnpinnedMirrors` only for displaying a plan.
 */
export function planForSettings(
  settings: EstateSettings,
  projectDir: string,
  files: FileSource,
  allowUnpinnedMirrors = false,
): Plan {
  const catalogPath = path.resolve(projectDir, settings.catalog);
  const kindErr = kindError(files, catalogPath, "file", "catalog");
  if (kindErr) throw new PlanError([`config catalog: ${kindErr}`]);
  const catalog = parseCatalog(
    decodeUtf8(files.read(catalogPath), settings.catalog),
    settings.catalog,
  );
  return planEstate(catalog, {
    catalogDir: path.dirname(catalogPath),
    registry: settings.registry.address,
    release: settings.release,
    builders: settings.builders,
    contexts: settings.contexts,
    mirrorSources: settings.mirrorSources,
    repositoryPrefix: settings.repositoryPrefix,
    allowUnpinnedMirrors,
    files,
  });
}
