// What the perfumer's choices have taught the reward model that asks them (GET /v1/taste):
// its most probable readings of their taste, in words, and how many more choices would make
// it confident. Shown under a brief's rounds and redrawn after every choice: at once, and
// again a little later, because the service refits the model once the choice is answered
// (a fraction of a second, up to a second on a long history). The name given
// in "Choosing as" is kept in this browser and sent with every choice and variation request
// (`user`), so the perfumer's own model learns from their choices and asks them.

import { get } from "./api.js";
import { alertBox, h } from "./dom.js";

const PERFUMER_STORAGE = "fragrance-ai.perfumer";

export function perfumer() {
  return localStorage.getItem(PERFUMER_STORAGE) || null;
}

// The body of a choice or a variation request, with the perfumer when one is named.
export function asPerfumer(body) {
  const user = perfumer();
  return user ? { ...body, user } : body;
}

function share(probability) {
  return `${Math.round(probability * 100)} %`;
}

function describe(taste) {
  if (taste.whose === "none") {
    return [h("p", {}, "No choice has been recorded yet: variations are drawn at random until one is.")];
  }
  const whose = taste.whose === "own"
    ? `Your model (${taste.user}), from ${taste.choices} choices.`
    : `Every perfumer's model, from ${taste.choices} choices${taste.user ? `: ${taste.user} has made none of their own yet` : ""}.`;
  const readings = taste.readings.length
    ? h("ol", { class: "taste-readings" }, taste.readings.map((reading) =>
        h("li", {}, h("span", { class: "reading" }, reading.words), ` (${share(reading.probability)})`)))
    : h("p", {}, "This model has no readings in words (it was fitted with the dense prior).");
  let confidence;
  if (taste.confident) {
    confidence = `Confident: its first reading holds at least ${share(taste.confident_at)}.`;
  } else if (taste.more_choices) {
    confidence = `Not confident yet: about ${taste.more_choices} more choices, at the rate the choices have taught so far.`;
  } else {
    confidence = "Not confident yet, and too early to say how many more choices it needs.";
  }
  return [h("p", {}, whose), readings, h("p", { class: "taste-confidence" }, confidence)];
}

export function tastePanel() {
  const body = h("div", { class: "taste-body", "aria-live": "polite" });
  const name = h("input", {
    id: "perfumer-name",
    type: "text",
    maxlength: "128",
    autocomplete: "name",
    value: perfumer() ?? "",
  });

  async function refresh() {
    const user = perfumer();
    try {
      const taste = await get(`/v1/taste${user ? `?user=${encodeURIComponent(user)}` : ""}`);
      body.replaceChildren(...describe(taste));
    } catch (error) {
      body.replaceChildren(alertBox(error.message));
    }
  }

  // After a choice: now, then twice more while the refit that follows it finishes.
  let timers = [];
  function refreshAfterChoice() {
    for (const timer of timers) clearTimeout(timer);
    refresh();
    timers = [1000, 3000].map((delay) => setTimeout(refresh, delay));
  }

  name.addEventListener("change", () => {
    const value = name.value.trim();
    if (value) localStorage.setItem(PERFUMER_STORAGE, value);
    else localStorage.removeItem(PERFUMER_STORAGE);
    refresh();
  });
  refresh();
  const element = h(
    "section",
    { class: "taste no-print", "aria-labelledby": "taste-title" },
    h("h2", { id: "taste-title" }, "What your choices taught"),
    h("div", {}, h("label", { for: name.id }, "Choosing as"), name),
    body,
  );
  return { element, refresh: refreshAfterChoice };
}
