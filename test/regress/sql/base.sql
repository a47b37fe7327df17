-- extension base: objects, settings, roles, tick
\set SHOW_CONTEXT never
CREATE EXTENSION crm_purge;

SELECT nspname FROM pg_namespace WHERE nspname IN ('crm_purge', 'crm_trash') ORDER BY 1;
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'crm_purge_admin';

-- every setting, with its unit and context
SELECT name, setting, unit, context, vartype, min_val, max_val, enumvals
FROM pg_settings WHERE name LIKE 'crm_purge.%' ORDER BY name;

-- the processing window is checked
SET crm_purge.processing_window = '22:00-06:00';
ALTER SYSTEM SET crm_purge.processing_window = '25:00-06:00';
ALTER SYSTEM SET crm_purge.processing_window = 'nightly';
ALTER SYSTEM SET crm_purge.processing_window = '22:00-06:00';
ALTER SYSTEM RESET crm_purge.processing_window;
ALTER SYSTEM SET crm_purge.databases = 'crm, "unterminated';
ALTER SYSTEM SET crm_purge.databases = 'crm, "Sales DB"';
ALTER SYSTEM RESET crm_purge.databases;

-- periods take time units; limits are superuser-only
SET crm_purge.trash_retention = '30d';
SHOW crm_purge.trash_retention;
RESET crm_purge.trash_retention;
SET crm_purge.batch_size = 0;
SET crm_purge.no_such_setting = 1;

-- nothing is due
SELECT crm_purge_tick();

-- non-admins are refused with one message
CREATE ROLE regress_plain LOGIN;
SET ROLE regress_plain;
SELECT crm_purge_tick();
SELECT crm_purge_protect('pg_class');
SET crm_purge.batch_size = 5;
RESET ROLE;
