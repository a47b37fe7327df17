-- 09_grants: who may run what: every GRANT and REVOKE, last; then wake the worker

REVOKE ALL ON FUNCTION crm_purge._wake_launcher() FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._lock_holds(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._sync_trash(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._converts(text, oid, integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._rename_trash_column(regclass, name, name) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._kept_columns(regclass, name), crm_purge._set_aside_from(regclass, name, name) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._unlogged_part(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._create_unlink_triggers(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._constraint_renamed(regclass, name, name) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._protect_partitions(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._dropped_owner(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._trash_trigger_intact(oid, text), crm_purge._trash_triggers_broken(regclass),
	crm_purge._temporary_dependency(regclass), crm_purge._temporary_dependency_from(oid, oid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._create_trash_triggers(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._protect(regclass, interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._unprotect(regclass, boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._notify(text, name[], bigint, bigint, jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._check_export(bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._set_marks(regclass, bigint[], bigint[], boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._set_marks(regclass, bigint[], bigint[], boolean) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._purge_step(integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._live_rows(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._citus_owner_code_column(regclass) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._live_rows(regclass) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._key_hash(text), crm_purge._new_secret(),
	crm_purge._tombstones_changed(), crm_purge._parts_with_keys(regclass, text[], text[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._key_hash(text), crm_purge._parts_with_keys(regclass, text[], text[])
	TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._set_relation(regclass, regclass, text, name[], text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._set_relation(regclass, regclass, text, name[], text) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._set_anonymize(regclass, name, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._set_anonymize(regclass, name, text) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._trash_apply(regclass, int2[], text[], text, oid, regclass, text[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._trash_apply(regclass, int2[], text[], text, oid, regclass, text[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._pick(regclass, text, text[], text[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._pick(regclass, text, text[], text[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._owner_write(regclass, oid[], tid[], int2[], boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._owner_write(regclass, oid[], tid[], int2[], boolean) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._lock_trash_rows(regclass, bigint[], bigint[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._lock_trash_rows(regclass, bigint[], bigint[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._guard(regclass, text, name[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._guard(regclass, text, name[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._guard_skipped(regclass) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._guard_skipped(regclass) TO crm_purge_admin;

REVOKE ALL ON crm_purge_guards FROM PUBLIC;

GRANT SELECT ON crm_purge_guards TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._forget(regclass, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._forget(regclass, text) TO crm_purge_admin;

GRANT SELECT ON crm_purge.policies TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._drop_policy(bigint) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._drop_policy(bigint) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._policy_ran(bigint, bigint, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._policy_ran(bigint, bigint, text) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._reconcile_policies() FROM PUBLIC;

GRANT SELECT ON crm_purge_policies TO PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._drop_cron_jobs() FROM PUBLIC;

-- admins read every catalog; the views check membership themselves
GRANT SELECT ON ALL TABLES IN SCHEMA crm_purge TO crm_purge_admin;

REVOKE ALL ON crm_purge.secret FROM crm_purge_admin;
-- export data of every table on a Citus node: read through crm_purge_export_read
REVOKE ALL ON crm_purge.shard_parts FROM crm_purge_admin;

GRANT EXECUTE ON FUNCTION crm_purge._check_export(bigint) TO crm_purge_admin;

GRANT SELECT ON crm_purge_requests, crm_purge_progress, crm_purge_overview, crm_purge_history TO PUBLIC;

-- a running launcher starts a worker for this database now
REVOKE ALL ON FUNCTION crm_purge._purge_trash_batch(regclass, timestamptz, integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._record_history(text, regclass, bigint, name, bigint, bigint, bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._trash(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._trash(regclass) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._kept_trash(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._kept_trash(regclass) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._request_status(bigint, text, text, regrole) FROM PUBLIC;

SELECT crm_purge._wake_launcher();

-- Data that names row keys is not for every admin: export parts are
-- visible to admins who may SELECT the request's table; unlinks to nobody.
REVOKE SELECT ON crm_purge.unlinks FROM crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._live_now(regclass, text[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._live_now(regclass, text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._held_on(oid[]), crm_purge._held_tree(regclass), crm_purge._held_around(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._any_hold() FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._cron_installed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._cron_installed() TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._has_holds(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._keys_comparable(regclass, int2[], regclass, int2[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._keys_comparable(regclass, int2[], regclass, int2[]) TO crm_purge_admin;
GRANT EXECUTE ON FUNCTION crm_purge._has_holds(regclass) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._erase_cascade_trash(regclass, regclass, text, text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._erase_cascade_trash(regclass, regclass, text, text[], integer) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._held_trash_using(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._check_cascades(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_cascades(regclass) TO crm_purge_admin;
GRANT EXECUTE ON FUNCTION crm_purge._any_hold() TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._fk_action_holds(text, regclass, regclass, text, text[], integer, int2[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._fk_action_holds(text, regclass, regclass, text, text[], integer, int2[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._held_rows(regclass, bigint[], bigint[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._delete_permanently(regclass, text, text[]),
	crm_purge._hold_keeping(regclass, text[]), crm_purge._hold_keeping_cols(regclass, int2[], text[], regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._forget_unlinks(regclass, bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._forget_orphan_unlinks(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._citus_held_watch(regclass, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._base_type(oid), crm_purge._check_not_partition(text, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_not_partition(text, regclass) TO crm_purge_admin;

GRANT EXECUTE ON FUNCTION crm_purge._delete_permanently(regclass, text, text[]),
	crm_purge._hold_keeping(regclass, text[]), crm_purge._hold_keeping_cols(regclass, int2[], text[], regtype) TO crm_purge_admin;

-- trigger functions are attached by crm_purge only
REVOKE ALL ON FUNCTION crm_purge.trash_trigger(), crm_purge.unlink_trigger(),
	crm_purge.guard_trigger(), crm_purge.ddl_trigger() FROM PUBLIC;

-- ... but a partition of a protected table clones the trash trigger as the
-- partition's creator, who needs EXECUTE; the trigger acts only for
-- protected tables and their partitions
GRANT EXECUTE ON FUNCTION crm_purge.trash_trigger() TO PUBLIC;
-- and so does the guard's, and Citus makes a moved shard's triggers as its
-- owner; the guard checks only the tombstones of its own table (or of the
-- partitioned table whose trigger it is a clone of)
GRANT EXECUTE ON FUNCTION crm_purge.guard_trigger() TO PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._ensure_secret(), crm_purge._sql_drop() FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._trash_of(regclass, text), crm_purge._refuse_while_pending() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._trash_of(regclass, text), crm_purge._refuse_while_pending() TO crm_purge_admin;

-- read as the extension owner only now
REVOKE ALL ON FUNCTION crm_purge._parts_with_keys(regclass, text[], text[]) FROM crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._free_column_name(regclass, text) FROM PUBLIC;

GRANT SELECT ON crm_purge_requests TO PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._check_export(bigint) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._check_export(bigint) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._cron_job(bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._policy_ran(bigint, bigint, text) FROM crm_purge_admin;

DO $$
DECLARE
	script_path text := pg_catalog.current_setting('search_path');
	f record;
BEGIN
	-- (the script's path holds the extension's schema, where others may create)
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	FOR f IN
		SELECT p.oid::regprocedure AS fn, p.proname, p.prosrc FROM pg_proc p
		WHERE p.pronamespace = 'crm_purge'::regnamespace
		  AND (p.prosrc = 'crm_purge_privileged' OR p.proname LIKE '\_%\_impl' OR p.proname LIKE '\_%\_check')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
		IF f.prosrc = 'crm_purge_privileged' OR f.proname LIKE '%\_check' THEN
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO crm_purge_admin', f.fn);
		END IF;
	END LOOP;
	PERFORM pg_catalog.set_config('search_path', script_path, true);
END
$$;

REVOKE ALL ON FUNCTION crm_purge._role_of(text), crm_purge._trash_type(oid, integer),
	crm_purge._trusted_cast(oid, oid), crm_purge._check_trash_schema(),
	crm_purge._sync_trash(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._trash_column_dropped(regclass, name) FROM PUBLIC;

GRANT SELECT ON crm_purge.errors TO crm_purge_admin;

GRANT SELECT ON crm_purge_errors TO PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._tick_step(boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._tick_step(boolean) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._add_trash_segment(regclass, integer),
	crm_purge._trash_upkeep(regclass, timestamptz), crm_purge._index_trash_segment(regclass, regclass),
	crm_purge._trash_stats_off(regclass), crm_purge._segment_pinned(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._citus_distribute_trash(regclass, regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._citus_trash_owner(regclass, regclass),
	crm_purge._citus_drop_trash_rows(regclass, bigint[], bigint[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._delete_row_keys(regclass, text[], boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm_purge._delete_row_keys(regclass, text[], boolean) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._citus_tombstones(regclass, bigint[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_purge._citus_secret_everywhere(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._citus_secret_everywhere(regclass) TO crm_purge_admin;

-- Citus: the coordinator's worker runs these on the nodes, as the extension owner
REVOKE ALL ON FUNCTION crm_purge._citus_shard_batch(bigint, bigint, bigint, boolean, integer, boolean, name, text, timestamptz, name, text, bigint, integer, text, integer, bigint),
	crm_purge._citus_raise_fence(bigint), crm_purge._citus_fence_rounds(),
	crm_purge._citus_shard_part(bigint, bigint, integer), crm_purge._citus_shard_expire(bigint[]),
	crm_purge._citus_expire_exports(), crm_purge._citus_round(bigint, text, integer, timestamptz) FROM PUBLIC;

-- Citus erase: the gate and its check for admins; the extension owner's
-- part and the switch to the table's owner for no one else
REVOKE ALL ON FUNCTION crm_purge._citus_erase(regclass, text, text[]),
	crm_purge._citus_erase_check(regclass, text, text[]),
	crm_purge._citus_erase_impl(regrole, regclass, text, text[], jsonb),
	crm_purge._citus_erase_rows_as_owner(regclass, text[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._citus_erase(regclass, text, text[]),
	crm_purge._citus_erase_check(regclass, text, text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._citus_delete(regclass, name, text[]),
	crm_purge._citus_delete_check(regclass, name, text[]),
	crm_purge._citus_delete_impl(regrole, regclass, name, text[]),
	crm_purge._citus_delete_rows_as_owner(regclass, name, text[]),
	crm_purge._citus_delete_rows(regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._citus_delete(regclass, name, text[]),
	crm_purge._citus_delete_check(regclass, name, text[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._raise_key_sequences(regclass), crm_purge._free_trash_name(text, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._lock_held(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._lock_held(regclass) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._guard_trigger(regclass, text, name[]),
	crm_purge._column_renamed(regrole, regclass, name, name) FROM PUBLIC;

REVOKE ALL ON FUNCTION crm_purge._unlinked_children(regclass, name, text[]),
	crm_purge._unlinked_children_impl(regrole, regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._unlinked_children(regclass, name, text[]) TO crm_purge_admin;

REVOKE ALL ON FUNCTION crm_purge._equal_trash_keys(regclass, regclass, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._equal_trash_keys(regclass, regclass, text, text[]) TO crm_purge_admin;
REVOKE ALL ON FUNCTION crm_purge._check_rule_table(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_purge._check_rule_table(regclass) TO crm_purge_admin;
