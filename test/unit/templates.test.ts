import { strict as assert } from "assert";
import { memoryFiles } from "../../estate/files";
import { Problems } from "../../estate/problems";
import {
  checkTemplates,
  parseTemplate,
  PublishedImages,
  publishedFromPlan,
  readTemplates,
} from "../../estate/templates";

const both = ["linux/amd64", "linux/arm64"];
const amd = ["linux/amd64"];
const jp = ["-jp4", "-jp5", "-jp6"];
const allJp = (tag: string, platforms = both) => [
  { tag, platforms },
  ...jp.map((s) => ({ tag: `${tag}${s}`, platforms })),
];

const published: PublishedImages = {
  images: [
    { name: "car-detection", tags: allJp("v1.3") },
    {
      name: "monitor",
      tags: [
        { tag: "v1.3", platforms: both },
        { tag: "v1.3-jp4", platforms: both },
        { tag: "v1.3-jp5", platforms: amd },
      ],
    },
    { name: "generator", tags: [{ tag: "v1.3", platforms: both }] },
    {
      name: "scheduler",
      tags: [
        { tag: "v1.3", platforms: amd },
        { tag: "shy", platforms: amd },
      ],
    },
    { name: "distributor", tags: [{ tag: "v1.3", platforms: amd }] },
  ],
};

/** A Dayu-shaped template folder (our own content). */
const folder = memoryFiles({
  "/d/template/base.yaml":
    "namespace: dayu\ndefault-image-meta:\n  registry: repo:5000\n  tag: v1.3\n",
  "/d/template/processor/car-detection.yaml":
    "position: both\npod-template:\n  image: car-detection\n  imagePullPolicy: Always\n",
  "/d/template/monitor/monitor-base.yaml": "position: both\npod-template:\n  image: monitor\n",
  "/d/template/generator/generator-base.yaml":
    "position: edge\npod-template:\n  image: generator\n",
  "/d/template/scheduler/fixed.yaml": "position: cloud\npod-template:\n  image: scheduler:shy\n",
  "/d/template/scheduler/gone.yml": "position: cloud\npod-template:\n  image: scheduler:v0.9\n",
  "/d/template/distributor/distributor-base.yaml":
    "position: edge\n\npod-template:\n  image: distributor\n",
  "/d/template/processor/new.yaml": "pod-template:\n  image: traffic-risk-graph-inference\n",
  "/d/template/notes.txt": "image: ignored",
});

describe("Dayu's runtime contract: deployment templates against the estate", () => {
  it("reads every template below the folder with its position, kind and image lines", () => {
    const problems = new Problems();
    const t = readTemplates("/d/template", "template", folder, problems);
    assert.deepEqual(problems.list, []);
    assert.deepEqual(
      t.map((x) => [
        x.file,
        x.kind,
        x.position,
        x.images.map((i) => `${i.name}:${i.tag ?? ""}@${i.line}`),
      ]),
      [
        ["template/base.yaml", "", undefined, []],
        ["template/distributor/distributor-base.yaml", "distributor", "edge", ["distributor:@4"]],
        ["template/generator/generator-base.yaml", "generator", "edge", ["generator:@3"]],
        ["template/monitor/monitor-base.yaml", "monitor", "both", ["monitor:@3"]],
        ["template/processor/car-detection.yaml", "processor", "both", ["car-detection:@3"]],
        [
          "template/processor/new.yaml",
          "processor",
          undefined,
          ["traffic-risk-graph-inference:@2"],
        ],
        ["template/scheduler/fixed.yaml", "scheduler", "cloud", ["scheduler:shy@3"]],
        ["template/scheduler/gone.yml", "scheduler", "cloud", ["scheduler:v0.9@3"]],
      ],
    );
  });

  it("reports each broken promise at file:line, and only those", () => {
    const problems = new Problems();
    const t = readTemplates("/d/template", "template", folder, problems);
    checkTemplates(t, published, { defaultTag: "v1.3", jetpackSuffixes: jp }, problems);
    assert.deepEqual(problems.list, [
      'template/distributor/distributor-base.yaml:4: "distributor:v1.3" has no linux/arm64 build, but the template runs on the edge (position: edge)',
      'template/monitor/monitor-base.yaml:3: "monitor:v1.3-jp5" lacks linux/arm64, which "monitor:v1.3" has',
      'template/monitor/monitor-base.yaml:3: "monitor:v1.3-jp6" is not in the estate, but Dayu deploys it on JetPack 6 edge nodes',
      'template/processor/new.yaml:2: image "traffic-risk-graph-inference" is not in the estate',
      'template/scheduler/gone.yml:3: "scheduler:v0.9" is not in the estate (its tags: v1.3, shy)',
    ]);
  });

  it("a generator on the edge needs arm64 but no -jpN tags (not a JetPack kind)", () => {
    const problems = new Problems();
    const t = [
      parseTemplate("position: edge\nimage: generator\n", "g.yaml", "generator", problems),
    ];
    checkTemplates(t, published, { defaultTag: "v1.3", jetpackSuffixes: jp }, problems);
    assert.deepEqual(problems.list, []);
    checkTemplates(
      t,
      published,
      { defaultTag: "v1.3", jetpackSuffixes: jp, jetpackKinds: ["generator"] },
      problems,
    );
    assert.equal(problems.list.length, 3);
  });

  it("refuses an image that is not a bare name, and YAML that is not YAML", () => {
    const problems = new Problems();
    parseTemplate("a:\n  image: repo:5000/dayuhub/x:v1\n", "t/x.yaml", "processor", problems);
    parseTemplate("a: [\n", "t/y.yaml", "processor", problems);
    assert.equal(problems.list.length, 2);
    assert.match(
      problems.list[0],
      /^t\/x\.yaml:2: image "repo:5000\/dayuhub\/x:v1" is not a bare image name/,
    );
    assert.match(problems.list[1], /^t\/y\.yaml:\d+: not valid YAML/);
  });

  it("a missing template folder is named", () => {
    const problems = new Problems();
    readTemplates("/nope", "config templates", folder, problems);
    assert.deepEqual(problems.list, ["config templates: template folder /nope does not exist"]);
  });

  it("reads what a plan publishes from its indexes", () => {
    const p = publishedFromPlan({
      indexes: [
        {
          id: "car-detection:v1.3-jp5",
          image: "car-detection",
          variant: "jp5",
          tag: "v1.3-jp5",
          ref: "registry.dayu.test:5443/e2e/dayuhub/car-detection:v1.3-jp5",
          builds: [
            { platform: "linux/amd64", build: "car-detection/amd64" },
            { platform: "linux/arm64", build: "car-detection/jp5/arm64" },
          ],
          release: true,
        },
      ],
    });
    assert.deepEqual(p, {
      images: [{ name: "car-detection", tags: [{ tag: "v1.3-jp5", platforms: both }] }],
    });
  });
});
