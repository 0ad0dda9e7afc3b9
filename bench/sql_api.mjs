// The SQL API against graphile-worker's, on one server in one run (bench/sql_api.sh runs it).
// usage: node sql_api.mjs WFQ_SCHEMA GW_SCHEMA N   (libpq's PG* variables; pg from bench/peers)
import pg from 'pg';
const [schema, gwSchema, n] = [process.argv[2], process.argv[3], +process.argv[4] || 5000];
const client = new pg.Client();
await client.connect();
const rate = async (count, fn) => { const t = performance.now(); await fn(); return Math.round(count / ((performance.now() - t) / 1000)); };
const batch = (i) => JSON.stringify(Array.from({ length: 1000 }, (_, k) => ({ type: 'noop', payload: { i, k } })));
const out = {};
// One at a time from one connection, each its own transaction.
out.wfq_enqueue_per_s = await rate(n, async () => {
  for (let i = 0; i < n; i++) await client.query(`SELECT ${schema}.enqueue('noop', $1::jsonb)`, [JSON.stringify({ i })]);
});
out.gw_add_job_per_s = await rate(n, async () => {
  for (let i = 0; i < n; i++) await client.query(`SELECT ${gwSchema}.add_job('noop', $1::json)`, [JSON.stringify({ i })]);
});
// 1,000 jobs a call.
const rounds = Math.max(1, Math.round(n / 1000));
out.wfq_enqueue_many_1000_per_s = await rate(rounds * 1000, async () => {
  for (let r = 0; r < rounds; r++) await client.query(`SELECT count(*) FROM ${schema}.enqueue_many($1::jsonb)`, [batch(r)]);
});
out.gw_add_jobs_1000_per_s = await rate(rounds * 1000, async () => {
  for (let r = 0; r < rounds; r++)
    await client.query(`SELECT count(*) FROM ${gwSchema}.add_jobs(array(SELECT json_populate_record(null::${gwSchema}.job_spec,
      json_build_object('identifier', 'noop', 'payload', e)) FROM json_array_elements($1::json) e))`, [batch(r)]);
});
out.jobs = n;
console.log(JSON.stringify(out));
await client.end();
