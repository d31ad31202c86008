import { site } from "@/lib/site";
import { TaskList } from "./task-list";

export default function Home() {
  return (
    <main>
      <h1>{site.title}</h1>
      <TaskList />
    </main>
  );
}
