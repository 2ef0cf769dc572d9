/**
 * BuildKit's word expansion (its `shell.Lex`), as far as Dockerfiles use it: `$VAR`, `${VAR}`,
 * `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`,
 * `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/repl}`, `${VAR//pat/repl}`,
 * nested words, single quotes (literal),
 * double quotes (expanding) and the escape character. Quotes are removed from the result. An unset
 * variable expands to the empty string.
 */

/** The variables in scope: unset names are absent (an ARG without a value is absent, not ""). */
export type Env = ReadonlyMap<string, string>;

/** Thrown for a word BuildKit would refuse (unclosed `${`, `${VAR:?msg}` on an unset VAR, ...). */
export class ExpandError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Converts a shell pattern (`*`, `?`, `[...]`) into a regular expression source. */
function globToRegex(pattern: string, greedy: boolean): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") out += greedy ? ".*" : ".*?";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 1);
      if (close < 0) out += "\\[";
      else {
        out += `[${pattern
          .slice(i + 1, close)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return out;
}

/** Removes the shortest/longest prefix (`#`, `##`) or suffix (`%`, `%%`) matching `pattern`. */
function trimPattern(value: string, op: string, pattern: string): string {
  const greedy = op.length === 2;
  if (op[0] === "#") {
    const m = new RegExp(`^${globToRegex(pattern, greedy)}`, "s").exec(value);
    return m ? value.slice(m[0].length) : value;
  }
  // For a suffix, try every start position: the shortest match starts latest.
  const re = new RegExp(`^${globToRegex(pattern, true)}$`, "s");
  const starts = [...Array(value.length + 1).keys()];
  for (const s of greedy ? starts : starts.reverse()) {
    if (re.test(value.slice(s))) return value.slice(0, s);
  }
  return value;
}

/** `${VAR/pattern/replacement}` (first match) and `${VAR//pattern/replacement}` (every match). */
function replacePattern(value: string, rest: string, env: Env, escape: string): string {
  const all = rest.startsWith("//");
  const body = rest.slice(all ? 2 : 1);
  let slash = -1;
  for (let i = 0; i < body.length && slash < 0; i++) {
    if (body[i] === escape) i++;
    else if (body[i] === "/") slash = i;
  }
  if (slash < 0) throw new ExpandError(`syntax error: missing '/' in \${...${rest}}`);
  const pattern = expandWord(body.slice(0, slash), env, escape);
  const replacement = expandWord(body.slice(slash + 1), env, escape);
  const re = new RegExp(globToRegex(pattern, true), all ? "gs" : "s");
  return value.replace(re, () => replacement);
}

/** Finds the `}` closing a `${` whose body starts at `from`, skipping nested `${…}` and quotes. */
function closingBrace(text: string, from: number, escape: string): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === escape) i++;
    else if (c === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/** Expands the body of `${…}` (without the braces). */
function expandBraced(body: string, env: Env, escape: string): string {
  const m = NAME.exec(body);
  if (!m) throw new ExpandError(`bad substitution "\${${body}}"`);
  const name = m[0];
  const rest = body.slice(name.length);
  const value = env.get(name);
  if (rest === "") return value ?? "";
  if (rest.startsWith("/")) return replacePattern(value ?? "", rest, env, escape);
  const op = /^(:-|:\+|:\?|-|\+|\?|##|#|%%|%)/.exec(rest)?.[0];
  if (!op) throw new ExpandError(`unsupported substitution "\${${body}}"`);
  const word = () => expandWord(rest.slice(op.length), env, escape);
  const empty = value === undefined || (op.startsWith(":") && value === "");
  switch (op) {
    case ":-":
    case "-":
      return empty ? word() : (value as string);
    case ":+":
    case "+":
      return empty ? "" : word();
    case ":?":
    case "?":
      if (empty) {
        const unset =
          value === undefined ? "is not allowed to be unset" : "is not allowed to be empty";
        throw new ExpandError(`${name}: ${word() || unset}`);
      }
      return value as string;
    default:
      return trimPattern(value ?? "", op, word());
  }
}

/**
 * Expands one word (quotes removed). `escape` is the Dockerfile's escape character. Throws
 * {@link ExpandError} for what BuildKit refuses.
 */
export function expandWord(text: string, env: Env, escape = "\\"): string {
  let out = "";
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = "";
      else out += c;
    } else if (c === escape && i + 1 < text.length) {
      const n = text[i + 1];
      // Inside double quotes the escape only escapes `$`, `"` and itself, as in a shell.
      out += quote === '"' && !["$", '"', escape].includes(n) ? c + n : n;
      i++;
    } else if (c === '"' || (c === "'" && !quote)) {
      quote = quote === c ? "" : c;
    } else if (c === "$" && text[i + 1] === "{") {
      const close = closingBrace(text, i + 2, escape);
      if (close < 0) throw new ExpandError(`missing "}" in "${text}"`);
      out += expandBraced(text.slice(i + 2, close), env, escape);
      i = close;
    } else if (c === "$" && NAME.test(text.slice(i + 1))) {
      const name = (NAME.exec(text.slice(i + 1)) as RegExpExecArray)[0];
      out += env.get(name) ?? "";
      i += name.length;
    } else out += c;
  }
  if (quote) throw new ExpandError(`unterminated ${quote} quote in "${text}"`);
  return out;
}

/** The names a word reads (for telling which ARGs feed which lines). */
export function namesIn(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
  return [...names];
}
