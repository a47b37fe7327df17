'use strict';
// crm_purge with Sequelize: who deleted, and why.
//
// crm_purge records crm_purge.actor and crm_purge.reason, set for the current
// transaction only (set_config(..., true)), with every row the transaction
// moves to the trash (deletion_actor, deletion_reason) and with restores in
// crm_purge_history (app_actor, reason). With crm_purge.deletion_scope =
// transaction (ALTER DATABASE/ROLE ... SET), everything one transaction
// deletes is one deletion, undone by one crm_purge_restore_deletion(id).

const SET_AUDIT = "SELECT set_config('crm_purge.actor', $1, true), set_config('crm_purge.reason', $2, true)";

/** Sets actor and reason for `transaction` (a Sequelize transaction). */
async function setAudit(sequelize, transaction, { actor, reason } = {}) {
  if (!transaction) {
    // outside a transaction each statement commits on its own: a local
    // setting would end before the DELETE runs
    throw new Error('crm_purge: actor and reason need a transaction (pass { transaction })');
  }
  await sequelize.query(SET_AUDIT, { bind: [actor || '', reason || ''], transaction, raw: true });
}

/**
 * withAudit(sequelize, { actor, reason }, async (t) => account.destroy({ transaction: t }))
 * A managed transaction that records actor and reason.
 */
function withAudit(sequelize, audit, fn) {
  return sequelize.transaction(async (t) => {
    await setAudit(sequelize, t, audit);
    return fn(t);
  });
}

/**
 * Hooks for every model: instance.destroy() and Model.destroy({ where })
 * given { transaction, crmPurge: { actor, reason } } record them. Sequelize
 * passes the same options to the children it destroys for an association
 * with onDelete: 'CASCADE', hooks: true, so the whole cascade is recorded.
 */
function installHooks(sequelize) {
  const audit = async (options) => {
    if (options && options.crmPurge) await setAudit(sequelize, options.transaction, options.crmPurge);
  };
  sequelize.addHook('beforeDestroy', 'crmPurgeAudit', (instance, options) => audit(options));
  sequelize.addHook('beforeBulkDestroy', 'crmPurgeAudit', (options) => audit(options));
}

module.exports = { SET_AUDIT, setAudit, withAudit, installHooks };
