/**
 * The planner: catalog + stack settings → a validated plan of images (each with its per-architecture
 * builds and multi-arch indexes) and mirrors, in dependency order. Pure TypeScript: no Pulumi
 * resources, no network; files are read through an injectable {@link FileSource}. Every problem it
 * finds is reported at once, each naming the image, file or key, before any resource is declared.
 *
 * The stages live in `estate/plan/`, one module each, like bake's ReadTargets → ResolveTarget →
 * toBuildOpt: inputs → mirrors → prepare (every Dockerfile resolved per variant and platform, its
 * estate references matched) → image graph (declared and inferred, order) → per image: expand →
 * dedup → identity → indexes.
 */
import * as path from "path";
import { decodeUtf8 } from "./argsFile";
import { Catalog, parseCatalog } from "./catalog";
import { FileSource, kindError } from "./files";
import { planImage, PlannedSoFar } from "./plan/image";
import { imageGraph } from "./plan/imageGraph";
import { readInputs } from "./plan/inputs";
import { planMirrors } from "./plan/mirrors";
import { checkFloating, inferredDeps, prepareImages } from "./plan/prepare";
import { PushedRefs } from "./plan/refs";
import { flatPlan, Plan, PlanError, PlanOptions } from "./plan/types";
import { Problems } from "./problems";
import { EstateSettings } from "./settings";
import { checkTemplateFolder, publishedFromPlan } from "./templates";

export * from "./plan/types";
export { buildKey, buildNames, representativeVariant } from "./plan/identity";

/** Builds the plan, or throws a {@link PlanError} listing every problem found. */
export function planEstate(catalog: Catalog, opts: PlanOptions): Plan {
  const problems = new Problems();
  const pushed = new PushedRefs(problems);
  const inputs = readInputs(catalog, opts, problems);
  const mirrors = planMirrors(inputs, pushed, problems);
  const prepared = prepareImages(inputs, problems);
  checkFloating(prepared, opts.environment ?? "dev", problems);
  const graph = imageGraph(inputs, problems, inferredDeps(prepared));
  const soFar = new PlannedSoFar();
  const env = { inputs, problems, pushed, soFar, prepared };
  const images = graph.order.map((img) => planImage(img, env));
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
 * `npm run plan` both do. With `templates` set, the plan must then keep Dayu's runtime contract
 * (`estate/templates.ts`): findings are refused as a {@link PlanError}, each under the config key and
 * at file:line. `allowUnpinnedMirrors` only for displaying a plan.
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
  const plan = planEstate(catalog, {
    catalogDir: path.dirname(catalogPath),
    registry: settings.registry.address,
    release: settings.release,
    builders: settings.builders,
    contexts: settings.contexts,
    mirrorSources: settings.mirrorSources,
    repositoryPrefix: settings.repositoryPrefix,
    allowUnpinnedMirrors,
    environment: settings.environment,
    files,
  });
  // `?? ""`: settings built by hand (tests, other programs) may leave the key out.
  const templates = settings.templates ?? "";
  if (templates !== "") {
    // A key formatter, so the folder's own problem and every file:line read as the config key's.
    const problems = new Problems((key) => `config templates: ${key}`);
    const dir = path.resolve(projectDir, templates);
    const published = publishedFromPlan(flatPlan(plan));
    checkTemplateFolder(dir, templates, published, settings.release, files, problems);
    problems.throwIfAny(PlanError);
  }
  return plan;
}
