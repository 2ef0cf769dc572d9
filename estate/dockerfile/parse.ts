/**
 * Splits a Dockerfile into instructions the way BuildKit's parser does: parser directives at the top
 * (`# escape=`, `# syntax=`), comment lines dropped (also inside a continued instruction), line
 * continuations with the escape character, and heredocs (`<<EOF` … `EOF`) of RUN, COPY and ADD
 * consumed so that their bodies are never read as instructions. No expansion happens here.
 */

/** One instruction, its continuation lines joined. */
export interface Instruction {
  /** Upper-case keyword, e.g. `FROM`. */
  keyword: string;
  /** Everything after the keyword, continuation escapes removed, heredoc bodies not included. */
  args: string;
  /** 1-based line where the instruction starts (what BuildKit reports). */
  line: number;
  /** Heredocs of this instruction, in order (their bodies are not needed, only that they exist). */
  heredocs: { name: string; line: number }[];
}

/** A parsed Dockerfile. */
export interface ParsedDockerfile {
  /** Parser directives, lower-case names, e.g. `{ escape: "`", syntax: "docker/dockerfile:1" }`. */
  directives: Record<string, { value: string; line: number }>;
  /** The escape character: `\` unless `# escape=` says `` ` ``. */
  escape: string;
  instructions: Instruction[];
  /** Problems found while splitting, each `line N: message`. */
  problems: { line: number; message: string }[];
}

const KNOWN_DIRECTIVES = new Set(["syntax", "escape", "check"]);
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/;
/** BuildKit's heredoc word: optional fd digits, `<<`, optional `-`, then the (maybe quoted) name. */
const HEREDOC = /^\d*<<(-?)(["']?)([^<"'\s]+)\2$/;
const HEREDOC_KEYWORDS = new Set(["RUN", "COPY", "ADD"]);

/** Reads the parser directives at the top; returns them, the escape char and the first line after. */
function readDirectives(lines: string[]): {
  directives: ParsedDockerfile["directives"];
  escape: string;
  next: number;
  problems: ParsedDockerfile["problems"];
} {
  const directives: ParsedDockerfile["directives"] = {};
  const problems: ParsedDockerfile["problems"] = [];
  let i = 0;
  // BuildKit stops looking for directives at the first line that is not one (a comment, an empty
  // line or an instruction); a repeated directive is an error.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i].trim());
    // An unknown directive is a comment, and a comment ends the directives.
    if (!m || !KNOWN_DIRECTIVES.has(m[1].toLowerCase())) break;
    const name = m[1].toLowerCase();
    if (directives[name]) problems.push({ line: i + 1, message: `directive "${name}" repeated` });
    directives[name] = { value: m[2], line: i + 1 };
  }
  const escape = directives.escape?.value ?? "\\";
  if (escape !== "\\" && escape !== "`") {
    problems.push({
      line: directives.escape.line,
      message: `invalid escape "${escape}" (only \\ or \`)`,
    });
    return { directives, escape: "\\", next: i, problems };
  }
  return { directives, escape, next: i, problems };
}

/** Splits the words of a joined instruction line on unquoted whitespace (quotes kept). */
export function splitWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === escape && i + 1 < text.length && quote !== "'") {
      word += c + text[i + 1];
      inWord = true;
      i++;
    } else if (quote) {
      if (c === quote) quote = "";
      word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word += c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Heredoc names announced by an instruction's words (RUN, COPY, ADD only; JSON form has none). */
function heredocsOf(
  keyword: string,
  args: string,
  escape: string,
): { name: string; strip: boolean }[] {
  if (!HEREDOC_KEYWORDS.has(keyword) || args.trimStart().startsWith("[")) return [];
  const out: { name: string; strip: boolean }[] = [];
  for (const w of splitWords(args, escape)) {
    const m = HEREDOC.exec(w);
    if (m) out.push({ name: m[3], strip: m[1] === "-" });
  }
  return out;
}

/** Parses Dockerfile text into directives and instructions. Never throws. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const { directives, escape, next, problems } = readDirectives(lines);
  const instructions: Instruction[] = [];
  const continued = (l: string) => {
    const t = l.replace(/\s+$/, "");
    return t.endsWith(escape) ? t.slice(0, -1) : undefined;
  };
  let i = next;
  while (i < lines.length) {
    const first = lines[i];
    const start = i + 1;
    i++;
    if (first.trim() === "" || first.trim().startsWith("#")) continue;
    // Join continuation lines; comment and empty lines inside a continued instruction are dropped.
    let joined = "";
    let part: string | undefined = first;
    for (;;) {
      const body = continued(part);
      if (body === undefined) {
        joined += part;
        break;
      }
      joined += body;
      while (i < lines.length && (lines[i].trim() === "" || lines[i].trim().startsWith("#"))) i++;
      if (i >= lines.length) break;
      part = lines[i];
      i++;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(joined);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const args = m[2].trim();
    const heredocs: Instruction["heredocs"] = [];
    for (const h of heredocsOf(keyword, args, escape)) {
      const at = i + 1;
      const end = lines.findIndex(
        (l, k) => k >= i && (h.strip ? l.replace(/^\t+/, "") : l) === h.name,
      );
      if (end < 0) {
        problems.push({ line: at, message: `heredoc <<${h.name} is never closed` });
        i = lines.length;
        break;
      }
      heredocs.push({ name: h.name, line: at });
      i = end + 1;
    }
    instructions.push({ keyword, args, line: start, heredocs });
  }
  return { directives, escape, instructions, problems };
}
