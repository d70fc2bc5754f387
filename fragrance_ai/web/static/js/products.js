// The product types and inference modes the API accepts (fragrance_ai/domain/products.py,
// fragrance_ai/settings.py RequestedMode), with the labels a perfumer reads.

import { h } from "./dom.js";

export const PRODUCTS = [
  ["EDC", "Eau de cologne"],
  ["EDT", "Eau de toilette"],
  ["EDP", "Eau de parfum"],
  ["parfum", "Parfum (extrait)"],
  ["body_lotion", "Body lotion"],
  ["face_cream", "Face cream"],
  ["hand_cream", "Hand cream"],
  ["deodorant", "Deodorant"],
  ["hair_spray", "Hair spray"],
  ["shampoo", "Shampoo"],
  ["shower_gel", "Shower gel"],
  ["soap", "Soap"],
  ["candle", "Candle"],
  ["reed_diffuser", "Reed diffuser"],
  ["laundry_detergent", "Laundry detergent"],
  ["fabric_softener", "Fabric softener"],
  ["air_freshener_spray", "Air freshener spray"],
];

export const MODES = [
  ["", "The service's default"],
  ["auto", "Auto (picked from the text)"],
  ["fast", "Fast"],
  ["balanced", "Balanced"],
  ["creative", "Creative"],
];

export function productSelect({ id, name = "product", selected = "", emptyLabel = null }) {
  const options = emptyLabel === null ? [] : [h("option", { value: "" }, emptyLabel)];
  for (const [value, label] of PRODUCTS) {
    options.push(h("option", { value, selected: value === selected }, label));
  }
  return h("select", { id, name }, options);
}

export function productLabel(value) {
  return PRODUCTS.find(([key]) => key === value)?.[1] ?? value;
}
