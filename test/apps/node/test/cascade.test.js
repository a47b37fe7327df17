'use strict';
// Sequelize's own cascade (hasMany ... onDelete: 'CASCADE', hooks: true) and
// the database's ON DELETE SET NULL, in one transaction with
// crm_purge.deletion_scope = transaction (set on database crm_node): one
// deletion, undone by one crm_purge_restore_deletion with every link back;
// actor and reason from a hook or a transaction wrapper.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setUp, restoreDeletion } = require('./helpers');
const { withAudit } = require('../lib/crm_purge');

const SCHEMA = 'cascade';
let db;

before(async () => { db = await setUp(SCHEMA); });
after(async () => { if (db) await db.sequelize.close(); });

const TABLES = ['accounts', 'contacts', 'activities', 'deals'];

/** Every row of every table, every column. */
async function snapshot() {
  const out = {};
  for (const t of TABLES) out[t] = await db.query(`SELECT * FROM ${SCHEMA}.${t} ORDER BY id`);
  return out;
}

/** An account with 2 contacts, 2 activities each, 2 deals; and a deal elsewhere. */
async function makeAccount(name) {
  const { Account, Contact, Activity, Deal } = db.models;
  const account = await Account.create({ name });
  const other = await Account.create({ name: `${name}'s neighbour` });
  const ids = { accounts: [account.id], contacts: [], activities: [], deals: [] };
  for (const who of ['Ann', 'Bob']) {
    const c = await Contact.create({ accountId: account.id, name: `${who} at ${name}`, email: `${who}@x.example` });
    ids.contacts.push(c.id);
    for (let i = 0; i < 2; i++) ids.activities.push((await Activity.create({ contactId: c.id, body: `${who} call ${i}` })).id);
  }
  const deals = await Deal.bulkCreate([
    { accountId: account.id, title: 'Renewal', amount: '1500.00' },
    { accountId: account.id, title: 'Upsell', amount: '99.50' },
    { accountId: other.id, title: 'Elsewhere', amount: '1.00' },
  ]);
  return { account, other, ids, deals };
}

/** The deletion ids of the trashed rows of `ids`, per table. */
async function trashed(ids) {
  const out = {};
  for (const [t, keys] of Object.entries(ids)) {
    out[t] = await db.query(`SELECT id, deletion_id, deletion_actor, deletion_reason, deleted_by::text AS deleted_by
                             FROM crm_trash.${SCHEMA}__${t} WHERE id = ANY($1) ORDER BY id`, [keys]);
  }
  return out;
}

function deletionIds(trash) {
  return new Set(Object.values(trash).flat().map((r) => String(r.deletion_id)));
}

describe('Sequelize cascade and restore_deletion', () => {
  test('deletion_scope = transaction comes from the database', async () => {
    const [{ scope }] = await db.query('SELECT current_setting($1) AS scope', ['crm_purge.deletion_scope']);
    assert.equal(scope, 'transaction');
    const rows = await db.query(`SELECT unnest(setconfig) AS s FROM pg_db_role_setting
                                 WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
                                   AND setrole = 0`);
    assert.ok(rows.some((r) => r.s === 'crm_purge.deletion_scope=transaction'), JSON.stringify(rows));
  });

  test('destroy() of an account is one deletion, undone by one restore_deletion', async () => {
    const { account, other, ids, deals } = await makeAccount('Acme');
    const before = await snapshot();
    const statements = [];
    await db.sequelize.transaction(async (t) => {
      await account.destroy({
        transaction: t,
        crmPurge: { actor: 'jane@example.com', reason: 'customer closed the account' },
        logging: (sql) => statements.push(sql),
      });
    });
    // Sequelize cascaded itself: one DELETE per activity, contact, account
    const deletes = statements.filter((s) => /DELETE FROM/.test(s));
    assert.equal(deletes.length, 7, deletes.join('\n'));

    // the database unlinked the deals (ON DELETE SET NULL)
    const live = await db.query(`SELECT id, account_id FROM ${SCHEMA}.deals WHERE id = ANY($1) ORDER BY id`,
      [deals.map((d) => d.id)]);
    assert.deepEqual(live.map((r) => r.account_id), [null, null, other.id]);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.contacts WHERE account_id = $1`,
      [account.id]))[0].n, 0);

    const trash = await trashed(ids);
    for (const [t, keys] of Object.entries(ids)) {
      assert.deepEqual(trash[t].map((r) => r.id), keys, t);
      for (const r of trash[t]) {
        assert.equal(r.deletion_actor, 'jane@example.com', t);
        assert.equal(r.deletion_reason, 'customer closed the account', t);
        assert.equal(r.deleted_by, 'crm_node', t);
      }
    }
    const ids_ = deletionIds(trash);
    assert.equal(ids_.size, 1, [...ids_].join(','));
    const [deletionId] = ids_;

    const { restored, notices } = await restoreDeletion(deletionId, { actor: 'admin@example.com', reason: 'undo' });
    assert.equal(restored, 7);
    assert.deepEqual(notices, []);
    assert.deepEqual(await snapshot(), before);
    assert.equal(deletionIds(await trashed(ids)).size, 0);

    const history = await db.query(`SELECT "table"::text AS t, rows::int, actor::text, app_actor, reason
                                    FROM crm_purge_history WHERE action = 'restore' AND deletion_id = $1 ORDER BY 1`,
    [deletionId]);
    assert.deepEqual(history, [
      { t: `${SCHEMA}.accounts`, rows: 1, actor: 'crm_restorer', app_actor: 'admin@example.com', reason: 'undo' },
      { t: `${SCHEMA}.activities`, rows: 4, actor: 'crm_restorer', app_actor: 'admin@example.com', reason: 'undo' },
      { t: `${SCHEMA}.contacts`, rows: 2, actor: 'crm_restorer', app_actor: 'admin@example.com', reason: 'undo' },
    ]);
  });

  test('with deletion_scope = statement, each DELETE is a deletion of its own', async () => {
    const { account, ids } = await makeAccount('Statement Ltd');
    const before = await snapshot();
    await db.sequelize.transaction(async (t) => {
      await db.sequelize.query('SET LOCAL crm_purge.deletion_scope = statement', { transaction: t });
      await account.destroy({ transaction: t });
    });
    const trash = await trashed(ids);
    assert.equal(deletionIds(trash).size, 7);
    // the account's restore brings back the account and its deals' links
    const { restored } = await restoreDeletion(trash.accounts[0].deletion_id);
    assert.equal(restored, 1);
    const deals = await db.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.deals WHERE account_id = $1`, [account.id]);
    assert.equal(deals[0].n, 2);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.contacts WHERE account_id = $1`,
      [account.id]))[0].n, 0);
    // and the rest takes one restore per statement, parents first
    for (const t of ['contacts', 'activities']) {
      for (const r of trash[t]) await restoreDeletion(r.deletion_id);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('Model.destroy({ where }) with the beforeBulkDestroy hook', async () => {
    const { Deal } = db.models;
    const deals = await Deal.bulkCreate([{ title: 'Old 1' }, { title: 'Old 2' }, { title: 'Keep' }]);
    const n = await db.sequelize.transaction((t) => Deal.destroy({
      where: { title: ['Old 1', 'Old 2'] },
      transaction: t,
      crmPurge: { actor: 'cron', reason: 'stale deals' },
    }));
    assert.equal(n, 2);
    const trash = (await trashed({ deals: deals.map((d) => d.id) })).deals;
    assert.deepEqual(trash.map((r) => [r.id, r.deletion_actor, r.deletion_reason]),
      [[deals[0].id, 'cron', 'stale deals'], [deals[1].id, 'cron', 'stale deals']]);
    assert.equal(new Set(trash.map((r) => String(r.deletion_id))).size, 1);
    assert.equal((await restoreDeletion(trash[0].deletion_id)).restored, 2);
    assert.equal(await Deal.count({ where: { id: deals.map((d) => d.id) } }), 3);
  });

  test('the hook refuses an actor without a transaction, and deletes nothing', async () => {
    const { account, ids } = await makeAccount('No Transaction Co');
    await assert.rejects(account.destroy({ crmPurge: { actor: 'jane', reason: 'x' } }),
      /actor and reason need a transaction/);
    assert.equal(await db.models.Account.count({ where: { id: account.id } }), 1);
    assert.equal(deletionIds(await trashed(ids)).size, 0);
  });

  test('withAudit(): a transaction wrapper; the settings end with it', async () => {
    const { account, ids } = await makeAccount('Wrapper GmbH');
    await withAudit(db.sequelize, { actor: 'sam@example.com', reason: 'merged into another account' },
      (t) => account.destroy({ transaction: t }));
    const trash = await trashed(ids);
    const rows = Object.values(trash).flat();
    assert.equal(rows.length, 7);
    assert.ok(rows.every((r) => r.deletion_actor === 'sam@example.com' && r.deletion_reason === 'merged into another account'));
    // same (only) pooled connection, next transaction: nothing left over
    const [s] = await db.query("SELECT current_setting('crm_purge.actor', true) AS actor, current_setting('crm_purge.reason', true) AS reason");
    assert.ok(!s.actor && !s.reason, JSON.stringify(s));
    // a failing transaction trashes nothing
    const second = await makeAccount('Rollback AG');
    await assert.rejects(withAudit(db.sequelize, { actor: 'sam', reason: 'fails' }, async (t) => {
      await second.account.destroy({ transaction: t });
      throw new Error('changed my mind');
    }), /changed my mind/);
    assert.equal(await db.models.Account.count({ where: { id: second.account.id } }), 1);
    assert.equal(deletionIds(await trashed(second.ids)).size, 0);
    assert.equal((await restoreDeletion([...deletionIds(trash)][0])).restored, 7);
  });
});
