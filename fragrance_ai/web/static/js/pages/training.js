// The training page: which policy proposes variations, every policy training wrote (any
// one can be activated again: the manual rollback), the training runs with their curves,
// and a button that starts a run. While a run is queued or started the page polls it.

import { ApiError, get, post } from "../api.js";
import { alertBox, announce, append, clear, clearFieldErrors, h, showFieldError, svg } from "../dom.js";
import * as fmt from "../format.js";

const POLL_MS = 1500;
const RUNS_SHOWN = 10;
const FORBIDDEN = "Your API key does not allow this (needs the train or admin scope)";
const STATUS_LABELS = { queued: "Queued", started: "Running", finished: "Finished", failed: "Failed" };

export async function render(view, params) {
  const page = new TrainingPage(view, params);
  await page.start();
}

class TrainingPage {
  constructor(view, params) {
    this.params = params;
    this.policies = [];
    this.active = null;
    this.runs = [];
    this.totalRuns = 0;
    // Run id -> TrainingRunView; a finished run's never changes, so it is read once.
    this.details = new Map();
    this.selectedRunId = null;
    this.polling = false;

    this.activeBox = h("div", { class: "training-active" });
    this.policyMessage = h("div", { id: "policy-message", class: "training-message", tabindex: -1 });
    this.policyBox = h("div", { class: "training-table-wrap" });
    this.showPruned = h("input", {
      type: "checkbox",
      id: "show-pruned",
      onchange: () => this.drawPolicies(),
    });
    this.showPrunedLabel = h("label", { for: "show-pruned" }, "Also show policies whose file was pruned");
    this.prunedFilter = h("div", { class: "training-filter", hidden: true }, this.showPruned, this.showPrunedLabel);
    this.runMessage = h("div", { id: "run-message", class: "training-message" });
    this.runsBox = h("div", { class: "training-table-wrap" });
    this.detailBox = h("section", { class: "training-run-detail", "aria-labelledby": "run-detail-title", hidden: true });
    this.updatesInput = h("input", {
      id: "training-updates",
      name: "total_updates",
      type: "number",
      inputmode: "numeric",
      min: 1,
      step: 1,
      "aria-describedby": "training-updates-hint",
    });
    this.startButton = h("button", { type: "submit", id: "start-training" }, "Start a training run");
    this.startForm = h(
      "form",
      { class: "training-start", novalidate: true, onsubmit: (event) => this.startRun(event) },
      h("div", { class: "form-row" },
        h("div", {},
          h("label", { for: "training-updates" }, "PPO updates (optional)"),
          this.updatesInput,
          h("p", { class: "hint", id: "training-updates-hint" }, "Empty: the configured number of updates."),
        ),
        h("div", {}, this.startButton),
      ),
    );

    append(view, [
      h("h1", {}, "Training"),
      h("p", { class: "hint" },
        "Every choice a perfumer makes between variations is a preference. A training run fits a reward model " +
          "on them and trains the policy that proposes variations; the best policy it writes is activated when " +
          "it beats the one before. Any earlier policy can be activated again by hand."),
      h("section", { "aria-labelledby": "active-policy-title" },
        h("h2", { id: "active-policy-title" }, "Active policy"),
        this.activeBox,
        this.policyMessage,
      ),
      h("section", { "aria-labelledby": "policies-title" },
        h("h2", { id: "policies-title" }, "Policies"),
        this.prunedFilter,
        this.policyBox,
      ),
      h("section", { "aria-labelledby": "runs-title" },
        h("h2", { id: "runs-title" }, "Training runs"),
        this.startForm,
        this.runMessage,
        this.runsBox,
      ),
      this.detailBox,
    ]);
  }

  async start() {
    await Promise.all([this.loadPolicies(), this.loadRuns()]);
    if (!this.params.isCurrent()) return;
    this.drawPolicies();
    this.drawRuns();
    const first = this.runs[0];
    if (first) await this.selectRun(first.id, { focus: false });
    this.pollWhileRunning();
  }

  // ---------------------------------------------------------------- data

  async loadPolicies() {
    const answer = await get("/v1/policies");
    this.policies = answer.policies;
    this.active = answer.active;
  }

  async loadRuns() {
    const page = await get("/v1/training-runs", { limit: RUNS_SHOWN });
    this.runs = page.items;
    this.totalRuns = page.total;
    // The table shows each run's preferences and reward-model accuracy, which only the
    // run's own view has.
    await Promise.all(
      this.runs
        .filter((run) => !this.details.has(run.id) || isBusy(this.details.get(run.id)) || isBusy(run))
        .map(async (run) => this.details.set(run.id, await get(`/v1/training-runs/${run.id}`))),
    );
  }

  get busy() {
    return this.runs.some(isBusy);
  }

  // Polls while a run is queued or started; stops when none is, or when the perfumer has
  // left the page. Once a run ends, the policies are read again (it may have activated one).
  async pollWhileRunning() {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.busy) {
        await sleep(POLL_MS);
        if (!this.params.isCurrent()) return;
        const wasBusy = new Set(this.runs.filter(isBusy).map((run) => run.id));
        await this.loadRuns();
        if (!this.params.isCurrent()) return;
        this.drawRuns();
        if (this.selectedRunId) this.drawDetail(this.details.get(this.selectedRunId));
        const ended = this.runs.filter((run) => wasBusy.has(run.id) && !isBusy(run));
        if (ended.length) {
          await this.loadPolicies();
          if (!this.params.isCurrent()) return;
          this.drawPolicies();
          for (const run of ended) {
            announce(`Training run ${fmt.shortId(run.id)} ${STATUS_LABELS[run.status].toLowerCase()}.`);
          }
        }
      }
    } catch (error) {
      if (this.params.isCurrent()) this.say(this.runMessage, error.message);
    } finally {
      this.polling = false;
    }
  }

  // ---------------------------------------------------------------- actions

  async startRun(event) {
    event.preventDefault();
    clearFieldErrors(this.startForm);
    clear(this.runMessage);
    const body = {};
    const updates = this.updatesInput.value.trim();
    if (updates !== "") {
      const number = Number(updates);
      if (!Number.isInteger(number) || number < 1) {
        showFieldError(this.updatesInput, "Give a whole number of updates, at least 1, or leave it empty.");
        this.updatesInput.focus();
        return;
      }
      body.total_updates = number;
    }
    this.startButton.disabled = true;
    try {
      const accepted = await post("/v1/training-runs", body);
      if (!this.params.isCurrent()) return;
      this.say(this.runMessage, `Training run ${fmt.shortId(accepted.training_run_id)} started.`, "info");
      await this.loadRuns();
      if (!this.params.isCurrent()) return;
      this.drawRuns();
      await this.selectRun(accepted.training_run_id, { focus: false });
      this.pollWhileRunning();
    } catch (error) {
      if (!this.params.isCurrent()) return;
      this.refused(error, this.runMessage, {
        conflict: (detail) => `A training run is already running: ${detail}.`,
        field: (path, message) => {
          if (path[0] !== "total_updates") return false;
          showFieldError(this.updatesInput, message);
          this.updatesInput.focus();
          return true;
        },
      });
    } finally {
      this.startButton.disabled = false;
    }
  }

  async activate(policy, button) {
    clear(this.policyMessage);
    button.disabled = true;
    try {
      const answer = policy
        ? await post(`/v1/policies/${policy.id}/activate`, {})
        : await post("/v1/policies/deactivate", {});
      if (!this.params.isCurrent()) return;
      // The selected run's view says which of its policies is active: read it again too.
      const selected = this.selectedRunId;
      const [, detail] = await Promise.all([
        this.loadPolicies(),
        selected ? get(`/v1/training-runs/${selected}`) : null,
      ]);
      if (!this.params.isCurrent()) return;
      if (detail) {
        this.details.set(selected, detail);
        if (selected === this.selectedRunId) this.drawDetail(detail);
      }
      this.drawPolicies();
      this.say(
        this.policyMessage,
        answer.active ? `Policy version ${answer.active.version} is now active.` : "Back to the initial uniform policy.",
        "info",
      );
      // The button pressed is gone from the redrawn table: focus goes to what happened.
      this.policyMessage.focus();
    } catch (error) {
      if (!this.params.isCurrent()) return;
      button.disabled = false;
      this.refused(error, this.policyMessage, { conflict: (detail) => detail });
    }
  }

  async selectRun(runId, { focus = true } = {}) {
    this.selectedRunId = runId;
    let detail = this.details.get(runId);
    if (!detail) {
      detail = await get(`/v1/training-runs/${runId}`);
      if (!this.params.isCurrent()) return;
      this.details.set(runId, detail);
    }
    this.drawRuns();
    this.drawDetail(detail);
    if (focus) this.detailBox.querySelector("h2")?.focus();
  }

  // Shows why the service refused: its own words, or what a 403 or 409 means here.
  refused(error, box, { conflict, field } = {}) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 403) {
      this.say(box, FORBIDDEN);
    } else if (error.status === 409 && conflict) {
      this.say(box, conflict(error.message));
    } else if (error.status === 422 && field) {
      const unplaced = error.fieldErrors.filter((item) => !field(item.path, item.message));
      if (unplaced.length) this.say(box, unplaced.map((item) => item.message).join("; "));
    } else {
      this.say(box, error.message);
    }
  }

  // An error is an alert (read out at once); focus stays on the control that was used.
  say(box, message, kind = "error") {
    clear(box).append(alertBox(message, kind));
  }

  // ---------------------------------------------------------------- drawing

  drawPolicies() {
    const active = this.policies.find((policy) => policy.active);
    const backButton = h(
      "button",
      { type: "button", class: "secondary", dataset: { focusKey: "deactivate" }, disabled: !active },
      "Back to the initial policy",
    );
    backButton.addEventListener("click", () => this.activate(null, backButton));
    append(clear(this.activeBox), [
      h("p", { class: "training-active-policy", dataset: { activeVersion: active ? active.version : "" } },
        active
          ? [
              h("strong", {}, `Version ${active.version}`),
              ` (policy ${fmt.shortId(active.id)}), from update ${active.at_update} of run ${fmt.shortId(active.training_run_id)}; ` +
                `evaluated reward ${fmt.score(active.evaluation?.mean_return)}; active since ${fmt.dateTime(active.activated_at)}.`,
            ]
          : [h("strong", {}, "The initial uniform policy"), ": every allowed edit is equally likely."],
      ),
      h("div", { class: "actions" }, backButton),
    ]);

    if (!this.policies.length) {
      clear(this.policyBox).append(
        h("p", {}, "No policy yet: a training run writes one every few updates."),
      );
      return;
    }
    // A pruned policy cannot serve again; the table lists them only when asked.
    const pruned = this.policies.filter((policy) => !policy.kept && !policy.active).length;
    this.prunedFilter.hidden = pruned === 0;
    this.showPrunedLabel.textContent = `Also show the ${pruned} polic${pruned === 1 ? "y" : "ies"} whose file was pruned`;
    const shown = this.showPruned.checked ? this.policies : this.policies.filter((policy) => policy.kept || policy.active);
    const rows = shown.map((policy) => {
      let action;
      if (policy.active) action = h("span", { class: "badge badge-active" }, "Active");
      else if (!policy.kept) action = h("span", { class: "muted" }, "file pruned");
      else if (!policy.good) action = h("span", { class: "muted" }, "written during a rollback");
      else {
        const button = h(
          "button",
          { type: "button", class: "secondary", dataset: { focusKey: `activate-${policy.id}`, policyId: policy.id } },
          "Activate",
          h("span", { class: "visually-hidden" }, ` version ${policy.version}`),
        );
        button.addEventListener("click", () => this.activate(policy, button));
        action = button;
      }
      return h(
        "tr",
        { class: policy.active ? "active-policy" : null, dataset: { policyId: policy.id, version: policy.version } },
        h("th", { scope: "row", class: "number" }, `v${policy.version}`),
        h("td", {}, fmt.dateTime(policy.created_at)),
        h("td", { class: "number" }, fmt.score(policy.evaluation?.mean_return)),
        h("td", {}, h("code", { title: policy.sha256 }, policy.sha256.slice(0, 12))),
        h("td", {}, policy.kept ? "yes" : "no"),
        h("td", {}, policy.active ? "yes" : "no"),
        h("td", {}, action),
      );
    });
    keepingFocus(this.policyBox, () =>
      clear(this.policyBox).append(
        h(
          "table",
          { class: "training-policies" },
          h("caption", {},
            shown.length === this.policies.length
              ? `Policies training wrote, newest first (${shown.length})`
              : `Policies training wrote that can serve, newest first (${shown.length} of ${this.policies.length})`,
          ),
          h("thead", {},
            h("tr", {},
              h("th", { scope: "col", class: "number" }, "Version"),
              h("th", { scope: "col" }, "Created"),
              h("th", { scope: "col", class: "number" }, "Evaluated reward"),
              h("th", { scope: "col" }, "SHA-256"),
              h("th", { scope: "col" }, "File present"),
              h("th", { scope: "col" }, "Active"),
              h("th", { scope: "col" }, "Action"),
            ),
          ),
          h("tbody", {}, rows),
        ),
      ),
    );
  }

  drawRuns() {
    if (!this.runs.length) {
      clear(this.runsBox).append(h("p", {}, "No training run yet."));
      return;
    }
    const rows = this.runs.map((run) => {
      const detail = this.details.get(run.id);
      const reward = detail?.reward_model;
      const selected = run.id === this.selectedRunId;
      const show = h(
        "button",
        {
          type: "button",
          class: "secondary",
          "aria-pressed": selected ? "true" : "false",
          dataset: { focusKey: `show-${run.id}` },
        },
        "Show curves",
        h("span", { class: "visually-hidden" }, ` of run ${fmt.shortId(run.id)}`),
      );
      show.addEventListener("click", () => this.selectRun(run.id));
      const progressLabel = `${Math.round(run.progress * 100)} %`;
      return h(
        "tr",
        { class: selected ? "selected-run" : null, dataset: { runId: run.id, status: run.status } },
        h("th", { scope: "row" }, h("code", {}, fmt.shortId(run.id)), h("span", { class: "trigger" }, ` ${run.trigger}`)),
        h("td", {},
          h("span", { class: `run-status run-status-${run.status}` }, STATUS_LABELS[run.status] ?? run.status),
          run.error ? h("p", { class: "run-error" }, run.error) : null,
        ),
        h("td", { class: "run-progress" },
          h("progress", { max: 1, value: run.progress, "aria-label": `Progress of run ${fmt.shortId(run.id)}` }),
          h("span", {}, ` ${progressLabel}`),
          run.stage && isBusy(run) ? h("span", { class: "stage" }, ` ${run.stage}`) : null,
        ),
        h("td", { class: "number" }, reward ? String(reward.preferences) : "—"),
        h("td", { class: "number" }, reward?.heldout_accuracy == null ? "—" : fmt.percent(reward.heldout_accuracy * 100)),
        h("td", {}, fmt.dateTime(run.started_at)),
        h("td", {}, fmt.dateTime(run.finished_at)),
        h("td", {}, show),
      );
    });
    const caption =
      this.totalRuns > this.runs.length
        ? `Training runs, latest first (the ${this.runs.length} latest of ${this.totalRuns})`
        : `Training runs, latest first (${this.runs.length})`;
    keepingFocus(this.runsBox, () =>
      clear(this.runsBox).append(
        h(
          "table",
          { class: "training-runs" },
          h("caption", {}, caption),
          h("thead", {},
            h("tr", {},
              h("th", { scope: "col" }, "Run"),
              h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col" }, "Progress"),
              h("th", { scope: "col", class: "number" }, "Preferences used"),
              h("th", { scope: "col", class: "number" }, "Reward-model accuracy"),
              h("th", { scope: "col" }, "Started"),
              h("th", { scope: "col" }, "Finished"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Curves")),
            ),
          ),
          h("tbody", {}, rows),
        ),
      ),
    );
  }

  drawDetail(run) {
    if (!run) return;
    const updates = run.updates ?? [];
    const rollbackUpdates = run.rollbacks.map((rollback) => rollback.at_update);
    const reward = run.reward_model;
    const decision = run.metrics?.decision;
    this.detailBox.hidden = false;
    this.detailBox.dataset.runId = run.id;
    append(clear(this.detailBox), [
      h("h2", { id: "run-detail-title", tabindex: -1 }, `Run ${fmt.shortId(run.id)}`),
      h("p", { class: "facts" },
        `${STATUS_LABELS[run.status] ?? run.status}`,
        run.stage && isBusy(run) ? ` (${run.stage})` : "",
        ` · ${run.trigger} · seed ${run.seed}`,
        run.user ? ` · preferences of ${run.user}` : "",
        reward
          ? ` · reward model v${reward.version} on ${reward.preferences} preferences, held-out accuracy ${
              reward.heldout_accuracy == null ? "not measured" : fmt.percent(reward.heldout_accuracy * 100)
            } (${reward.heldout_pairs} pairs)`
          : "",
      ),
      run.error ? alertBox(`The run failed: ${run.error}`) : null,
      decision ? h("p", { class: "decision" }, h("strong", {}, "Outcome: "), decision) : null,
      updates.length
        ? h("div", { class: "training-charts" },
            lineChart({
              title: "Mean reward per update",
              points: series(updates, "reward"),
              rollbacks: rollbackUpdates,
              className: "chart-reward",
            }),
            lineChart({
              title: "Approximate KL per update",
              points: series(updates, "approx_kl"),
              rollbacks: rollbackUpdates,
              className: "chart-kl",
            }),
          )
        : h("p", {}, isBusy(run) ? "No update yet: the curves appear as the run goes." : "This run made no update."),
      h("h3", {}, "Rollbacks"),
      run.rollbacks.length
        ? h("ul", { class: "rollbacks" },
            run.rollbacks.map((rollback) =>
              h("li", {}, h("strong", {}, `Update ${rollback.at_update}: `), rollback.reason,
                rollback.to_policy_id ? ` (back to policy ${fmt.shortId(rollback.to_policy_id)})` : " (back to the run's start)"),
            ),
          )
        : h("p", {}, "None."),
      run.policies.length
        ? [
            h("h3", {}, "Policies this run wrote"),
            h("p", {}, run.policies.map((policy) => `v${policy.version} at update ${policy.at_update}${policy.active ? " (active)" : ""}`).join(", ")),
          ]
        : null,
    ]);
  }
}

// ------------------------------------------------------------------ charts

function series(updates, name) {
  return updates
    .filter((update) => typeof update[name] === "number" && Number.isFinite(update[name]))
    .map((update) => ({ x: update.update, y: update[name] }));
}

function number(value) {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 0.001 || magnitude >= 10000)) return value.toExponential(2);
  return value.toFixed(magnitude < 1 ? 4 : 3);
}

// A small line chart of one figure per update, with a dashed vertical mark at each update
// where a rollback happened. Screen readers get a summary in its label.
export function lineChart({ title, points, rollbacks = [], className = "" }) {
  const width = 360;
  const height = 160;
  const pad = { left: 52, right: 10, top: 12, bottom: 26 };
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const xMin = Math.min(...xs, ...rollbacks);
  const xMax = Math.max(...xs, ...rollbacks);
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (yMin === yMax) {
    yMin -= Math.abs(yMin) * 0.1 || 1;
    yMax += Math.abs(yMax) * 0.1 || 1;
  }
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (value) => pad.left + (xMax === xMin ? plotW / 2 : ((value - xMin) / (xMax - xMin)) * plotW);
  const y = (value) => pad.top + plotH - ((value - yMin) / (yMax - yMin)) * plotH;

  const first = points[0];
  const last = points[points.length - 1];
  const low = points.reduce((a, b) => (b.y < a.y ? b : a));
  const high = points.reduce((a, b) => (b.y > a.y ? b : a));
  const label =
    `${title}, ${points.length} update${points.length === 1 ? "" : "s"}: ${number(first.y)} at update ${first.x}, ` +
    `${number(last.y)} at update ${last.x}; lowest ${number(low.y)} (update ${low.x}), highest ${number(high.y)} ` +
    `(update ${high.x}). ` +
    (rollbacks.length ? `Rollbacks at update${rollbacks.length === 1 ? "" : "s"} ${rollbacks.join(", ")}.` : "No rollback.");

  const chart = svg("svg", {
    class: `curve ${className}`.trim(),
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "xMidYMid meet",
  });
  chart.append(
    svg("line", { class: "axis", x1: pad.left, y1: pad.top + plotH, x2: pad.left + plotW, y2: pad.top + plotH }),
    svg("line", { class: "axis", x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + plotH }),
    svg("text", { x: pad.left - 4, y: pad.top + 4, "text-anchor": "end", text: number(yMax) }),
    svg("text", { x: pad.left - 4, y: pad.top + plotH, "text-anchor": "end", text: number(yMin) }),
    svg("text", { x: pad.left, y: height - 8, "text-anchor": "start", text: `update ${xMin}` }),
    svg("text", { x: pad.left + plotW, y: height - 8, "text-anchor": "end", text: String(xMax) }),
  );
  if (yMin < 0 && yMax > 0) {
    chart.append(svg("line", { class: "zero", x1: pad.left, y1: y(0), x2: pad.left + plotW, y2: y(0) }));
  }
  for (const at of rollbacks) {
    chart.append(
      svg("line", { class: "rollback", x1: x(at), y1: pad.top, x2: x(at), y2: pad.top + plotH },
        svg("title", { text: `Rollback at update ${at}` })),
    );
  }
  chart.append(svg("polyline", { class: "series", points: points.map((p) => `${x(p.x)},${y(p.y)}`).join(" ") }));
  if (points.length <= 60) {
    for (const p of points) {
      chart.append(svg("circle", { class: "point", cx: x(p.x), cy: y(p.y), r: 2.5 }, svg("title", { text: `Update ${p.x}: ${number(p.y)}` })));
    }
  }
  return h("figure", { class: "training-chart" }, h("figcaption", {}, title), chart);
}

// ------------------------------------------------------------------ helpers

function isBusy(run) {
  return run?.status === "queued" || run?.status === "started";
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Redraws `container` and, if focus was on one of its controls, puts it back on the
// control that replaced it (polling must not throw a keyboard user out of the table).
function keepingFocus(container, redraw) {
  const focused = document.activeElement;
  const key = container.contains(focused) ? focused?.dataset?.focusKey : undefined;
  redraw();
  if (key) container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}
