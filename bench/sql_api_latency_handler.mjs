// A stream handler for bench/sql_api.sh: answers each job at once and appends how long after
// its enqueue (payload.t, epoch ms) it arrived.
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
for await (const line of createInterface({ input: process.stdin })) {
  const job = JSON.parse(line);
  if (job.cancel) continue;
  appendFileSync(process.argv[2], `${Date.now() - job.payload.t}\n`);
  process.stdout.write(JSON.stringify({ id: job.id, ok: true }) + '\n');
}
