'use strict';
// Connections for the tests: Sequelize as the application's role (owner of
// its tables, member of crm_purge_admin to protect and guard them), and
// node-postgres as the restoring admin (member of crm_purge_admin, owns
// nothing). Each test file works in a schema of its own, since node --test
// runs the files in parallel.
const { Sequelize } = require('sequelize');
const pg = require('pg');
const { defineModels, PROTECTED } = require('../lib/models');
const { installHooks } = require('../lib/crm_purge');

const env = process.env;
const connection = {
  host: env.CRM_DB_HOST || '/var/run/postgresql',
  port: Number(env.CRM_DB_PORT || 5432),
  database: env.CRM_DB_NAME || 'crm_node',
  user: env.CRM_DB_USER || 'crm_node',
};
const RESTORER = env.CRM_RESTORER || 'crm_restorer';

/** Sequelize on a fresh schema with the CRM tables, protected, leads guarded. */
async function setUp(schema, { guard = 'error' } = {}) {
  const notices = [];
  const sequelize = new Sequelize(connection.database, connection.user, null, {
    dialect: 'postgres',
    host: connection.host,
    port: connection.port,
    logging: false,
    // one connection: "nothing leaks into the next transaction" is checked
    // on the same session
    pool: { max: 1, min: 0 },
    define: { schema, underscored: true, timestamps: false },
    // Sequelize sets client_min_messages = warning unless told otherwise,
    // which hides the guard's NOTICE ("skipped N rows") from the application
    dialectOptions: { clientMinMessages: 'notice' },
  });
  // the server's NOTICEs (the guard's "skipped N rows") reach the client here
  sequelize.addHook('afterConnect', (client) => { client.on('notice', (n) => notices.push(n)); });
  const models = defineModels(sequelize);
  installHooks(sequelize);
  await sequelize.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sequelize.query(`CREATE SCHEMA "${schema}"`);
  await sequelize.sync();
  for (const t of PROTECTED) {
    await sequelize.query('SELECT crm_purge_protect($1)', { bind: [`${schema}.${t}`] });
  }
  await sequelize.query(`SELECT crm_purge_guard($1, $2)`, { bind: [`${schema}.leads`, guard] });
  await sequelize.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${RESTORER}`);
  await sequelize.query(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "${schema}" TO ${RESTORER}`);
  const query = async (sql, bind = []) => sequelize.query(sql, { bind, type: Sequelize.QueryTypes.SELECT });
  return { sequelize, models, notices, query, schema };
}

/** A node-postgres client as the restoring admin. */
async function restorer() {
  const client = new pg.Client({ ...connection, user: RESTORER });
  client.notices = [];
  client.on('notice', (n) => client.notices.push(n));
  await client.connect();
  return client;
}

/** crm_purge_restore_deletion as the admin, in a transaction with actor and reason. */
async function restoreDeletion(deletionId, { actor, reason } = {}) {
  const client = await restorer();
  try {
    await client.query('BEGIN');
    if (actor || reason) {
      await client.query("SELECT set_config('crm_purge.actor', $1, true), set_config('crm_purge.reason', $2, true)",
        [actor || '', reason || '']);
    }
    const { rows } = await client.query('SELECT crm_purge_restore_deletion($1) AS n', [deletionId]);
    await client.query('COMMIT');
    return { restored: Number(rows[0].n), notices: client.notices };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    await client.end();
  }
}

module.exports = { connection, RESTORER, setUp, restorer, restoreDeletion };
