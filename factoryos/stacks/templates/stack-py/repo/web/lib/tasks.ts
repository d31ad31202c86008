/** The task shape the API returns, and how the page talks about tasks. */

export interface Task {
  id: number;
  text: string;
  done: boolean;
}

/** "2 of 3 done", as the API's app.tasks.summarize says it. */
export function summarize(tasks: readonly Task[]): string {
  if (tasks.length === 0) {
    return "nothing to do";
  }
  const done = tasks.filter((task) => task.done).length;
  return `${done} of ${tasks.length} done`;
}

/** The tasks, from the API on the same origin. */
export async function fetchTasks(): Promise<Task[]> {
  const response = await fetch("/api/tasks");
  if (!response.ok) {
    throw new Error(`GET /api/tasks: ${response.status}`);
  }
  return (await response.json()) as Task[];
}
