import { describe, expect, it } from "vitest";
import { MAX_TASK_LENGTH, normalizeTaskText, summarize } from "../lib/tasks";

describe("normalizeTaskText", () => {
  it("trims and collapses whitespace", () => {
    expect(normalizeTaskText("  write   the  docs ")).toBe("write the docs");
  });

  it("refuses empty text", () => {
    expect(() => normalizeTaskText("   ")).toThrow("needs some text");
  });

  it("refuses text over the limit", () => {
    expect(() => normalizeTaskText("x".repeat(MAX_TASK_LENGTH + 1))).toThrow("at most");
  });
});

describe("summarize", () => {
  it("says when there is nothing to do", () => {
    expect(summarize([])).toBe("nothing to do");
  });

  it("counts the done tasks", () => {
    expect(summarize([{ text: "a", done: true }, { text: "b", done: false }])).toBe("1 of 2 done");
  });
});
