/**
 * `npm run plan [-- --stack <name>] [--write-graph] [--write-schema]`: prints the plan of a stack as
 * tables (no Pulumi CLI, no network); --write-graph refreshes the Mermaid graph embedded in README.md,
 * --write-schema writes estate.schema.json (for editors) from the schema the program validates with.
 */
import * as fs from "fs";
import * as path from "path";
import { catalogSchema } from "../estate/catalog";
import { diskFiles } from "../estate/files";
import { planForSettings } from "../estate/planner";
import { renderMermaid, renderPlan } from "../estate/render";
import { projectConfigBlock, settingsFromStackFile, stackFileSchema } from "../estate/settings";
import { stringify as toYaml } from "yaml";

const root = path.resolve(__dirname, "..");
const GRAPH_START = "<!-- estate-graph:start (npm run plan -- --write-graph) -->";
const GRAPH_END = "<!-- estate-graph:end -->";

/** Replaces the graph block of a README text. */
export function withGraph(readme: string, mermaid: string): string {
  const start = readme.indexOf(GRAPH_START);
  const end = readme.indexOf(GRAPH_END);
  if (start < 0 || end < start)
    throw new Error(`README.md has no ${GRAPH_START} ... ${GRAPH_END} block`);
  return `${readme.slice(0, start + GRAPH_START.length)}\n\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n\n${readme.slice(end)}`;
}

/** Replaces the `config:` block (the last one) of a Pulumi.yaml text with the generated one. */
export function withConfigBlock(projectYaml: string): string {
  const at = projectYaml.search(/^config:/m);
  const head = at < 0 ? `${projectYaml.trimEnd()}\n` : projectYaml.slice(0, at);
  return `${head}${toYaml({ config: projectConfigBlock() }, { lineWidth: 0 })}`;
}

/**
 * Plans a stack from its file, without the Pulumi CLI (secrets are not needed to plan). The file is
 * read as the CLI would pass it to the program, through the same rule (`settingsFromStackFile`), so
 * this and `pulumi preview` accept and refuse the same stack files.
 */
export function planForStack(stack: string) {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const settings = settingsFromStackFile(fs.readFileSync(file, "utf8"), stack);
  return planForSettings(settings, root, diskFiles, true);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const stack = args.includes("--stack") ? args[args.indexOf("--stack") + 1] : "dev";
  try {
    const plan = planForStack(stack);
    console.log(renderPlan(plan));
    if (args.includes("--write-schema")) {
      const file = path.join(root, "estate.schema.json");
      fs.writeFileSync(file, `${JSON.stringify(catalogSchema, null, 2)}\n`);
      const stackSchema = path.join(root, "stack-config.schema.json");
      fs.writeFileSync(stackSchema, `${JSON.stringify(stackFileSchema(), null, 2)}\n`);
      const project = path.join(root, "Pulumi.yaml");
      fs.writeFileSync(project, withConfigBlock(fs.readFileSync(project, "utf8")));
      console.log(`\nwrote ${file}, ${stackSchema} and the config block of ${project}`);
    }
    if (args.includes("--write-graph")) {
      const readme = path.join(root, "README.md");
      fs.writeFileSync(readme, withGraph(fs.readFileSync(readme, "utf8"), renderMermaid(plan)));
      console.log(`\nwrote the estate graph into ${readme}`);
    }
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
