'use strict';
// create() and bulkCreate() through crm_purge's guard on leads.
// 'error' (the mode for ORMs): an erased key is refused with SQLSTATE 23000
// (Sequelize: DatabaseError, original.code '23000') and nothing is inserted.
// 'skip' drops the row with a NOTICE, and Sequelize, which reads back
// INSERT ... RETURNING, reports rows that were never inserted or gives the
// returned ids to the wrong objects. These tests pin that down.
const { describe, test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { DatabaseError, EmptyResultError, Sequelize } = require('sequelize');
const { connection, setUp } = require('./helpers');

const SCHEMA = 'guard';
const LEADS = `${SCHEMA}.leads`;
let db;

before(async () => { db = await setUp(SCHEMA, { guard: 'error' }); });
after(async () => { if (db) await db.sequelize.close(); });
beforeEach(async () => {
  await db.sequelize.query('SELECT crm_purge_guard($1, $2)', { bind: [LEADS, 'error'] });
  db.notices.length = 0;
});

async function setGuard(t, mode, keyColumns) {
  try {
    await db.sequelize.query('SELECT crm_purge_guard($1, $2, $3::name[])', { bind: [LEADS, mode, keyColumns] });
    return true;
  } catch (e) {
    if (e.original && e.original.code === '42883') {   // undefined_function: not installed yet
      t.skip('crm_purge_guard(tbl, mode, key_columns) is not installed yet: natural-key tombstones untested');
      return false;
    }
    throw e;
  }
}

async function erase(filterFormat, arg) {
  const [{ n }] = await db.query(`SELECT crm_purge_erase($1, format($2, $3::text), 'GDPR request') AS n`,
    [LEADS, filterFormat, String(arg)]);
  return Number(n);
}

async function erasedLead(email) {
  const lead = await db.models.Lead.create({ email, name: 'To be erased' });
  assert.equal(await erase('id = %s', lead.id), 1);
  assert.equal(await db.models.Lead.count({ where: { id: lead.id } }), 0);
  return lead;
}

async function reserveIds(n) {
  const rows = await db.query(`SELECT nextval(pg_get_serial_sequence($1, 'id'))::int AS id FROM generate_series(1, $2)`,
    [LEADS, n]);
  return rows.map((r) => r.id);
}

function skipped() {
  return db.notices.map((n) => /crm_purge guard skipped (\d+) rows? of table (\S+):/.exec(n.message))
    .filter(Boolean).map((m) => [Number(m[1]), m[2]]);
}

async function byId(ids) {
  const rows = await db.models.Lead.findAll({ where: { id: ids }, order: [['id', 'ASC']], raw: true });
  return rows.map((r) => [r.id, r.email]);
}

describe('guard: error mode', () => {
  test('create() of an erased id is refused with SQLSTATE 23000', async () => {
    const lead = await erasedLead('erin@example.com');
    await assert.rejects(db.models.Lead.create({ id: lead.id, email: 'erin@example.com', name: 'Erin again' }),
      (e) => e instanceof DatabaseError && e.original.code === '23000'
        && /belongs to an erased record/.test(e.message) && !e.message.includes('erin@example.com'));
    assert.equal(await db.models.Lead.count({ where: { id: lead.id } }), 0);
  });

  test('bulkCreate() with an erased id inserts nothing', async () => {
    const lead = await erasedLead('gina@example.com');
    const [a, b] = await reserveIds(2);
    const count = await db.models.Lead.count();
    await assert.rejects(db.models.Lead.bulkCreate([
      { id: a, email: 'h1@example.com', name: 'H1' },
      { id: lead.id, email: 'gina@example.com', name: 'Gina again' },
      { id: b, email: 'h2@example.com', name: 'H2' },
    ]), (e) => e.original && e.original.code === '23000');
    assert.equal(await db.models.Lead.count(), count);
  });

  test('other rows: create() and bulkCreate() return the ids of what they inserted', async () => {
    await erasedLead('jo@example.com');
    const one = await db.models.Lead.create({ email: 'k1@example.com', name: 'K1' });
    const many = await db.models.Lead.bulkCreate([2, 3, 4].map((i) => ({ email: `k${i}@example.com`, name: `K${i}` })));
    const all = [one, ...many];
    assert.ok(all.every((l) => Number.isInteger(l.id)));
    assert.deepEqual(await byId(all.map((l) => l.id)), all.map((l) => [l.id, l.email]));
    assert.deepEqual(skipped(), []);
  });
});

describe('guard: skip mode', () => {
  test('Sequelize hides NOTICEs unless dialectOptions.clientMinMessages says otherwise', async () => {
    const plain = new Sequelize(connection.database, connection.user, null, {
      dialect: 'postgres', host: connection.host, port: connection.port, logging: false,
    });
    try {
      const [[{ level }]] = await plain.query("SELECT current_setting('client_min_messages') AS level");
      assert.equal(level, 'warning');
    } finally {
      await plain.close();
    }
    const [{ level }] = await db.query("SELECT current_setting('client_min_messages') AS level");
    assert.equal(level, 'notice');
  });

  test('create() of an erased id fails reading back the row that is not there', async () => {
    await db.sequelize.query('SELECT crm_purge_guard($1, $2)', { bind: [LEADS, 'skip'] });
    const lead = await erasedLead('nina@example.com');
    db.notices.length = 0;
    // INSERT ... RETURNING returned no row: Sequelize says EmptyResultError
    await assert.rejects(db.models.Lead.create({ id: lead.id, email: 'nina@example.com', name: 'Nina again' }),
      EmptyResultError);
    assert.equal(await db.models.Lead.count({ where: { id: lead.id } }), 0);
    assert.deepEqual(skipped(), [[1, LEADS]]);
    assert.ok(!db.notices.some((n) => JSON.stringify(n).includes('nina@example.com')));
  });

  test('bulkCreate() returns rows it did not insert, with the wrong ids', async () => {
    await db.sequelize.query('SELECT crm_purge_guard($1, $2)', { bind: [LEADS, 'skip'] });
    const lead = await erasedLead('olga@example.com');
    const [a, b] = await reserveIds(2);
    db.notices.length = 0;
    const made = await db.models.Lead.bulkCreate([
      { id: a, email: 'p1@example.com', name: 'P1' },
      { id: lead.id, email: 'olga@example.com', name: 'Olga again' },
      { id: b, email: 'p2@example.com', name: 'P2' },
    ]);
    // three instances for two rows; RETURNING's rows are paired in order, so
    // the erased lead's instance got P2's id, and two instances claim it
    assert.equal(made.length, 3);
    assert.deepEqual(made.map((l) => l.id), [a, b, b]);
    assert.deepEqual(await byId([a, lead.id, b]), [[a, 'p1@example.com'], [b, 'p2@example.com']]);
    assert.deepEqual(skipped(), [[1, LEADS]]);
  });

  test('other rows are inserted as usual', async () => {
    await db.sequelize.query('SELECT crm_purge_guard($1, $2)', { bind: [LEADS, 'skip'] });
    await erasedLead('quinn@example.com');
    const many = await db.models.Lead.bulkCreate([0, 1, 2].map((i) => ({ email: `r${i}@example.com`, name: `R${i}` })));
    assert.deepEqual(await byId(many.map((l) => l.id)), many.map((l) => [l.id, l.email]));
    assert.deepEqual(skipped(), []);
  });
});

describe('guard: natural key (key_columns)', () => {
  test('error mode refuses a new id with an erased email, by insert or update', async (t) => {
    if (!await setGuard(t, 'error', ['email'])) return;
    const lead = await db.models.Lead.create({ email: 'sam@example.com', name: 'Sam' });
    assert.equal(await erase('email = %L', 'sam@example.com'), 1);
    await assert.rejects(db.models.Lead.create({ email: 'sam@example.com', name: 'Sam, re-imported' }),
      (e) => e.original && e.original.code === '23000');
    const other = await db.models.Lead.create({ email: 'sam2@example.com', name: 'Sam 2' });
    await assert.rejects(other.update({ email: 'sam@example.com' }), (e) => e.original && e.original.code === '23000');
    await assert.rejects(db.models.Lead.create({ id: lead.id, email: 'else@example.com', name: 'x' }),
      (e) => e.original && e.original.code === '23000');
    assert.deepEqual(await byId([lead.id, other.id]), [[other.id, 'sam2@example.com']]);
  });

  test('skip mode gives the returned ids to the wrong objects', async (t) => {
    if (!await setGuard(t, 'skip', ['email'])) return;
    await db.models.Lead.create({ email: 'tia@example.com', name: 'Tia' });
    assert.equal(await erase('email = %L', 'tia@example.com'), 1);
    db.notices.length = 0;
    const made = await db.models.Lead.bulkCreate([
      { email: 'u1@example.com', name: 'U1' },
      { email: 'tia@example.com', name: 'Tia again' },
      { email: 'u2@example.com', name: 'U2' },
    ]);
    const u1 = await db.models.Lead.findOne({ where: { email: 'u1@example.com' } });
    const u2 = await db.models.Lead.findOne({ where: { email: 'u2@example.com' } });
    assert.equal(await db.models.Lead.count({ where: { email: 'tia@example.com' } }), 0);
    // RETURNING gave two rows for three objects; Sequelize copies them onto
    // the instances in order: the second instance becomes U2, the third
    // keeps no id
    assert.equal(made.length, 3);
    assert.deepEqual(made.map((l) => [l.id, l.email]),
      [[u1.id, 'u1@example.com'], [u2.id, 'u2@example.com'], [made[2].id, 'u2@example.com']]);
    assert.ok(made[2].id == null, `third instance id: ${made[2].id}`);
    assert.deepEqual(skipped(), [[1, LEADS]]);
  });
});
