// Which readers the service has loaded, from /ready's `models` (worker threads in the API's
// own process, the embedded default): a model still loading reads briefs after their design,
// as suggestions, so the perfumer knows why a suggestion may follow the options. Said once,
// under the brief form; nothing is shown where the workers run elsewhere (RQ).

import { h } from "./dom.js";

const NAMES = { parser: "parser model", validator: "validator model", creative_hints: "creative hints model", paraphrases: "paraphrase matcher" };

export function readersLine() {
  const line = h("p", { class: "hint readers", "aria-live": "polite" });
  fetch("/ready", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => {
      const models = body?.models;
      if (!models) return;
      const parts = Object.entries(models)
        .filter(([, state]) => state !== "none" && state !== "off")
        .map(([name, state]) => `${NAMES[name] ?? name}: ${state.split(":")[0]}`);
      line.textContent = parts.length
        ? `Read by the deterministic parser, with ${parts.join("; ")}.`
        : "Read by the deterministic parser; no language model is configured.";
    })
    .catch(() => {});
  return line;
}
