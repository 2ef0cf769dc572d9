/**
 * Resolves a parsed Dockerfile for one build the way BuildKit does, in named stages:
 * `globalScope` (ARGs before the first FROM, build args over defaults, automatic platform args) →
 * `readStages` (FROM lines, stage names, per-stage ARG/ENV scope, COPY/ADD/RUN --mount) →
 * `reachingStages` (the target stage and what it depends on) → `argUse` (which global ARGs feed only
 * FROM lines). Pure: the caller reads the file.
 */
import { Env, ExpandError, expandWord, namesIn } from "./expand";
import { Instruction, ParsedDockerfile, parseDockerfile, splitWords } from "./parse";

/** What one build passes to the Dockerfile. */
export interface ResolveOptions {
  /** Name used in messages, e.g. `build/car_detection.Dockerfile`. */
  file: string;
  /** The build's args (`--build-arg`). Default: none. */
  buildArgs?: Readonly<Record<string, string>>;
  /** Stage to build (`--target`), case-insensitive. Default: the last stage. */
  target?: string;
  /** Target platform, e.g. `linux/arm64`: sets TARGETPLATFORM/OS/ARCH/VARIANT. Default: unset. */
  platform?: string;
  /** Platform of the builder: BUILDPLATFORM/OS/ARCH/VARIANT. Default: `platform`. */
  buildPlatform?: string;
}

/** An image a build reads that is not one of its own stages. */
export interface ExternalReference {
  /** The reference after expansion, e.g. `docker.io/dayuhub/dayubase:latest-jp5`. */
  ref: string;
  /** The text as written, e.g. `${REG}/dayuhub/dayubase:${TAG}`. */
  raw: string;
  /** `from`: a FROM line; `copy`: `COPY/ADD --from=`; `mount`: `RUN --mount=…,from=`; `syntax`: the `# syntax=` frontend. */
  kind: "from" | "copy" | "mount" | "syntax";
  /** `file:line`. */
  where: string;
  line: number;
  /** Index of the stage it appears in (-1 for `syntax`). */
  stage: number;
  /** `--platform=` of a FROM, expanded (absent when the line has none). */
  platform?: string;
  /** False when the stage is not needed for the target, so BuildKit never reads it. */
  used: boolean;
}

/** One `FROM` and what follows it. */
export interface ResolvedStage {
  index: number;
  /** Lower-case stage name (`AS name`), if any. */
  name?: string;
  line: number;
  /** The parent: an earlier stage, `scratch`, or an external image (see `references`). */
  parent: { stage: number } | { scratch: true } | { image: string };
  /** Stages this stage reads from (parent, `COPY --from`, mounts). */
  dependsOn: number[];
}

/** A file or folder of the build context a stage copies in. */
export interface ContextSource {
  /** Path relative to the context after ARG/ENV expansion (may hold `*`, `?`, `[…]` patterns). */
  path: string;
  instruction: "COPY" | "ADD" | "RUN --mount";
  where: string;
  line: number;
  stage: number;
}

/** The resolution of one Dockerfile for one build. */
export interface ResolvedDockerfile {
  file: string;
  stages: ResolvedStage[];
  /** Index of the stage that is built (the target, else the last). */
  finalStage: number;
  /** Every image read that is not a stage of this file, in file order. */
  references: ExternalReference[];
  /** Global ARGs (before the first FROM) read by no stage the target needs: they only select bases. */
  fromOnlyArgs: string[];
  /** Every global ARG (declared before the first FROM), in file order. */
  globalArgs: string[];
  /** ARG names declared inside the stages the target needs: the build args that change the result. */
  stageArgs: string[];
  /** Context files the needed stages read (`COPY`/`ADD` without `--from`, bind mounts without `from`). */
  sources: ContextSource[];
  /** What BuildKit would refuse, each starting with `file:line`. */
  problems: string[];
}

/** Automatic platform args, BuildKit's names. */
function platformArgs(
  prefix: "TARGET" | "BUILD",
  platform: string | undefined,
): [string, string][] {
  if (!platform) return [];
  const [os, arch, variant] = platform.split("/");
  return [
    [`${prefix}PLATFORM`, platform],
    [`${prefix}OS`, os ?? ""],
    [`${prefix}OSVERSION`, ""],
    [`${prefix}ARCH`, arch ?? ""],
    [`${prefix}VARIANT`, variant ?? ""],
  ];
}

/** `KEY=VALUE` pairs of an ARG or ENV instruction (legacy `ENV KEY value` too); values unexpanded. */
function pairs(keyword: string, args: string, escape: string): { key: string; value?: string }[] {
  const words = splitWords(args, escape);
  if (keyword === "ENV" && words.length > 0 && !words[0].includes("=")) {
    return [{ key: words[0], value: args.slice(args.indexOf(words[0]) + words[0].length).trim() }];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    return eq < 0 ? { key: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Flags (`--name=value` or `--name`) at the start of an instruction's words, and the rest. */
function flags(words: string[]): { flags: { name: string; value: string }[]; rest: string[] } {
  const out: { name: string; value: string }[] = [];
  let i = 0;
  for (; i < words.length && words[i].startsWith("--"); i++) {
    const eq = words[i].indexOf("=");
    out.push(
      eq < 0
        ? { name: words[i].slice(2).toLowerCase(), value: "" }
        : { name: words[i].slice(2, eq).toLowerCase(), value: words[i].slice(eq + 1) },
    );
  }
  return { flags: out, rest: words.slice(i) };
}

/** The Dockerfile's global scope: build args over global ARG defaults, plus the platform args. */
export function globalScope(
  parsed: ParsedDockerfile,
  opts: ResolveOptions,
  fail: (line: number, message: string) => void,
): { env: Map<string, string>; declared: Map<string, string[]>; firstFrom: number } {
  const buildArgs = opts.buildArgs ?? {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(buildArgs, k);
  // The automatic args are in the global scope without an ARG (BuildKit's `defaultArgs`); a build
  // arg of the same name wins.
  const automatic: [string, string][] = [
    ...platformArgs("TARGET", opts.platform),
    ...platformArgs("BUILD", opts.buildPlatform ?? opts.platform),
    ["TARGETSTAGE", opts.target ?? "default"],
  ];
  const env = new Map(automatic.map(([k, v]) => [k, has(k) ? buildArgs[k] : v]));
  /** Global ARG name → the names its default reads. */
  const declared = new Map<string, string[]>();
  let i = 0;
  for (; i < parsed.instructions.length; i++) {
    const ins = parsed.instructions[i];
    if (ins.keyword === "FROM") break;
    if (ins.keyword !== "ARG") {
      fail(ins.line, `${ins.keyword} before the first FROM (only ARG may come before it)`);
      continue;
    }
    for (const { key, value } of pairs("ARG", ins.args, parsed.escape)) {
      declared.set(key, value === undefined ? [] : namesIn(value));
      // A build arg replaces the default without expanding it; a default sees earlier global ARGs.
      if (Object.prototype.hasOwnProperty.call(buildArgs, key)) env.set(key, buildArgs[key]);
      else if (value !== undefined) env.set(key, expandOr(value, env, parsed.escape, ins, fail));
    }
  }
  return { env, declared, firstFrom: i };
}

/** Expands a word, reporting a refusal at the instruction's line and returning "" then. */
function expandOr(
  text: string,
  env: Env,
  escape: string,
  ins: Instruction,
  fail: (line: number, message: string) => void,
): string {
  try {
    return expandWord(text, env, escape);
  } catch (err) {
    if (!(err instanceof ExpandError)) throw err;
    fail(ins.line, `${ins.keyword} ${ins.args}: ${err.message}`);
    return "";
  }
}

/** A stage being read: its scope and what it reads. */
interface StageState {
  stage: ResolvedStage;
  /** Values of the ARGs declared so far in the stage (absent: declared without a value). */
  args: Map<string, string>;
  declaredArgs: string[];
  /** ENV values, inherited from a parent stage; they win over ARGs of the same name. */
  envs: Map<string, string>;
  refs: Omit<ExternalReference, "used">[];
  sources: ContextSource[];
}

const scope = (s: StageState): Env => new Map([...s.args, ...s.envs]);
const STAGE_NAME = /^[a-z][a-z0-9._-]*$/;

/** Normalises a context path: relative to the context root, no `./`, `.` for the root. */
function contextPath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/") || ".";
}

/** Reads every stage: its parent, scope, external references, dependencies and context sources. */
export function readStages(
  parsed: ParsedDockerfile,
  opts: ResolveOptions,
  global: { env: Env; firstFrom: number },
  fail: (line: number, message: string) => void,
): StageState[] {
  const states: StageState[] = [];
  const where = (line: number) => `${opts.file}:${line}`;
  // `--from=` and `from=` may name any stage, later ones too (BuildKit registers every stage first).
  const names = stageNames(parsed);
  const stagesByName: StageLookup = {
    find: (name) => names.indexOf(name.toLowerCase()),
    count: names.length,
  };
  for (const ins of parsed.instructions.slice(global.firstFrom)) {
    const words = splitWords(ins.args, parsed.escape);
    if (ins.keyword === "FROM") {
      states.push(readFrom(ins, words, states, global.env, parsed.escape, opts, fail));
      continue;
    }
    const st = states[states.length - 1];
    if (ins.keyword === "ARG") {
      for (const { key, value } of pairs("ARG", ins.args, parsed.escape)) {
        st.declaredArgs.push(key);
        const build = opts.buildArgs ?? {};
        let v: string | undefined;
        if (Object.prototype.hasOwnProperty.call(build, key)) v = build[key];
        else if (value !== undefined) v = expandOr(value, scope(st), parsed.escape, ins, fail);
        else v = global.env.get(key);
        if (v === undefined) st.args.delete(key);
        else st.args.set(key, v);
      }
    } else if (ins.keyword === "ENV") {
      for (const { key, value } of pairs("ENV", ins.args, parsed.escape)) {
        if (value === undefined) fail(ins.line, `ENV ${key} has no value`);
        else st.envs.set(key, expandOr(value, scope(st), parsed.escape, ins, fail));
      }
    } else if (ins.keyword === "COPY" || ins.keyword === "ADD") {
      readCopy(ins, words, st, stagesByName, parsed.escape, where, fail);
    } else if (ins.keyword === "RUN") {
      readMounts(ins, words, st, stagesByName, parsed.escape, where, fail);
    }
  }
  return states;
}

/** One FROM line: a new stage, its parent resolved against earlier stages by name. */
function readFrom(
  ins: Instruction,
  words: string[],
  states: StageState[],
  globalEnv: Env,
  escape: string,
  opts: ResolveOptions,
  fail: (line: number, message: string) => void,
): StageState {
  const { flags: fl, rest } = flags(words);
  const index = states.length;
  const stage: ResolvedStage = { index, line: ins.line, parent: { scratch: true }, dependsOn: [] };
  const st: StageState = {
    stage,
    args: new Map(),
    declaredArgs: [],
    envs: new Map(),
    refs: [],
    sources: [],
  };
  if (rest.length !== 1 && !(rest.length === 3 && rest[1].toLowerCase() === "as")) {
    fail(ins.line, `FROM ${ins.args}: expected "FROM [--platform=…] image [AS name]"`);
    if (rest.length === 0) return st;
  }
  if (rest.length === 3) {
    const name = rest[2].toLowerCase();
    if (!STAGE_NAME.test(name)) fail(ins.line, `invalid stage name "${rest[2]}"`);
    if (states.some((s) => s.stage.name === name)) fail(ins.line, `duplicate stage name "${name}"`);
    stage.name = name;
  }
  const platformFlag = fl.find((f) => f.name === "platform");
  const platform = platformFlag && expandOr(platformFlag.value, globalEnv, escape, ins, fail);
  // FROM sees only the global scope: build args over global ARG defaults, and the platform args.
  const image = expandOr(rest[0], globalEnv, escape, ins, fail);
  // A FROM names an earlier stage only by its exact (lower-case) name: BuildKit looks the expanded
  // base name up as written, so `FROM Build` is an image reference, not the stage `build`.
  const parentIndex = states.findIndex((s) => s.stage.name === image);
  if (image === "") fail(ins.line, `base name (${rest[0]}) should not be blank`);
  else if (image.toLowerCase() === "scratch") stage.parent = { scratch: true };
  else if (parentIndex >= 0) {
    stage.parent = { stage: parentIndex };
    stage.dependsOn.push(parentIndex);
    // A child stage starts from its parent's state: its ENVs and, in BuildKit, its ARG values too.
    states[parentIndex].envs.forEach((v, k) => st.envs.set(k, v));
    states[parentIndex].args.forEach((v, k) => st.args.set(k, v));
  } else {
    stage.parent = { image };
    const where = `${opts.file}:${ins.line}`;
    st.refs.push({ ref: image, raw: rest[0], kind: "from", where, line: ins.line, stage: index });
    if (platform !== undefined) st.refs[0].platform = platform;
  }
  return st;
}

/** Stages by lower-case name, and how many there are. */
interface StageLookup {
  find(name: string): number;
  count: number;
}

/** Lower-case stage names by index (undefined for unnamed stages), read before any stage. */
function stageNames(parsed: ParsedDockerfile): (string | undefined)[] {
  return parsed.instructions
    .filter((i) => i.keyword === "FROM")
    .map((i) => {
      const rest = flags(splitWords(i.args, parsed.escape)).rest;
      return rest.length === 3 && rest[1].toLowerCase() === "as"
        ? rest[2].toLowerCase()
        : undefined;
    });
}

/**
 * Resolves a `--from=` / `from=` value: a stage (by name or index) or an external image. BuildKit
 * does not expand variables there ("define a new stage with FROM using ARG from global scope"), so
 * a value with a variable is refused, as BuildKit does.
 */
function fromTarget(
  value: string,
  st: StageState,
  stagesByName: StageLookup,
  ins: Instruction,
  fail: (line: number, message: string) => void,
): number | string | undefined {
  if (/\$./.test(value)) {
    fail(
      ins.line,
      `${ins.keyword} from "${value}": variable expansion is not supported there; name a stage whose FROM uses a global ARG instead`,
    );
    return undefined;
  }
  const numeric = /^\d+$/.test(value);
  const n = numeric ? Number(value) : stagesByName.find(value);
  if (numeric && n >= stagesByName.count) {
    fail(ins.line, `invalid stage index ${value}`);
    return undefined;
  }
  if (n === st.stage.index) {
    fail(ins.line, `circular dependency: stage ${value} reads from itself`);
    return undefined;
  }
  return n >= 0 ? n : value;
}

/** Records a dependency on a stage, or an external reference. */
function dependOn(
  st: StageState,
  target: number | string | undefined,
  kind: "copy" | "mount",
  raw: string,
  where: (line: number) => string,
  line: number,
): void {
  if (typeof target === "number") {
    if (!st.stage.dependsOn.includes(target)) st.stage.dependsOn.push(target);
  } else if (target !== undefined) {
    st.refs.push({ ref: target, raw, kind, where: where(line), line, stage: st.stage.index });
  }
}

/** COPY / ADD: a `--from` dependency, or context sources (heredocs and URLs are not context). */
function readCopy(
  ins: Instruction,
  words: string[],
  st: StageState,
  stagesByName: StageLookup,
  escape: string,
  where: (line: number) => string,
  fail: (line: number, message: string) => void,
): void {
  const { flags: fl, rest } = flags(words);
  const from = fl.find((f) => f.name === "from");
  if (from) {
    const target = fromTarget(from.value, st, stagesByName, ins, fail);
    dependOn(st, target, "copy", from.value, where, ins.line);
    return;
  }
  let items: string[] = rest;
  const text = rest.join(" ");
  if (text.startsWith("[")) {
    try {
      const json: unknown = JSON.parse(text);
      if (Array.isArray(json) && json.every((x) => typeof x === "string")) {
        items = json.map((x) => JSON.stringify(x));
      }
    } catch {
      // Not JSON: BuildKit reads it as the shell form, and so do we.
    }
  }
  if (items.length < 2) {
    fail(ins.line, `${ins.keyword} ${ins.args}: needs at least one source and a destination`);
    return;
  }
  const heredocs = new Set(ins.heredocs.map((h) => h.name));
  for (const word of items.slice(0, -1)) {
    const heredoc = /^\d*<<-?(["']?)([^<"'\s]+)\1$/.exec(word);
    if (heredoc && heredocs.has(heredoc[2])) continue;
    const p = expandOr(word, scope(st), escape, ins, fail);
    if (ins.keyword === "ADD" && /^([a-z][a-z0-9+.-]*:\/\/|git@)/i.test(p)) continue;
    const instruction = ins.keyword as "COPY" | "ADD";
    st.sources.push({
      path: contextPath(p),
      instruction,
      where: where(ins.line),
      line: ins.line,
      stage: st.stage.index,
    });
  }
}

/** RUN --mount: `from=` dependencies; a bind mount without `from` reads the context. */
function readMounts(
  ins: Instruction,
  words: string[],
  st: StageState,
  stagesByName: StageLookup,
  escape: string,
  where: (line: number) => string,
  fail: (line: number, message: string) => void,
): void {
  for (const f of flags(words).flags.filter((x) => x.name === "mount")) {
    const opts = new Map<string, string>();
    for (const field of f.value.split(",")) {
      const eq = field.indexOf("=");
      const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
      const value = eq < 0 ? "" : field.slice(eq + 1);
      // Every option but `from` is expanded with the stage's scope (see fromTarget).
      opts.set(key, key === "from" ? value : expandOr(value, scope(st), escape, ins, fail));
    }
    const type = opts.get("type") ?? "bind";
    if (type !== "bind" && type !== "cache") continue;
    const from = opts.get("from");
    if (from !== undefined && from !== "") {
      const target = fromTarget(from, st, stagesByName, ins, fail);
      dependOn(st, target, "mount", from, where, ins.line);
    } else if (type === "bind") {
      const source = opts.get("source") ?? opts.get("src") ?? ".";
      st.sources.push({
        path: contextPath(source),
        instruction: "RUN --mount",
        where: where(ins.line),
        line: ins.line,
        stage: st.stage.index,
      });
    }
  }
}

/**
 * The target stage and every stage it depends on, transitively; `onCycle` hears of a stage that
 * depends on itself through others (BuildKit refuses it: "circular dependency detected").
 */
export function reachingStages(
  stages: ResolvedStage[],
  final: number,
  onCycle: (stage: ResolvedStage) => void = () => undefined,
): Set<number> {
  const seen = new Set<number>();
  const open = new Set<number>();
  const visit = (i: number) => {
    if (!stages[i]) return;
    if (open.has(i)) onCycle(stages[i]);
    if (seen.has(i)) return;
    seen.add(i);
    open.add(i);
    stages[i].dependsOn.forEach(visit);
    open.delete(i);
  };
  visit(final);
  return seen;
}

/**
 * Which global ARGs the needed stages read: those re-declared (`ARG NAME`) in a needed stage, and
 * the global ARGs their defaults read, transitively. The rest feed only FROM lines (or nothing).
 */
export function argUse(
  declared: ReadonlyMap<string, string[]>,
  stageArgs: readonly string[],
): { fromOnlyArgs: string[]; neededGlobals: string[] } {
  const needed = new Set<string>();
  const add = (name: string) => {
    if (needed.has(name) || !declared.has(name)) return;
    needed.add(name);
    (declared.get(name) ?? []).forEach(add);
  };
  stageArgs.forEach(add);
  const all = [...declared.keys()];
  return { fromOnlyArgs: all.filter((n) => !needed.has(n)), neededGlobals: [...needed] };
}

/** Resolves a Dockerfile's text for one build. Never throws; refusals are in `problems`. */
export function resolveDockerfile(text: string, opts: ResolveOptions): ResolvedDockerfile {
  const parsed = parseDockerfile(text);
  const problems: string[] = [];
  const fail = (line: number, message: string) => {
    const p = `${opts.file}:${line}: ${message}`;
    if (!problems.includes(p)) problems.push(p);
  };
  parsed.problems.forEach((p) => fail(p.line, p.message));
  const global = globalScope(parsed, opts, fail);
  const states = readStages(parsed, opts, global, fail);
  const stages = states.map((s) => s.stage);
  if (stages.length === 0) fail(1, "no FROM instruction");
  let finalStage = stages.length - 1;
  if (opts.target !== undefined) {
    finalStage = stages.findIndex((s) => s.name === opts.target?.toLowerCase());
    if (finalStage < 0) fail(1, `target stage "${opts.target}" is not defined`);
  }
  const reach = reachingStages(stages, finalStage, (s) =>
    fail(s.line, `circular dependency detected on stage ${s.name ?? s.index}`),
  );
  const references: ExternalReference[] = [];
  const syntax = parsed.directives.syntax;
  if (syntax) {
    const where = `${opts.file}:${syntax.line}`;
    const ref = { ref: syntax.value, raw: syntax.value, where, line: syntax.line };
    references.push({ ...ref, kind: "syntax", stage: -1, used: true });
  }
  const needed = states.filter((s) => reach.has(s.stage.index));
  states.forEach((s) => s.refs.forEach((r) => references.push({ ...r, used: reach.has(r.stage) })));
  const stageArgs = [...new Set(needed.flatMap((s) => s.declaredArgs))];
  return {
    file: opts.file,
    stages,
    finalStage,
    references,
    fromOnlyArgs: argUse(global.declared, stageArgs).fromOnlyArgs,
    globalArgs: [...global.declared.keys()],
    stageArgs,
    sources: needed.flatMap((s) => s.sources),
    problems,
  };
}
