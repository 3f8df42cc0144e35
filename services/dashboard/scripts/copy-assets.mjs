// Copies the chart library (and, for the browser tests, axe-core) from node_modules into the
// Python package's static folder, so the dashboard serves them itself: never a CDN at run time.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const vendor = join(root, "src", "styrkedja_dashboard", "static", "vendor");
mkdirSync(vendor, { recursive: true });
for (const [from, to] of [
  ["node_modules/echarts/dist/echarts.min.js", "echarts.min.js"],
  ["node_modules/echarts/LICENSE", "echarts.LICENSE.txt"],
]) {
  copyFileSync(join(root, from), join(vendor, to));
}
console.log(`assets copied to ${vendor}`);
