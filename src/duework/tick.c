/*
 * tick.c - the due work, done one batch at a time.
 *
 * crm_purge_tick_step() does one bounded batch in the current transaction.
 * The worker runs each step in a transaction of its own; crm_purge_tick()
 * runs the steps in the caller's transaction until nothing is due;
 * crm_purge._tick_step() runs one, for CALL crm_purge_run().  Failing work is
 * kept in crm_purge.errors (crm_purge_task_failed / _succeeded) and backs
 * off.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "storage/itemptr.h"
#include "utils/lsyscache.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "crm_purge.h"

/*
 * Failing due work, by task and table: shown in crm_purge_errors, retried
 * with backoff (naptime doubled per retry, at most an hour) while the rest
 * goes on.  Read once per step; written only when something changes.
 */
typedef struct TaskError
{
	char	   *task;
	Oid			relid;
	bool		waiting;		/* next_try is in the future */
} TaskError;

static List *task_errors = NIL;

/* load_task_errors: reads crm_purge.errors into task_errors. */
static void
load_task_errors(void)
{
	uint64		i;

	task_errors = NIL;
	if (SPI_execute("SELECT task, tbl, next_try > pg_catalog.now() FROM crm_purge.errors",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.errors");
	for (i = 0; i < SPI_processed; i++)
	{
		TaskError  *e = palloc(sizeof(TaskError));
		bool		isnull;

		e->task = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		e->relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		e->waiting = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		task_errors = lappend(task_errors, e);
	}
}

/* find_task_error: the recorded error of task on relid, or NULL. */
static TaskError *
find_task_error(const char *task, Oid relid)
{
	ListCell   *lc;

	foreach(lc, task_errors)
	{
		TaskError  *e = lfirst(lc);

		if (e->relid == relid && strcmp(e->task, task) == 0)
			return e;
	}
	return NULL;
}

/* task_waits: is the task backing off after a failure? */
static bool
task_waits(const char *task, Oid relid)
{
	TaskError  *e = find_task_error(task, relid);

	return e != NULL && e->waiting;
}

/* crm_purge_task_succeeded: removes the task's row from crm_purge.errors, if it had one. */
void
crm_purge_task_succeeded(const char *task, Oid relid)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];

	if (find_task_error(task, relid) == NULL)
		return;
	values[0] = CStringGetTextDatum(task);
	values[1] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("DELETE FROM crm_purge.errors WHERE task = $1 AND tbl = $2",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not update crm_purge.errors");
}

/*
 * crm_purge_task_failed: logs a WARNING, records the failure and when to
 * retry; returns the retries so far (0 at the first failure in a row).
 */
int
crm_purge_task_failed(const char *task, Oid relid, ErrorData *edata)
{
	Oid			argtypes[4] = {TEXTOID, OIDOID, TEXTOID, INT4OID};
	Datum		values[4];
	bool		isnull;

	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("crm_purge %s%s%s failed: %s", task, OidIsValid(relid) ? " of " : "",
					OidIsValid(relid) && get_rel_name(relid) ?
					crm_purge_relname(relid) : "",
					edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0,
			 errcontext("The other due work goes on; this is retried with backoff (view crm_purge_errors).")));
	values[0] = CStringGetTextDatum(task);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = CStringGetTextDatum(edata->detail ? psprintf("%s (%s)", edata->message, edata->detail)
									: edata->message);
	values[3] = Int32GetDatum(crm_purge_naptime);
	if (SPI_execute_with_args("INSERT INTO crm_purge.errors AS e (task, tbl, error, next_try)"
							  " VALUES ($1, $2, $3, pg_catalog.now() + pg_catalog.make_interval(secs => $4))"
							  " ON CONFLICT (task, tbl) DO UPDATE SET error = EXCLUDED.error, retries = e.retries + 1,"
							  " next_try = pg_catalog.now() + pg_catalog.make_interval(secs =>"
							  "  least($4 * pg_catalog.power(2, e.retries + 1), 3600))"
							  " RETURNING retries",
							  4, argtypes, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record in crm_purge.errors");
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * ExpiryCursor: where trash expiry reads a trash in key order (deletion_id,
 * trash_row).  A batch is picked in no order, fast; but once a full batch
 * held rows a legal hold keeps, the same rows would come first again and
 * nothing else would ever expire: expiry then walks the trash in key order
 * past them, to its end, and starts over.  Per backend; lost with it.
 */
typedef struct ExpiryCursor
{
	Oid			trashid;		/* hash key */
	bool		ordered;
	int64		deletion_id;	/* the last row read in key order */
	int64		trash_row;
} ExpiryCursor;

static HTAB *expiry_cursors = NULL;

static ExpiryCursor *
expiry_cursor(Oid trashid)
{
	ExpiryCursor *c;
	bool		found;

	if (expiry_cursors == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ExpiryCursor);
		ctl.hcxt = TopMemoryContext;
		expiry_cursors = hash_create("crm_purge expiry cursors", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	c = hash_search(expiry_cursors, &trashid, HASH_ENTER, &found);
	if (!found)
		c->ordered = false;
	return c;
}

typedef struct ExpireTable
{
	Oid			relid;
	Oid			trashid;
	char	   *tbl;
	Datum		retention;
	uint64		n;
} ExpireTable;

/*
 * crm_purge_trash_batch: removes up to limit rows of relid's trash that
 * match cond ($1 = arg), except those a legal hold keeps: their number
 * goes to *nheld, and with unmark_held their marks are cleared (a pending
 * purge never takes them).  The candidates are picked first, the holds
 * checked on them (each as its creator), and the rest deleted by
 * (deletion_id, trash_row), cond checked again: a row changed in between
 * so that it no longer matches stays.  Trash expiry and pending purges both
 * go through it.  Runs as the extension owner, who owns the trash; SPI
 * connected.
 */
static uint64
crm_purge_trash_batch(Oid relid, Oid trashid, const char *cond, Oid argtype, Datum arg,
					  int limit, bool unmark_held, int *nheld, ExpiryCursor *cur)
{
	const char *trash = crm_purge_relname(trashid);
	Oid			argtypes[5] = {argtype, INT4OID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[5] = {arg, Int32GetDatum(limit), (Datum) 0, (Datum) 0, (Datum) 0};
	bool		ordered = cur != NULL && cur->ordered;
	bool		isnull;
	Datum		ids,
				rows,
				held_ids,
				held_rows;
	int			ncand;

	*nheld = 0;
	if (ordered)
	{
		argtypes[2] = INT8OID;
		argtypes[3] = INT8OID;
		values[2] = Int64GetDatum(cur->deletion_id);
		values[3] = Int64GetDatum(cur->trash_row);
	}
	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.array_agg(deletion_id ORDER BY deletion_id, trash_row),"
									   " pg_catalog.array_agg(trash_row ORDER BY deletion_id, trash_row)"
									   " FROM (SELECT deletion_id, trash_row FROM %s WHERE %s%s LIMIT $2) c",
									   trash, cond, ordered ?
									   " AND (deletion_id, trash_row) > ($3, $4) ORDER BY deletion_id, trash_row" : ""),
							  ordered ? 4 : 2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the trash of %s", crm_purge_relname(relid));
	argtypes[2] = argtypes[3] = INT8ARRAYOID;
	ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
	{
		if (cur != NULL)
			cur->ordered = false;
		return 0;
	}
	ids = PointerGetDatum(PG_DETOAST_DATUM_COPY(ids));
	rows = PointerGetDatum(PG_DETOAST_DATUM_COPY(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)));
	ncand = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(ids)), ARR_DIMS(DatumGetArrayTypeP(ids)));
	crm_purge_trash_held(relid, trashid, ids, rows, &held_ids, &held_rows);
	*nheld = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(held_ids)), ARR_DIMS(DatumGetArrayTypeP(held_ids)));
	if (cur != NULL)
	{
		if (ncand < limit)
			cur->ordered = false;	/* the end: start over, in no order */
		else if (ordered || *nheld > 0)
		{
			/* (the last candidate in key order: the next batch reads past it) */
			bool		n1,
						n2;
			int			last = ncand;

			if (!ordered)
			{
				cur->ordered = true;
				cur->deletion_id = PG_INT64_MIN;
				cur->trash_row = PG_INT64_MIN;
			}
			else
			{
				cur->deletion_id = DatumGetInt64(array_get_element(ids, 1, &last, -1, sizeof(int64), FLOAT8PASSBYVAL,
																   TYPALIGN_DOUBLE, &n1));
				cur->trash_row = DatumGetInt64(array_get_element(rows, 1, &last, -1, sizeof(int64), FLOAT8PASSBYVAL,
																 TYPALIGN_DOUBLE, &n2));
			}
		}
	}
	if (unmark_held && *nheld > 0)
	{
		Oid			htypes[2] = {INT8ARRAYOID, INT8ARRAYOID};
		Datum		hvalues[2] = {held_ids, held_rows};

		if (SPI_execute_with_args(psprintf("UPDATE %s t SET marked_at = NULL WHERE %s",
										   trash, crm_purge_trash_rows_named("t", 1)),
								  2, htypes, hvalues, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not unmark held rows");
	}
	values[1] = ids;
	values[2] = rows;
	values[3] = held_ids;
	values[4] = held_rows;
	argtypes[1] = INT8ARRAYOID;
	if (SPI_execute_with_args(psprintf("DELETE FROM %s t WHERE %s AND NOT %s AND %s",
									   trash, crm_purge_trash_rows_named("t", 2),
									   crm_purge_trash_rows_named("t", 4), cond),
							  5, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from the trash of %s", crm_purge_relname(relid));
	return SPI_processed;
}

/* expire_one_table: one batch of one table's expired trash, and its history row. */
static void
expire_one_table(void *arg)
{
	ExpireTable *t = arg;
	int			nheld;
	int32		young;
	Oid			argtypes[2] = {OIDOID, INTERVALOID};
	Datum		values[2] = {ObjectIdGetDatum(t->relid), t->retention};
	bool		isnull;

	/*
	 * Expiry runs over every table in one transaction: it never waits for a
	 * table while it holds the locks of those before (a migration altering
	 * two of them in one transaction deadlocked with it).  A table busy now
	 * is expired next time.
	 */
	if (!ConditionalLockRelationOid(t->relid, AccessShareLock))
		return;
	if (!ConditionalLockRelationOid(t->trashid, RowExclusiveLock))
	{
		UnlockRelationOid(t->relid, AccessShareLock);
		return;
	}

	/* sealing, indexing, and whole expired segments dropped */
	if (SPI_execute_with_args("SELECT crm_purge._trash_upkeep($1, pg_catalog.now() - $2)",
							  2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not keep up the trash of %s", t->tbl);
	t->n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	young = crm_purge_young_segment(t->trashid, t->retention);
	t->n += crm_purge_trash_batch(t->relid, t->trashid,
								  young < 0 ? "deleted_at < pg_catalog.now() - $1" :
								  psprintf("deleted_at < pg_catalog.now() - $1 AND trash_segment <> %d", young),
								  INTERVALOID, t->retention, crm_purge_batch_rows(), false, &nheld,
								  expiry_cursor(t->trashid));
	if (t->n > 0)
		crm_purge_record_history("trash expiry", t->relid, (int64) t->n, InvalidOid, 0, 0, 0);
}

/*
 * expire_trash: removes at most batch_size expired rows from each trash table
 * (skipping tables whose expiry backs off).  Returns true when some table had
 * a full batch, so more may be due.  Runs as the extension owner, who owns the
 * trash.
 */
static bool
expire_trash(CrmPurgeTickCounts *counts)
{
	ListCell   *lc;
	bool		more = false;

	foreach(lc, crm_purge_protected_tables(crm_purge_trash_retention))
	{
		CrmPurgeProtected *p = lfirst(lc);
		ExpireTable t;
		ErrorData  *edata;

		t.tbl = p->name;
		t.trashid = p->trashid;
		t.retention = p->retention;
		t.relid = p->relid;
		t.n = 0;
		if (task_waits("trash expiry", t.relid))
			continue;
		edata = crm_purge_in_subtransaction(expire_one_table, &t);
		/* dropped or unprotected since the list was read: nothing left to expire */
		if (edata != NULL && (get_rel_relkind(t.relid) == '\0' || get_rel_relkind(t.trashid) == '\0' ||
							  !OidIsValid(crm_purge_trash_of(t.relid))))
			continue;
		if (edata != NULL)
		{
			crm_purge_task_failed("trash expiry", t.relid, edata);
			continue;
		}
		crm_purge_task_succeeded("trash expiry", t.relid);
		counts->trash_expired += t.n;
		if (t.n >= (uint64) crm_purge_batch_rows())
			more = true;
	}
	return more;
}

/* requests_may_run: requests wait outside the processing window and while standbys lag. */
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

typedef struct TaskState
{
	CrmPurgeTickCounts *counts;
	bool		more;
} TaskState;

/*
 * purge_task: one batch of a due permanent purge (crm_purge._purge_step); more
 * is due when it ran one.
 */
static void
purge_task(void *arg)
{
	TaskState  *t = arg;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(crm_purge_batch_rows())};
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

/* export_expiry_task: removes expired exports (export.c). */
static void
export_expiry_task(void *arg)
{
	TaskState  *t = arg;

	t->counts->exports_expired += crm_purge_expire_exports();
}

/* policy_upkeep_task: crm_purge._reconcile_policies() checks the pg_cron jobs of policies. */
static void
policy_upkeep_task(void *arg)
{
	if (SPI_execute("SELECT crm_purge._reconcile_policies()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check the pg_cron jobs of policies");
}

/* analyze_table: ANALYZE of one table, run by crm_purge_in_subtransaction(). */
static void
analyze_table(void *arg)
{
	Oid			relid = *(Oid *) arg;

	/* ANALYZE runs the table's code as its owner, restricted */
	SPI_execute(psprintf("ANALYZE %s", crm_purge_relname(relid)), false, 0);
}

/*
 * run_task: each piece of due work runs in a subtransaction of its own, unless
 * it backs off: one that fails is recorded and retried with backoff, and
 * leaves the others to run.
 */
static void
run_task(const char *task, void (*fn) (void *), TaskState *t)
{
	ErrorData  *edata;

	if (task_waits(task, InvalidOid))
		return;
	edata = crm_purge_in_subtransaction(fn, t);
	if (edata != NULL)
		crm_purge_task_failed(task, InvalidOid, edata);
	else
		crm_purge_task_succeeded(task, InvalidOid);
}

/*
 * analyze_finished_request: ANALYZE a finished request's table, in a step
 * (transaction) of its own; true when there was one.  After a few failures
 * the request is marked analyzed anyway.
 */
static bool
analyze_finished_request(void)
{
	Oid			relid;
	int64		id;
	bool		isnull;
	ErrorData  *edata;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	if (SPI_execute("SELECT id, tbl::oid FROM crm_purge.requests WHERE status = 'success'"
					" AND analyzed_at IS NULL ORDER BY id LIMIT 1", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.requests");
	if (SPI_processed == 0)
		return false;
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	values[0] = Int64GetDatum(id);
	if (get_rel_name(relid) != NULL && !task_waits("analyze", relid))
	{
		edata = crm_purge_in_subtransaction(analyze_table, &relid);
		if (edata != NULL)
		{
			/* a few tries; statistics are not worth more */
			if (crm_purge_task_failed("analyze", relid, edata) < 3)
				return true;
		}
		else
			crm_purge_task_succeeded("analyze", relid);
	}
	if (SPI_execute_with_args("UPDATE crm_purge.requests SET analyzed_at = pg_catalog.now() WHERE id = $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update crm_purge.requests");
	return true;
}

/*
 * crm_purge_tick_step: one step of due work: the ANALYZE of a finished
 * request's table alone, or else one batch of the oldest request (when
 * requests may run), one batch of a due purge, one batch of trash expiry
 * per table (in the first step, every naptime, and while a table had a full
 * batch), export expiry and policy upkeep (in the first step and every
 * naptime).  Nothing on a standby.  Returns true while work remains.
 */
bool
crm_purge_tick_step(CrmPurgeTickCounts *counts)
{
	TaskState	t = {counts, false};
	bool		first = !counts->started;
	TimestampTz now = GetCurrentTimestamp();

	/* expiry and upkeep every naptime, also while a long request runs */
	if (!first && TimestampDifferenceExceeds(counts->periodic_at, now, crm_purge_naptime * 1000))
		first = true;
	if (first)
		counts->periodic_at = now;

	/* a standby, or a Citus worker node: the coordinator has the catalogs and does the work */
	if (RecoveryInProgress() || crm_purge_citus_group() > 0)
		return false;
	counts->started = true;
	SPI_connect();
	load_task_errors();
	if (analyze_finished_request())
	{
		SPI_finish();
		return true;
	}
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

/*
 * crm_purge_tick_counts_jsonb: the counts as crm_purge_tick() reports them,
 * and whether this is a standby.
 */
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

/*
 * crm_purge_tick: crm_purge_tick(): all due work in the caller's
 * transaction, as the extension owner; admins only.  Returns the counts.
 */
/*
 * require_read_committed: due work reads and moves trash rows (a segment
 * merge copies them, then drops the sources): with a snapshot older than the
 * statement it copied rows erased or restored since, which came back
 * (review round 63, B63-2)
 */
static void
require_read_committed(const char *fn)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run in a %s transaction", fn,
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("Its snapshot would miss what was erased, restored or trashed after it was taken."),
				 errhint("Nothing was done. Run it in a READ COMMITTED transaction (the default).")));
}

PG_FUNCTION_INFO_V1(crm_purge_tick);
Datum
crm_purge_tick(PG_FUNCTION_ARGS)
{
	CrmPurgeTickCounts counts = {0};
	CrmPurgeIdentity id;

	crm_purge_require_admin("crm_purge_tick");
	crm_purge_require_coordinator("crm_purge_tick");
	require_read_committed("crm_purge_tick");
	crm_purge_become_owner(&id);
	while (crm_purge_tick_step(&counts))
		CHECK_FOR_INTERRUPTS();
	crm_purge_unbecome(&id);
	PG_RETURN_JSONB_P(crm_purge_tick_counts_jsonb(&counts));
}

/*
 * crm_purge_tick_step_sql: crm_purge._tick_step(first): one step of due work,
 * for CALL crm_purge_run(), which commits after each.  Returns true while work
 * remains.
 */
PG_FUNCTION_INFO_V1(crm_purge_tick_step_sql);
Datum
crm_purge_tick_step_sql(PG_FUNCTION_ARGS)
{
	CrmPurgeTickCounts counts = {0};
	CrmPurgeIdentity id;
	bool		more;

	crm_purge_require_admin("crm_purge_run");
	crm_purge_require_coordinator("crm_purge_run");
	require_read_committed("crm_purge_run");
	counts.started = !PG_GETARG_BOOL(0);
	counts.trash_pending = true;
	crm_purge_become_owner(&id);
	more = crm_purge_tick_step(&counts);
	crm_purge_unbecome(&id);
	PG_RETURN_BOOL(more);
}

/*
 * crm_purge_purge_trash_batch_sql: crm_purge._purge_trash_batch(tbl,
 * marked_before, max_rows) for the pending purge (_purge_step): one batch
 * of tbl's marked rows through crm_purge_trash_batch; held rows are
 * unmarked (they are never purged).  Returns {purged, held}.  For the
 * extension owner only.
 */
PG_FUNCTION_INFO_V1(crm_purge_purge_trash_batch_sql);
Datum
crm_purge_purge_trash_batch_sql(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Datum		marked_before = PG_GETARG_DATUM(1);
	int32		max_rows = PG_GETARG_INT32(2);
	Oid			trashid = crm_purge_trash_of(relid);
	Datum		out[2] = {Int64GetDatum(0), Int64GetDatum(0)};
	uint64		n = 0;
	int			nheld = 0;

	SPI_connect();
	if (OidIsValid(trashid))
		n = crm_purge_trash_batch(relid, trashid, "marked_at IS NOT NULL AND marked_at <= $1",
								  TIMESTAMPTZOID, marked_before, max_rows, true, &nheld, NULL);
	SPI_finish();
	out[0] = Int64GetDatum((int64) n);
	out[1] = Int64GetDatum((int64) nheld);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, 2, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
