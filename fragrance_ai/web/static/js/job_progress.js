// Follows a job until it ends, showing its stage in words (reading the brief, optimising:
// generation N of M) and its progress; screen readers hear each new stage once.

import { get } from "./api.js";
import { announce, h } from "./dom.js";

const POLL_MS = 500;

export function stageInWords(job) {
  if (job.status === "queued") return "Waiting in the queue";
  if (job.status === "failed") return "Failed";
  if (job.status === "finished") return "Done";
  const stage = job.stage ?? "";
  const generation = stage.match(/generation (\d+)\/(\d+)/);
  if (generation) return `Optimising: generation ${generation[1]} of ${generation[2]}`;
  if (stage.startsWith("design_formulas")) return "Optimising the formulas";
  if (stage.startsWith("parse_brief")) return "Reading the brief";
  return stage || "Working";
}

export async function followJob(container, jobId, isCurrent) {
  const bar = h("progress", { max: 1, value: 0, id: "job-progress", "aria-labelledby": "job-stage" });
  const stage = h("p", { id: "job-stage", class: "stage" }, "Submitted");
  container.replaceChildren(h("div", { class: "progress", dataset: { jobId } }, stage, bar));
  let said = "";
  for (;;) {
    const job = await get(`/v1/jobs/${jobId}`);
    if (!isCurrent()) return null;
    bar.value = job.progress;
    const words = stageInWords(job);
    stage.textContent = words;
    if (words !== said) {
      announce(words);
      said = words;
    }
    if (job.status === "finished" || job.status === "failed") return job;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
