/** Human views of a plan: text tables for `npm run plan` and a Mermaid graph for the README. */
import { BaseLink, Plan, PlannedBuild, allBuilds, allIndexes } from "./planner";

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function baseLabel(base?: BaseLink): string {
  switch (base?.kind) {
    case undefined:
      return "-";
    case "build":
    case "step":
      return `${base.build} (by digest)`;
    case "mirror":
      return `mirror ${base.mirror}`;
    case "external":
      return base.ref;
  }
}

/** Every base of a build: the one in its base arg, then its named contexts (`key → base`). */
function basesLabel(b: PlannedBuild | undefined): string {
  if (!b) return "-";
  const parts = [
    ...(b.base ? [baseLabel(b.base)] : []),
    ...b.contexts.map((c) => `${c.key} → ${baseLabel(c.base)}`),
  ];
  return parts.join(" + ") || "-";
}

/** One row per index, then one row per build. */
export function renderPlan(plan: Plan): string {
  const builds = allBuilds(plan);
  const indexes = allIndexes(plan);
  const byId = new Map(builds.map((b) => [b.id, b]));
  const indexRows = indexes.map((i) => [
    i.image,
    i.tag + (i.release ? " (release)" : ""),
    i.builds.map((b) => b.platform).join(", "),
    i.builds.map((b) => `${b.build}@${byId.get(b.build)?.builder}`).join(", "),
    [...new Set(i.builds.map((b) => basesLabel(byId.get(b.build))))].join(", "),
  ]);
  const buildRows = builds.map((b) => [
    b.id,
    b.platform,
    b.builder,
    b.variants.join(","),
    basesLabel(b),
    b.archTag,
  ]);
  const mirrorRows = plan.mirrors.map((m) => [
    m.name,
    m.source,
    m.refs.join(", "),
    m.platforms.join(", "),
  ]);
  const amd = builds.filter((b) => b.arch === "amd64").length;
  return [
    `Registry ${plan.registry}, release ${plan.release || "(none)"}: ${indexes.length} indexes from ${builds.length} builds (${amd} amd64, ${builds.length - amd} other), ${plan.mirrors.length} mirrors.`,
    "",
    table(["IMAGE", "TAG", "PLATFORMS", "BUILDS@BUILDER", "BASE"], indexRows),
    "",
    table(["BUILD", "PLATFORM", "BUILDER", "VARIANTS", "BASE", "ARCH TAG"], buildRows),
    "",
    table(["MIRROR", "SOURCE", "TARGET", "PLATFORMS"], mirrorRows),
  ].join("\n");
}

/** A Mermaid flowchart of the estate: mirrors and images, base → dependent. */
export function renderMermaid(plan: Plan): string {
  const id = (n: string) => n.replace(/[^A-Za-z0-9]/g, "_");
  const lines = ["flowchart LR"];
  for (const m of plan.mirrors) {
    lines.push(
      `  mirror_${id(m.name)}[("${m.name}<br/>${m.platforms.map((p) => p.split("/")[1]).join(" + ")}")]`,
    );
  }
  for (const image of plan.images) {
    if (image.builds.length === 0) continue;
    const platforms = [...new Set(image.builds.filter((b) => b.final).map((b) => b.arch))];
    const tags = image.indexes.length;
    lines.push(
      `  ${id(image.name)}["${image.name}<br/>${platforms.join(" + ")} · ${tags} tag${tags === 1 ? "" : "s"}"]`,
    );
  }
  for (const e of plan.imageEdges) {
    const from = e.from.startsWith("mirror:") ? `mirror_${id(e.from.slice(7))}` : id(e.from);
    lines.push(`  ${from} --> ${id(e.to)}`);
  }
  return lines.join("\n");
}
