/**
 * Dayu's runtime contract, wired: the `templates` config key makes `planForSettings` (so
 * `npm run plan` and `pulumi preview`) refuse a plan that breaks it, and the stack policy
 * `dayu-templates-contract` judges the same from the stack's Indexes and the Images they join. Both
 * run against the sample estate (estate.yaml, Pulumi.dev.yaml) and our own Dayu-shaped template
 * folder `test/fixtures/templates/template`: it passes; each mutation is refused at file:line.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PolicyResource, StackValidationArgs, unknownCheckingProxy } from "@pulumi/policy";
import * as policyProxy from "@pulumi/policy/proxy";
import { diskFiles, FileSource, memoryFiles } from "../../estate/files";
import { flatPlan, FlatPlan, PlanError, planForSettings } from "../../estate/planner";
import { EstateSettings, parseStackConfig, settingsFromStackFile } from "../../estate/settings";
import { Problems } from "../../estate/problems";
import { checkTemplateFolder, jetpackSuffixesOf, publishedFromPlan } from "../../estate/templates";
import {
  contractInputs,
  dayuTemplatesContract,
  publishedIndexesOf,
  templatesContractProblems,
} from "../../policy/policies";

const ROOT = path.resolve(__dirname, "../..");
const FOLDER = "test/fixtures/templates/template";
const at = (rel: string) => path.join(ROOT, FOLDER, rel);
const UNKNOWN_VALUE = (policyProxy as unknown as { unknownStringValue: string }).unknownStringValue;
const PENDING = `@sha256:${"0".repeat(64)}`;

/** The dev stack's settings, with `templates` as given. */
function devSettings(templates?: string): EstateSettings {
  const text = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
  const settings = settingsFromStackFile(text, "dev");
  return { ...settings, templates: templates ?? settings.templates };
}

/** The disk with some files replaced or added (new files only in folders that exist). */
function overlay(files: Record<string, string>): FileSource {
  const mem = memoryFiles(files);
  const has = (p: string) => Object.prototype.hasOwnProperty.call(files, p);
  return {
    kind: (p) => (has(p) ? "file" : diskFiles.kind(p)),
    isFile: (p) => has(p) || diskFiles.isFile(p),
    isDirectory: (p) => diskFiles.isDirectory(p),
    read: (p) => (has(p) ? mem.read(p) : diskFiles.read(p)),
    list: (d) => [
      ...new Set([
        ...diskFiles.list(d),
        ...Object.keys(files)
          .filter((f) => path.dirname(f) === d)
          .map((f) => path.basename(f)),
      ]),
    ],
  };
}

/** The problems of a refused plan, or fails when it is accepted. */
function refusal(run: () => unknown): string[] {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof PlanError, String(e));
    return e.problems;
  }
  assert.fail("the plan was accepted");
}

let plan: FlatPlan;

describe("Dayu's runtime contract at plan time (config templates)", () => {
  before(function () {
    this.timeout(120000);
    plan = flatPlan(planForSettings(devSettings(FOLDER), ROOT, diskFiles, true));
  });

  it("is a stack setting: optional, empty by default, any path", () => {
    const raw = { environment: "dev", release: "v1.3", registry: { address: "r.test" } };
    const builders = [{ name: "amd", platform: "linux/amd64" }];
    assert.equal(parseStackConfig({ ...raw, builders }, "dev").templates, "");
    assert.equal(
      parseStackConfig({ ...raw, builders, templates: "../dayu/template" }, "dev").templates,
      "../dayu/template",
    );
  });

  it("accepts the sample estate with the fixture folder, which names real images", () => {
    const names = new Set(publishedFromPlan(plan).images.map((i) => i.name));
    for (const image of ["car-detection", "monitor", "generator", "controller", "scheduler"]) {
      assert.ok(names.has(image), image);
    }
    assert.deepEqual(jetpackSuffixesOf(publishedFromPlan(plan)), ["-jp4", "-jp5", "-jp6"]);
  });

  it("refuses an unknown image and an edge template whose image has no arm64, at file:line", () => {
    const files = overlay({
      [at("processor/traffic-risk.yaml")]:
        "position: both\npod-template:\n  image: traffic-risk-graph-inference\n",
      [at("generator/edge-backend.yaml")]:
        "# the backend moved to the edge\nposition: edge\npod-template:\n  image: backend\n",
    });
    assert.deepEqual(
      refusal(() => planForSettings(devSettings(FOLDER), ROOT, files, true)),
      [
        `config templates: ${FOLDER}/generator/edge-backend.yaml:4: "backend:v1.3" has no linux/arm64 build, but the template runs on the edge (position: edge)`,
        `config templates: ${FOLDER}/processor/traffic-risk.yaml:3: image "traffic-risk-graph-inference" is not in the estate`,
      ],
    );
  });

  it("refuses a processor whose -jp5 tag the catalog no longer publishes", () => {
    const catalog = fs.readFileSync(path.join(ROOT, "estate.yaml"), "utf8");
    // jp5 dropped with its overrides (jp4 and jp6 then build on the default base: enough here).
    const withoutJp5 = catalog.replace(
      /(- name: car-detection\n(?: {4}.*\n)*? {4}variants: )\[jp4, jp5, jp6\]\n {4}variantOverrides: \*jetpackTags\n/,
      "$1[jp4, jp6]\n",
    );
    assert.notEqual(withoutJp5, catalog, "the catalog's car-detection entry changed shape");
    const files = overlay({ [path.join(ROOT, "estate.yaml")]: withoutJp5 });
    assert.deepEqual(
      refusal(() => planForSettings(devSettings(FOLDER), ROOT, files, true)),
      [
        `config templates: ${FOLDER}/processor/car-detection.yaml:3: "car-detection:v1.3-jp5" is not in the estate, but Dayu deploys it on JetPack 5 edge nodes`,
      ],
    );
  });

  it("names the config key when the folder does not exist; no key, no check", () => {
    assert.deepEqual(
      refusal(() => planForSettings(devSettings("no/such/template"), ROOT, diskFiles, true)),
      [
        `config templates: no/such/template: template folder ${path.join(ROOT, "no/such/template")} does not exist`,
      ],
    );
    const problems = new Problems();
    checkTemplateFolder(at(""), FOLDER, publishedFromPlan(plan), "v1.3", diskFiles, problems);
    assert.deepEqual(problems.list, []);
  });
});

// ---------------------------------------------------------------------------------------------------
// The policy: the same contract from the resources.

type Resource = Pick<PolicyResource, "type" | "props" | "urn">;
const URN = "urn:pulumi:dev::dayu-estate::dayu:estate:ImageEstate$";

/** A made-up digest per build (64 hex). */
const digestOf = (id: string) =>
  `sha256:${Buffer.from(id.padEnd(32, "."))
    .toString("hex")
    .slice(0, 64)
    .replace(/[^0-9a-f]/g, "0")}`;

/**
 * The sample estate's Images and Indexes as the components declare them: in an update an Index lists
 * `<repository>@<digest>` of each Image; in a preview of builds about to run, the Image's per-arch
 * tag with the all-zero pending digest (and the Image has no digest yet).
 */
function stackResources(
  mutate?: (r: Resource[]) => Resource[],
  mode: "update" | "preview" = "update",
): Resource[] {
  const builds = new Map(plan.builds.map((b) => [b.id, b]));
  const images = plan.builds.map((b) => ({
    type: "docker-build:index:Image",
    urn: `${URN}docker-build:index:Image::${b.id}`,
    props: {
      platforms: [b.platform],
      tags: [b.archRef],
      push: true,
      digest: mode === "update" ? digestOf(b.id) : "",
    } as Record<string, unknown>,
  }));
  const source = (id: string) => {
    const b = builds.get(id) ?? assert.fail(id);
    return mode === "update" ? `${b.repository}@${digestOf(b.id)}` : `${b.archRef}${PENDING}`;
  };
  const indexes = plan.indexes.map((i) => ({
    type: "docker-build:index:Index",
    urn: `${URN}docker-build:index:Index::${i.id}`,
    props: { tag: i.ref, sources: i.builds.map((b) => source(b.build)), push: true } as Record<
      string,
      unknown
    >,
  }));
  const all = [...images, ...indexes];
  return (mutate ? mutate(all) : all).map((r) => ({
    ...r,
    props: unknownCheckingProxy(r.props) as Record<string, unknown>,
  }));
}

const indexOf = (r: Resource) => (r.type === "docker-build:index:Index" ? String(r.props.tag) : "");
const inputs = { templates: FOLDER, release: "v1.3", projectDir: ROOT };
const onStack = (mutate?: (r: Resource[]) => Resource[]) =>
  templatesContractProblems(stackResources(mutate), inputs, diskFiles);

class NotApplicable extends Error {}

/** Runs the policy itself, as the analyzer server would, with a policy config. */
async function runPolicy(config: object, resources: Resource[]): Promise<string[]> {
  const reported: string[] = [];
  const args: StackValidationArgs = {
    resources: resources.map((r) => ({
      ...r,
      name: r.urn.split("::").pop() as string,
      isType: () => false,
      asType: () => undefined,
      dependencies: [],
      propertyDependencies: {},
    })) as unknown as PolicyResource[],
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
  await dayuTemplatesContract.validateStack(args, (message) => {
    reported.push(message);
  });
  return reported;
}

describe("policy dayu-templates-contract", () => {
  before(function () {
    this.timeout(120000);
    plan ??= flatPlan(planForSettings(devSettings(FOLDER), ROOT, diskFiles, true));
  });

  it("passes the sample estate's Indexes and Images, in an update and in a preview", () => {
    assert.deepEqual(onStack(), []);
    assert.deepEqual(
      templatesContractProblems(stackResources(undefined, "preview"), inputs, diskFiles),
      [],
    );
    const update = publishedIndexesOf(stackResources()) ?? assert.fail("unknown");
    const preview = publishedIndexesOf(stackResources(undefined, "preview"));
    assert.deepEqual(update, preview);
    assert.equal(update.length, plan.indexes.length);
  });

  it("reads each Index's platforms from the Images its sources join, leaving mirrors out", () => {
    const indexes = publishedIndexesOf(stackResources()) ?? assert.fail("unknown");
    const monitorJp5 = indexes.find((i) => i.ref.endsWith("/monitor:v1.3-jp5"));
    assert.deepEqual(monitorJp5?.platforms, ["linux/amd64", "linux/arm64"]);
    const mirror = publishedIndexesOf(
      stackResources((rs) => [
        ...rs,
        {
          type: "docker-build:index:Index",
          urn: `${URN}docker-build:index:Index::redis`,
          props: { tag: "registry.dayu.test:5443/upstream/redis:7", sources: ["redis:7"] },
        },
      ]),
    );
    assert.equal(mirror?.length, indexes.length);
  });

  it("refuses a missing -jp5 tag (its Index gone), at the template's file:line", () => {
    assert.deepEqual(
      onStack((rs) => rs.filter((r) => !indexOf(r).endsWith("/car-detection:v1.3-jp5"))),
      [
        `${FOLDER}/processor/car-detection.yaml:3: "car-detection:v1.3-jp5" is not in the estate, but Dayu deploys it on JetPack 5 edge nodes`,
      ],
    );
  });

  it("refuses an edge template whose Index joins no arm64 Image", () => {
    assert.deepEqual(
      onStack((rs) =>
        rs.map((r) =>
          indexOf(r).endsWith("/generator:v1.3")
            ? {
                ...r,
                props: {
                  ...r.props,
                  sources: (r.props.sources as string[]).slice(0, 1),
                },
              }
            : r,
        ),
      ),
      [
        `${FOLDER}/generator/generator-base.yaml:3: "generator:v1.3" has no linux/arm64 build, but the template runs on the edge (position: edge)`,
      ],
    );
  });

  it("refuses an image the stack does not publish", () => {
    assert.deepEqual(
      onStack((rs) => rs.filter((r) => !indexOf(r).includes("/controller:"))),
      [`${FOLDER}/controller/controller-base.yaml:3: image "controller" is not in the estate`],
    );
  });

  it("stays silent while an Index's sources are unknown (preview)", () => {
    const unknown = (rs: Resource[]) =>
      rs.map((r) =>
        indexOf(r).includes("/controller:")
          ? { ...r, props: { ...r.props, sources: [UNKNOWN_VALUE] } }
          : r,
      );
    assert.equal(publishedIndexesOf(stackResources(unknown)), undefined);
    assert.deepEqual(
      onStack((rs) => unknown(rs.filter((r) => !indexOf(r).endsWith("-jp5")))),
      [],
    );
  });

  it("runs from the policy config over the stack file (release v1.3 from Pulumi.dev.yaml)", async () => {
    const broken = stackResources((rs) => rs.filter((r) => !indexOf(r).includes("/controller:")));
    assert.deepEqual(await runPolicy({ templates: FOLDER, projectDir: ROOT }, broken), [
      `Dayu's runtime contract: ${FOLDER}/controller/controller-base.yaml:3: image "controller" is not in the estate`,
    ]);
    assert.deepEqual(await runPolicy({ templates: FOLDER }, stackResources()), []);
    await assert.rejects(runPolicy({}, broken), NotApplicable);
  });

  it("takes its inputs from the policy config first, then the stack file", () => {
    assert.equal(contractInputs({}, { release: "v1.3" }), undefined);
    assert.deepEqual(contractInputs({}, { templates: "t", release: "v1.3" }), {
      templates: "t",
      release: "v1.3",
    });
    assert.deepEqual(contractInputs({ templates: "u", release: "v2" }, { templates: "t" }), {
      templates: "u",
      release: "v2",
    });
  });
});
