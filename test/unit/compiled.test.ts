/**
 * The precompiled program (scripts/compiled.js, program.js): transpiled once per source text into
 * .estate/js, retranspiled file by file when a source, tsconfig.json or the compiler changes, outputs of
 * deleted sources removed, and the same JavaScript as ts-node's transpile-only mode would run.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain JavaScript module
const { ensureCompiled, programSources } = require("../../scripts/compiled") as {
  ensureCompiled: (
    root: string,
    loadTs?: () => typeof ts,
  ) => { entry: string; transpiled: string[]; removed: string[] };
  programSources: (root: string) => string[];
};

const ROOT = path.resolve(__dirname, "../..");

function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dayu-compiled-"));
  const all: Record<string, string> = {
    "tsconfig.json": fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"),
    ...files,
  };
  for (const [f, text] of Object.entries(all)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

describe("precompiled program (scripts/compiled.js)", () => {
  it("transpiles the program's sources once, then only what changed; removes what was deleted", () => {
    const dir = project({
      "index.ts":
        'import { twice } from "./lib/twice";\nexport const answer: number = twice(21);\n',
      "lib/twice.ts": "export const twice = (n: number): number => n * 2;\n",
      "lib/gone.ts": "export const gone = 1;\n",
      "lib/types.d.ts": "declare const x: number;\n",
      "scripts/other.ts": "export const notProgram = 1;\n",
    });
    let loads = 0;
    const load = () => {
      loads++;
      return ts;
    };
    const first = ensureCompiled(dir, load);
    assert.deepEqual(first.transpiled, ["index.ts", "lib/gone.ts", "lib/twice.ts"]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the compiled entry
    assert.equal((require(first.entry) as { answer: number }).answer, 42);

    const again = ensureCompiled(dir, load);
    assert.deepEqual(again.transpiled, [], "nothing changed: nothing transpiled");
    assert.equal(loads, 1, "the compiler is not even loaded when nothing changed");

    fs.writeFileSync(
      path.join(dir, "lib/twice.ts"),
      "export const twice = (n: number) => n + n;\n",
    );
    fs.rmSync(path.join(dir, "lib/gone.ts"));
    const edited = ensureCompiled(dir, load);
    assert.deepEqual(edited.transpiled, ["lib/twice.ts"]);
    assert.deepEqual(edited.removed, ["lib/gone.ts"]);
    assert.ok(!fs.existsSync(path.join(dir, ".estate/js/lib/gone.js")));
    assert.match(fs.readFileSync(path.join(dir, ".estate/js/lib/twice.js"), "utf8"), /n \+ n/);
    // Stack traces and resource source positions name the TypeScript file where it is.
    const map = JSON.parse(fs.readFileSync(path.join(dir, ".estate/js/lib/twice.js.map"), "utf8"));
    assert.equal(
      path.resolve(dir, ".estate/js/lib", map.sources[0]),
      path.join(dir, "lib/twice.ts"),
    );

    // A compiler option changes every file's output: everything is transpiled again.
    const cfg = path.join(dir, "tsconfig.json");
    fs.writeFileSync(cfg, fs.readFileSync(cfg, "utf8").replace('"ES2022"', '"ES2020"'));
    assert.deepEqual(ensureCompiled(dir, load).transpiled, ["index.ts", "lib/twice.ts"]);
  });

  it("a cached output deleted by hand is written again", () => {
    const dir = project({ "index.ts": "export const a = 1;\n" });
    ensureCompiled(dir);
    fs.rmSync(path.join(dir, ".estate/js/index.js"));
    assert.deepEqual(ensureCompiled(dir).transpiled, ["index.ts"]);
  });

  it("emits what ts-node's transpile-only mode emits (dynamic providers serialize the same code)", () => {
    const file = "components/indexGuard.ts";
    const source = fs.readFileSync(path.join(ROOT, file), "utf8");
    const dir = project({ [file]: source, "index.ts": "export {};\n" });
    ensureCompiled(dir);
    const ours = fs.readFileSync(path.join(dir, ".estate/js/components/indexGuard.js"), "utf8");
    // ts-node 10's transpile-only path: ts.transpileModule with the project's options.
    const cfg = ts.convertCompilerOptionsFromJson(
      ts.parseConfigFileTextToJson(
        "tsconfig.json",
        fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"),
      ).config.compilerOptions,
      ROOT,
    ).options;
    const theirs = ts.transpileModule(source, { compilerOptions: cfg, fileName: file }).outputText;
    const code = (js: string) => js.replace(/\/\/# sourceMappingURL=.*$/m, "");
    assert.equal(code(ours), code(theirs));
  });

  it("covers every file index.ts reaches (each relative import resolves inside the program)", () => {
    const sources = new Set(programSources(ROOT));
    assert.ok(!sources.has("scripts/plan.ts") && ![...sources].some((f) => f.startsWith("test/")));
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      assert.ok(sources.has(file), `${file} is reached from index.ts but not transpiled`);
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
        if (!fileName.startsWith(".")) continue;
        const base = path.join(path.dirname(file), fileName);
        const hit = [`${base}.ts`, path.join(base, "index.ts")].find((f) => sources.has(f));
        assert.ok(hit, `${file} imports ${fileName}, which is not in the transpiled program`);
        visit(hit);
      }
    };
    visit("index.ts");
    assert.ok(seen.size > 20, `only ${seen.size} files reached`);
  });
});
