// A formula as a perfumer pastes it (or saves it from a spreadsheet as CSV): one material a
// line, "name or CAS, percent". Pure functions, no DOM: parseFormulaText(text) gives the
// lines to send to POST /v1/formulas/check, each with the line number it came from, and
// every line it could not read, so the page can name the line the perfumer must fix.
//
// Accepted: a comma, ';' or tab between material and percent; a "%" after the figure; a
// decimal comma ("12,5") where ';' or a tab separates the columns; an optional third column
// so "name, CAS, percent" works too; "double quotes" around a field; a header row as the
// first line ("material,percent"); blank lines; "#" comments, whole-line or trailing.

export const CAS_PATTERN = /^\d{2,7}-\d{2}-\d$/;

// The API's tolerance on the sum (PERCENT_SUM_TOLERANCE in fragrance_ai/api/schemas/design.py).
export const SUM_TOLERANCE = 0.01;

// A header's first column names the material column; it holds no figure.
const HEADER_FIRST_COLUMN = /^"?(raw )?(materials?|names?|ingredients?|substances?|cas\b)/i;
const NUMBER = /^(\d+(\.\d*)?|\.\d+)$/;
const SEPARATORS_HINT = "write 'material, percent' (a comma, ';' or a tab between them)";

export function parseFormulaText(text) {
  const lines = [];
  const errors = [];
  let seenContent = false;
  String(text ?? "")
    .split(/\r\n|\r|\n/)
    .forEach((raw, index) => {
      const lineNumber = index + 1;
      const content = stripComment(raw).trim();
      if (!content) return;
      const first = !seenContent;
      seenContent = true;
      const result = parseLine(content);
      if (result.error) {
        if (first && looksLikeHeader(content)) return;
        errors.push({ lineNumber, message: `line ${lineNumber}: ${result.error}` });
        return;
      }
      lines.push({ lineNumber, ...result.line });
    });
  return { lines, errors, total: totalPercent(lines) };
}

// The sum of the lines' percentages, rounded so that 33.3 + 33.3 + 33.4 reads 100.
export function totalPercent(lines) {
  const sum = lines.reduce((total, line) => total + line.percent, 0);
  return Math.round(sum * 1e6) / 1e6;
}

export function addsUpTo100(total) {
  return Math.abs(total - 100) <= SUM_TOLERANCE;
}

// "98.5 %", "100 %", "33.3333 %": at most four decimals, no trailing zeros.
export function formatTotal(total) {
  return `${Number(total.toFixed(4))} %`;
}

// The request's lines, in the order parseFormulaText gave them (index i of the request is
// lines[i], so a 422 at lines.i names lines[i].lineNumber).
export function requestLines(lines) {
  return lines.map((line) => {
    const body = { percent: line.percent };
    if (line.name !== undefined) body.name = line.name;
    if (line.cas !== undefined) body.cas = line.cas;
    return body;
  });
}

function stripComment(raw) {
  // "#" at the start of a line, or after a space or a separator: names and CAS numbers
  // never hold one.
  const match = raw.match(/(^|[\s,;])#/);
  return match ? raw.slice(0, match.index + match[1].length) : raw;
}

function looksLikeHeader(content) {
  return !/\d/.test(content) && HEADER_FIRST_COLUMN.test(content);
}

function parseLine(content) {
  const separator = content.includes("\t") ? "\t" : content.includes(";") ? ";" : ",";
  const fields = splitFields(content, separator);
  if (fields === null) return { error: "a quote (\") is not closed" };
  if (fields.length < 2) {
    return { error: `no percentage after '${content}': ${SEPARATORS_HINT}` };
  }
  if (separator === "," && fields.length === 3 && /^\d+$/.test(fields[1]) && /^\d+$/.test(fields[2])) {
    return {
      error: `'${fields[1]},${fields[2]}' is ambiguous: with a comma between the columns, write the decimal with a point (${fields[1]}.${fields[2]}), or separate the columns with ';' or a tab`,
    };
  }
  const percentText = fields[fields.length - 1];
  const material = fields.slice(0, -1).filter((field) => field !== "");
  if (!material.length) return { error: `no material before the percentage '${percentText}'` };
  const percent = parsePercent(percentText, separator !== ",");
  if (percent.error) return percent;
  const line = { percent: percent.value };
  if (material.length === 1) {
    if (CAS_PATTERN.test(material[0])) line.cas = material[0];
    else line.name = material[0];
    return { line };
  }
  // "name, CAS, percent": the API checks that the two name the same material.
  const cas = material.filter((field) => CAS_PATTERN.test(field));
  const names = material.filter((field) => !CAS_PATTERN.test(field));
  if (cas.length === 1 && names.length === 1) return { line: { name: names[0], cas: cas[0], ...line } };
  if (cas.length === 0 && separator === ",") {
    // An unquoted comma inside a name ("Oil, bergamot, 12"): the name is everything before
    // the percentage, and the API says whether it knows it.
    return { line: { name: material.join(", "), ...line } };
  }
  return { error: `${material.length + 1} columns; ${SEPARATORS_HINT}, or 'name, CAS, percent'` };
}

function parsePercent(text, decimalComma) {
  let figure = text.replace(/\s*%$/, "").trim();
  if (!figure) return { error: `no percentage: ${SEPARATORS_HINT}` };
  if (decimalComma) figure = figure.replace(/^(\d*),(\d+)$/, "$1.$2");
  if (!NUMBER.test(figure)) {
    return { error: `'${text}' is not a percentage (a number such as 12.5, with or without %)` };
  }
  const value = Number(figure);
  if (value <= 0) return { error: `${text} is not more than 0 %; leave the material out instead` };
  if (value > 100) return { error: `${text} is more than 100 %` };
  return { value };
}

// Splits one line on `separator`, honouring "double quotes" (with "" for a quote inside);
// null when a quote is left open.
function splitFields(content, separator) {
  const fields = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < content.length; i++) {
    const char = content[i];
    if (quoted) {
      if (char === '"' && content[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && !field.trim()) {
      quoted = true;
      field = "";
    } else if (char === separator) {
      fields.push(field.trim());
      field = "";
    } else field += char;
  }
  if (quoted) return null;
  fields.push(field.trim());
  return fields;
}

// Up to `limit` catalogue names close to `typed` (a misspelt material), closest first.
// `names` is [{name, match}] where `match` is the name or one of its synonyms.
export function closestNames(typed, names, limit = 3) {
  const wanted = normalise(typed);
  if (!wanted) return [];
  const best = new Map();
  for (const { name, match } of names) {
    const candidate = normalise(match);
    const distance = candidate.includes(wanted) || wanted.includes(candidate)
      ? Math.abs(candidate.length - wanted.length) / 4
      : editDistance(wanted, candidate);
    const allowed = Math.max(2, Math.floor(Math.max(wanted.length, candidate.length) * 0.3));
    if (distance > allowed) continue;
    if (!best.has(name) || distance < best.get(name)) best.set(name, distance);
  }
  return [...best.entries()]
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([name]) => name);
}

function normalise(text) {
  return String(text).toLowerCase().split(/\s+/).filter(Boolean).join(" ");
}

// Levenshtein distance with adjacent transpositions ("Bergmaot" is one edit away).
function editDistance(a, b) {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = Array.from({ length: rows }, (_, i) => {
    const row = new Array(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[rows - 1][cols - 1];
}
