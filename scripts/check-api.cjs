// The MQTT contract read by a tool nobody here wrote: the official AsyncAPI parser
// (@asyncapi/parser, installed by scripts/check-api.sh) parses and validates docs/mqtt-api.yaml,
// its $refs into docs/schemas/ included. Prints what it found; exits 1 on any error.
'use strict';
const path = require('path');
const fs = require('fs');

const [, , modules, document] = process.argv;
const { Parser, fromFile } = require(path.join(modules, '@asyncapi', 'parser'));

async function main() {
  const parser = new Parser();
  const { document: doc, diagnostics } = await fromFile(parser, document).parse();
  // Severity 0 is an error; warnings and hints are printed, not fatal.
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? d.path.join('.') : '(document)';
    const kind = ['error', 'warning', 'info', 'hint'][d.severity] || 'note';
    console.log(`asyncapi: ${kind} at ${where}: ${d.message}`);
  }
  if (!doc || errors.length) {
    console.error(`asyncapi: ${document} is not a valid AsyncAPI document (${errors.length} errors)`);
    process.exit(1);
  }
  const counts = {
    channels: doc.allChannels().length,
    operations: doc.allOperations().length,
    messages: doc.allMessages().length,
  };
  console.log(
    `asyncapi: ${path.basename(document)} (AsyncAPI ${doc.version()}) parses: ` +
      `${counts.channels} channels, ${counts.operations} operations, ${counts.messages} messages`,
  );
  for (const [what, n] of Object.entries(counts)) {
    if (n === 0) {
      console.error(`asyncapi: no ${what} found`);
      process.exit(1);
    }
  }
  if (process.env.LOOKOUT_ASYNCAPI_SUMMARY) {
    fs.writeFileSync(process.env.LOOKOUT_ASYNCAPI_SUMMARY, JSON.stringify(counts));
  }
}

main().catch((e) => {
  console.error(`asyncapi: ${e.stack || e}`);
  process.exit(1);
});
