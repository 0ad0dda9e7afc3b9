// A producer in Node (the `pg` package): the application's own row and its wfq job in one
// transaction, so the job exists if and only if the row does (wfq-sql(7)).
//
// usage: node producer.mjs PR [commit|rollback]     (npm install, here, fetches pg)
// Connects with libpq's PG* variables; the queue's schema is WFQ_SCHEMA (default wfq).
import pg from 'pg';

const pr = Number(process.argv[2]);
const outcome = process.argv[3] || 'commit';
const client = new pg.Client();
await client.connect();
const enqueue = `SELECT ${client.escapeIdentifier(process.env.WFQ_SCHEMA || 'wfq')}.enqueue($1, $2, $3) AS id`;
try {
  await client.query('CREATE TABLE IF NOT EXISTS reviews (pr integer PRIMARY KEY)');  // the application's table
  await client.query('BEGIN');
  await client.query('INSERT INTO reviews (pr) VALUES ($1)', [pr]);
  // A burst of pushes to one pull request becomes one review: key mode replace.
  const { rows } = await client.query(enqueue, ['code_review', { pr }, { key: `pr:${pr}`, key_mode: 'replace' }]);
  if (outcome === 'commit') {
    await client.query('COMMIT');
    console.log(rows[0].id);
  } else {
    await client.query('ROLLBACK');
    console.log(`rolled back: neither the row nor job ${rows[0].id} exists`);
  }
} catch (e) {
  await client.query('ROLLBACK').catch(() => {});
  throw e;
} finally {
  await client.end();
}
