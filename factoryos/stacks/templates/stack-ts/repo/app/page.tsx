import { site } from "@/lib/site";
import { ConvexClientProvider } from "./convex-provider";
import { TaskList } from "./task-list";

export default function Home() {
  const convexUrl = process.env.NEXT_PUBLIC_CONVEX_URL;
  return (
    <main>
      <h1>{site.title}</h1>
      {convexUrl ? (
        <ConvexClientProvider url={convexUrl}>
          <TaskList />
        </ConvexClientProvider>
      ) : (
        <p role="status">
          No Convex deployment configured: set NEXT_PUBLIC_CONVEX_URL (see README.md).
        </p>
      )}
    </main>
  );
}
