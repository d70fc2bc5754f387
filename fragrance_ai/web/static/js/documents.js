// A printable document from the API (?format=html) shown in a sandboxed frame: its markup
// runs no script, and the Print button prints the frame alone.

import { h } from "./dom.js";

// The frame alone: the API's own HTML with its inline style; the sandbox runs no script, and
// allow-modals lets the frame open the print dialog.
export function printableFrame(html, title) {
  const frame = h("iframe", {
    class: "document-frame",
    title,
    sandbox: "allow-same-origin allow-modals",
  });
  frame.srcdoc = html;
  return frame;
}

export function documentFrame(html, title) {
  const frame = printableFrame(html, title);
  return h(
    "div",
    { class: "document" },
    h("div", { class: "actions no-print" },
      h("button", { type: "button", onclick: () => frame.contentWindow.print() }, `Print ${title.toLowerCase()}`),
    ),
    frame,
  );
}
