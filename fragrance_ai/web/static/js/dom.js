// Element construction without innerHTML: every text from the API or the perfumer goes in
// as text, never as markup.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") element.textContent = value;
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) if (child) element.append(child);
  return element;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// Says something to screen readers without moving focus.
export function announce(message) {
  const status = document.getElementById("status");
  if (status) status.textContent = message;
}

let fieldIds = 0;

// Shows `message` next to `input` (its own error element, referenced by aria-describedby),
// keeping what was typed.
export function showFieldError(input, message) {
  let error = input.errorElement;
  if (!error) {
    error = h("p", { class: "field-error", id: `field-error-${++fieldIds}` });
    input.errorElement = error;
    input.insertAdjacentElement("afterend", error);
  }
  error.textContent = message;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", error.id);
}

export function clearFieldErrors(container) {
  for (const input of container.querySelectorAll("[aria-invalid='true']")) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
    if (input.errorElement) input.errorElement.hidden = true;
  }
}

// A block-level message for errors that belong to no single field.
export function alertBox(message, kind = "error") {
  return h("div", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}
