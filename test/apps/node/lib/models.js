'use strict';
// A small CRM in Sequelize 6. Sequelize cascades in the application
// (hasMany ... onDelete: 'CASCADE', hooks: true: it loads the children and
// destroys each one, running their hooks, before the parent's DELETE); the
// deals' key is ON DELETE SET NULL in the database (belongsTo with
// allowNull), which crm_purge remembers and restore_deletion links back.
const { DataTypes } = require('sequelize');

function defineModels(sequelize) {
  const Account = sequelize.define('Account', {
    name: { type: DataTypes.STRING(100), allowNull: false },
  }, { tableName: 'accounts' });
  const Contact = sequelize.define('Contact', {
    name: { type: DataTypes.STRING(100), allowNull: false },
    email: { type: DataTypes.STRING(254) },
  }, { tableName: 'contacts' });
  const Activity = sequelize.define('Activity', {
    body: { type: DataTypes.TEXT, allowNull: false },
  }, { tableName: 'activities' });
  const Deal = sequelize.define('Deal', {
    title: { type: DataTypes.STRING(100), allowNull: false },
    amount: { type: DataTypes.DECIMAL(12, 2), allowNull: false, defaultValue: 0 },
  }, { tableName: 'deals' });
  const Lead = sequelize.define('Lead', {
    email: { type: DataTypes.STRING(254), allowNull: false, unique: true },
    name: { type: DataTypes.STRING(100), allowNull: false },
  }, { tableName: 'leads' });

  const accountKey = { name: 'accountId', allowNull: false };
  Account.hasMany(Contact, { as: 'contacts', foreignKey: accountKey, onDelete: 'CASCADE', hooks: true });
  Contact.belongsTo(Account, { foreignKey: accountKey, onDelete: 'CASCADE' });
  const contactKey = { name: 'contactId', allowNull: false };
  Contact.hasMany(Activity, { as: 'activities', foreignKey: contactKey, onDelete: 'CASCADE', hooks: true });
  Activity.belongsTo(Contact, { foreignKey: contactKey, onDelete: 'CASCADE' });
  const dealKey = { name: 'accountId', allowNull: true };
  Account.hasMany(Deal, { as: 'deals', foreignKey: dealKey, onDelete: 'SET NULL' });
  Deal.belongsTo(Account, { foreignKey: dealKey, onDelete: 'SET NULL' });

  return { Account, Contact, Activity, Deal, Lead };
}

module.exports = { defineModels, PROTECTED: ['accounts', 'contacts', 'activities', 'deals', 'leads'] };
