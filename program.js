"use strict";
// The program's entry (Pulumi.yaml `main`): index.ts as JavaScript transpiled once per source text and
// cached under .estate/js (scripts/compiled.js), so no run pays for ts-node. The stack outputs are the
// exports of index.ts.
module.exports = require(require("./scripts/compiled").ensureCompiled(__dirname).entry);
