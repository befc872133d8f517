// Validate AsyncAPI documents with the AsyncAPI initiative's own parser (@asyncapi/parser):
// the document against the AsyncAPI 3 specification, every $ref (the payload schemas beside
// it included) and the parser's ruleset. Prints each diagnostic; exits 1 on any error.
//   node tools/asyncapi/validate.js schemas/asyncapi.yaml
'use strict';
const path = require('path');
const { Parser, fromFile, DiagnosticSeverity } = require('@asyncapi/parser');

async function main(files) {
  if (files.length === 0) {
    console.error('usage: validate.js FILE...');
    return 2;
  }
  const parser = new Parser();
  let failed = 0;
  for (const file of files) {
    const { document, diagnostics } = await fromFile(parser, path.resolve(file)).parse();
    for (const d of diagnostics) {
      const where = d.path && d.path.length ? d.path.join('.') : '(document)';
      console.log(`${file}: ${DiagnosticSeverity[d.severity]} ${d.code}: ${d.message} at ${where}`);
    }
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
    if (document === undefined || errors.length > 0) {
      failed += 1;
      console.log(`${file}: INVALID (${errors.length} errors)`);
    } else {
      console.log(`${file}: valid AsyncAPI ${document.version()}`);
    }
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`validate.js: ${err && err.message ? err.message : err}`);
    process.exit(1);
  },
);
