"use client";

import { useMutation, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api } from "@/convex/_generated/api";
import { normalizeTaskText, summarize } from "@/lib/tasks";

/** The tasks, live from Convex, with a form to add one. */
export function TaskList() {
  const tasks = useQuery(api.tasks.list);
  const addTask = useMutation(api.tasks.add);
  const toggleTask = useMutation(api.tasks.toggle);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    try {
      await addTask({ text: normalizeTaskText(text) });
      setText("");
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }

  if (tasks === undefined) {
    return <p role="status">Loading…</p>;
  }
  return (
    <section>
      <p>{summarize(tasks)}</p>
      <ul>
        {tasks.map((task) => (
          <li key={task._id}>
            <label>
              <input
                type="checkbox"
                checked={task.done}
                onChange={() => void toggleTask({ id: task._id })}
              />
              {task.text}
            </label>
          </li>
        ))}
      </ul>
      <form onSubmit={(event) => void onSubmit(event)}>
        <input value={text} onChange={(event) => setText(event.target.value)} aria-label="New task" />
        <button type="submit">Add</button>
      </form>
      {error && <p role="alert">{error}</p>}
    </section>
  );
}
