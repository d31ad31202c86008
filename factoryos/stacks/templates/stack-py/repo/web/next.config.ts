import type { NextConfig } from "next";

// A static export (web/out) that the FastAPI service serves at /; the API is
// on the same origin under /api, so the pages call it with relative URLs.
const nextConfig: NextConfig = {
  output: "export",
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
