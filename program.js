"use strict";
// The program's entry (Pulumi.yaml `main`): index.ts as JavaScript transpiled once per source text and
// cached under .estate/js (scripts/compiled.js), so no run pays for ts-node. The stack outputs are the
// exports of index.ts.
//
// No stack traces in the hot path: the Node SDK records `new Error().stack` for every promise it makes
// (runtime/debuggable.js, with no option or environment variable to turn it off), and the
// source-map-support it registers formats each one; a no-op preview of the local estate spent about
// 2.3 s of CPU on that. A limit of 0 makes those captures empty. The SDK's own per-resource source
// positions are unaffected (Resource.callsites() lifts the limit while it reads them); errors keep their
// messages, and DAYU_STACK_TRACES=1 brings the traces back for debugging a crash.
if (process.env.DAYU_STACK_TRACES !== "1") Error.stackTraceLimit = 0;
module.exports = require(require("./scripts/compiled").ensureCompiled(__dirname).entry);
