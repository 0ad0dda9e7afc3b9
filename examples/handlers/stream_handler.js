#!/usr/bin/env node
// A wfq stream handler: `wfq process --stream -- node stream_handler.js`.
// One job per line on stdin, one answer per line on stdout, in any order (wfq-handler(7)):
// jobs run concurrently here, up to wfq's --concurrency. The process serves many jobs: open
// clients once, at the top. Log to stderr; a line starting "[ID]" is logged with job ID.
// No packages needed.
'use strict';
const readline = require('readline');

class Snooze extends Error {} // throw new Snooze('30s'): again in 30s, no attempt spent

// The work: job has id, type, payload, attempt, config, deadline, ... Return the result.
async function handle(job) {
  return { echo: job.payload };
}

// Answers finished in the same turn of the event loop go out in one write.
let out = [];
const send = (answer) => {
  if (out.push(JSON.stringify(answer)) === 1)
    setImmediate(() => { process.stdout.write(out.join('\n') + '\n'); out = []; });
};

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const msg = JSON.parse(line);
  if (msg.cancel !== undefined) return; // timed out or cancelled: stop it if you can
  try {
    send({ id: msg.id, ok: true, result: await handle(msg) });
  } catch (e) {
    if (e instanceof Snooze) send({ id: msg.id, snooze: e.message });
    else send({ id: msg.id, ok: false, error: String((e && e.stack) || e), permanent: Boolean(e && e.permanent) });
  }
});
