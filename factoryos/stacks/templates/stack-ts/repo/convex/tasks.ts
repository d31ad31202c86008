import { v } from "convex/values";
import { normalizeTaskText } from "../lib/tasks";
import { mutation, query } from "./_generated/server";

/** Every task, oldest first. */
export const list = query({
  args: {},
  handler: async (ctx) => ctx.db.query("tasks").order("asc").collect(),
});

/** Add a task; its text is normalized (and refused when empty or too long). */
export const add = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) =>
    ctx.db.insert("tasks", { text: normalizeTaskText(text), done: false }),
});

/** Flip a task between done and not done. */
export const toggle = mutation({
  args: { id: v.id("tasks") },
  handler: async (ctx, { id }) => {
    const task = await ctx.db.get(id);
    if (task === null) {
      throw new Error("no such task");
    }
    await ctx.db.patch(id, { done: !task.done });
  },
});
