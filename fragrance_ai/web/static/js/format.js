// Number formatting shared by every page. Percentages keep three decimals below 1 %, where
// allergen and IFRA levels live.

export function percent(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const digits = Math.abs(value) < 1 ? 3 : 2;
  return `${value.toFixed(digits)} %`;
}

// Parts per thousand, the unit perfumers formulate in.
export function perMille(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const digits = Math.abs(value) < 1 ? 3 : Math.abs(value) < 100 ? 2 : 1;
  return `${value.toFixed(digits)} ‰`;
}

export function eur(value) {
  if (value === null || value === undefined) return "—";
  return `€${value.toFixed(2)}`;
}

export function grams(value) {
  return `${value.toFixed(3)} g`;
}

export function score(value) {
  return value === null || value === undefined ? "—" : value.toFixed(3);
}

export function dateTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString();
}

export function shortId(id) {
  return String(id).slice(0, 8);
}
