/** The task rules shared by the Convex functions and the pages. */

export const MAX_TASK_LENGTH = 200;

export interface Task {
  text: string;
  done: boolean;
}

/** The task text as stored: trimmed, inner whitespace collapsed; an Error when unusable. */
export function normalizeTaskText(text: string): string {
  const cleaned = text.trim().replace(/\s+/g, " ");
  if (cleaned.length === 0) {
    throw new Error("a task needs some text");
  }
  if (cleaned.length > MAX_TASK_LENGTH) {
    throw new Error(`a task is at most ${MAX_TASK_LENGTH} characters`);
  }
  return cleaned;
}

/** "2 of 3 done", for the page header. */
export function summarize(tasks: readonly Task[]): string {
  if (tasks.length === 0) {
    return "nothing to do";
  }
  const done = tasks.filter((task) => task.done).length;
  return `${done} of ${tasks.length} done`;
}
