// The pipeline's evaluate stage: serve what a deploy would ship (scripts/serve)
// and run the public checks in evals/checks.json against it. These checks are
// visible to everyone, agents included; the factory's hidden holdout
// scenarios are kept outside this repository and run by the factory alone.
//
//   node scripts/evaluate.mjs [--out public-checks.json]
//
// Exit status 0 when every check passes, 1 otherwise; public-checks.json records
// each check's result.
import { spawn } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outIndex = process.argv.indexOf("--out");
const out = path.resolve(root, outIndex >= 0 ? process.argv[outIndex + 1] : "public-checks.json");
const checks = JSON.parse(readFileSync(path.join(root, "evals", "checks.json"), "utf8"));
const START_SECONDS = 300;

const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, "127.0.0.1", () => {
    const { port: free } = probe.address();
    probe.close(() => resolve(free));
  });
});
const base = `http://127.0.0.1:${port}`;
const server = spawn(path.join(root, "scripts", "serve"), [], {
  cwd: root,
  env: { ...process.env, PORT: String(port) },
  stdio: ["ignore", "inherit", "inherit"],
  detached: true,
});
let exited = null;
server.on("exit", (code) => { exited = code; });
const stop = () => { try { process.kill(-server.pid, "SIGTERM"); } catch { /* already gone */ } };

try {
  const deadline = Date.now() + START_SECONDS * 1000;
  for (;;) {
    if (exited !== null) throw new Error(`scripts/serve exited ${exited} before it was ready`);
    if (Date.now() > deadline) throw new Error(`not ready within ${START_SECONDS}s`);
    try {
      if ((await fetch(`${base}/api/health`)).ok) break;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const results = [];
  for (const check of checks) {
    const response = await fetch(base + check.path, { method: check.method ?? "GET" });
    const body = await response.text();
    const missing = (check.contains ?? []).filter((text) => !body.includes(text));
    const problem = response.status !== (check.status ?? 200)
      ? `status ${response.status}, expected ${check.status ?? 200}`
      : missing.length ? `body lacks ${JSON.stringify(missing)}` : null;
    results.push({ name: check.name, passed: problem === null, problem });
    console.log(`${problem === null ? "pass" : "FAIL"}  ${check.name}${problem ? `: ${problem}` : ""}`);
  }
  const failed = results.filter((r) => !r.passed).length;
  writeFileSync(out, `${JSON.stringify({ checks: results, passed: results.length - failed, failed }, null, 2)}\n`);
  // Inside a Factory OS pipeline stage, keep a copy where the dashboard shows it.
  if (process.env.KILROY_STAGE_LOGS_DIR) copyFileSync(out, path.join(process.env.KILROY_STAGE_LOGS_DIR, path.basename(out)));
  console.log(`${results.length - failed}/${results.length} checks passed -> ${path.relative(root, out)}`);
  process.exitCode = failed === 0 ? 0 : 1;
} catch (error) {
  console.error(`evaluate: ${error.message}`);
  process.exitCode = 1;
} finally {
  stop();
}
