"use client";

import { useEffect, useState } from "react";
import { fetchTasks, summarize, type Task } from "@/lib/tasks";

/** The tasks from the API, loaded in the browser. */
export function TaskList() {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetchTasks()
      .then(setTasks)
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)));
  }, []);

  if (error !== null) {
    return <p role="alert">{error}</p>;
  }
  if (tasks === null) {
    return <p role="status">Loading…</p>;
  }
  return (
    <section>
      <p>{summarize(tasks)}</p>
      <ul>
        {tasks.map((task) => (
          <li key={task.id}>
            {task.done ? "✓ " : ""}
            {task.text}
          </li>
        ))}
      </ul>
    </section>
  );
}
