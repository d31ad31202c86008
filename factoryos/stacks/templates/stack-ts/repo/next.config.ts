import type { NextConfig } from "next";

// Deploy settings: a standalone server bundle (.next/standalone) that any Node
// host can run; the Convex backend is deployed separately (scripts/deploy.mjs).
const nextConfig: NextConfig = {
  output: "standalone",
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
