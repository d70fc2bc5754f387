// The brief page: a new brief's form (#/), or one brief (#/briefs/{id}), whose job it
// follows live when given (?job=), then what the parser understood (editable), and the
// rounds of options and variations to choose from, and what the choices have taught.

import { get } from "../api.js";
import { alertBox, h } from "../dom.js";
import { briefForm } from "../brief_form.js";
import { followJob } from "../job_progress.js";
import { readersLine } from "../readers.js";
import { drawRounds } from "../rounds.js";
import { tastePanel } from "../taste.js";
import { understoodEditor } from "../understood.js";

export async function render(view, { briefId, jobId, isCurrent }) {
  if (!briefId) {
    // No autofocus: a keyboard user starts at the skip link and the navigation.
    view.append(briefForm(), readersLine());
    return;
  }
  const progress = h("div", { class: "job-area" });
  view.append(progress);
  if (jobId) {
    const job = await followJob(progress, jobId, isCurrent);
    if (!job) return;
    if (job.status === "failed") {
      progress.replaceChildren(alertBox(`The job failed: ${job.error ?? "no reason given"}`));
    } else if (job.result?.brief_understood === false) {
      progress.replaceChildren(alertBox(job.result.needs));
    } else {
      progress.replaceChildren(resultSummary(job));
    }
  }
  await drawBrief(view, briefId, isCurrent);
}

function resultSummary(job) {
  const result = job.result ?? {};
  const notes = [];
  if (result.evocations?.length) notes.push(`Read as: ${result.evocations.join(", ")}.`);
  if (result.unread_words?.length) notes.push(`Not read: ${result.unread_words.join(", ")}.`);
  if (result.unmatched_notes?.length) notes.push(`No catalogue material for: ${result.unmatched_notes.join(", ")}.`);
  if (result.search?.unmet?.length) notes.push(`Could not meet: ${result.search.unmet.join("; ")}.`);
  // A reading downshifted or a model role that fell back, said plainly (the design's mode is
  // always the one asked for).
  for (const note of result.reading_notes ?? []) notes.push(note);
  return alertBox(`${result.formula_ids?.length ?? 0} options designed. ${notes.join(" ")}`.trim(), "info");
}

async function drawBrief(view, briefId, isCurrent) {
  const brief = await get(`/v1/briefs/${briefId}`);
  if (!isCurrent()) return;
  const area = h("div", { class: "brief-area" });
  view.append(area);
  const rounds = h("div", { class: "rounds" });
  const taste = tastePanel();

  const redraw = async ({ focus } = {}) => {
    const fresh = await get(`/v1/briefs/${briefId}`);
    if (!isCurrent()) return;
    await drawRounds(rounds, fresh, { isCurrent, onChange: redraw });
    taste.refresh();
    if (focus) document.getElementById(focus)?.closest("section")?.focus();
  };

  area.append(
    h("section", { class: "brief-text", "aria-labelledby": "brief-title" },
      h("h1", { id: "brief-title" }, "Brief"),
      h("blockquote", { lang: brief.parsed?.language ?? null }, brief.text),
      brief.revises ? h("p", { class: "hint" }, "Corrects ", h("a", { href: `#/briefs/${brief.revises}` }, "an earlier reading"), ".") : null,
    ),
  );
  if (brief.parsed) area.append(await understoodEditor(brief));
  if (!isCurrent()) return;
  area.append(rounds, taste.element);
  await drawRounds(rounds, brief, { isCurrent, onChange: redraw });
  if (!isCurrent()) return;
  area.append(
    h("details", { class: "new-brief no-print" },
      h("summary", {}, "Start a new brief from this text"),
      briefForm({ text: brief.text, mode: brief.mode, product: brief.requested_product ?? "", heading: "New brief" }),
    ),
  );
}
