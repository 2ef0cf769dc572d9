/**
 * The one rule for "this build arg looks like a credential", used by the planner (at plan time, with
 * the catalog's `notSecret` opt-out) and by the policy pack's `no-secret-build-args` (on the
 * resources). Build args end up in image history and in Pulumi state in plaintext. Pure.
 *
 * Names are judged by word: a name splits into words on `_` (and camelCase), so `GITHUB_TOKEN` and
 * `githubToken` are credentials but `TOKENIZERS_PARALLELISM` and `MAX_TOKENS` are not.
 * Values are judged by content: a URL with `user:password@`, a private key block, a well-known token
 * prefix. Messages never quote a value: it is the secret.
 */

/** Words that make a name a credential wherever they appear. */
const SECRET_WORDS = new Set([
  "PASSWORD",
  "PASSWD",
  "PASSPHRASE",
  "SECRET",
  "TOKEN",
  "CREDENTIAL",
  "CREDENTIALS",
  "CREDS",
  "APIKEY",
  "PRIVATEKEY",
  "ACCESSKEY",
]);
/**
 * Words that make a name a credential only as its last word: `NPM_PASS`, `GITLAB_PAT`,
 * `REGISTRY_AUTH`; but `PASS_THROUGH`, `PAT_SIZE`, `AUTH_MODE` are settings.
 */
const SECRET_LAST_WORDS = new Set(["PASS", "PAT", "AUTH", "PWD"]);
/** First words of two-word credentials: `<word>_KEY` (`SSH_KEY`, `API_KEY`, `DEPLOY_SSH_KEY`). */
const KEY_PREFIXES = new Set(["SSH", "API", "PRIVATE", "ACCESS", "SECRET", "SIGNING", "GPG"]);

/** The words of a build-arg name, upper case: `githubToken` and `GITHUB_TOKEN` → GITHUB, TOKEN. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .split(/[_\-.]+/)
    .filter((w) => w !== "")
    .map((w) => w.toUpperCase());
}

/** The word (or word pair) that makes `name` look like a credential, or undefined. */
export function secretNameReason(name: string): string | undefined {
  const words = nameWords(name);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (SECRET_WORDS.has(w)) return w;
    if (w === "KEY" && i > 0 && KEY_PREFIXES.has(words[i - 1])) return `${words[i - 1]}_KEY`;
  }
  const last = words[words.length - 1];
  return last !== undefined && SECRET_LAST_WORDS.has(last) ? last : undefined;
}

/** A PEM private key block (RSA, EC, OpenSSH, PKCS#8, encrypted, PGP). */
export const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----/;
/** A URL carrying a password: `scheme://user:password@host`. */
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]+:[^\s/@]+@/i;
/** Token formats that say what they are (GitHub, GitLab, AWS access key ids, Slack). */
const KNOWN_TOKENS =
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{20}|AKIA[0-9A-Z]{16}|xox[baprs]-[\w-]{10,})/;

/** What in `value` looks like a credential (without quoting it), or undefined. */
export function secretValueReason(value: string): string | undefined {
  if (PRIVATE_KEY_BLOCK.test(value)) return "holds a private key block";
  if (URL_WITH_PASSWORD.test(value)) return "holds a URL with a password (user:password@)";
  if (KNOWN_TOKENS.test(value)) return "holds what looks like an access token";
  return undefined;
}

/**
 * Why the build arg `name` = `value` looks like a credential, or undefined. Names in `notSecret`
 * (the catalog's per-image opt-out) pass the name rule; a credential-looking value is refused even
 * then, because no setting makes it safe to store one in image history.
 */
export function secretBuildArgReason(
  name: string,
  value: string | undefined,
  notSecret: readonly string[] = [],
): string | undefined {
  if (!notSecret.includes(name)) {
    const word = secretNameReason(name);
    if (word) return `its name looks like a credential (the word ${word})`;
  }
  const v = value === undefined ? undefined : secretValueReason(value);
  return v && `its value ${v}`;
}

/**
 * The Image label that carries an image's `notSecret` names to the policy pack (comma-separated),
 * so the pack honours the catalog's opt-out without a second list to keep in step.
 */
export const NOT_SECRET_LABEL = "org.dayu.estate.not-secret";

/** `notSecret` names as the {@link NOT_SECRET_LABEL} value (sorted, so the label is stable). */
export function notSecretLabel(names: readonly string[]): string {
  return [...new Set(names)].sort().join(",");
}

/** The names in a {@link NOT_SECRET_LABEL} value. */
export function notSecretFromLabel(label: string): string[] {
  return label
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
