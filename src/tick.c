/*
 * tick.c - the due work, done one batch at a time.
 *
 * crm_purge_tick_step() does one bounded batch in the current transaction.
 * The worker runs each step in a transaction of its own; crm_purge_tick()
 * runs the steps in the caller's transaction until nothing is due.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "storage/itemptr.h"
#include "utils/lsyscache.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "crm_purge.h"

/*
 * The expired trash rows a legal hold keeps, as a tid[] in *held.  A hold's
 * filter runs as the admin who made it, in a restricted context: never with
 * the worker's superuser rights.  Returns false when the table must be
 * skipped: a hold made by someone who is no longer an admin might not see
 * every row, so nothing of that table expires until it is released.
 */
static bool
held_trash_rows(Oid relid, const char *trash, Datum retention, Datum *held)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	SPITupleTable *holds;
	uint64		nholds,
				h;
	List	   *tids = NIL;
	Datum	   *elems;
	ListCell   *lc;
	int			i = 0;

	if (SPI_execute_with_args("SELECT filter, created_by::text FROM crm_purge._active_holds($1)",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.holds");
	holds = SPI_tuptable;
	nholds = SPI_processed;
	for (h = 0; h < nholds; h++)
	{
		char	   *filter = SPI_getvalue(holds->vals[h], holds->tupdesc, 1);
		Oid			creator = get_role_oid(SPI_getvalue(holds->vals[h], holds->tupdesc, 2), true);
		Oid			targtypes[1] = {INTERVALOID};
		Datum		tvalues[1] = {retention};
		Oid			save_userid;
		int			save_sec_context;
		uint64		r;

		if (!OidIsValid(creator) || !crm_purge_is_admin(creator))
		{
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("trash of %s does not expire: a legal hold on it was made by a role that is no longer an admin", trash),
					 errhint("Release the hold, or make it again as an admin.")));
			return false;
		}
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(creator, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		if (SPI_execute_with_args(psprintf("SELECT ctid FROM %s WHERE deleted_at < pg_catalog.now() - $1"
										   " AND (%s\n)", trash, filter),
								  1, targtypes, tvalues, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not evaluate a legal hold");
		SetUserIdAndSecContext(save_userid, save_sec_context);
		for (r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			ItemPointer tid = palloc(sizeof(ItemPointerData));

			*tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[r],
																SPI_tuptable->tupdesc, 1, &isnull));
			tids = lappend(tids, tid);
		}
	}
	elems = palloc(sizeof(Datum) * Max(list_length(tids), 1));
	foreach(lc, tids)
		elems[i++] = PointerGetDatum(lfirst(lc));
	*held = PointerGetDatum(construct_array(elems, i, TIDOID, sizeof(ItemPointerData), false,
											TYPALIGN_SHORT));
	return true;
}

/*
 * Removes at most batch_size expired rows from each trash table.  Returns
 * true when some table had a full batch, so more may be due.
 */
static bool
expire_trash(CrmPurgeTickCounts *counts)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		values[2];
	SPITupleTable *tables;
	uint64		ntables,
				k;
	bool		more = false;

	values[0] = Int32GetDatum(crm_purge_trash_retention);
	values[1] = Int32GetDatum(crm_purge_batch_size);
	if (SPI_execute_with_args("SELECT crm_purge._qualified(tbl), trash::text, "
							  "coalesce(retention, pg_catalog.make_interval(secs => $1)), tbl::oid "
							  "FROM crm_purge.protected_tables ORDER BY tbl",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	tables = SPI_tuptable;
	ntables = SPI_processed;

	for (k = 0; k < ntables; k++)
	{
		char	   *tbl = SPI_getvalue(tables->vals[k], tables->tupdesc, 1);
		char	   *trash = SPI_getvalue(tables->vals[k], tables->tupdesc, 2);
		bool		isnull;
		Datum		retention = SPI_getbinval(tables->vals[k], tables->tupdesc, 3, &isnull);
		Oid			relid = DatumGetObjectId(SPI_getbinval(tables->vals[k], tables->tupdesc, 4, &isnull));
		Oid			dargtypes[3] = {INTERVALOID, INT4OID, TIDARRAYOID};
		Datum		dvalues[3] = {retention, Int32GetDatum(crm_purge_batch_size), (Datum) 0};
		char	   *sql;
		uint64		n;

		if (!held_trash_rows(relid, trash, retention, &dvalues[2]))
			continue;
		/* regclass output is already quoted and qualified as needed */
		sql = psprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY("
					   "SELECT ctid FROM %s WHERE deleted_at < pg_catalog.now() - $1"
					   " AND ctid <> ALL ($3) LIMIT $2))",
					   trash, trash);
		if (SPI_execute_with_args(sql, 3, dargtypes, dvalues, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not expire trash of %s", tbl);
		n = SPI_processed;
		if (n > 0)
		{
			Oid			hargtypes[2] = {TEXTOID, INT8OID};
			Datum		hvalues[2] = {CStringGetTextDatum(tbl), Int64GetDatum((int64) n)};

			if (SPI_execute_with_args("INSERT INTO crm_purge.history (action, table_name, rows) "
									  "VALUES ('trash expiry', $1, $2)",
									  2, hargtypes, hvalues, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not write crm_purge.history");
			counts->trash_expired += n;
		}
		if (n >= (uint64) crm_purge_batch_size)
			more = true;
	}
	return more;
}

/* Requests wait outside the processing window and while standbys lag. */
static bool
requests_may_run(void)
{
	if (crm_purge_processing_window && crm_purge_processing_window[0] != '\0')
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			tz;

		timestamp2tm(GetCurrentTimestamp(), &tz, &tm, &fsec, NULL, NULL);
		if (!crm_purge_in_window(crm_purge_processing_window, tm.tm_hour * 60 + tm.tm_min))
			return false;
	}
	if (crm_purge_max_replica_lag > 0)
	{
		Oid			argtypes[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(crm_purge_max_replica_lag)};

		if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_stat_replication"
								  " WHERE replay_lag > pg_catalog.make_interval(secs => $1 / 1000.0)",
								  1, argtypes, values, NULL, true, 1) == SPI_OK_SELECT &&
			SPI_processed > 0)
			return false;
	}
	return true;
}

/*
 * One step of due work: one batch of the oldest request, one batch of trash
 * expiry per table (in the first step, and while a table had a full batch),
 * and export expiry in the first step.  Returns true while work remains.
 */
bool
crm_purge_tick_step(CrmPurgeTickCounts *counts)
{
	bool		more = false;
	bool		first = !counts->started;

	if (RecoveryInProgress())
		return false;
	counts->started = true;
	SPI_connect();
	if (requests_may_run())
		more = crm_purge_request_batch(counts);
	{
		Oid			argtypes[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(crm_purge_batch_size)};
		bool		isnull;

		if (SPI_execute_with_args("SELECT crm_purge._purge_step($1)", 1, argtypes, values,
								  NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not run the due purge");
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		{
			counts->purge_batches++;
			more = true;
		}
	}
	if (first || counts->trash_pending)
	{
		counts->trash_pending = expire_trash(counts);
		more = more || counts->trash_pending;
	}
	if (first)
	{
		counts->exports_expired += crm_purge_expire_exports();
		if (SPI_execute("SELECT crm_purge._reconcile_policies()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not check the pg_cron jobs of policies");
	}
	SPI_finish();
	return more;
}

Jsonb *
crm_purge_tick_counts_jsonb(CrmPurgeTickCounts *counts)
{
	char	   *s;

	s = psprintf("{\"standby\": %s, \"batches\": " INT64_FORMAT ", \"request_rows\": " INT64_FORMAT
				 ", \"requests_finished\": " INT64_FORMAT ", \"requests_failed\": " INT64_FORMAT
				 ", \"purge_batches\": " INT64_FORMAT
				 ", \"trash_expired\": " INT64_FORMAT ", \"exports_expired\": " INT64_FORMAT "}",
				 RecoveryInProgress() ? "true" : "false",
				 counts->batches, counts->request_rows, counts->requests_finished,
				 counts->requests_failed, counts->purge_batches, counts->trash_expired,
				 counts->exports_expired);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

PG_FUNCTION_INFO_V1(crm_purge_tick);
Datum
crm_purge_tick(PG_FUNCTION_ARGS)
{
	CrmPurgeTickCounts counts = {0};
	Oid			save_userid;
	int			save_sec_context;

	crm_purge_require_admin("crm_purge_tick");
	crm_purge_switch_to_owner(&save_userid, &save_sec_context);
	while (crm_purge_tick_step(&counts))
		CHECK_FOR_INTERRUPTS();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	PG_RETURN_JSONB_P(crm_purge_tick_counts_jsonb(&counts));
}
