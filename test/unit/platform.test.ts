/** The one platform spelling (estate/platform.ts) the catalog, the builders and args files share. */
import { strict as assert } from "assert";
import {
  builderNameError,
  builderNameKey,
  normalizeArch,
  normalizePlatform,
} from "../../estate/platform";
import { nameWords, secretNameReason, secretValueReason } from "../../estate/secrets";

describe("normalizePlatform", () => {
  const cases: [string, string][] = [
    ["linux/amd64", "linux/amd64"],
    ["linux/x86_64", "linux/amd64"],
    ["Linux/AMD64", "linux/amd64"],
    ["linux/aarch64", "linux/arm64"],
    ["linux/arm64/v8", "linux/arm64"],
    ["linux/aarch64/v8", "linux/arm64"],
    ["linux/arm/v7", "linux/arm/v7"],
    ["linux/armhf", "linux/arm/v7"],
    ["linux/i386", "linux/386"],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.deepEqual(normalizePlatform(input), { platform: want }));
  }

  const refusals: [string, RegExp][] = [
    ["x86_64", /^platform "x86_64" has no OS: write linux\/amd64$/],
    ["amd64", /^platform "amd64" has no OS: write linux\/amd64$/],
    ["aarch64", /^platform "aarch64" has no OS: write linux\/arm64$/],
    ["linux/amr64", /^platform "linux\/amr64": unknown architecture "amr64" \(known: /],
    [
      "linux/arm",
      /^platform "linux\/arm": architecture arm needs a variant \(arm\/v5, arm\/v6, arm\/v7\)$/,
    ],
    ["linux/arm64/v7", /^platform "linux\/arm64\/v7": architecture arm64 has no variant "v7"$/],
    ["linux/armhf/v6", /architecture armhf already implies arm\/v7; drop "\/v6"/],
    ["lunix/amd64", /^platform "lunix\/amd64": unknown OS "lunix" \(known: linux, windows\)$/],
    ["linux//amd64", /has an empty part/],
    ["linux/amd64/v1/x", /has more than os\/arch\/variant/],
    ["potato", /^platform "potato" is not os\/arch\[\/variant\]/],
  ];
  for (const [input, want] of refusals) {
    it(`refuses ${input}`, () => {
      const r = normalizePlatform(input);
      assert.ok("error" in r, JSON.stringify(r));
      assert.match(r.error, want);
    });
  }

  it("reads an args file's arch part the same way", () => {
    assert.deepEqual(normalizeArch("aarch64"), { platform: "linux/arm64" });
    assert.deepEqual(normalizeArch("x86_64"), { platform: "linux/amd64" });
    assert.deepEqual(normalizeArch("arm-v7"), { platform: "linux/arm/v7" });
    assert.ok("error" in normalizeArch("amr64"));
    assert.ok("error" in normalizeArch("arm"));
  });
});

describe("builder names (buildx's rule)", () => {
  it("accepts a letter then [a-zA-Z0-9._-], and treats case as one name", () => {
    for (const ok of ["dayu-amd64", "a", "Jetson_5.x"])
      assert.equal(builderNameError(ok), undefined);
    for (const bad of ["1amd", "-x", "dayu amd", "dayu/amd", ""])
      assert.ok(builderNameError(bad), bad);
    assert.equal(builderNameKey("Dayu-ARM"), builderNameKey("dayu-arm"));
  });
});

describe("the secret rule (estate/secrets.ts)", () => {
  it("splits names into words on _ and camelCase", () => {
    assert.deepEqual(nameWords("githubToken"), ["GITHUB", "TOKEN"]);
    assert.deepEqual(nameWords("TOKENIZERS_PARALLELISM"), ["TOKENIZERS", "PARALLELISM"]);
  });

  it("finds credential words anywhere, PASS/PAT/AUTH only last, <x>_KEY pairs", () => {
    const secret = [
      "GITHUB_TOKEN",
      "TOKEN",
      "NPM_PASS",
      "MY_PAT",
      "X_AUTH",
      "SSH_KEY",
      "DEPLOY_SSH_KEY",
      "API_KEY",
      "AWS_ACCESS_KEY_ID",
      "DB_PASSWORD_FILE",
      "GPG_PASSPHRASE",
    ];
    const harmless = [
      "TOKENIZERS_PARALLELISM",
      "MAX_TOKENS",
      "PASS_THROUGH",
      "PAT_SIZE",
      "AUTH_MODE",
      "AUTHOR",
      "KEY",
      "CACHE_KEY",
      "MONKEY",
      "PATH",
    ];
    for (const n of secret) assert.ok(secretNameReason(n), n);
    for (const n of harmless) assert.equal(secretNameReason(n), undefined, n);
  });

  it("finds credentials in values: user:password@ URLs, key blocks, known token formats", () => {
    assert.ok(secretValueReason("https://u:p@host/x"));
    assert.ok(secretValueReason("git+ssh://git:tok@github.example/r.git"));
    assert.ok(secretValueReason("-----BEGIN EC PRIVATE KEY-----"));
    assert.ok(secretValueReason(`AKIA${"A".repeat(16)}`));
    for (const ok of [
      "https://host/x",
      "git@github.com:org/repo.git",
      "ssh://git@host/r",
      "5",
      "user@host",
    ])
      assert.equal(secretValueReason(ok), undefined, ok);
  });
});
