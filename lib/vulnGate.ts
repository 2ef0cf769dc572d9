/**
 * The vulnerability gate: before an index moves, each of its per-arch digests is scanned (grype, which
 * reads the SBOM syft made or the image itself) and the index is held back when a finding is at or
 * above the stack's severity threshold and not explicitly accepted.
 *
 * Only the decision is here, on grype's JSON (`grype <ref> -o json`): the scanner needs its
 * vulnerability database, a download these machines cannot make, so the scan itself cannot run here
 * and the gate is tested on a fixture result. In production the database comes from an internal
 * mirror (`GRYPE_DB_UPDATE_URL`) or a pre-seeded cache (`GRYPE_DB_CACHE_DIR`, `GRYPE_DB_AUTO_UPDATE=false`).
 */
import { Problems } from "../estate/problems";

/** Severities in grype's order, lowest first. */
export const SEVERITIES = ["Negligible", "Low", "Medium", "High", "Critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One finding. */
export interface Finding {
  id: string;
  severity: Severity | "Unknown";
  package: string;
  version: string;
  fixedIn?: string;
}

/** The gate's settings (stack config). */
export interface VulnGatePolicy {
  /** Lowest severity that blocks. Default `Critical`. */
  threshold?: Severity;
  /** Vulnerability ids accepted on purpose (with a reason kept in the stack file). Default none. */
  accept?: string[];
}

/** Reads grype's JSON output into findings. */
export function parseGrype(text: string): Finding[] {
  const doc = JSON.parse(text) as {
    matches?: {
      vulnerability?: { id?: string; severity?: string; fix?: { versions?: string[] } };
      artifact?: { name?: string; version?: string };
    }[];
  };
  return (doc.matches ?? []).map((m) => {
    const sev = m.vulnerability?.severity ?? "Unknown";
    return {
      id: m.vulnerability?.id ?? "?",
      severity: (SEVERITIES as readonly string[]).includes(sev) ? (sev as Severity) : "Unknown",
      package: m.artifact?.name ?? "?",
      version: m.artifact?.version ?? "?",
      fixedIn: m.vulnerability?.fix?.versions?.[0],
    };
  });
}

/** The findings that block, sorted worst first then by id. */
export function blockingFindings(findings: Finding[], policy: VulnGatePolicy = {}): Finding[] {
  const min = SEVERITIES.indexOf(policy.threshold ?? "Critical");
  const accepted = new Set(policy.accept ?? []);
  const rank = (f: Finding) => (f.severity === "Unknown" ? -1 : SEVERITIES.indexOf(f.severity));
  return findings
    .filter((f) => rank(f) >= min && !accepted.has(f.id))
    .sort((a, b) => rank(b) - rank(a) || a.id.localeCompare(b.id));
}

/**
 * Checks every per-arch digest of one index; throws one EstateInputError naming the index, the digest
 * and each blocking finding, so the index keeps its previous digest.
 */
export function checkIndexFindings(
  index: string,
  results: { ref: string; findings: Finding[] }[],
  policy: VulnGatePolicy = {},
): void {
  const problems = new Problems();
  for (const r of results)
    for (const f of blockingFindings(r.findings, policy))
      problems.at(
        `index ${index}, ${r.ref}`,
        `${f.id} (${f.severity}) in ${f.package} ${f.version}${f.fixedIn ? `, fixed in ${f.fixedIn}` : ""}`,
      );
  problems.throwIfAny();
}
