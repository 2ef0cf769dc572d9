import { strict as assert } from "assert";
import {
  expandWord,
  parseDockerfile,
  resolveDockerfile,
  ResolveOptions,
} from "../../estate/dockerfile";

/** Compact view of a resolution: `kind ref @line` for each reference (unused ones marked). */
function refs(text: string, opts: Partial<ResolveOptions> = {}): string[] {
  const r = resolveDockerfile(text, { file: "Dockerfile", ...opts });
  assert.deepEqual(r.problems, [], "no problems expected");
  return r.references.map(
    (x) =>
      `${x.kind} ${x.ref} @${x.line}${x.platform ? ` platform=${x.platform}` : ""}${x.used ? "" : " (unused)"}`,
  );
}

describe("Dockerfile word expansion (BuildKit's shell lexer)", () => {
  const env = new Map([
    ["A", "a"],
    ["E", ""],
    ["P", "dayuhub/dayubase:latest-jp5"],
  ]);
  const table: [string, string][] = [
    ["$A", "a"],
    ["${A}", "a"],
    ["x${A}y$A", "xaya"],
    ["$U", ""],
    ["${U:-d}", "d"],
    ["${E:-d}", "d"],
    ["${E-d}", ""],
    ["${U-d}", "d"],
    ["${A:+alt}", "alt"],
    ["${E:+alt}", ""],
    ["${E+alt}", "alt"],
    ["${U+alt}", ""],
    ["${U:-${A}/x}", "a/x"],
    ["'$A'", "$A"],
    ['"$A b"', "a b"],
    ["\\$A", "$A"],
    ['"\\$A"', "$A"],
    ["$", "$"],
    ["a$-b", "a$-b"],
    ["${P%:*}", "dayuhub/dayubase"],
    ["${P#*/}", "dayubase:latest-jp5"],
    ["${P##*-}", "jp5"],
    ["${P%%/*}", "dayuhub"],
    ["${P/latest-/}", "dayuhub/dayubase:jp5"],
    ["${P//a/A}", "dAyuhub/dAyubAse:lAtest-jp5"],
    ["${P/u*b/X}", "dayXase:latest-jp5"],
  ];
  for (const [word, want] of table) {
    it(`${word} → "${want}"`, () => assert.equal(expandWord(word, env), want));
  }
  it("uses the escape directive's character", () => {
    assert.equal(expandWord("`$A", env, "`"), "$A");
    assert.equal(expandWord("\\$A", env, "`"), "\\a");
  });
  it("refuses what BuildKit refuses", () => {
    assert.throws(() => expandWord("${A", env), /missing "}"/);
    assert.throws(() => expandWord("${U:?must be set}", env), /U: must be set/);
    assert.throws(() => expandWord("${U?}", env), /U: is not allowed to be unset/);
    assert.throws(() => expandWord("${E:?}", env), /E: is not allowed to be empty/);
    assert.throws(() => expandWord("${A^^}", env), /unsupported substitution/);
    assert.throws(() => expandWord("'open", env), /unterminated/);
  });
});

describe("Dockerfile parser", () => {
  it("reads directives, continuations, comments and heredocs as BuildKit does", () => {
    const p = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1.7",
        "# escape=`",
        "",
        "FROM alpine AS a",
        "RUN echo one `",
        "  # a comment inside a continuation is dropped",
        "",
        "  two",
        "RUN <<EOF",
        "FROM not-an-instruction",
        "EOF",
        "COPY <<-ONE <<TWO /dst/",
        "\tFROM neither",
        "\tONE",
        "FROM nor-this",
        "TWO",
        "# escape=\\ is a comment here",
        "from   Scratch",
      ].join("\n"),
    );
    assert.equal(p.escape, "`");
    assert.equal(p.directives.syntax.value, "docker/dockerfile:1.7");
    assert.deepEqual(
      p.instructions.map((i) => `${i.line} ${i.keyword} ${i.args}`),
      [
        "4 FROM alpine AS a",
        "5 RUN echo one   two",
        "9 RUN <<EOF",
        "12 COPY <<-ONE <<TWO /dst/",
        "18 FROM Scratch",
      ],
    );
    assert.deepEqual(p.problems, []);
  });
  it("reports a heredoc that is never closed", () => {
    const p = parseDockerfile("FROM a\nRUN <<EOF\necho\n");
    assert.deepEqual(p.problems, [{ line: 3, message: "heredoc <<EOF is never closed" }]);
  });
  it("an unknown directive is a comment and ends the directives", () => {
    const p = parseDockerfile("# foo=bar\n# escape=`\nFROM a");
    assert.equal(p.escape, "\\");
    assert.deepEqual(Object.keys(p.directives), []);
  });
  it("does not take directives after the first other line", () => {
    const p = parseDockerfile("FROM a\n# escape=`\nRUN x \\\n y");
    assert.equal(p.escape, "\\");
    assert.equal(p.instructions[1].args, "x  y");
  });
});

describe("Dockerfile references (BuildKit semantics)", () => {
  const dayu = [
    "ARG REG=docker.io",
    "ARG BASE_REPO=dayuhub",
    "ARG TAG=latest",
    "FROM ${REG}/${BASE_REPO}/dayubase:${TAG}",
    "ARG code_dir=components/processor",
    "COPY ${code_dir}/* /app/",
  ].join("\n");

  const table: { name: string; text: string; opts?: Partial<ResolveOptions>; want: string[] }[] = [
    {
      name: "Dayu's form with the defaults",
      text: dayu,
      want: ["from docker.io/dayuhub/dayubase:latest @4"],
    },
    {
      name: "Dayu's form with TAG=latest-jp5 and REG of the private registry",
      text: dayu,
      opts: { buildArgs: { TAG: "latest-jp5", REG: "registry.dayu.test:5443" } },
      want: ["from registry.dayu.test:5443/dayuhub/dayubase:latest-jp5 @4"],
    },
    {
      name: "a global ARG without a default and no build arg is empty",
      text: "ARG REG\nFROM ${REG}dayuhub/x:${T:-latest}",
      want: ["from dayuhub/x:latest @2"],
    },
    {
      name: "${VAR-default} keeps a declared-but-unset ARG unset",
      text: "ARG V\nFROM x:${V-unset}",
      want: ["from x:unset @2"],
    },
    {
      name: "a build arg set to empty is set",
      text: "ARG V=v\nFROM x:${V-unset}${V:-e}",
      opts: { buildArgs: { V: "" } },
      want: ["from x:e @2"],
    },
    {
      name: "${VAR:+alt}",
      text: "ARG JP\nFROM dayubase:latest${JP:+-jp}${JP}",
      opts: { buildArgs: { JP: "5" } },
      want: ["from dayubase:latest-jp5 @2"],
    },
    {
      name: "global ARG defaults see earlier global ARGs",
      text: "ARG A=one\nARG B=${A}-two\nFROM x:$B",
      want: ["from x:one-two @3"],
    },
    {
      name: "a build arg replaces the default of a later ARG's source",
      text: "ARG A=one\nARG B=${A}-two\nFROM x:$B",
      opts: { buildArgs: { A: "uno" } },
      want: ["from x:uno-two @3"],
    },
    {
      name: "AS names are lower-cased; a later FROM sees only globals",
      text: [
        "ARG IMG=golang:1.22",
        "FROM $IMG AS Build",
        "ARG IMG=ignored-in-from",
        "FROM build AS test",
        "FROM test",
      ].join("\n"),
      want: ["from golang:1.22 @2"],
    },
    {
      name: "FROM matches a stage by its exact lower-case name only, as BuildKit looks it up",
      text: "FROM alpine AS build\nFROM Build",
      want: ["from alpine @1 (unused)", "from Build @2"],
    },
    {
      name: "a FROM naming a later stage is an image",
      text: "FROM app AS base\nFROM alpine AS app",
      want: ["from app @1 (unused)", "from alpine @2"],
    },
    {
      name: "--platform is kept and expanded with BUILDPLATFORM/TARGETPLATFORM",
      text: "FROM --platform=$BUILDPLATFORM golang AS b\nFROM --platform=${TARGETPLATFORM} alpine\nCOPY --from=b /x /x",
      opts: { platform: "linux/arm64", buildPlatform: "linux/amd64" },
      want: ["from golang @1 platform=linux/amd64", "from alpine @2 platform=linux/arm64"],
    },
    {
      name: "the automatic args are global without an ARG; a build arg overrides them",
      text: "FROM alpine:${TARGETARCH}-${TARGETSTAGE}\nFROM x:${TARGETOS}${TARGETVARIANT:+-}${TARGETVARIANT}",
      opts: { platform: "linux/arm/v7", buildArgs: { TARGETOS: "plan9" } },
      want: ["from alpine:arm-default @1 (unused)", "from x:plan9-v7 @2"],
    },
    {
      name: "COPY --from by stage name, stage index or image",
      text: [
        "FROM alpine AS a",
        "FROM busybox",
        "COPY --from=a /a /a",
        "COPY --from=0 /b /b",
        "COPY --from=nginx:1.27 /c /c",
        "ADD --from=docker.io/library/redis:7 /d /d",
      ].join("\n"),
      want: [
        "from alpine @1",
        "from busybox @2",
        "copy nginx:1.27 @5",
        "copy docker.io/library/redis:7 @6",
      ],
    },
    {
      name: "COPY --from may name a later stage (case-insensitive) and RUN --mount options expand",
      text: [
        "FROM alpine AS first",
        "COPY --from=Later /x /x",
        "ARG REQ=requirements.txt",
        "RUN --mount=type=bind,source=${REQ},target=/r true",
        "FROM busybox AS later",
      ].join("\n"),
      opts: { target: "first" },
      want: ["from alpine @1", "from busybox @5"],
    },
    {
      name: "RUN --mount from a stage, an image, and a cache without from",
      text: [
        "FROM alpine AS deps",
        "FROM busybox",
        "RUN --mount=type=bind,from=deps,target=/d --mount=type=cache,target=/c true",
        "RUN --mount=from=python:3.12,source=/usr,target=/u --mount=type=secret,id=x true",
      ].join("\n"),
      want: ["from alpine @1", "from busybox @2", "mount python:3.12 @4"],
    },
    {
      name: "stages the target does not need are unused; the target picks the final stage",
      text: "FROM alpine AS one\nFROM busybox AS two\nFROM debian AS three\nCOPY --from=one / /",
      opts: { target: "Two" },
      want: ["from alpine @1 (unused)", "from busybox @2", "from debian @3 (unused)"],
    },
    {
      name: "the syntax directive names the frontend image",
      text: "# syntax=docker/dockerfile:1\nFROM scratch",
      want: ["syntax docker/dockerfile:1 @1"],
    },
    {
      name: "the escape directive changes continuations and escapes",
      text: "# escape=`\nARG A=x\nFROM `\n  img:$A",
      want: ["from img:x @3"],
    },
    {
      name: "a heredoc body is not read as instructions",
      text: "FROM alpine\nRUN <<EOF\nFROM evil\nCOPY --from=evil2 / /\nEOF\nRUN true",
      want: ["from alpine @1"],
    },
    {
      name: "Atom's form: FROM $BASE_IMAGE",
      text: "ARG BASE_IMAGE\nFROM $BASE_IMAGE",
      opts: { buildArgs: { BASE_IMAGE: "r/atom@sha256:" + "a".repeat(64) } },
      want: [`from r/atom@sha256:${"a".repeat(64)} @2`],
    },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(refs(c.text, c.opts), c.want));
  }

  it("marks the final stage and the stage graph", () => {
    const r = resolveDockerfile(
      "FROM a AS x\nFROM x AS y\nFROM scratch\nCOPY --from=y / /\nFROM b",
      { file: "D" },
    );
    assert.equal(r.finalStage, 3);
    assert.deepEqual(r.stages[1].parent, { stage: 0 });
    assert.deepEqual(r.stages[2].parent, { scratch: true });
    assert.deepEqual(r.stages[2].dependsOn, [1]);
    assert.deepEqual(r.stages[3].parent, { image: "b" });
  });
});

describe("Dockerfile ARG use (what is left out of a build's identity)", () => {
  it("global ARGs read by no stage feed only FROM lines", () => {
    const r = resolveDockerfile(
      "ARG REG=docker.io\nARG TAG=latest\nARG UNUSED\nFROM ${REG}/dayuhub/dayubase:${TAG}\nARG code_dir=x\nRUN true",
      { file: "D" },
    );
    assert.deepEqual(r.fromOnlyArgs, ["REG", "TAG", "UNUSED"]);
    assert.deepEqual(r.stageArgs, ["code_dir"]);
  });
  it("a global ARG re-declared in a needed stage (or read by one that is) is not FROM-only", () => {
    const r = resolveDockerfile(
      [
        "ARG REG=docker.io",
        "ARG VER=1",
        "ARG FULL=v${VER}",
        "ARG TAG=latest",
        "FROM x:${TAG} AS unused",
        "ARG REG",
        "FROM ${REG}/y",
        "ARG FULL",
        "RUN echo $FULL",
      ].join("\n"),
      { file: "D" },
    );
    assert.deepEqual(r.fromOnlyArgs, ["REG", "TAG"]);
    assert.deepEqual(r.stageArgs, ["FULL"]);
  });
});

describe("Dockerfile context sources", () => {
  it("lists COPY/ADD sources of the needed stages after ARG and ENV expansion", () => {
    const r = resolveDockerfile(
      [
        "ARG REG=docker.io",
        "FROM ${REG}/node:20 AS web",
        "COPY frontend/ /web/",
        "FROM scratch AS unused",
        "COPY docs/ /docs/",
        "FROM ${REG}/dayuhub/dayubase:latest",
        "ARG dependency_dir=dependency",
        "ARG lib_dir=${dependency_dir}/core/lib",
        "ARG app",
        "ENV CODE=components/processor",
        "COPY ${lib_dir}/requirements.txt ./lib_requirements.txt",
        'COPY ["${CODE}/main.py", "./setup cfg", "/app/"]',
        "COPY --chown=1:1 --from=web /web /web",
        "COPY ./${dependency_dir}/../dependency/x /x",
        "ADD https://example.invalid/x.tgz /tmp/",
        "ADD data/${app:-car_detection}/*.pt /models/",
        "COPY <<EOF /etc/conf",
        "inline",
        "EOF",
        "RUN --mount=type=bind,source=requirements.txt,target=/r pip install -r /r",
      ].join("\n"),
      { file: "build/car.Dockerfile" },
    );
    assert.deepEqual(r.problems, []);
    assert.deepEqual(
      r.sources.map((s) => `${s.where} ${s.instruction} ${s.path}`),
      [
        "build/car.Dockerfile:3 COPY frontend",
        "build/car.Dockerfile:11 COPY dependency/core/lib/requirements.txt",
        "build/car.Dockerfile:12 COPY components/processor/main.py",
        "build/car.Dockerfile:12 COPY setup cfg",
        "build/car.Dockerfile:14 COPY dependency/x",
        "build/car.Dockerfile:16 ADD data/car_detection/*.pt",
        "build/car.Dockerfile:20 RUN --mount requirements.txt",
      ],
    );
  });
  it("a build arg overrides a stage ARG's default in a source path", () => {
    const r = resolveDockerfile("FROM a\nARG code_dir=x\nCOPY ${code_dir} /", {
      file: "D",
      buildArgs: { code_dir: "y" },
    });
    assert.deepEqual(
      r.sources.map((s) => s.path),
      ["y"],
    );
  });
  it("a child stage sees its parent stage's ARG values (BuildKit carries the state over)", () => {
    const r = resolveDockerfile("FROM a AS p\nARG X=parent\nFROM p\nCOPY $X /", { file: "D" });
    assert.deepEqual(
      r.sources.map((s) => s.path),
      ["parent"],
    );
  });
  it("ENV wins over an ARG of the same name and is inherited by a child stage", () => {
    const r = resolveDockerfile("FROM a AS p\nENV D=from-env\nFROM p\nARG D=from-arg\nCOPY $D /", {
      file: "D",
    });
    assert.deepEqual(
      r.sources.map((s) => s.path),
      ["from-env"],
    );
  });
});

describe("Dockerfile refusals name file and line", () => {
  const table: [string, string, Partial<ResolveOptions>, RegExp][] = [
    [
      "blank base",
      "ARG REG\nFROM ${REG}",
      {},
      /^D:2: base name \(\$\{REG\}\) should not be blank$/,
    ],
    ["no FROM", "ARG A=1\n", {}, /^D:1: no FROM instruction$/],
    ["instruction before FROM", "RUN true\nFROM a", {}, /^D:1: RUN before the first FROM/],
    ["unknown target", "FROM a AS x", { target: "y" }, /^D:1: target stage "y" is not defined$/],
    ["bad --from index", "FROM a\nCOPY --from=1 / /", {}, /^D:2: invalid stage index 1$/],
    [
      "--from itself",
      "FROM a AS x\nCOPY --from=X / /",
      {},
      /^D:2: circular dependency: stage X reads/,
    ],
    [
      "--from with a variable",
      "ARG S=a\nFROM a\nARG S\nCOPY --from=${S} / /",
      {},
      /^D:4: COPY from "\$\{S\}": variable expansion is not supported there/,
    ],
    [
      "mount from with a variable",
      "FROM a\nARG S=x\nRUN --mount=from=$S,target=/t true",
      {},
      /^D:3: RUN from "\$S": variable expansion is not supported/,
    ],
    [
      "a cycle through COPY --from",
      "FROM a AS x\nCOPY --from=y / /\nFROM b AS y\nCOPY --from=x / /",
      {},
      /^D:\d: circular dependency detected on stage/,
    ],
    ["duplicate stage", "FROM a AS x\nFROM b AS X", {}, /^D:2: duplicate stage name "x"$/],
    ["required var", "FROM a:${T:?set_TAG}", {}, /^D:1: FROM a:\$\{T:\?set_TAG\}: T: set_TAG$/],
    ["COPY without destination", "FROM a\nCOPY x", {}, /^D:2: COPY x: needs at least one source/],
    ["bad FROM", "FROM a b c d", {}, /^D:1: FROM a b c d: expected/],
  ];
  for (const [name, text, opts, re] of table) {
    it(name, () => {
      const r = resolveDockerfile(text, { file: "D", ...opts });
      assert.ok(
        r.problems.some((p) => re.test(p)),
        `expected ${re} in ${JSON.stringify(r.problems)}`,
      );
    });
  }
});
