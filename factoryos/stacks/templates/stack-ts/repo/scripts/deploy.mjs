// Deploy dry run (the default) and real deploy of this product, without network
// unless --deploy is given.
//
//   node scripts/deploy.mjs [--out deploy-plan.json]   # build and validate; write the plan
//   node scripts/deploy.mjs --deploy                   # the same, then `convex deploy`
//
// The dry run checks the deploy configuration (vercel.json, convex.json,
// next.config.ts's standalone output), typechecks the Convex schema and
// functions against convex/_generated, runs `next build` and assembles the
// standalone server (.next/standalone, what a Node host runs), then writes the
// deploy plan: the routes, the Convex tables and functions, and the artifact's
// files, bytes and digest. Each problem is printed on its own line to stderr
// and the exit status is 1; no plan is written then.
//
// A real deploy needs CONVEX_DEPLOY_KEY (from your secret store, never from a
// file in git) and runs `npx convex deploy --cmd "npm run build"`, which pushes
// the Convex functions and builds the app against the production deployment;
// the Next.js host (Vercel, with vercel.json) runs the same command.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const deploy = args.includes("--deploy");
const outIndex = args.indexOf("--out");
const out = path.resolve(root, outIndex >= 0 ? args[outIndex + 1] : "deploy-plan.json");
const problems = [];
const checks = [];

function readJson(rel) {
  try {
    return JSON.parse(readFileSync(path.join(root, rel), "utf8"));
  } catch (error) {
    problems.push(`${rel}: ${error.message}`);
    return null;
  }
}

function run(what, command, commandArgs) {
  try {
    execFileSync(command, commandArgs, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
    });
    checks.push(what);
    return true;
  } catch (error) {
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim().split("\n").slice(-15);
    problems.push(`${what} failed:\n  ${output.join("\n  ")}`);
    return false;
  }
}

// vercel.json: the Next.js host's settings; its build must deploy Convex first.
const VERCEL_KEYS = new Set(["$schema", "framework", "buildCommand", "installCommand", "outputDirectory", "regions"]);
const vercel = readJson("vercel.json");
if (vercel) {
  for (const key of Object.keys(vercel)) {
    if (!VERCEL_KEYS.has(key)) problems.push(`vercel.json: unknown key ${key}`);
  }
  if (vercel.framework !== "nextjs") problems.push('vercel.json: framework must be "nextjs"');
  if (typeof vercel.buildCommand !== "string" || !vercel.buildCommand.includes("convex deploy")) {
    problems.push("vercel.json: buildCommand must run `convex deploy` (it builds the app against the deployed backend)");
  }
  checks.push("vercel.json");
}

// convex.json: where the functions live.
const convexConfig = readJson("convex.json");
const functionsDir = convexConfig?.functions ?? "convex/";
if (convexConfig) {
  if (typeof functionsDir !== "string" || !existsSync(path.join(root, functionsDir, "schema.ts"))) {
    problems.push(`convex.json: functions (${functionsDir}) must be a folder with schema.ts`);
  }
  checks.push("convex.json");
}

if (!/output:\s*"standalone"/.test(readFileSync(path.join(root, "next.config.ts"), "utf8"))) {
  problems.push('next.config.ts: output must be "standalone" (the artifact a Node host runs)');
}

// The Convex schema and functions typecheck against the generated API.
run("convex codegen is current", "node", ["scripts/convex-codegen.mjs", "--check"]);
run("convex typecheck", path.join(root, "node_modules/.bin/tsc"), ["--noEmit", "-p", "convex"]);

const convexDir = path.join(root, functionsDir);
const tables = [...readFileSync(path.join(convexDir, "schema.ts"), "utf8").matchAll(/(\w+):\s*defineTable\(/g)].map((m) => m[1]);
const functions = [];
for (const file of readdirSync(convexDir).filter((f) => f.endsWith(".ts") && f !== "schema.ts").sort()) {
  const source = readFileSync(path.join(convexDir, file), "utf8");
  for (const m of source.matchAll(/export const (\w+)\s*=\s*(query|mutation|action|internalQuery|internalMutation|internalAction|httpAction)\(/g)) {
    functions.push({ module: file.replace(/\.ts$/, ""), name: m[1], kind: m[2] });
  }
}
if (tables.length === 0) problems.push("convex/schema.ts: no tables defined");

// Build what a deploy ships only when the configuration is sound.
let artifact = null;
let routes = [];
let buildId = null;
if (problems.length === 0 && run("next build", path.join(root, "node_modules/.bin/next"), ["build"])) {
  const standalone = path.join(root, ".next", "standalone");
  if (!existsSync(path.join(standalone, "server.js"))) {
    problems.push(".next/standalone/server.js was not built (is output standalone?)");
  } else {
    cpSync(path.join(root, ".next", "static"), path.join(standalone, ".next", "static"), { recursive: true });
    if (existsSync(path.join(root, "public"))) cpSync(path.join(root, "public"), path.join(standalone, "public"), { recursive: true });
    artifact = digest(standalone);
    buildId = readFileSync(path.join(root, ".next", "BUILD_ID"), "utf8").trim();
    routes = Object.values(JSON.parse(readFileSync(path.join(root, ".next", "app-path-routes-manifest.json"), "utf8"))).sort();
    checks.push("standalone server assembled");
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  process.exit(1);
}

const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const plan = {
  app: pkg.name,
  dryRun: !deploy,
  stack: "stack-ts",
  targets: {
    web: { kind: "nextjs-standalone", host: "vercel (vercel.json) or any Node host", buildId, routes, artifact },
    backend: { kind: "convex", tables, functions },
  },
  deploy: { command: 'npx convex deploy --cmd "npm run build"', requires: ["CONVEX_DEPLOY_KEY"] },
  checks,
};
writeFileSync(out, `${JSON.stringify(plan, null, 2)}\n`);
publish(out);
console.log(`deploy dry run ok: ${plan.app} (${routes.length} routes, ${functions.length} Convex functions, ${artifact.files} files) -> ${path.relative(root, out)}`);

if (deploy) {
  if (!process.env.CONVEX_DEPLOY_KEY) {
    console.error("--deploy needs CONVEX_DEPLOY_KEY in the environment (from your secret store)");
    process.exit(2);
  }
  execFileSync("npx", ["convex", "deploy", "--cmd", "npm run build"], { cwd: root, stdio: "inherit" });
}

// Inside a Factory OS pipeline stage, also keep a copy in the stage's log folder,
// where the factory's dashboard shows it.
function publish(file) {
  const stageDir = process.env.KILROY_STAGE_LOGS_DIR;
  if (stageDir) cpSync(file, path.join(stageDir, path.basename(file)));
}

function digest(dir) {
  const hash = createHash("sha256");
  let files = 0;
  let bytes = 0;
  const walk = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const data = readFileSync(full);
        hash.update(`${path.relative(dir, full)}\0${createHash("sha256").update(data).digest("hex")}\n`);
        files += 1;
        bytes += statSync(full).size;
      }
    }
  };
  walk(dir);
  return { path: path.relative(root, dir), files, bytes, sha256: hash.digest("hex") };
}
