/**
 * Dayu's image estate: stack config → plan (pure) → registry, builders and every image.
 * The decisions live in estate/ (tested without Pulumi); this file only wires components.
 */
import * as fs from "fs";
import * as path from "path";
import { loadStackConfig } from "./config";
import { BuildxBuilder } from "./components/buildxBuilder";
import { ImageEstate } from "./components/imageEstate";
import { PrivateRegistry } from "./components/privateRegistry";
import { parseCatalog } from "./estate/catalog";
import { diskFiles } from "./estate/files";
import { planEstate } from "./estate/planner";
import { checkBuilders, checkRegistry } from "./lib/preflight";

const projectDir = __dirname;
const { settings, registryPassword, registryCa } = loadStackConfig(projectDir);

const catalogPath = path.resolve(projectDir, settings.catalog);
const catalog = parseCatalog(fs.readFileSync(catalogPath, "utf8"), settings.catalog);
const plan = planEstate(catalog, {
  catalogDir: path.dirname(catalogPath),
  registry: settings.registry.address,
  release: settings.release,
  builders: settings.builders,
  contexts: settings.contexts,
  mirrorSources: settings.mirrorSources,
  files: diskFiles,
});

const registry = new PrivateRegistry("registry", {
  mode: "external",
  address: settings.registry.address,
  username: settings.registry.username,
  password: registryPassword,
  caCert: registryCa,
});

const builders = settings.builders.map(
  (b) =>
    new BuildxBuilder(b.name, { builderName: b.name, platform: b.platform, endpoint: b.endpoint }),
);

// Every build's credentials pass through the pre-flight checks, so no build starts (and nothing is
// pushed) when the registry or a builder is down or misdeclared.
const credentials = settings.preflight
  ? registry.credentials.apply(async (c) => {
      await Promise.all([
        checkRegistry({ ...c, ca: registryCa, insecure: settings.registry.insecure }),
        checkBuilders(settings.builders, undefined, process.env.DAYU_BUILDX ?? "buildx"),
      ]);
      return c;
    })
  : registry.credentials;

const estate = new ImageEstate("dayu", {
  plan,
  registry: credentials,
  buildOnPreview: settings.buildOnPreview,
  buildDependsOn: builders,
});

export const registryAddress = registry.address;
export const counts = {
  builds: plan.builds.length,
  indexes: plan.indexes.length,
  mirrors: plan.mirrors.length,
};
export const summary = estate.summary;
