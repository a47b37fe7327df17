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

typedef struct ExpireTable
{
	Oid			relid;
	Oid			trashid;
	char	   *tbl;
	Datum		retention;
	uint64		n;
} ExpireTable;

/*
 * One batch of one table's expired trash, minus what legal holds keep (each
 * hold's filter as its creator, see holds.c).  Run in a subtransaction of
 * its own: a table whose holds cannot be checked waits, the others expire.
 */
static void
expire_one_table(void *arg)
{
	ExpireTable *t = arg;
	Oid			argtypes[3] = {INTERVALOID, INT4OID, TIDARRAYOID};
	Datum		values[3];
	Oid			htypes[1] = {TIDARRAYOID};
	const char *trash = quote_qualified_identifier(get_namespace_name(get_rel_namespace(t->trashid)),
												   get_rel_name(t->trashid));
	bool		isnull;
	Datum		candidates;

	/*
	 * The candidates first, then what holds keep of them, then delete by
	 * ctid: a row updated in between has a new ctid and stays.
	 */
	values[0] = t->retention;
	values[1] = Int32GetDatum(crm_purge_batch_size);
	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.array_agg(ctid) FROM (SELECT ctid FROM %s"
									   " WHERE deleted_at < pg_catalog.now() - $1 LIMIT $2) c", trash),
							  2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read trash of %s", t->tbl);
	candidates = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return;
	candidates = PointerGetDatum(PG_DETOAST_DATUM_COPY(candidates));
	values[2] = crm_purge_hold_tid_array(crm_purge_hold_hits(t->relid, t->trashid, "ctid = ANY ($1)",
															 1, htypes, &candidates));
	values[1] = candidates;
	if (SPI_execute_with_args(psprintf("DELETE FROM %s WHERE ctid = ANY ($2) AND ctid <> ALL ($3)"
									   " AND deleted_at < pg_catalog.now() - $1", trash),
							  3, (Oid[]) {INTERVALOID, TIDARRAYOID, TIDARRAYOID}, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not expire trash of %s", t->tbl);
	t->n = SPI_processed;
	if (t->n > 0)
	{
		Oid			hargs[2] = {TEXTOID, INT8OID};
		Datum		hvals[2] = {CStringGetTextDatum(t->tbl), Int64GetDatum((int64) t->n)};

		if (SPI_execute_with_args("INSERT INTO crm_purge.history (action, table_name, rows) "
								  "VALUES ('trash expiry', $1, $2)",
								  2, hargs, hvals, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write crm_purge.history");
	}
}

/*
 * Removes at most batch_size expired rows from each trash table.  Returns
 * true when some table had a full batch, so more may be due.  Runs as the
 * extension owner, who owns the trash.
 */
static bool
expire_trash(CrmPurgeTickCounts *counts)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	SPITupleTable *tables;
	uint64		ntables,
				k;
	bool		more = false;

	values[0] = Int32GetDatum(crm_purge_trash_retention);
	if (SPI_execute_with_args("SELECT crm_purge._qualified(tbl), trash::oid, "
							  "coalesce(retention, pg_catalog.make_interval(secs => $1)), tbl::oid "
							  "FROM crm_purge.protected_tables ORDER BY tbl",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	tables = SPI_tuptable;
	ntables = SPI_processed;

	for (k = 0; k < ntables; k++)
	{
		ExpireTable t;
		bool		isnull;
		ErrorData  *edata;

		t.tbl = SPI_getvalue(tables->vals[k], tables->tupdesc, 1);
		t.trashid = DatumGetObjectId(SPI_getbinval(tables->vals[k], tables->tupdesc, 2, &isnull));
		t.retention = SPI_getbinval(tables->vals[k], tables->tupdesc, 3, &isnull);
		t.relid = DatumGetObjectId(SPI_getbinval(tables->vals[k], tables->tupdesc, 4, &isnull));
		t.n = 0;
		edata = crm_purge_in_subtransaction(expire_one_table, &t);
		if (edata != NULL)
		{
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("trash of %s does not expire: %s", t.tbl, edata->message),
					 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
					 edata->hint ? errhint("%s", edata->hint) : 0));
			continue;
		}
		counts->trash_expired += t.n;
		if (t.n >= (uint64) crm_purge_batch_size)
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
typedef struct TaskState
{
	CrmPurgeTickCounts *counts;
	bool		more;
} TaskState;

static void
purge_task(void *arg)
{
	TaskState  *t = arg;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(crm_purge_batch_size)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT crm_purge._purge_step($1)", 1, argtypes, values,
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run the due purge");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		t->counts->purge_batches++;
		t->more = true;
	}
}

static void
export_expiry_task(void *arg)
{
	TaskState  *t = arg;

	t->counts->exports_expired += crm_purge_expire_exports();
}

static void
policy_upkeep_task(void *arg)
{
	if (SPI_execute("SELECT crm_purge._reconcile_policies()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check the pg_cron jobs of policies");
}

/*
 * Each piece of due work runs in a subtransaction of its own: one that
 * fails is logged and leaves the others to run.
 */
static void
run_task(const char *task, void (*fn) (void *), TaskState *t)
{
	ErrorData  *edata = crm_purge_in_subtransaction(fn, t);

	if (edata != NULL)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("crm_purge %s failed: %s", task, edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0,
				 errcontext("The other due work goes on; this is tried again at the next naptime.")));
}

/*
 * One step of due work: one batch of the oldest request, one batch of a
 * due purge, one batch of trash expiry per table (in the first step, and
 * while a table had a full batch), export expiry and policy upkeep in the
 * first step.  Returns true while work remains.
 */
bool
crm_purge_tick_step(CrmPurgeTickCounts *counts)
{
	TaskState	t = {counts, false};
	bool		first = !counts->started;

	if (RecoveryInProgress())
		return false;
	counts->started = true;
	SPI_connect();
	if (requests_may_run())
		t.more = crm_purge_request_batch(counts);
	run_task("purge", purge_task, &t);
	if (first || counts->trash_pending)
	{
		counts->trash_pending = expire_trash(counts);
		t.more = t.more || counts->trash_pending;
	}
	if (first)
	{
		run_task("export expiry", export_expiry_task, &t);
		run_task("policy upkeep", policy_upkeep_task, &t);
	}
	SPI_finish();
	return t.more;
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
	CrmPurgeIdentity id;

	crm_purge_require_admin("crm_purge_tick");
	crm_purge_become_owner(&id);
	while (crm_purge_tick_step(&counts))
		CHECK_FOR_INTERRUPTS();
	crm_purge_unbecome(&id);
	PG_RETURN_JSONB_P(crm_purge_tick_counts_jsonb(&counts));
}
