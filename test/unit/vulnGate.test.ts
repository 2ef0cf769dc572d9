/**
 * The vulnerability gate on a fixture grype result (the scanner's database cannot be downloaded
 * here): parsing, the threshold, accepted ids, and one error naming the index, the digest and each
 * blocking finding.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { EstateInputError } from "../../estate/problems";
import { blockingFindings, checkIndexFindings, parseGrype } from "../../lib/vulnGate";

const findings = parseGrype(
  fs.readFileSync(path.join(__dirname, "fixtures", "grype-result.json"), "utf8"),
);
const REF = `registry.dayu.test:5443/dayuhub/car-detection@sha256:${"a".repeat(64)}`;

describe("vulnerability gate", () => {
  it("reads grype's matches", () => {
    assert.equal(findings.length, 4);
    assert.deepEqual(findings[0], {
      id: "CVE-2026-0001",
      severity: "Critical",
      package: "libc6",
      version: "2.36-9",
      fixedIn: "2.36-9+deb12u9",
    });
    assert.equal(findings[3].severity, "Unknown");
  });

  it("blocks at and above the threshold (default Critical), worst first, minus accepted ids", () => {
    assert.deepEqual(
      blockingFindings(findings).map((f) => f.id),
      ["CVE-2026-0001"],
    );
    assert.deepEqual(
      blockingFindings(findings, { threshold: "Low" }).map((f) => f.id),
      ["CVE-2026-0001", "CVE-2026-0002", "CVE-2026-0003"],
    );
    assert.deepEqual(
      blockingFindings(findings, { threshold: "High", accept: ["CVE-2026-0001"] }).map((f) => f.id),
      ["CVE-2026-0002"],
    );
  });

  it("holds the index back with one error naming it, the digest and the findings", () => {
    assert.throws(
      () =>
        checkIndexFindings("car-detection:v1.3", [{ ref: REF, findings }], { threshold: "High" }),
      (err: unknown) => {
        assert.ok(err instanceof EstateInputError);
        assert.equal(err.problems.length, 2);
        assert.match(
          err.problems[0],
          /^index car-detection:v1\.3, .*car-detection@sha256:a+: CVE-2026-0001 \(Critical\) in libc6 2\.36-9, fixed in/,
        );
        return true;
      },
    );
    assert.doesNotThrow(() =>
      checkIndexFindings("x:v1", [{ ref: REF, findings }], {
        threshold: "Critical",
        accept: ["CVE-2026-0001"],
      }),
    );
  });
});
