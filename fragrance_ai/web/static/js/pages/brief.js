// Placeholder until the brief page is written.
import { h } from "../dom.js";

export async function render(view) {
  view.append(h("h1", {}, "Brief"));
}
