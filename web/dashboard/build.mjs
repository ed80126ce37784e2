// Builds the dashboard into dist/ (served by the attendance server under /dashboard/ and
// /api/docs/): one bundle of our modules and their npm dependencies, the page shells, the
// world map's TopoJSON and the API reference's assets. Nothing is fetched from the network
// at run time.
import { build } from "esbuild";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const modules = join(here, "node_modules");

await rm(dist, { recursive: true, force: true });
await mkdir(join(dist, "assets"), { recursive: true });
await mkdir(join(dist, "api-docs"), { recursive: true });

await build({
  entryPoints: { dashboard: join(here, "src", "main.js"), "api-docs": join(here, "src", "api-docs.js") },
  bundle: true,
  splitting: true, // each page a chunk of its own, shared code in common chunks
  chunkNames: "chunk-[hash]",
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2022"],
  outdir: join(dist, "assets"),
  legalComments: "linked",
  logLevel: "warning",
});

const copies = [
  [join(here, "static", "index.html"), join(dist, "index.html")],
  [join(here, "static", "dashboard.css"), join(dist, "assets", "dashboard.css")],
  [join(modules, "world-atlas", "countries-110m.json"), join(dist, "assets", "countries-110m.json")],
  [join(here, "static", "api-docs.html"), join(dist, "api-docs", "index.html")],
  [join(modules, "swagger-ui-dist", "swagger-ui.css"), join(dist, "api-docs", "swagger-ui.css")],
  [join(modules, "swagger-ui-dist", "swagger-ui-bundle.js"), join(dist, "api-docs", "swagger-ui-bundle.js")],
];
for (const [from, to] of copies) await copyFile(from, to);
await writeFile(join(dist, ".built"), new Date().toISOString() + "\n");
console.log(`dashboard built into ${dist}`);
