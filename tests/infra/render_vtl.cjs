// Renders API Gateway mapping templates with velocityjs, for tests/infra/test_api_templates.py.
// Reads [{template, body, requestId, headers?, requestTimeEpoch?, identity?}] as JSON on stdin; writes
// [{output, status, headers}] on stdout.
// $input, $util and $context follow API Gateway's mapping-template reference; only what the
// templates in infra/api_templates.py use is implemented.
"use strict";
const { render } = require("velocityjs");

// Java's StringEscapeUtils.escapeJavaScript, which API Gateway's $util.escapeJavaScript uses.
function escapeJavaScript(value) {
  let out = "";
  for (const ch of String(value)) {
    const code = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "'") out += "\\'";
    else if (ch === "\\") out += "\\\\";
    else if (ch === "/") out += "\\/";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (code < 0x20 || code > 0x7e) {
      // Outside ASCII: \uXXXX per UTF-16 unit, as Java does.
      for (const unit of ch.split("")) out += "\\u" + unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    } else out += ch;
  }
  return out;
}

// Templates call Java's String.replaceAll, whose pattern is a regular expression; JavaScript's
// replaceAll matches a string literally. Strings here behave as they do in API Gateway.
String.prototype.replaceAll = function replaceAll(pattern, replacement) {
  return this.replace(new RegExp(pattern, "g"), replacement);
};

function jsonPath(document, path) {
  if (path === "$") return document;
  return path
    .replace(/^\$\./, "")
    .split(".")
    .reduce((node, key) => (node == null ? undefined : node[key]), document);
}

// $input.params().header is a java.util.Map in API Gateway: keySet() and get(name).
function javaMap(object) {
  return { keySet: () => Object.keys(object), get: (name) => object[name] };
}

function renderOne({ template, body, requestId, headers = {}, requestTimeEpoch = 0, identity = {} }) {
  const document = body === "" ? {} : JSON.parse(body);
  const context = { requestId, requestTimeEpoch, identity, responseOverride: { header: {} } };
  const output = render(
    template,
    {
      input: {
        path: (path) => jsonPath(document, path),
        json: (path) => JSON.stringify(jsonPath(document, path)),
        body,
        params: () => ({ header: javaMap(headers) }),
      },
      util: {
        escapeJavaScript,
        parseJson: (text) => JSON.parse(String(text)),
      },
      context,
    },
    {},
    { escape: false },
  );
  return { output, status: context.responseOverride.status ?? null, headers: context.responseOverride.header };
}

let raw = "";
process.stdin.on("data", (chunk) => (raw += chunk));
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify(JSON.parse(raw).map(renderOne)));
});
