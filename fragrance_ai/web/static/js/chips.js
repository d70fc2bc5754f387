// An editable list of words shown as chips: each removable with its own button, new ones
// added by typing and pressing Enter (or the Add button), with the words the designer knows
// offered as suggestions. Keyboard only: Tab reaches every remove button and the input.

import { h } from "./dom.js";

let editors = 0;

export function chipEditor({ label, values, suggestions = [], name, hint }) {
  const id = `chips-${name}-${++editors}`;
  const items = [...values];
  const list = h("ul", { class: "chips", "aria-label": `${label}: chosen` });
  const input = h("input", { id, name, list: suggestions.length ? `${id}-list` : null, autocomplete: "off" });
  const datalist = suggestions.length
    ? h("datalist", { id: `${id}-list` }, suggestions.map((word) => h("option", { value: word })))
    : null;

  function draw() {
    list.replaceChildren(
      ...items.map((word, index) =>
        h(
          "li",
          { class: "chip", dataset: { value: word } },
          h("span", {}, word),
          h("button", {
            type: "button",
            "aria-label": `Remove ${word} from ${label.toLowerCase()}`,
            text: "×",
            onclick: () => {
              items.splice(index, 1);
              draw();
              input.focus();
            },
          }),
        ),
      ),
    );
    if (!items.length) list.append(h("li", { class: "hint" }, "none"));
  }

  function add() {
    const word = input.value.trim();
    if (word && !items.includes(word)) items.push(word);
    input.value = "";
    draw();
  }

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  });
  draw();
  const element = h(
    "div",
    { class: "chip-group", dataset: { field: name } },
    h("label", { for: id }, label),
    list,
    h("div", { class: "chip-add" }, input, datalist, h("button", { type: "button", class: "secondary", onclick: add }, `Add`)),
    hint ? h("p", { class: "hint" }, hint) : null,
  );
  return {
    element,
    input,
    // A word added from elsewhere (a model's suggestion accepted).
    add: (word) => {
      if (word && !items.includes(word)) items.push(word);
      draw();
    },
    // What the perfumer typed but did not add yet counts too: nothing typed is lost.
    values: () => {
      const pending = input.value.trim();
      return pending && !items.includes(pending) ? [...items, pending] : [...items];
    },
  };
}
