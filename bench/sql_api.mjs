// The SQL API against graphile-worker's, on one server in one run (bench/sql_api.sh runs it).
// usage: node sql_api.mjs WFQ_SCHEMA GW_SCHEMA N [ROUNDS]   (libpq's PG* variables; pg from bench/peers)
// Each round times wfq and graphile-worker back to back, alternating which goes first (this
// machine's speed swings within seconds), and reports its ratios; the medians close the line.
import pg from 'pg';
const [schema, gwSchema, n, rounds] = [process.argv[2], process.argv[3], +process.argv[4] || 5000, +process.argv[5] || 3];
const client = new pg.Client();
await client.connect();
const rate = async (count, fn) => { const t = performance.now(); await fn(); return Math.round(count / ((performance.now() - t) / 1000)); };
const batch = (i) => JSON.stringify(Array.from({ length: 1000 }, (_, k) => ({ type: 'noop', payload: { i, k } })));
const batches = Math.max(1, Math.round(n / 1000));
// One at a time from one connection, each its own transaction.
const one = {
  wfq: () => rate(n, async () => {
    for (let i = 0; i < n; i++) await client.query(`SELECT ${schema}.enqueue('noop', $1::jsonb)`, [JSON.stringify({ i })]);
  }),
  gw: () => rate(n, async () => {
    for (let i = 0; i < n; i++) await client.query(`SELECT ${gwSchema}.add_job('noop', $1::json)`, [JSON.stringify({ i })]);
  }),
};
// 1,000 jobs a call.
const many = {
  wfq: () => rate(batches * 1000, async () => {
    for (let r = 0; r < batches; r++) await client.query(`SELECT count(*) FROM ${schema}.enqueue_many($1::jsonb)`, [batch(r)]);
  }),
  gw: () => rate(batches * 1000, async () => {
    for (let r = 0; r < batches; r++)
      await client.query(`SELECT count(*) FROM ${gwSchema}.add_jobs(array(SELECT json_populate_record(null::${gwSchema}.job_spec,
        json_build_object('identifier', 'noop', 'payload', e)) FROM json_array_elements($1::json) e))`, [batch(r)]);
  }),
};
const pair = async (f, wfqFirst) => {
  if (wfqFirst) { const w = await f.wfq(); return [w, await f.gw()]; }
  const g = await f.gw(); return [await f.wfq(), g];
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// A warm-up of each, so that cached plans and the tables' first pages are in place.
await many.wfq(); await many.gw();
const oneRatios = [], manyRatios = [];
for (let r = 0; r < rounds; r++) {
  const [we, ga] = await pair(one, r % 2 === 0);
  const [wm, gm] = await pair(many, r % 2 === 1);
  oneRatios.push(we / ga); manyRatios.push(wm / gm);
  console.log(JSON.stringify({ round: r + 1, wfq_enqueue_per_s: we, gw_add_job_per_s: ga, enqueue_ratio: +(we / ga).toFixed(2),
    wfq_enqueue_many_1000_per_s: wm, gw_add_jobs_1000_per_s: gm, enqueue_many_ratio: +(wm / gm).toFixed(2) }));
}
console.log(JSON.stringify({ jobs: n, rounds, median_enqueue_ratio: +median(oneRatios).toFixed(2),
  median_enqueue_many_ratio: +median(manyRatios).toFixed(2) }));
await client.end();
