// Builds dist/ from the one source the pages use, live/static/live-client.js (never a copy
// kept here): the CommonJS build is the file itself (its UMD header sets module.exports), the
// ES module runs the same text with a local `module` and exports what it set.
import {mkdirSync, readFileSync, writeFileSync, copyFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const source = readFileSync(join(here, "..", "..", "live", "static", "live-client.js"), "utf8");
const names = [
  "connect", "api", "browserTransport", "wxTransport", "fetchRequest", "wxRequest",
  "describe", "backoffDelay", "newKey", "LiveError", "MESSAGES",
];
const dist = join(here, "dist");
mkdirSync(dist, {recursive: true});
writeFileSync(join(dist, "index.js"), source);
const esm = [
  "// Built from live/static/live-client.js by scripts/build.mjs: do not edit.",
  "const module = {exports: {}};",
  source,
  "const LiveClient = module.exports;",
  "export default LiveClient;",
  `export const {${names.join(", ")}} = LiveClient;`,
  "",
].join("\n");
writeFileSync(join(dist, "index.mjs"), esm);
copyFileSync(join(here, "types", "index.d.ts"), join(dist, "index.d.ts"));
copyFileSync(join(here, "types", "index.d.ts"), join(dist, "index.d.mts"));
console.log("live-client: dist/ built from live/static/live-client.js");
