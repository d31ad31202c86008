import { site } from "@/lib/site";

/** Liveness for load balancers and the factory's evaluation: always 200 when serving. */
export function GET() {
  return Response.json({ status: "ok", name: site.name });
}
