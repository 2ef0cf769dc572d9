/**
 * What one `pulumi up` did, read from its engine event log (`--event-log FILE`, one JSON event a
 * line): the builds it ran and the indexes it wrote. Pure.
 */

/** Resource types counted as builds and as indexes. */
export const IMAGE_TYPE = "docker-build:index:Image";
export const INDEX_TYPE = "docker-build:index:Index";

/** The URN part of an Index that copies a mirror (a child of MirroredImage). */
const MIRROR_PARENT = "$dayu:estate:MirroredImage$";
const MIRROR = "mirror";

/** Steps that ran a build or wrote an index (a replacement's steps count once: by URN). */
const WRITES = new Set(["create", "update", "replace", "create-replacement"]);

interface StepMetadata {
  op?: string;
  urn?: string;
  type?: string;
}

/** Distinct URNs of each type whose step wrote something, from event-log text. */
export function countWrites(eventLog: string): {
  builds: number;
  indexes: number;
  mirrors: number;
} {
  const seen: Record<string, Set<string>> = {
    [IMAGE_TYPE]: new Set(),
    [INDEX_TYPE]: new Set(),
    [MIRROR]: new Set(),
  };
  for (const line of eventLog.split("\n")) {
    if (!line.trim()) continue;
    let event: { resOutputsEvent?: { metadata?: StepMetadata } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue; // a line cut short by a killed run
    }
    const m = event.resOutputsEvent?.metadata;
    if (!m?.type || !m.urn || !m.op || !WRITES.has(m.op)) continue;
    // A mirror's copy is an Index too: counted apart, as the script's mirror copies are.
    const type = m.type === INDEX_TYPE && m.urn.includes(MIRROR_PARENT) ? MIRROR : m.type;
    seen[type]?.add(m.urn);
  }
  return {
    builds: seen[IMAGE_TYPE].size,
    indexes: seen[INDEX_TYPE].size,
    mirrors: seen[MIRROR].size,
  };
}
