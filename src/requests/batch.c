/*
 * batch.c - the batch engine of bulk export-and-delete requests:
 * crm_purge_request_batch(), one step of the due work (tick.c).
 *
 * One call runs one batch of the oldest active request in the current
 * transaction (the worker gives each batch a transaction of its own).  The
 * request row is locked FOR UPDATE SKIP LOCKED, so two ticks never run the
 * same request, and a revoke waits for the batch.  The scan position is
 * saved with the batch, so a crash resumes where the last commit stood.
 *
 * Scans (chosen when the request starts):
 *  - tid: physical chunks of blocks, "ctid >= (b,0) AND ctid < (e,0)", each
 *    block visited once, so the work does not grow as the table empties
 *    (a DELETE ... WHERE id IN (SELECT ... LIMIT n) loop rescans the dead
 *    tuples of earlier batches).  The chunk adapts to the density found.
 *  - index: when few rows qualify and modified_column leads a btree index,
 *    walk it from the last value reached.
 * Every batch re-checks the cutoff and the filter: a row modified after the
 * request was queued is kept.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_inherits.h"
#include "access/visibilitymap.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "catalog/namespace.h"
#include "common/string.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "crm_purge.h"

/* a whole partition's export parts: as large as this, to write and fsync few */
#define PARTITION_PART_ROWS		1000000
#define PARTITION_PART_BYTES	(16 * 1024 * 1024)	/* written back while the next is made */

/* most blocks one batch scans, so that a sparse stretch stays one short batch */
#define MAX_CHUNK_BLOCKS	16384

/* scans of a heap a request makes while rows it takes are left at the end */
#define MAX_PASSES	3

typedef struct Request
{
	int64		id;
	Oid			relid;			/* the table asked for: statements name it */
	Oid			heap;			/* the heap a batch scans: relid, or its partition */
	char	   *bound;			/* a partition's constraint, to prune to it; else NULL */
	bool		export;
	char	   *modified_column;
	char	   *filter;
	Datum		cutoff;
	bool		queued;
	bool		index_scan;
	int64		next_block;
	int64		end_block;
	Oid			scan_file;		/* the heap's file the blocks are of (see check_rewrite) */
	int64		chunk_blocks;
	bool		has_last_value;
	Datum		last_value;
	int32		batches;
	int32		parts;
	Oid			created_by;
	int64		rows;
	int64		rows_done;
	int32		passes;			/* the scan's pass over its heap, from 1 */
	int32		tree_passes;	/* a partitioned table's: the pass over its partitions, from 1 */
	int64		left;			/* at the end: rows it takes still there (up to 1000) */
	bool		scan_started;	/* scan is set: for a partitioned table, of this partition */
	bool		on_shard;		/* a Citus shard's batch on its node: the coordinator checked the creator */
	Oid			part_table;		/* names its export parts' files: the shard on a node, else InvalidOid */
	int64		part_placement; /* and the shard's placement, unique in the cluster, or 0 */
} Request;

static int64 tids_not_in(Datum tids, Datum excluded);
static Datum held_among(Request *r, Datum tids);
static char *partition_bound(Oid part);

/* the plans of the request being worked on, kept across batches */
static int64 plan_request = 0;
static Oid	plan_relid = InvalidOid;	/* request ids restart with the extension */
static Oid	plan_heap = InvalidOid;	/* a partitioned table's plans are per partition */
static char *plan_scope = NULL; /* and per bound: attaching a partition changes a default's */
static SPIPlanPtr select_plan = NULL;
static SPIPlanPtr delete_plan = NULL;
static StringInfo batch_csv = NULL;	/* an export batch's CSV, see run_batch() */
static SPIPlanPtr range_delete_plan = NULL;	/* no filter, no holds: one statement */

/*
 * has_user_triggers: has the table triggers of its own (anything but
 * crm_purge's and the internal ones of foreign keys)?  Then the batch must say
 * exactly which rows skip the trash: a trigger could delete others.
 */
static bool
has_user_triggers(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		found = false;
	int			i;

	if (rel->trigdesc)
		for (i = 0; i < rel->trigdesc->numtriggers && !found; i++)
			found = !rel->trigdesc->triggers[i].tgisinternal &&
				get_func_namespace(rel->trigdesc->triggers[i].tgfoid) !=
				get_namespace_oid(CRM_PURGE_SCHEMA, false);
	table_close(rel, AccessShareLock);
	return found;
}

/* crm_purge_batch_forget: the extension was dropped or made again: request ids start over. */
void
crm_purge_batch_forget(void)
{
	plan_request = 0;
	plan_relid = InvalidOid;
}



/*
 * become_request_owner: crm_purge_become() as the request's table's owner,
 * with the settings its filter was counted under (the cutoff compares as
 * it did then: crm_purge_pin_filter_settings).
 */
static void
become_request_owner(Request *r, CrmPurgeIdentity *id)
{
	crm_purge_become(crm_purge_rel_owner(r->relid), id);
	crm_purge_pin_filter_settings();
}

/*
 * become_request_writer: the role a batch deletes as.  The table's owner,
 * refused where the delete would run a third role's code with the owner's
 * rights; a superuser's table (or a superuser-like owner's: CREATEROLE,
 * server programs or files) as the request's creator (code the owner's
 * code reaches, a role's audit table, would run with those rights), marked
 * as on the owner's behalf, with the creator's privileges.
 */
static void
become_request_writer(Request *r, CrmPurgeIdentity *id)
{
	Oid			owner = crm_purge_rel_owner(r->relid);

	/* (no deferred trigger may be queued in the restricted operation: foreign keys check at once) */
	if (SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not make the constraints immediate");
	if (crm_purge_superuser_like(owner) && owner != r->created_by)
	{
		if (pg_class_aclcheck(r->relid, r->created_by, ACL_SELECT) != ACLCHECK_OK ||
			pg_class_aclcheck(r->relid, r->created_by, ACL_DELETE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", crm_purge_relname(r->relid)),
					 errdetail("A request on a superuser's table deletes as its creator %s, who needs SELECT and DELETE on it.",
							   crm_purge_role_name(r->created_by))));
		if (crm_purge_policies_would_run(r->relid, r->created_by))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot delete from table %s for request %lld: row-level security applies to its creator there",
							crm_purge_relname(r->relid), (long long) r->id),
					 errhint("A superuser, or a role with BYPASSRLS, may make the request.")));
		/* (a third role's code, a trigger of a role with TRIGGER there, would run as the creator) */
		crm_purge_refuse_foreign_code(r->relid, ACL_DELETE);
		crm_purge_become_restricted(r->created_by, r->relid, id);
		crm_purge_pin_filter_settings();
		(void) crm_purge_code_of_only(r->created_by);
		return;
	}
	/*
	 * (the owner's own request, a superuser's too: a third role's code
	 * would run as the owner all the same; review round 47, A47-2)
	 */
	crm_purge_refuse_foreign_code(r->relid, ACL_DELETE);
	become_request_owner(r, id);
	(void) crm_purge_code_of_only(owner);
}

/*
 * Requests whose step failed past every catch (the worker's, worker.c):
 * passed over for a while, longer each time, so that the rest of the due
 * work goes on (the same request first at every step failed them all).
 */
#define SKIPPED_REQUESTS 16
static int64 skipped_id[SKIPPED_REQUESTS];
static TimestampTz skipped_until[SKIPPED_REQUESTS];
static int	skipped_times[SKIPPED_REQUESTS];
int64		crm_purge_request_in_step = 0;
int64		crm_purge_request_of_step = 0;

/*
 * crm_purge_request_step_failed: the request of the step that failed with
 * edata (if any) is passed over for a while, and the failure shown in
 * crm_purge_errors (in a transaction of its own: the step's rolled back).
 * Outside any transaction.
 */
void
crm_purge_request_step_failed(ErrorData *edata)
{
	int64		id = crm_purge_request_in_step;
	int			slot = 0;
	int			i;
	long		wait;

	crm_purge_request_in_step = 0;
	if (id == 0)
		return;
	for (i = 0; i < SKIPPED_REQUESTS; i++)
	{
		if (skipped_id[i] == id)
		{
			slot = i;
			break;
		}
		if (skipped_until[i] < skipped_until[slot])
			slot = i;
	}
	if (skipped_id[slot] != id)
		skipped_times[slot] = 0;
	skipped_id[slot] = id;
	skipped_times[slot] = Min(skipped_times[slot] + 1, 8);
	wait = 30L << (skipped_times[slot] - 1);
	skipped_until[slot] = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait * 1000L);
	ereport(LOG,
			(errmsg("crm_purge request " INT64_FORMAT " is passed over for %ld s: its step failed (the error above)", id, wait),
			 errdetail("The worker's other due work goes first meanwhile.")));
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("SELECT tbl::pg_catalog.oid FROM crm_purge.requests WHERE id = $1", 1, (Oid[]) {INT8OID},
							  (Datum[]) {Int64GetDatum(id)}, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		(void) crm_purge_task_failed("request batch", relid, edata);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * read_request: the oldest queued or in-progress request that no other
 * tick holds and this worker does not pass over, locked FOR UPDATE SKIP
 * LOCKED, into *r; false when none.
 */
static bool
read_request(Request *r)
{
	SPITupleTable *tt;
	HeapTuple	t;
	bool		isnull;
	Datum		skipped[SKIPPED_REQUESTS];
	int			nskipped = 0;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < SKIPPED_REQUESTS; i++)
		if (skipped_id[i] != 0 && skipped_until[i] > now)
			skipped[nskipped++] = Int64GetDatum(skipped_id[i]);
	if (SPI_execute_with_args("SELECT id, tbl::oid, mode, modified_column::text, filter, cutoff, status,"
							  " scan, next_block, end_block, chunk_blocks, last_value, batches, parts,"
							  " created_by::oid, rows, rows_done, part, scan_file, passes, tree_passes"
							  " FROM crm_purge.requests q WHERE status IN ('queued', 'in_progress')"
							  " AND NOT q.id OPERATOR(pg_catalog.=) ANY ($1)"
	/* a request waiting for a lock on its table lets the others go first until its next try */
							  " ORDER BY EXISTS (SELECT FROM crm_purge.errors e WHERE e.task = 'request batch'"
							  "  AND e.tbl OPERATOR(pg_catalog.=) q.tbl::pg_catalog.oid AND e.next_try OPERATOR(pg_catalog.>) pg_catalog.now()),"
							  " id LIMIT 1 FOR UPDATE OF q SKIP LOCKED", 1, (Oid[]) {INT8ARRAYOID},
							  (Datum[]) {PointerGetDatum(construct_array(skipped, nskipped, INT8OID, sizeof(int64),
																		  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))},
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.requests");
	if (SPI_processed == 0)
		return false;
	tt = SPI_tuptable;
	t = tt->vals[0];
	r->id = DatumGetInt64(SPI_getbinval(t, tt->tupdesc, 1, &isnull));
	r->relid = DatumGetObjectId(SPI_getbinval(t, tt->tupdesc, 2, &isnull));
	r->export = strcmp(SPI_getvalue(t, tt->tupdesc, 3), "export_and_delete") == 0;
	r->modified_column = SPI_getvalue(t, tt->tupdesc, 4);
	r->filter = SPI_getvalue(t, tt->tupdesc, 5);
	r->cutoff = SPI_getbinval(t, tt->tupdesc, 6, &isnull);
	r->queued = strcmp(SPI_getvalue(t, tt->tupdesc, 7), "queued") == 0;
	{
		char	   *scan = SPI_getvalue(t, tt->tupdesc, 8);

		r->index_scan = scan != NULL && strcmp(scan, "index") == 0;
	}
	r->next_block = DatumGetInt64(SPI_getbinval(t, tt->tupdesc, 9, &isnull));
	r->end_block = DatumGetInt64(SPI_getbinval(t, tt->tupdesc, 10, &isnull));
	r->chunk_blocks = DatumGetInt64(SPI_getbinval(t, tt->tupdesc, 11, &isnull));
	if (isnull)
		r->chunk_blocks = 0;
	r->last_value = SPI_getbinval(t, tt->tupdesc, 12, &r->has_last_value);
	r->has_last_value = !r->has_last_value;
	r->batches = DatumGetInt32(SPI_getbinval(t, tt->tupdesc, 13, &isnull));
	r->parts = DatumGetInt32(SPI_getbinval(t, tt->tupdesc, 14, &isnull));
	r->created_by = DatumGetObjectId(SPI_getbinval(t, tt->tupdesc, 15, &isnull));
	r->rows = DatumGetInt64(SPI_getbinval(t, tt->tupdesc, 16, &isnull));
	r->rows_done = DatumGetInt64(SPI_getbinval(t, tt->tupdesc, 17, &isnull));
	r->heap = DatumGetObjectId(SPI_getbinval(t, tt->tupdesc, 18, &isnull));
	if (isnull)
		r->heap = InvalidOid;
	r->scan_started = SPI_getvalue(t, tt->tupdesc, 8) != NULL;
	r->scan_file = DatumGetObjectId(SPI_getbinval(t, tt->tupdesc, 19, &isnull));
	if (isnull)
		r->scan_file = InvalidOid;
	r->passes = DatumGetInt32(SPI_getbinval(t, tt->tupdesc, 20, &isnull));
	r->tree_passes = DatumGetInt32(SPI_getbinval(t, tt->tupdesc, 21, &isnull));
	return true;
}

/* column_leads_btree: does a btree index (without a predicate) lead with the column? */
static bool
column_leads_btree(Relation rel, const char *column)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), column);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);

		if (idx->rd_rel->relam == BTREE_AM_OID &&
			idx->rd_index->indkey.values[0] == attnum &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL))
			found = true;
		index_close(idx, AccessShareLock);
	}
	list_free(indexes);
	return found;
}

/*
 * start_request: picks the scan when the request starts: index when the
 * column leads a btree index and the request holds under 5% of the table's
 * rows, tid otherwise, its first chunk sized as if the rows spread evenly.
 */
static void
start_request(Request *r)
{
	Relation	rel = table_open(r->heap, AccessShareLock);
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	double		reltuples = Max(rel->rd_rel->reltuples, 1);

	r->index_scan = column_leads_btree(rel, r->modified_column) &&
		r->rows * 20 < reltuples;
	r->end_block = nblocks;
	r->next_block = 0;
	r->passes = 1;
	r->scan_file = rel->rd_node.relNode;
	/* first guess: qualifying rows spread evenly */
	r->chunk_blocks = (int64) Max(1.0, (double) crm_purge_batch_rows() * nblocks / Max(r->rows, 1));
	r->chunk_blocks = Min(r->chunk_blocks, MAX_CHUNK_BLOCKS);
	table_close(rel, AccessShareLock);
}

/* save_scan: the scan start_request chose, with the request. */
static void
save_scan(Request *r)
{
	if (SPI_execute_with_args("UPDATE crm_purge.requests SET scan = $2,"
							  " end_block = $3, chunk_blocks = $4, scan_file = $5 WHERE id = $1",
							  5, (Oid[]) {INT8OID, TEXTOID, INT8OID, INT8OID, OIDOID},
							  (Datum[]) {Int64GetDatum(r->id),
								  CStringGetTextDatum(r->index_scan ? "index" : "tid"),
								  Int64GetDatum(r->end_block), Int64GetDatum(r->chunk_blocks),
								  ObjectIdGetDatum(r->scan_file)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not start request " INT64_FORMAT, r->id);
}

/* keep_plan: prepares sql as a generic plan kept across batches. */
static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	/* generic from the start: custom plans of a 10,000-element ctid list cost more than the batch */
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/*
 * prepare_plans: the plans of a request, made once and kept while it runs.  A
 * batch is two statements.  The creator's SELECT picks the rows: the filter is
 * theirs and runs with their rights.  The table owner's DELETE removes exactly
 * those rows (ctid = ANY), re-checking the cutoff, minus what legal holds keep
 * ($3): the table's triggers, foreign-key actions and index expressions run as
 * its owner, as VACUUM runs them, never with the rights of the admin who
 * asked.  A row updated in between has a new ctid and is kept.  A tid scan
 * without a filter also gets a one-statement DELETE over a chunk, for tables
 * where nothing needs picking (see delete_batch).
 */
/*
 * heap_scope: the condition that keeps a request's statements to the heap
 * it scans (its ctids name rows of that heap only): a partition's bound,
 * to prune to it, and its tableoid, the bound being read again per step;
 * NULL for the table itself.
 */
static const char *
heap_scope(Request *r)
{
	if (r->bound == NULL)
		return NULL;
	if (!OidIsValid(r->heap) || r->heap == r->relid)
		return r->bound;
	return psprintf("%s AND tableoid OPERATOR(pg_catalog.=) '%u'::pg_catalog.oid", r->bound, r->heap);
}

/* pick_condition: the rows of the heap the request takes, held rows aside ($3: the cutoff) */
static const char *
pick_condition(Request *r)
{
	const char *scope = heap_scope(r);

	return psprintf("%s%s%s < $3 AND (%s\n)", scope ? scope : "", scope ? " AND " : "",
					quote_identifier(r->modified_column), r->filter ? r->filter : "true");
}

static void
prepare_plans(Request *r)
{
	StringInfoData sql;
	const char *tbl = crm_purge_relname_only(r->relid);
	const char *col = quote_identifier(r->modified_column);
	const char *scope = heap_scope(r);
	const char *cond = pick_condition(r);
	/* a partition through its partitioned table: pruned to it by its bound */
	const char *only = scope ? psprintf("%s AND ", scope) : "";
	Oid			tidtypes[3] = {TIDOID, TIDOID, TIMESTAMPTZOID};
	Oid			idxtypes[3] = {TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID};
	Oid			deltypes[3] = {TIDARRAYOID, TIMESTAMPTZOID, TIDARRAYOID};

	if (plan_request == r->id && plan_relid == r->relid && plan_heap == r->heap && delete_plan != NULL &&
		(scope == NULL) == (plan_scope == NULL) && (scope == NULL || strcmp(scope, plan_scope) == 0))
		return;
	if (delete_plan)
		SPI_freeplan(delete_plan);
	if (select_plan)
		SPI_freeplan(select_plan);
	if (range_delete_plan)
		SPI_freeplan(range_delete_plan);
	delete_plan = select_plan = range_delete_plan = NULL;
	plan_request = 0;

	initStringInfo(&sql);
	if (!r->index_scan)
	{
		appendStringInfo(&sql, "SELECT ctid, NULL::timestamptz FROM %s WHERE ctid >= $1 AND ctid < $2 AND %s",
						 tbl, cond);
		select_plan = keep_plan(sql.data, 3, tidtypes);
	}
	else
	{
		appendStringInfo(&sql, "SELECT ctid, %s::timestamptz FROM %s WHERE %s >= $1 AND %s ORDER BY %s LIMIT $2",
						 col, tbl, col, cond, col);
		select_plan = keep_plan(sql.data, 3, idxtypes);
	}
	resetStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s WHERE %sctid = ANY ($1) AND %s < $2 AND ctid <> ALL ($3)%s",
					 tbl, only, col, r->export ? " RETURNING *" : "");
	delete_plan = keep_plan(sql.data, 3, deltypes);
	if (!r->index_scan && r->filter == NULL)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "DELETE FROM %s WHERE %sctid >= $1 AND ctid < $2 AND %s < $3%s",
						 tbl, only, col, r->export ? " RETURNING *" : "");
		range_delete_plan = keep_plan(sql.data, 3, tidtypes);
	}
	plan_request = r->id;
	plan_relid = r->relid;
	plan_heap = r->heap;
	if (plan_scope)
		pfree(plan_scope);
	plan_scope = scope ? MemoryContextStrdup(TopMemoryContext, scope) : NULL;
}

/* tid_datum: the tid (block, 0), block capped at MaxBlockNumber. */
static Datum
tid_datum(int64 block)
{
	ItemPointer tid = palloc(sizeof(ItemPointerData));

	ItemPointerSet(tid, (BlockNumber) Min(block, (int64) MaxBlockNumber), 0);
	return PointerGetDatum(tid);
}

/*
 * check_creator: an error when the request's creator is gone, no longer an
 * admin with SELECT and DELETE on the table, or the table has row-level
 * security whose policies would run with the creator's rights.
 */
static void
check_creator(Request *r)
{
	if (!OidIsValid(r->created_by) || GetUserNameFromId(r->created_by, true) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role who created request " INT64_FORMAT " no longer exists", r->id),
				 errhint("Make the request again as an admin who may delete from the table.")));
	if (!crm_purge_is_admin(r->created_by) ||
		pg_class_aclcheck(r->relid, r->created_by, ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(r->relid, r->created_by, ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role %s who created request " INT64_FORMAT " may no longer delete from table %s",
						crm_purge_role_name(r->created_by), r->id, crm_purge_relname(r->relid)),
				 errdetail("A request needs an admin with SELECT and DELETE on the table.")));
	/*
	 * the owner's policies would run with the creator's rights, unattended;
	 * locked first: row-level security switched on while the batch waited
	 * for its lock would be planned into the pick (review round 63, A63-1)
	 */
	LockRelationOid(r->relid, AccessShareLock);
	if (OidIsValid(r->heap) && r->heap != r->relid)
		LockRelationOid(r->heap, AccessShareLock);
	if (crm_purge_policies_would_run(r->relid, r->created_by) ||
		(OidIsValid(r->heap) && crm_purge_policies_would_run(r->heap, r->created_by)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table %s has row-level security: request " INT64_FORMAT " stops",
						crm_purge_relname(r->relid), r->id),
				 errdetail("Its policies would run with the rights of the request's creator in every batch."),
				 errhint("Disable row-level security on the table, or have its owner make the request.")));
}

/*
 * execute_delete: runs a batch's DELETE; with csv, its RETURNING rows go
 * straight into csv as CSV (no SPI result: no tuple formed or copied), and
 * with file on into the part's file a chunk at a time.
 */
static int
execute_delete(SPIPlanPtr plan, Datum *values, StringInfo csv, CrmPurgePartFile *file)
{
	SPIExecuteOptions options;
	ParamListInfo params;
	int			nargs = SPI_getargcount(plan);
	int			i;

	if (csv == NULL)
		return SPI_execute_plan(plan, values, NULL, false, 0);
	params = makeParamList(nargs);
	for (i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = SPI_getargtypeid(plan, i);
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = file ? crm_purge_csv_stream_receiver(csv, file) : crm_purge_csv_receiver(csv);
	return SPI_execute_plan_extended(plan, &options);
}

/*
 * delete_batch: one batch: the creator picks, holds keep, the owner deletes
 * (see prepare_plans).  First an error when the creator is gone, no longer an
 * admin with SELECT and DELETE on the table, or the table has row-level
 * security.  Returns the rows deleted (their contents in SPI_tuptable for
 * exports); sets *done at the end of the scan.
 */
/*
 * check_rewrite: a tid scan's blocks are those of one file of the heap.
 * When the table was rewritten since (VACUUM FULL, CLUSTER), the scan
 * starts over on the new file: the rows already deleted are gone from it,
 * and the others would be skipped where the old positions no longer fit.
 */
static void
check_rewrite(Request *r)
{
	Relation	rel = table_open(r->heap, AccessShareLock);

	if (OidIsValid(r->scan_file) && r->scan_file != rel->rd_node.relNode)
	{
		ereport(LOG,
				(errmsg("crm_purge request " INT64_FORMAT ": table %s was rewritten, its scan starts over",
						r->id, crm_purge_relname(r->heap))));
		r->next_block = 0;
		r->end_block = RelationGetNumberOfBlocks(rel);
	}
	r->scan_file = rel->rd_node.relNode;
	table_close(rel, AccessShareLock);
}

static int64 tids_not_in(Datum tids, Datum excluded);

/*
 * An index-scan batch picks from the last value on: when a whole pick
 * shared that value and nothing of it was deleted (held rows with one
 * modified_at), the next pick was the same, for ever (review round 57,
 * B57-7).  The next picks of that request then take more rows, until they
 * reach past the value.  Per backend: a new worker grows it again.
 */
static int64 stalled_request = 0;
static int64 stalled_extra = 0;
static bool index_pick_stalled = false;

static uint64
delete_batch(Request *r, bool *done, int64 *scanned_to, List **cascade, int64 *kept, int64 *missed,
			 StringInfo csv, CrmPurgePartFile *file)
{
	CrmPurgeIdentity id;
	uint64		n = 0;
	uint64		picked;
	int64		limit = 0;
	int			rc;
	Datum		values[3];
	SPITupleTable *tt;
	Datum	   *tids;
	uint64		i;
	bool		isnull;
	int64		to = 0;
	Oid			top = OidIsValid(r->heap) ? r->heap : r->relid;
	List	   *edges;
	List	   *watch;

	if (r->on_shard)
		crm_purge_refuse_shard_actions(r->relid);
	edges = top != r->relid ? crm_purge_cascade_edges_of_part(r->relid, top) :
		crm_purge_cascade_edges(r->relid);

	if (crm_purge_cascade_removes(edges))
		crm_purge_refuse_cascade_code(top);
	/* ctids of one partition cannot name the rows a cascade from the whole table removes */
	if (top != r->relid && crm_purge_cascade_removes(edges))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table %s is partitioned and other tables reference it ON DELETE CASCADE: request " INT64_FORMAT " stops",
						crm_purge_relname(r->relid), r->id),
				 errhint("Make a request on each partition instead.")));

	*cascade = NIL;
	*kept = 0;
	*missed = 0;
	index_pick_stalled = false;
	if (!r->on_shard)
		check_creator(r);
	*done = false;

	/* the creator picks */
	if (!r->index_scan)
	{
		int64		from;

		check_rewrite(r);
		from = r->next_block;

		to = Min(from + Max(r->chunk_blocks, 1), r->end_block);
		if (from >= r->end_block)
		{
			*done = true;
			return 0;
		}
		values[0] = tid_datum(from);
		values[1] = tid_datum(to);

		/*
		 * Without a filter nothing of the creator's runs, and without holds
		 * nothing is kept: the owner's one DELETE over the chunk does it all.
		 */
		if (r->filter == NULL && edges == NIL && !has_user_triggers(r->relid) &&
			(r->heap == r->relid || !has_user_triggers(r->heap)) &&
			!crm_purge_has_holds(r->relid))
		{
			values[2] = r->cutoff;
			become_request_writer(r, &id);
			prepare_plans(r);
			crm_purge_bypass_table(r->heap);
			PG_TRY();
			{
				rc = execute_delete(range_delete_plan, values, csv, file);
			}
			PG_FINALLY();
			{
				crm_purge_bypass_end();
				(void) crm_purge_code_of_only(InvalidOid);
			}
			PG_END_TRY();
			crm_purge_unbecome(&id);
			if (rc != SPI_OK_DELETE && rc != SPI_OK_DELETE_RETURNING)
				elog(ERROR, "batch delete failed: %s", SPI_result_code_string(rc));
			*scanned_to = to;
			*done = (to >= r->end_block);
			return SPI_processed;
		}
	}
	else
	{
		values[0] = r->has_last_value ? r->last_value : TimestampTzGetDatum(DT_NOBEGIN);
		limit = crm_purge_batch_rows() + (stalled_request == r->id ? stalled_extra : 0);
		values[1] = Int32GetDatum((int32) Min(limit, PG_INT32_MAX));
	}
	values[2] = r->cutoff;
	crm_purge_become_creator(r->created_by, OidIsValid(r->heap) ? r->heap : r->relid, &id);
	prepare_plans(r);
	rc = SPI_execute_plan(select_plan, values, NULL, true, 0);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "batch select failed: %s", SPI_result_code_string(rc));
	picked = SPI_processed;
	tt = SPI_tuptable;
	tids = palloc(sizeof(Datum) * Max(picked, 1));
	for (i = 0; i < picked; i++)
	{
		tids[i] = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
		if (r->index_scan)
		{
			r->last_value = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull);
			r->has_last_value = true;
		}
	}
	if (r->index_scan)
	{
		*done = picked < (uint64) limit;
		index_pick_stalled = !*done && values[0] == r->last_value;
	}
	else
	{
		*scanned_to = to;
		*done = (to >= r->end_block);
	}
	if (picked == 0)
		return 0;

	/* holds keep */
	values[0] = PointerGetDatum(construct_array(tids, (int) picked, TIDOID,
												sizeof(ItemPointerData), false, TYPALIGN_SHORT));
	values[1] = r->cutoff;
	values[2] = held_among(r, values[0]);

	/*
	 * Held rows are left out of the rows picked: the DELETE keeps them ($3),
	 * and the trash's bypass must not name them either (the owner's trigger
	 * deleting them in the batch's statement sent them past the trash)
	 */
	if (tids_not_in(values[0], values[2]) < (int64) picked)
	{
		Oid			argtypes[2] = {TIDARRAYOID, TIDARRAYOID};
		Datum		args[2] = {values[0], values[2]};
		bool		isnull;

		if (SPI_execute_with_args("SELECT pg_catalog.array_agg(t) FROM pg_catalog.unnest($1) t WHERE t <> ALL ($2)",
								  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not leave held rows out");
		values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			return 0;
		values[0] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[0]));
	}

	/* what the cascade removes: locked, held rows' parents kept, exported */
	if (edges != NIL)
		values[0] = crm_purge_cascade_prepare(top, edges, values[0], r->export, cascade, kept);
	watch = crm_purge_cascade_watch(r->relid, top, values[0], edges, *cascade);

	/* the owner deletes, the trash bypassed for this table and its cascade only */
	become_request_writer(r, &id);
	/* exactly the rows picked, and those the cascade was found to remove */
	crm_purge_bypass_rows(r->heap, values[0]);
	{
		ListCell   *lc;

		foreach(lc, *cascade)
			crm_purge_bypass_rows(((CrmPurgeCascadeTable *) lfirst(lc))->relid,
								  ((CrmPurgeCascadeTable *) lfirst(lc))->tids);
	}
	crm_purge_cascade_watch_start(watch);
	PG_TRY();
	{
		rc = execute_delete(delete_plan, values, csv, file);
	}
	PG_FINALLY();
	{
		crm_purge_bypass_end();
		(void) crm_purge_code_of_only(InvalidOid);
	}
	PG_END_TRY();
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_DELETE && rc != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "batch delete failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	/* what the DELETE did, whatever code ran inside it: what was checked and exported */
	{
		SPITupleTable *deleted = SPI_tuptable;

		crm_purge_cascade_check(watch, r->relid);
		SPI_tuptable = deleted;
		SPI_processed = n;
	}
	/* rows meant to go that did not: a trigger or rule kept them, or they changed */
	*missed = Max(tids_not_in(values[0], values[2]) - (int64) n, 0);
	return n;
}

/* held_among: the rows of tids (a tid[] of the heap) that a legal hold keeps, a tid[] */
static Datum
held_among(Request *r, Datum tids)
{
	Oid			htypes[1] = {TIDARRAYOID};

	return crm_purge_hold_tid_array(crm_purge_hold_hits(r->relid, r->relid,
														heap_scope(r) ? psprintf("%s AND ctid = ANY ($1)", heap_scope(r)) :
														psprintf("tableoid OPERATOR(pg_catalog.=) '%u'::pg_catalog.oid AND ctid = ANY ($1)",
																 r->relid),
														1, htypes, &tids));
}

/* blocks rows_left reads at a time while legal holds are on the table */
#define LEFT_CHUNK_BLOCKS	1024

/*
 * rows_left_in: rows of the heap the request takes that are still there, in
 * blocks [from, to) (to < 0: anywhere, up to 1000), held rows aside, picked
 * as the creator picks (a snapshot of its own: the batch's DELETE is seen)
 */
static int64
rows_left_in(Request *r, int64 from, int64 to)
{
	CrmPurgeIdentity id;
	Oid			argtypes[3] = {TIDOID, TIDOID, TIMESTAMPTZOID};
	Datum		values[3] = {tid_datum(from), tid_datum(Max(to, 0)), r->cutoff};
	Datum	   *tids;
	uint64		n;
	uint64		i;
	bool		isnull;
	Datum		arr;
	int			rc;

	crm_purge_become_creator(r->created_by, OidIsValid(r->heap) ? r->heap : r->relid, &id);
	rc = SPI_execute_with_args(psprintf(to < 0 ? "SELECT ctid FROM %s WHERE %s LIMIT 1000" :
										"SELECT ctid FROM %s WHERE ctid >= $1 AND ctid < $2 AND %s",
										crm_purge_relname_only(r->relid), pick_condition(r)),
							   3, argtypes, values, NULL, false, 0);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not look for rows request " INT64_FORMAT " left", r->id);
	n = SPI_processed;
	if (n == 0)
		return 0;
	tids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		tids[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
	arr = PointerGetDatum(construct_array(tids, (int) n, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT));
	return tids_not_in(arr, held_among(r, arr));
}

/*
 * rows_left: rows of the request's heap (or of every partition, when its
 * heap is the partitioned table) it takes that are still there.  Under a
 * legal hold the held rows are left out before any is counted, a chunk of
 * blocks at a time: a thousand held rows first hid the rest (review round
 * 61, B61-1).
 */
static int64
rows_left(Request *r)
{
	Oid			heap = OidIsValid(r->heap) ? r->heap : r->relid;
	int64		left = 0;

	if (!crm_purge_has_holds(r->relid))
		return rows_left_in(r, 0, -1);
	if (get_rel_relkind(heap) == RELKIND_PARTITIONED_TABLE)
	{
		ListCell   *lc;

		foreach(lc, find_all_inheritors(heap, AccessShareLock, NULL))
		{
			Request		part = *r;

			if (get_rel_relkind(lfirst_oid(lc)) != RELKIND_RELATION)
				continue;
			part.heap = lfirst_oid(lc);
			part.bound = partition_bound(part.heap);
			if ((left = rows_left(&part)) > 0)
				break;
		}
		return left;
	}
	{
		Relation	rel = table_open(heap, AccessShareLock);
		int64		nblocks = RelationGetNumberOfBlocks(rel);
		int64		block;

		table_close(rel, AccessShareLock);
		for (block = 0; block < nblocks && left == 0; block += LEFT_CHUNK_BLOCKS)
			left = rows_left_in(r, block, block + LEFT_CHUNK_BLOCKS);
	}
	return left;
}

/*
 * another_pass: at the end of a scan, rows it takes are still there: an
 * UPDATE gave them a new ctid past the scan's end or behind it, or they
 * changed while the batch waited for them (review round 60, B60-1).  The
 * scan starts over, over the heap's size now, at most MAX_PASSES times;
 * then *left is what stays.
 */
static bool
another_pass(Request *r, int64 *left)
{
	*left = rows_left(r);
	if (*left == 0 || r->passes >= MAX_PASSES)
		return false;
	r->passes++;
	if (r->index_scan)
		r->has_last_value = false;
	else
	{
		Relation	rel = table_open(r->heap, AccessShareLock);

		r->end_block = RelationGetNumberOfBlocks(rel);
		table_close(rel, AccessShareLock);
		r->next_block = 0;
	}
	return true;
}

/* tid_cmp: qsort and bsearch order of ItemPointerData */
static int
tid_cmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/* tids_not_in: how many tids of the array tids are not in the array excluded (NULL: none) */
static int64
tids_not_in(Datum tids, Datum excluded)
{
	Datum	   *t;
	Datum	   *x = NULL;
	int			nt;
	int			nx = 0;
	ItemPointerData *sorted = NULL;
	int64		n = 0;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(tids), TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT,
					  &t, NULL, &nt);
	if (excluded != (Datum) 0)
		deconstruct_array(DatumGetArrayTypeP(excluded), TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT,
						  &x, NULL, &nx);
	if (nx > 0)
	{
		sorted = palloc(sizeof(ItemPointerData) * nx);
		for (i = 0; i < nx; i++)
			sorted[i] = *(ItemPointer) DatumGetPointer(x[i]);
		qsort(sorted, nx, sizeof(ItemPointerData), tid_cmp);
	}
	for (i = 0; i < nt; i++)
		if (nx == 0 || bsearch((ItemPointer) DatumGetPointer(t[i]), sorted, nx, sizeof(ItemPointerData), tid_cmp) == NULL)
			n++;
	return n;
}

/*
 * finish_request: the request's final status and error, a history row, and
 * a notification (to the admins on success, else to the creator).
 */
static void
finish_request(Request *r, const char *status, const char *error)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', error ? ' ' : 'n'};

	/*
	 * (no file past the recorded parts outlives the request, whatever
	 * attempt wrote it; not a Citus table's: the nodes' parts are counted
	 * here only once a round reads them)
	 */
	if (r->export && !crm_purge_citus_distributed(r->relid))
		crm_purge_export_remove_unrecorded(r->id, r->part_placement, r->parts);
	values[0] = Int64GetDatum(r->id);
	values[1] = CStringGetTextDatum(status);
	values[2] = error ? CStringGetTextDatum(error) : (Datum) 0;
	if (SPI_execute_with_args("SELECT crm_purge._request_status($1, $2, $3)",
							  3, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not finish request " INT64_FORMAT, r->id);
}

/* record_batch: a row of crm_purge.request_batches with the batch's outcome. */
static void
record_batch(Request *r, uint64 n, TimestampTz started, const char *outcome)
{
	Oid			argtypes[5] = {INT8OID, INT4OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[5];

	values[0] = Int64GetDatum(r->id);
	values[1] = Int32GetDatum(r->batches + 1);
	values[2] = Int64GetDatum((int64) n);
	values[3] = TimestampTzGetDatum(started);
	values[4] = CStringGetTextDatum(outcome);
	/*
	 * the number after the last recorded, not r's count: a step rolled
	 * back after counting in memory made two records take one number, and
	 * the duplicate failed every later step (review round 79, B79-2)
	 */
	if (SPI_execute_with_args("INSERT INTO crm_purge.request_batches (request_id, batch, rows, started_at, finished_at, outcome)"
							  " SELECT $1, pg_catalog.int4larger($2, coalesce(pg_catalog.max(b.batch) OPERATOR(pg_catalog.+) 1, 1)),"
							  " $3, $4, pg_catalog.clock_timestamp(), $5"
							  " FROM crm_purge.request_batches b WHERE b.request_id OPERATOR(pg_catalog.=) $1",
							  5, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record batch of request " INT64_FORMAT, r->id);
}

/* record_part: a part in crm_purge.export_parts; table is the cascade's, or InvalidOid. */
static void
record_part(Request *r, int part_no, Oid table, int64 rows, CrmPurgeExportPart *part)
{
	Oid			argtypes[8] = {INT8OID, INT4OID, TEXTOID, INT8OID, INT8OID, TEXTOID, BYTEAOID, OIDOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', part->path ? ' ' : 'n', ' ', ' ', ' ', part->data ? ' ' : 'n',
	OidIsValid(table) ? ' ' : 'n'};

	values[0] = Int64GetDatum(r->id);
	values[1] = Int32GetDatum(part_no);
	values[2] = part->path ? CStringGetTextDatum(part->path) : (Datum) 0;
	values[3] = Int64GetDatum(rows);
	values[4] = Int64GetDatum(part->bytes);
	values[5] = CStringGetTextDatum(part->sha256);
	values[6] = PointerGetDatum(part->data);
	values[7] = ObjectIdGetDatum(table);
	if (SPI_execute_with_args("INSERT INTO crm_purge.export_parts (request_id, part, path, rows, bytes, sha256, data, tbl)"
							  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
							  8, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record export part");
}


/* count_batch: a batch that changed nothing still takes its number in the report. */
static void
count_batch(Request *r)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->id)};

	if (SPI_execute_with_args("UPDATE crm_purge.requests SET batches = batches + 1 WHERE id = $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update request " INT64_FORMAT, r->id);
}

typedef struct BatchWork
{
	Request    *r;
	uint64		n;
	bool		done;
	int64		scanned_to;
	bool		wrote_part;
	CrmPurgeExportPart part;
	List	   *cascade;		/* CrmPurgeCascadeTable of the tables the cascade reached */
	int64		kept;			/* rows kept because their cascade reaches a held row */
	int64		missed;			/* rows picked, not held, not deleted */
	int64		left;			/* at the end of a pass: rows it takes still there */
	bool		again;			/* and the scan starts over */
} BatchWork;

/*
 * run_batch: the batch's delete and its export parts (its own rows', then
 * one per table its cascade reached), run by crm_purge_in_subtransaction():
 * both happen, or neither.
 */
static void
run_batch(void *arg)
{
	BatchWork  *w = arg;
	int			next_part = w->r->parts + 1;
	ListCell   *lc;
	CrmPurgePartFile file;
	bool		streamed = false;

	if (w->r->export)
	{
		/* (a crashed attempt's parts first: this one may reach other tables) */
		crm_purge_export_remove_unrecorded(w->r->id, w->r->part_placement, w->r->parts);
		/* kept from batch to batch: its memory is not faulted in again each time */
		if (batch_csv == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			batch_csv = makeStringInfo();
			MemoryContextSwitchTo(old);
		}
		resetStringInfo(batch_csv);
		/* the part written as the rows come: written back while the batch runs */
		streamed = crm_purge_export_part_open(w->r->id, next_part, w->r->part_table, w->r->part_placement, &file);
	}
	PG_TRY();
	{
		w->n = delete_batch(w->r, &w->done, &w->scanned_to, &w->cascade, &w->kept, &w->missed,
							w->r->export ? batch_csv : NULL, streamed ? &file : NULL);
		/* (the scan's position stays where another_pass put it) */
		if (w->done && another_pass(w->r, &w->left))
		{
			w->again = true;
			w->done = false;
			w->scanned_to = w->r->next_block;
		}
		if (w->r->export && w->n > 0)
		{
			if (streamed)
				crm_purge_export_part_finish(&file, true, &w->part);
			else
				crm_purge_export_write_part(w->r->id, next_part, w->r->part_table, w->r->part_placement,
											batch_csv, &w->part);
			next_part++;
			w->wrote_part = true;
		}
		else if (streamed)
			crm_purge_export_part_abandon(&file);
	}
	PG_CATCH();
	{
		/* nothing of the batch was deleted: neither is its part kept */
		if (streamed)
			crm_purge_export_part_abandon(&file);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (batch_csv != NULL && batch_csv->maxlen > 64 * 1024 * 1024)
	{
		pfree(batch_csv->data);
		pfree(batch_csv);
		batch_csv = NULL;
	}
	/* the rows the cascade removed: a part per table, numbered after it */
	foreach(lc, w->cascade)
	{
		CrmPurgeCascadeTable *t = lfirst(lc);

		/*
		 * (the owner's code in the batch dropped it: what follows the batch
		 * names it; failing here, the drop goes with the batch: review
		 * round 57, A57-2)
		 */
		if (get_rel_name(t->relid) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table %u, which the batch's cascade reached, was dropped during the batch", t->relid),
					 errhint("A trigger of the table dropped it; change that trigger.")));
		if (t->csv == NULL || t->rows == 0 || w->n == 0)
			continue;
		t->part = next_part++;
		crm_purge_export_write_part(w->r->id, t->part, t->relid, 0, t->csv, &t->written);
	}
	/* for tests: the parts are durable, the batch not yet committed */
	if (w->wrote_part)
		crm_purge_fault("export_written");
}

/*
 * advance_scan: a tid scan moves past what the batch scanned, its next chunk
 * adapted to the density found, to aim at batch_size rows.
 */
static void
advance_scan(Request *r, uint64 n, int64 scanned_to)
{
	int64		scanned = scanned_to - r->next_block;
	int64		chunk;

	if (r->index_scan || scanned <= 0)
		return;
	if (n > 0)
		chunk = (int64) ((double) scanned * crm_purge_batch_rows() / n);
	else
		chunk = scanned * 4;
	r->chunk_blocks = Max(1, Min(Min(chunk, scanned * 4), MAX_CHUNK_BLOCKS));
	r->next_block = scanned_to;
}

/* crm_purge_request_forget_plans: the batch plans rebuilt next time (a step failed: they may refer to what failed) */
void
crm_purge_request_forget_plans(void)
{
	plan_request = 0;
}

/*
 * batch_failed: what a failed step of request r becomes.  A lock someone
 * holds (lock_timeout in the worker) or a batch past crm_purge.step_timeout
 * (an owner's slow code): it waits, nothing fails (false: nothing done).  A deadlock or serialization failure (with retry): tried
 * again a few times.  Anything else fails the request.
 */
static bool
batch_failed_records(Request *r, ErrorData *edata, TimestampTz started, CrmPurgeTickCounts *counts, bool retry)
{
	if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE || edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
	{
		crm_purge_task_failed("request batch", r->relid, edata);
		record_batch(r, 0, started, psprintf("waiting: %s", edata->message));
		count_batch(r);
		return false;
	}
	if (retry && (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
				  edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE) &&
		crm_purge_task_failed("request batch", r->relid, edata) <= 5)
	{
		record_batch(r, 0, started, psprintf("retried: %s", edata->message));
		count_batch(r);
		counts->batches++;
		return true;
	}
	ereport(LOG,
			(errmsg("crm_purge request " INT64_FORMAT " failed: %s", r->id, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
	record_batch(r, 0, started, psprintf("failed: %s", edata->message));
	finish_request(r, "failed", edata->message);
	counts->requests_failed++;
	counts->batches++;
	return true;
}

typedef struct FailedBatch
{
	Request    *r;
	ErrorData  *edata;
	TimestampTz started;
	CrmPurgeTickCounts *counts;
	bool		retry;
	bool		result;
} FailedBatch;

static void
record_failed_batch(void *arg)
{
	FailedBatch *fb = arg;

	fb->result = batch_failed_records(fb->r, fb->edata, fb->started, fb->counts, fb->retry);
}

static void
mark_request_failed(void *arg)
{
	FailedBatch *fb = arg;

	if (SPI_execute_with_args("UPDATE crm_purge.requests SET status = 'failed', error = $2, finished_at = pg_catalog.clock_timestamp()"
							  " WHERE id = $1 AND status IN ('queued', 'in_progress')", 2,
							  (Oid[]) {INT8OID, TEXTOID},
							  (Datum[]) {Int64GetDatum(fb->r->id), CStringGetTextDatum(fb->edata->message)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update request " INT64_FORMAT, fb->r->id);
	/* (as _request_status: no batch of a given-up Citus round may commit after the end) */
	if (SPI_processed > 0 && crm_purge_citus_distributed(fb->r->relid) &&
		SPI_execute("SELECT crm_purge._citus_fence_rounds()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not fence the rounds of request " INT64_FORMAT, fb->r->id);
}

/*
 * batch_failed: batch_failed_records in a subtransaction of its own: a
 * record that fails (outside any other) failed the whole step, over and
 * over, and the worker did nothing else (review round 79, B79-2).  Then
 * the request is only marked failed.
 */
static bool
batch_failed(Request *r, ErrorData *edata, TimestampTz started, CrmPurgeTickCounts *counts, bool retry)
{
	FailedBatch fb = {r, edata, started, counts, retry, false};
	CrmPurgeTickCounts before = *counts;
	ErrorData  *again;

	/* the plans may refer to what failed */
	plan_request = 0;
	again = crm_purge_in_subtransaction(record_failed_batch, &fb);
	if (again == NULL)
		return fb.result;
	*counts = before;
	ereport(LOG,
			(errmsg("crm_purge request " INT64_FORMAT " failed: %s; recording the batch failed: %s",
					r->id, edata->message, again->message)));
	again = crm_purge_in_subtransaction(mark_request_failed, &fb);
	if (again != NULL)
	{
		ereport(WARNING,
				(errmsg("could not mark crm_purge request " INT64_FORMAT " failed: %s", r->id, again->message)));
		return false;
	}
	counts->requests_failed++;
	return true;
}

static ErrorData *request_step(void (*fn) (void *), void *arg, Request *r);

/* ------------------------------------------------- partitioned tables */

/*
 * next_partition: the leaf partition of relid made after "after" (by OID,
 * the order they were made in), or InvalidOid.
 */
static Oid
next_partition(Oid relid, Oid after)
{
	Oid			argtypes[2] = {REGCLASSOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), ObjectIdGetDatum(after)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT p.relid::oid FROM pg_catalog.pg_partition_tree($1) p"
							  " WHERE p.isleaf AND p.relid::oid OPERATOR(pg_catalog.>) $2"
							  " ORDER BY p.relid::oid LIMIT 1",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the partitions of %s", crm_purge_relname(relid));
	if (SPI_processed == 0)
		return InvalidOid;
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * next_heap: the partition of r's table after "after"; after the last, the
 * first again while rows the request takes are left anywhere in the table
 * (an UPDATE moved them into a partition already done: review round 61,
 * B61-2), at most MAX_PASSES times; then r->left is what stays
 */
static Oid
next_heap(Request *r, Oid after)
{
	Oid			next = next_partition(r->relid, after);

	if (!OidIsValid(next))
	{
		Request		whole = *r;

		whole.heap = r->relid;
		whole.bound = NULL;
		r->left = rows_left(&whole);
		if (r->left > 0 && r->tree_passes < MAX_PASSES)
		{
			r->tree_passes++;
			r->left = 0;
			next = next_partition(r->relid, InvalidOid);
		}
	}
	return next;
}

/* left_note: what a request that ends leaves, or NULL */
static char *
left_note(Request *r, int passes)
{
	if (r->left <= 0)
		return NULL;
	return psprintf("%s" INT64_FORMAT " rows the request takes are still there after %d scans:"
					" a trigger or rule of the table keeps them, their cascade reaches a row under a legal hold,"
					" or updates keep moving them", r->left >= 1000 ? "at least " : "", r->left, passes);
}

/* partition_of: is part (still) a leaf partition of relid? */
static bool
partition_of(Oid part, Oid relid)
{
	return get_rel_relkind(part) != '\0' && get_rel_relispartition(part) &&
		list_member_oid(get_partition_ancestors(part), relid);
}

/*
 * partition_bound: the partition's constraint, on its partitioned table's
 * columns ("true" for a lone default partition).  Pasted into the request's
 * SQL, run as its creator and as hold creators: only for partition keys of
 * plain columns of built-in types (see the request's checks), whose bounds
 * are constants and pg_catalog's operators.
 */
static char *
partition_bound(Oid part)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(part)};
	char	   *bound;

	if (SPI_execute_with_args("SELECT pg_catalog.pg_get_partition_constraintdef($1)",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the bound of partition %s", crm_purge_relname(part));
	bound = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return psprintf("(%s)", bound ? bound : "true");
}

/*
 * partitions_plain: is every partition key in the tree of relid plain
 * columns of built-in types, every leaf a table?  Else the request stops:
 * a key expression or a user-defined type's operators would run the
 * owner's code as the creator, and a foreign partition cannot be deleted
 * from by ctid.
 */
static void
check_partitions_plain(Request *r)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(r->relid)};

	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_partition_tree($1) t"
							  " JOIN pg_catalog.pg_class c ON c.oid = t.relid"
							  " LEFT JOIN pg_catalog.pg_partitioned_table p ON p.partrelid = t.relid"
							  " WHERE c.relkind NOT IN ('r', 'p')"
							  "    OR p.partexprs IS NOT NULL"
							  "    OR EXISTS (SELECT FROM pg_catalog.unnest(p.partattrs::int2[]) k(a)"
							  "               JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attnum = k.a"
							  "               WHERE a.atttypid OPERATOR(pg_catalog.>=) 16384)",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the partitions of %s", crm_purge_relname(r->relid));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table %s is partitioned by an expression, by a column of a user-defined type, or has a foreign partition: request " INT64_FORMAT " stops",
						crm_purge_relname(r->relid), r->id),
				 errhint("Make a request on each partition instead.")));
}

/*
 * partition_work: what the request does with the partition: nothing (no
 * row of it is taken), row by row, or take it whole (detached and dropped).
 * Whole: every row of it is one the request takes (older than the cutoff,
 * matching the filter: asked as the creator, who picks), none held, and
 * nothing but the rows may go with it: no triggers of the table's own, no
 * key referencing it, the same owner.  An empty partition stays.  Without
 * a filter, on a table partitioned by modified_column, the planner answers
 * from the bounds: the partition is pruned, nothing is read.
 */
/*
 * range_partition_of_column: is part a range partition (not the default
 * one) of a parent partitioned by column alone?
 */
static bool
range_partition_of_column(Oid part, const char *column)
{
	Oid			parent = get_partition_parent(part, false);
	Oid			argtypes[3] = {OIDOID, OIDOID, TEXTOID};
	Datum		values[3] = {ObjectIdGetDatum(parent), ObjectIdGetDatum(part), CStringGetTextDatum(column)};

	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_partitioned_table p"
							  " JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
							  " WHERE p.partrelid = $1 AND p.partstrat = 'r' AND p.partnatts = 1"
							  "   AND a.attname::text = $3 AND p.partdefid <> $2",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_partitioned_table");
	return SPI_processed == 1;
}

typedef enum PartitionWork
{
	PARTITION_NOTHING,			/* no row of it is taken: skipped */
	PARTITION_ROWS,				/* row by row */
	PARTITION_WHOLE				/* detached and dropped */
} PartitionWork;

static PartitionWork
partition_work(Request *r)
{
	CrmPurgeIdentity id;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {r->cutoff};
	bool		isnull;
	bool		whole;
	bool		any;
	bool		may_drop = true;
	Oid			argtypes2[2] = {OIDOID, OIDOID};
	Datum		values2[2] = {ObjectIdGetDatum(r->relid), ObjectIdGetDatum(r->heap)};

	check_creator(r);
	if (crm_purge_has_holds(r->relid) || has_user_triggers(r->heap) || has_user_triggers(r->relid) ||
		crm_purge_rel_owner(r->heap) != crm_purge_rel_owner(r->relid) ||
		crm_purge_rel_owner(get_partition_parent(r->heap, false)) != crm_purge_rel_owner(r->relid))
		may_drop = false;
	/* a range partition of modified_column only: dropping it changes nothing the table accepts */
	if (!range_partition_of_column(r->heap, r->modified_column))
		may_drop = false;
	/* row-level security could hide rows from the owner who exports and drops */
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(r->relid));
		HeapTuple	tup2 = SearchSysCache1(RELOID, ObjectIdGetDatum(r->heap));

		if (!HeapTupleIsValid(tup) || !HeapTupleIsValid(tup2) ||
			((Form_pg_class) GETSTRUCT(tup))->relrowsecurity ||
			((Form_pg_class) GETSTRUCT(tup2))->relrowsecurity)
			may_drop = false;
		if (HeapTupleIsValid(tup))
			ReleaseSysCache(tup);
		if (HeapTupleIsValid(tup2))
			ReleaseSysCache(tup2);
	}
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_constraint c WHERE c.contype = 'f'"
							  " AND c.confrelid IN ($1, $2)", 2, argtypes2, values2, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_constraint");
	if (SPI_processed > 0)
		may_drop = false;
	/*
	 * a published table's rows go row by row: logical replication carries
	 * DELETEs, not a dropped partition (review round 70, B70-4)
	 */
	if (may_drop)
	{
		List	   *tree = lappend_oid(get_partition_ancestors(r->heap), r->heap);
		Datum	   *oids = palloc(sizeof(Datum) * list_length(tree));
		Oid			pubtypes[1] = {OIDARRAYOID};
		Datum		pubvalues[1];
		ListCell   *lc;
		int			k = 0;

		foreach(lc, tree)
			oids[k++] = ObjectIdGetDatum(lfirst_oid(lc));
		pubvalues[0] = PointerGetDatum(construct_array(oids, k, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
		if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_publication p WHERE p.puballtables"
								  " OR EXISTS (SELECT FROM pg_catalog.pg_publication_rel r WHERE r.prpubid OPERATOR(pg_catalog.=) p.oid"
								  "   AND r.prrelid OPERATOR(pg_catalog.=) ANY ($1))"
								  " OR EXISTS (SELECT FROM pg_catalog.pg_publication_namespace n JOIN pg_catalog.pg_class c"
								  "   ON c.relnamespace OPERATOR(pg_catalog.=) n.pnnspid WHERE n.pnpubid OPERATOR(pg_catalog.=) p.oid"
								  "   AND c.oid OPERATOR(pg_catalog.=) ANY ($1))",
								  1, pubtypes, pubvalues, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read pg_publication");
		if (SPI_processed > 0)
			may_drop = false;
	}
	/* dropping a table is more than deleting its rows: only for its owner's members */
	if (!has_privs_of_role(r->created_by, crm_purge_rel_owner(r->relid)))
		may_drop = false;
	crm_purge_become_creator(r->created_by, OidIsValid(r->heap) ? r->heap : r->relid, &id);

	/*
	 * Without a filter the question is one the planner answers from the
	 * bound alone when the table is partitioned by modified_column: the
	 * partition is pruned, nothing is read.
	 */
	{
		const char *tbl = crm_purge_relname(r->relid);
		const char *col = quote_identifier(r->modified_column);
		const char *taken = psprintf("%s < $1 AND (%s\n)", col, r->filter ? r->filter : "true");

		if (SPI_execute_with_args(psprintf("SELECT EXISTS (SELECT FROM %s WHERE %s AND %s), %s",
										   tbl, r->bound, taken,
										   !may_drop ? "false" :
										   r->filter == NULL ?
										   psprintf("NOT EXISTS (SELECT FROM %s WHERE %s AND (%s >= $1 OR %s IS NULL))",
													tbl, r->bound, col, col) :
										   psprintf("NOT EXISTS (SELECT FROM %s WHERE %s AND NOT coalesce(%s, false))",
													tbl, r->bound, taken)),
								  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read %s", crm_purge_relname(r->heap));
	}
	any = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	whole = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	crm_purge_unbecome(&id);
	return !any ? PARTITION_NOTHING : whole ? PARTITION_WHOLE : PARTITION_ROWS;
}

typedef struct WholeCheck
{
	Request    *r;
	PartitionWork work;
} WholeCheck;

static void
run_whole_check(void *arg)
{
	WholeCheck *wc = arg;

	wc->work = partition_work(wc->r);
}

typedef struct PartitionDrop
{
	Request    *r;
	bool		rows_instead;	/* no longer whole under the lock: row work */
	int64		rows;
	List	   *parts;			/* CrmPurgeExportPart *, in order */
	List	   *part_rows;		/* int64 rows of each, as a list of int */
} PartitionDrop;

typedef struct PartitionExport
{
	PartitionDrop *d;
	Request    *r;
	int			next_part;
	MemoryContext cxt;			/* the caller's: the executor's ends with the query */
} PartitionExport;

/* partition_part_flush: one part of a whole partition's export, written and made durable */
static void
partition_part_flush(void *arg, StringInfo buf, uint64 rows)
{
	PartitionExport *e = arg;
	MemoryContext old = MemoryContextSwitchTo(e->cxt);
	CrmPurgeExportPart *part = palloc0(sizeof(CrmPurgeExportPart));

	crm_purge_export_write_part_unsynced(e->r->id, e->next_part++, InvalidOid, 0, buf, part);
	e->d->parts = lappend(e->d->parts, part);
	e->d->part_rows = lappend_int(e->d->part_rows, (int) rows);
	e->d->rows += rows;
	MemoryContextSwitchTo(old);
}

/*
 * count_partition_rows: the rows of a partition no one can write (we hold
 * its AccessExclusiveLock) visible to snapshot, exactly, without a scan
 * through the executor: on a page the visibility map says is all-visible
 * every normal line pointer is a live row (index-only scans rely on the
 * same), so only the other pages' tuples are checked.  A DROP reads no
 * row; a count(*) of an old partition took most of its batch.
 */
static int64
count_partition_rows(Oid relid, Snapshot snapshot)
{
	Relation	rel = table_open(relid, AccessExclusiveLock);
	BlockNumber nblocks,
				blk;
	Buffer		vmbuffer = InvalidBuffer;
	BufferAccessStrategy strategy;
	int64		rows = 0;

	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
	{
		table_close(rel, NoLock);
		if (SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s", crm_purge_relname(relid)), true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not count the rows of %s", crm_purge_relname(relid));
		{
			bool		isnull;

			return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	strategy = GetAccessStrategy(BAS_BULKREAD);
	nblocks = RelationGetNumberOfBlocks(rel);
	for (blk = 0; blk < nblocks; blk++)
	{
		bool		all_visible = VM_ALL_VISIBLE(rel, blk, &vmbuffer);
		Buffer		buf;
		Page		page;
		OffsetNumber off,
					maxoff;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		lp = PageGetItemId(page, off);
			HeapTupleData tuple;

			if (!ItemIdIsNormal(lp))
				continue;
			if (all_visible)
			{
				rows++;
				continue;
			}
			tuple.t_data = (HeapTupleHeader) PageGetItem(page, lp);
			tuple.t_len = ItemIdGetLength(lp);
			tuple.t_tableOid = relid;
			ItemPointerSet(&tuple.t_self, blk, off);
			if (HeapTupleSatisfiesVisibility(&tuple, snapshot, buf))
				rows++;
		}
		UnlockReleaseBuffer(buf);
	}
	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
	FreeAccessStrategy(strategy);
	table_close(rel, NoLock);
	return rows;
}

/*
 * run_partition_drop: as the table's owner, restricted: the partition's
 * rows exported in parts of batch_size rows (written and made durable
 * first), then the partition detached and dropped.  Run in a subtransaction:
 * all of it happens, or none.
 */
static void
run_partition_drop(void *arg)
{
	PartitionDrop *d = arg;
	Request    *r = d->r;
	CrmPurgeIdentity id;
	const char *part_name = crm_purge_relname(r->heap);
	int			next_part = r->parts + 1;

	/*
	 * No one writes the partition from here to the drop: then the check
	 * again, so that a row written or changed meanwhile is not dropped
	 * unseen.  Nothing to do but row work if it no longer holds.
	 */
	LockRelationOid(r->heap, ShareLock);
	/* what committed while we waited for the lock counts: the newest snapshot */
	PushActiveSnapshot(GetLatestSnapshot());
	if (partition_work(r) != PARTITION_WHOLE)
	{
		PopActiveSnapshot();
		d->rows_instead = true;
		return;
	}
	become_request_owner(r, &id);
	if (r->export)
	{
		StringInfoData csv;
		PartitionExport e = {d, r, next_part, CurrentMemoryContext};
		SPIExecuteOptions options;
		int			rc;

		/* (a crashed attempt's parts first, as run_batch: review round 56, B56-3) */
		crm_purge_export_remove_unrecorded(r->id, r->part_placement, r->parts);

		/* straight from the executor into parts of up to PARTITION_PART_ROWS rows or PARTITION_PART_BYTES: one write each */
		initStringInfo(&csv);
		memset(&options, 0, sizeof(options));
		options.read_only = true;
		options.dest = crm_purge_csv_parts_receiver(&csv, partition_part_flush, &e,
													PARTITION_PART_ROWS, PARTITION_PART_BYTES);
		rc = SPI_execute_extended(psprintf("SELECT * FROM %s WHERE %s", crm_purge_relname(r->relid), r->bound),
								  &options);
		if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
			elog(ERROR, "could not export partition %s: %s", part_name, SPI_result_code_string(rc));
		pfree(csv.data);
		/* durable before the drop commits */
		crm_purge_export_sync_parts(d->parts);
		if (d->parts != NIL)
			crm_purge_fault("export_written");
	}
	else
	{
		/* every row of the partition is within its bound: no condition to check per row */
		d->rows = count_partition_rows(r->heap, GetActiveSnapshot());
	}
	PopActiveSnapshot();

	/*
	 * The partition was only kept from writers while it was exported
	 * (readers read on); its parent is locked before it, in the order
	 * every query takes them, for the detach.
	 */
	LockRelationOid(get_partition_parent(r->heap, false), AccessExclusiveLock);
	LockRelationOid(r->heap, AccessExclusiveLock);
	if (SPI_execute(psprintf("ALTER TABLE %s DETACH PARTITION %s",
							 crm_purge_relname(get_partition_parent(r->heap, false)), part_name),
					false, 0) != SPI_OK_UTILITY ||
		SPI_execute(psprintf("DROP TABLE %s", part_name), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not drop partition %s", part_name);
	crm_purge_unbecome(&id);
}

/* set_partition: the request moves on to partition part (InvalidOid: none), its scan not started. */
static void
set_partition(Request *r, Oid part)
{
	Oid			argtypes[3] = {INT8OID, OIDOID, INT4OID};
	Datum		values[3] = {Int64GetDatum(r->id), ObjectIdGetDatum(part), Int32GetDatum(r->tree_passes)};
	char		nulls[3] = {' ', OidIsValid(part) ? ' ' : 'n', ' '};

	/* read as the partitioned table's owner: another owner's code would run with those rights */
	if (OidIsValid(part) && crm_purge_rel_owner(part) != crm_purge_rel_owner(r->relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("partition %s of table %s has another owner", crm_purge_relname(part),
						crm_purge_relname(r->relid)),
				 errhint("Give the partitions the partitioned table's owner, or make a request on each partition.")));
	if (SPI_execute_with_args("UPDATE crm_purge.requests SET part = $2, scan = NULL, next_block = 0,"
							  " end_block = NULL, chunk_blocks = NULL, last_value = NULL, scan_file = NULL, passes = 1,"
							  " tree_passes = $3 WHERE id = $1",
							  3, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update request " INT64_FORMAT, r->id);
	r->heap = part;
	r->scan_started = false;
	r->passes = 1;
	r->next_block = 0;
	r->scan_file = InvalidOid;
	r->has_last_value = false;
}

/*
 * partition_batch: the batch that takes a whole partition: its rows
 * exported, the partition detached and dropped, the request on to the next
 * partition, all in this transaction.  As crm_purge_request_batch.
 */
static bool
partition_batch(Request *r, CrmPurgeTickCounts *counts, TimestampTz started, bool *ended,
				bool *rows_instead)
{
	PartitionDrop d = {r, false, 0, NIL, NIL};
	ErrorData  *edata;
	char	   *name = pstrdup(crm_purge_relname(r->heap));
	ListCell   *lc,
			   *lr;
	Oid			dropped = r->heap;

	edata = crm_purge_in_subtransaction(run_partition_drop, &d);
	/* the parts a failed step wrote go (their rows stay in the partition) */
	if (edata != NULL)
		foreach(lc, d.parts)
		{
			const char *path = ((CrmPurgeExportPart *) lfirst(lc))->path;

			if (path != NULL && unlink(path) != 0 && errno != ENOENT)
				ereport(WARNING,
						(errcode_for_file_access(),
						 errmsg("could not remove export file \"%s\" of a failed step: %m", path),
						 errhint("Remove it by hand: the rows it holds were not deleted.")));
		}
	if (edata == NULL && d.rows_instead)
	{
		*rows_instead = true;
		return true;
	}
	/* a view or the like depends on the partition: its rows go one by one */
	if (edata != NULL && edata->sqlerrcode == ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST)
	{
		record_batch(r, 0, started, psprintf("partition %s kept (%s): its rows go one by one", name,
											 edata->message));
		count_batch(r);
		r->batches++;
		*rows_instead = true;
		return true;
	}
	if (edata != NULL)
	{
		/* a deadlock is tried again */
		*ended = batch_failed(r, edata, started, counts, true);
		return *ended;
	}
	forboth(lc, d.parts, lr, d.part_rows)
	{
		record_part(r, r->parts + 1, InvalidOid, (int64) lfirst_int(lr), lfirst(lc));
		r->parts++;
	}
	{
		Oid			argtypes[4] = {INT8OID, INT8OID, INT4OID, INT4OID};
		Datum		values[4] = {Int64GetDatum(r->id), Int64GetDatum(d.rows),
		Int32GetDatum(r->batches + 1), Int32GetDatum(r->parts)};

		if (SPI_execute_with_args("UPDATE crm_purge.requests SET rows_done = rows_done + $2, batches = $3, parts = $4"
								  " WHERE id = $1", 4, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update request " INT64_FORMAT, r->id);
	}
	record_batch(r, d.rows, started, psprintf("ok; partition %s%s, detached and dropped", name,
											  r->export ? " exported" : ""));
	r->batches++;
	crm_purge_record_history("request partition dropped", r->relid, d.rows, r->created_by, r->id, 0, 0);
	crm_purge_task_succeeded("request batch", r->relid);
	counts->request_rows += d.rows;
	counts->batches++;
	/* on to the partition made after it */
	set_partition(r, next_heap(r, dropped));
	if (!OidIsValid(r->heap))
	{
		finish_request(r, "success", left_note(r, r->tree_passes));
		counts->requests_finished++;
		*ended = true;
	}
	return true;
}

typedef enum PartitionStepOutcome
{
	STEP_ROWS,					/* on to the row path, in this partition */
	STEP_DONE,					/* the step did its work */
	STEP_LATER					/* a lock someone holds: nothing done */
} PartitionStepOutcome;

typedef struct PartitionSteps
{
	Request    *r;
	CrmPurgeTickCounts *counts;
	TimestampTz started;
	PartitionStepOutcome outcome;
} PartitionSteps;

/*
 * run_partition_steps: the part of a step on a partitioned table before
 * row work: which partition, skipped or taken whole, or its scan started.
 * In a subtransaction: an error (a lock timeout on a partition, one
 * dropped meanwhile) fails or delays this request only.
 */
static void
run_partition_steps(void *arg)
{
	PartitionSteps *ps = arg;
	Request    *r = ps->r;
	ErrorData  *edata;

	ps->outcome = STEP_ROWS;
	check_partitions_plain(r);
	/* a partition at a time, in the order they were made */
	if (r->queued)
	{
		if (SPI_execute_with_args("SELECT crm_purge._request_status($1, 'in_progress')",
								  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(r->id)}, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not start request " INT64_FORMAT, r->id);
		r->queued = false;
		set_partition(r, next_partition(r->relid, InvalidOid));
	}
	else if (!OidIsValid(r->heap) || !partition_of(r->heap, r->relid))
		set_partition(r, next_heap(r, r->heap));	/* done, or gone meanwhile */
	if (!OidIsValid(r->heap))
	{
		finish_request(r, "success", left_note(r, r->tree_passes));
		ps->counts->requests_finished++;
		ps->outcome = STEP_DONE;
		return;
	}
	r->bound = partition_bound(r->heap);
	/*
	 * Partitions taken whole without an export, or skipped, are only
	 * catalog work: several go in one step, for up to half a second.
	 */
	while (!r->scan_started)
	{
		WholeCheck  wc = {r, PARTITION_ROWS};
		bool		ended = false;

		edata = crm_purge_in_subtransaction(run_whole_check, &wc);
		if (edata != NULL)
			ReThrowError(edata);	/* the request fails, or waits for a lock */
		if (wc.work == PARTITION_ROWS)
			break;
		if (wc.work == PARTITION_WHOLE)
		{
			bool		rows_instead = false;

			if (!partition_batch(r, ps->counts, GetCurrentTimestamp(), &ended, &rows_instead))
			{
				ps->outcome = STEP_LATER;	/* a lock someone holds: later */
				return;
			}
			if (rows_instead)
				break;
			if (ended || r->export)
			{
				ps->outcome = STEP_DONE;
				return;
			}
		}
		else
		{
			set_partition(r, next_heap(r, r->heap));
			if (!OidIsValid(r->heap))
			{
				finish_request(r, "success", left_note(r, r->tree_passes));
				ps->counts->requests_finished++;
				ps->outcome = STEP_DONE;
				return;
			}
		}
		if (TimestampDifferenceExceeds(ps->started, GetCurrentTimestamp(), 500))
		{
			ps->outcome = STEP_DONE;
			return;
		}
		r->bound = partition_bound(r->heap);
	}
	if (!r->scan_started)
	{
		start_request(r);
		save_scan(r);
		r->scan_started = true;
	}
}

/* ------------------------------------------------- Citus distributed tables */

/*
 * A request on a Citus distributed table runs in rounds: a batch on every
 * shard not yet done, on the shard's node (crm_purge._citus_round).  There
 * crm_purge_citus_shard_batch runs this file's batch on the shard as on a
 * table of its own, in that node's transaction: the delete, its export part
 * and the shard's position commit together, so a node that stops loses or
 * repeats nothing.  The coordinator checks the creator and the holds.
 */
typedef struct CitusRound
{
	Request    *r;
	TimestampTz started;
	int64		rows;
	bool		finished;
	char	   *error;
	char	   *waiting;
} CitusRound;

static void
run_citus_round(void *arg)
{
	CitusRound *c = arg;
	Request    *r = c->r;
	char	   *keep;
	CrmPurgeIdentity id;
	Oid			argtypes[4] = {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	HeapTuple	t;
	TupleDesc	desc;
	bool		isnull;

	check_creator(r);
	if (SPI_execute_with_args("SELECT crm_purge._citus_check_request($1)", 1, (Oid[]) {OIDOID},
							  (Datum[]) {ObjectIdGetDatum(r->relid)}, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check request " INT64_FORMAT, r->id);
	keep = crm_purge_citus_hold_condition(r->relid);
	values[0] = Int64GetDatum(r->id);
	values[1] = keep ? CStringGetTextDatum(keep) : (Datum) 0;
	nulls[1] = keep ? ' ' : 'n';
	values[2] = Int32GetDatum(crm_purge_batch_rows());
	values[3] = TimestampTzGetDatum(c->started);
	/* the nodes are asked as the extension owner: their batches are its to run */
	crm_purge_become_owner(&id);
	if (SPI_execute_with_args("SELECT rows, finished, error, waiting FROM crm_purge._citus_round($1, $2, $3, $4)",
							  4, argtypes, values, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not run a round of request " INT64_FORMAT, r->id);
	crm_purge_unbecome(&id);
	t = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	c->rows = DatumGetInt64(SPI_getbinval(t, desc, 1, &isnull));
	c->finished = DatumGetBool(SPI_getbinval(t, desc, 2, &isnull));
	c->error = SPI_getvalue(t, desc, 3);
	c->waiting = SPI_getvalue(t, desc, 4);
}

/* start_citus_round: a queued request marked started, and the lock on its table's holds */
static void
start_citus_round(void *arg)
{
	Request    *r = arg;

	if (r->queued &&
		SPI_execute_with_args("SELECT crm_purge._request_status($1, 'in_progress')",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(r->id)}, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not start request " INT64_FORMAT, r->id);
	crm_purge_lock_holds(r->relid, ShareLock);
}

/* citus_request_round: one round of request r on a distributed table; true when more work is ready. */
static bool
citus_request_round(Request *r, CrmPurgeTickCounts *counts, TimestampTz started)
{
	CitusRound	c = {r, started};
	ErrorData  *edata;

	/*
	 * the lock on the table's holds, kept to the step's end (a released
	 * subtransaction's locks pass to its parent): a round given up (a
	 * timeout) rolls its subtransaction back while a shard's batch may still
	 * run on its node; a hold being made waits for the step's end.  Taken
	 * in a subtransaction of its own: a hold being made in a transaction
	 * left open made the worker exit at its lock timeout (review round 76,
	 * B76-1)
	 */
	edata = request_step(start_citus_round, r, r);
	if (edata != NULL)
		return batch_failed(r, edata, started, counts, false);
	edata = request_step(run_citus_round, &c, r);
	if (edata != NULL)
		return batch_failed(r, edata, started, counts, true);
	counts->request_rows += c.rows;
	counts->batches++;
	/* (a round that neither failed nor waited ends the table's listed failure, as a plain batch does: review round 82, B82-1) */
	if (c.error == NULL && c.waiting == NULL)
		crm_purge_task_succeeded("request batch", r->relid);
	if (c.error != NULL)
	{
		ereport(LOG,
				(errmsg("crm_purge request " INT64_FORMAT " failed: %s", r->id, c.error)));
		finish_request(r, "failed", c.error);
		counts->requests_failed++;
		return true;
	}
	if (c.finished)
	{
		finish_request(r, "success", NULL);
		counts->requests_finished++;
		return true;
	}
	/* an unreachable node or a lock: the next tick tries again, after the others' requests (read_request) */
	if (c.waiting != NULL)
	{
		ErrorData	waiting = {0};

		waiting.elevel = WARNING;
		waiting.sqlerrcode = ERRCODE_LOCK_NOT_AVAILABLE;
		waiting.message = c.waiting;
		crm_purge_task_failed("request batch", r->relid, &waiting);
	}
	return c.waiting == NULL;
}

/* shard_state: the placement's totals on this node and its parts after known, as jsonb text. */
static char *
shard_state(int64 request_id, int64 placementid, int32 known, bool work, const char *error, const char *sqlstate)
{
	Oid			argtypes[6] = {INT8OID, INT8OID, INT4OID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[6] = {Int64GetDatum(request_id), Int64GetDatum(placementid), Int32GetDatum(known),
		error ? CStringGetTextDatum(error) : (Datum) 0, sqlstate ? CStringGetTextDatum(sqlstate) : (Datum) 0,
	BoolGetDatum(work)};
	char		nulls[6] = {' ', ' ', ' ', error ? ' ' : 'n', sqlstate ? ' ' : 'n', ' '};

	/* a placement this node never worked on is done only when asked for no work (it moved away) */
	if (SPI_execute_with_args("SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
							  "'rows_done', coalesce(s.rows_done, 0), 'done', coalesce(s.done, NOT $6),"
							  " 'error', coalesce($4, s.left_note), 'sqlstate', $5,"
							  " 'parts', coalesce(s.parts, 0), 'new_parts', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('part', p.part, 'path', p.path,"
							  "   'rows', p.rows, 'bytes', p.bytes, 'sha256', p.sha256) ORDER BY p.part), '[]')"
							  "   FROM crm_purge.shard_parts p WHERE p.request_id = $1 AND p.placementid = $2 AND p.part > $3)))::text"
							  " FROM (SELECT) one LEFT JOIN crm_purge.shard_requests s ON s.request_id = $1 AND s.placementid = $2",
							  6, argtypes, values, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the state of placement " INT64_FORMAT, placementid);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

typedef struct ShardWork
{
	Request    *r;
	int64		shardid;
	int64		placementid;
	int64		round;			/* the coordinator's round number (crm_purge.citus_rounds) */
	bool		moved;			/* the placement is not (or no longer) this node's */
	BatchWork	w;
} ShardWork;

static void check_round_fence(ShardWork *sw);

/*
 * shard_work: one batch on a placement, in a subtransaction of its own, so
 * that any error, a lock timeout included, is reported with its SQLSTATE.
 * The shard's metadata lock (as a write through the coordinator takes it)
 * keeps a shard move from copying while the batch deletes; then the shard
 * must be this node's in the metadata, and is named by Citus (long names
 * are hashed).  The state here is keyed by the coordinator's placement id,
 * which a move renews: a shard that comes back starts a new scan (worker
 * nodes' own placement ids do not follow moves).  The creator's filter
 * runs here unattended: a shard whose own policies apply to them stops the
 * request, and row security is off, so that none runs unnoticed.
 */
static void
shard_work(void *arg)
{
	ShardWork  *sw = arg;
	Request    *r = sw->r;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(sw->shardid), Int64GetDatum(sw->placementid)};
	Oid			relid;
	char	   *name;
	char	   *note = NULL;

	if (SPI_execute_with_args("SELECT pg_catalog.lock_shard_metadata(5, ARRAY[$1])", 1, argtypes, values,
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock shard " INT64_FORMAT, sw->shardid);
	if (SPI_execute_with_args("SELECT pg_catalog.shard_name(s.logicalrelid, s.shardid, false)"
							  " FROM pg_catalog.pg_dist_placement p JOIN pg_catalog.pg_dist_shard s ON s.shardid = p.shardid"
							  " WHERE p.shardid = $1 AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group)",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	if (SPI_processed == 0)
	{
		sw->moved = true;
		return;
	}
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(name)), RowExclusiveLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("shard %s of placement " INT64_FORMAT " is missing on this node", name, sw->placementid)));
	/* (a view the owner made under the shard's name holds no block: done at once, rows left) */
	if (get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("shard %s of placement " INT64_FORMAT " is not a table on this node", name, sw->placementid),
				 errhint("Give the shard its name back on that worker node.")));
	if (crm_purge_policies_would_run(relid, r->created_by))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("shard %s has row-level security: request " INT64_FORMAT " stops", name, r->id),
				 errdetail("Its policies would run with the rights of the request's creator in every batch."),
				 errhint("Disable row-level security on the table and its shards, or have its owner make the request.")));
	(void) set_config_option("row_security", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	r->relid = r->heap = r->part_table = relid;
	if (!r->scan_started)
	{
		start_request(r);
		if (SPI_execute_with_args("INSERT INTO crm_purge.shard_requests (request_id, placementid, shardid, scan, next_block, end_block, chunk_blocks)"
								  " VALUES ($1, $2, $3, $4, 0, $5, $6)", 6,
								  (Oid[]) {INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID, INT8OID},
								  (Datum[]) {Int64GetDatum(r->id), values[1], values[0],
									  CStringGetTextDatum(r->index_scan ? "index" : "tid"),
									  Int64GetDatum(r->end_block), Int64GetDatum(r->chunk_blocks)},
								  NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not start placement " INT64_FORMAT, sw->placementid);
	}
	sw->w.r = r;
	run_batch(&sw->w);
	advance_scan(r, sw->w.n, sw->w.scanned_to);
	if (sw->w.wrote_part)
	{
		Oid			ptypes[8] = {INT8OID, INT8OID, INT4OID, TEXTOID, INT8OID, INT8OID, TEXTOID, BYTEAOID};
		Datum		pvalues[8] = {Int64GetDatum(r->id), values[1], Int32GetDatum(r->parts + 1),
			sw->w.part.path ? CStringGetTextDatum(sw->w.part.path) : (Datum) 0, Int64GetDatum((int64) sw->w.n),
			Int64GetDatum(sw->w.part.bytes), CStringGetTextDatum(sw->w.part.sha256),
		PointerGetDatum(sw->w.part.data)};
		char		pnulls[8] = {' ', ' ', ' ', sw->w.part.path ? ' ' : 'n', ' ', ' ', ' ', sw->w.part.data ? ' ' : 'n'};

		if (SPI_execute_with_args("INSERT INTO crm_purge.shard_parts (request_id, placementid, part, path, rows, bytes, sha256, data)"
								  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
								  8, ptypes, pvalues, pnulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record export part");
		r->parts++;
	}
	/*
	 * the placement's last pass left rows the request takes (a trigger or
	 * rule of the shard kept them): named with the placement, in the same
	 * update that marks it done, so that every later reply names them too
	 * (a reply lost with its round said nothing: review rounds 76 and 77,
	 * C76-3, B77-1); the request fails
	 */
	if (sw->w.done && sw->w.left > 0)
	{
		r->left = sw->w.left;
		note = psprintf("shard " INT64_FORMAT ": %s", sw->shardid, left_note(r, r->passes));
	}
	if (SPI_execute_with_args("UPDATE crm_purge.shard_requests SET next_block = $3, chunk_blocks = $4, last_value = $5,"
							  " batches = batches + 1, parts = $6, rows_done = rows_done + $7, done = $8,"
							  " end_block = $9, scan_file = $10, passes = $11, left_note = $12"
							  " WHERE request_id = $1 AND placementid = $2", 12,
							  (Oid[]) {INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, INT4OID, INT8OID, BOOLOID, INT8OID, OIDOID, INT4OID, TEXTOID},
							  (Datum[]) {Int64GetDatum(r->id), values[1], Int64GetDatum(r->next_block),
								  Int64GetDatum(r->chunk_blocks), r->last_value, Int32GetDatum(r->parts),
								  Int64GetDatum((int64) sw->w.n), BoolGetDatum(sw->w.done),
								  Int64GetDatum(r->end_block), ObjectIdGetDatum(r->scan_file), Int32GetDatum(r->passes),
								  note ? CStringGetTextDatum(note) : (Datum) 0},
							  r->has_last_value ? (note ? NULL : "           n") : (note ? "    n       " : "    n      n"),
							  false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not save the position of placement " INT64_FORMAT, sw->placementid);
	check_round_fence(sw);
}

/*
 * check_round_fence: the batch's round is not fenced off on this node.  The
 * coordinator gives a round up at its step timeout while the batch may
 * still run here (the table owner's code can turn the connection check off
 * and catch the cancel); a legal hold made since, or the request's end,
 * raised the fence (crm_purge._citus_fence_rounds) and the batch must not
 * commit (review round 77, C77-2).  Deferred triggers fire first, so that
 * no owner code runs between this check and the commit; the fence's row is
 * locked shared to the commit, so a raise waits for the batch to end.
 */
static void
check_round_fence(ShardWork *sw)
{
	int64		floor;
	bool		isnull;

	if (SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not fire the deferred triggers");
	if (SPI_execute("SELECT floor FROM crm_purge.citus_round_fence FOR SHARE", false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read crm_purge.citus_round_fence");
	floor = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (sw->round < floor)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the batch of request " INT64_FORMAT " on placement " INT64_FORMAT " was given up: its round "
						INT64_FORMAT " is older than a legal hold or the request's end (" INT64_FORMAT ")",
						sw->r->id, sw->placementid, sw->round, floor),
				 errdetail("Nothing of the batch is kept; a later round reads the holds again.")));
}

/*
 * crm_purge_citus_raise_fence: crm_purge._citus_raise_fence(floor), on a
 * node: batches of rounds numbered below floor fail from now on (see
 * check_round_fence).  Waits for a batch that passed its check to end.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_raise_fence);
Datum
crm_purge_citus_raise_fence(PG_FUNCTION_ARGS)
{
	crm_purge_require_extension_owner("crm_purge._citus_raise_fence");
	SPI_connect();
	if (SPI_execute_with_args("UPDATE crm_purge.citus_round_fence SET floor = pg_catalog.int8larger(floor, $1)",
							  1, (Oid[]) {INT8OID}, (Datum[]) {PG_GETARG_DATUM(0)}, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		elog(ERROR, "could not raise crm_purge.citus_round_fence");
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * crm_purge_citus_shard_batch: crm_purge._citus_shard_batch(request_id,
 * shardid, placementid, work, known_parts, export, modified_column, filter,
 * cutoff, created_by, keep, rows, batch_rows, lock_timeout, step_timeout, round): on the node of
 * a shard placement, one batch of the request on it (shard_work), its
 * position and export part saved in this transaction.  keep is what the
 * table's legal holds keep (a plain condition).  Without work it only
 * reports (shard_state); a placement that is not this node's reports
 * "moved".  The batch's errors come back with their SQLSTATE, its work
 * rolled back.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_shard_batch);
Datum
crm_purge_citus_shard_batch(PG_FUNCTION_ARGS)
{
	int64		request_id;
	int64		placementid;
	bool		work;
	int32		known;
	Request		r;
	ShardWork	sw;
	ErrorData  *edata = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		keys[2];
	char	   *result;
	bool		isnull;
	int			saved_size = crm_purge_batch_size;
	int			saved_scale = crm_purge_batch_scale;
	int			parts_before;
	int			level;
	int			i;

	crm_purge_require_extension_owner("crm_purge._citus_shard_batch");
	for (i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i) && i != 7 && i != 10)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only filter and keep may be NULL")));
	request_id = PG_GETARG_INT64(0);
	placementid = PG_GETARG_INT64(2);
	work = PG_GETARG_BOOL(3);
	known = PG_GETARG_INT32(4);
	keys[0] = Int64GetDatum(request_id);
	keys[1] = Int64GetDatum(placementid);
	memset(&r, 0, sizeof(r));
	memset(&sw, 0, sizeof(sw));
	/* the coordinator's lock_timeout: a lock an application holds makes the round wait */
	level = NewGUCNestLevel();
	(void) set_config_option("lock_timeout", text_to_cstring(PG_GETARG_TEXT_PP(13)), PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* a batch the coordinator gave up on ends with its connection, not later */
	(void) set_config_option("client_connection_check_interval", "1000", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (!get_timeout_active(CLIENT_CONNECTION_CHECK_TIMEOUT))
		enable_timeout_after(CLIENT_CONNECTION_CHECK_TIMEOUT, 1000);
	SPI_connect();
	if (SPI_execute_with_args("SELECT scan, next_block, end_block, chunk_blocks, last_value, batches, parts, rows_done, done, scan_file,"
							  " passes FROM crm_purge.shard_requests WHERE request_id = $1 AND placementid = $2 FOR UPDATE",
							  2, argtypes, keys, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.shard_requests");
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		r.index_scan = strcmp(SPI_getvalue(t, desc, 1), "index") == 0;
		r.next_block = DatumGetInt64(SPI_getbinval(t, desc, 2, &isnull));
		r.end_block = DatumGetInt64(SPI_getbinval(t, desc, 3, &isnull));
		r.chunk_blocks = DatumGetInt64(SPI_getbinval(t, desc, 4, &isnull));
		r.last_value = SPI_getbinval(t, desc, 5, &isnull);
		r.has_last_value = !isnull;
		r.batches = DatumGetInt32(SPI_getbinval(t, desc, 6, &isnull));
		r.parts = DatumGetInt32(SPI_getbinval(t, desc, 7, &isnull));
		r.rows_done = DatumGetInt64(SPI_getbinval(t, desc, 8, &isnull));
		work = work && !DatumGetBool(SPI_getbinval(t, desc, 9, &isnull));
		r.scan_file = DatumGetObjectId(SPI_getbinval(t, desc, 10, &isnull));
		if (isnull)
			r.scan_file = InvalidOid;
		r.passes = DatumGetInt32(SPI_getbinval(t, desc, 11, &isnull));
		r.scan_started = true;
	}
	if (work)
	{
		r.id = request_id;
		r.on_shard = true;
		r.part_placement = placementid;
		r.export = PG_GETARG_BOOL(5);
		r.modified_column = NameStr(*PG_GETARG_NAME(6));
		r.filter = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));
		r.cutoff = PG_GETARG_DATUM(8);
		r.created_by = get_role_oid(NameStr(*PG_GETARG_NAME(9)), false);
		/* rows under a legal hold are kept: bound is pasted into both statements */
		r.bound = PG_ARGISNULL(10) ? NULL :
			psprintf("NOT coalesce((%s\n), false)", text_to_cstring(PG_GETARG_TEXT_PP(10)));
		r.rows = PG_GETARG_INT64(11);
		sw.r = &r;
		sw.shardid = PG_GETARG_INT64(1);
		sw.placementid = placementid;
		sw.round = PG_GETARG_INT64(15);
		PG_TRY();
		{
			/* the coordinator's batch size, not this node's */
			crm_purge_batch_size = Max(PG_GETARG_INT32(12), 1);
			crm_purge_batch_scale = 1;
			/* and its step_timeout: an owner's slow code on this node ends the batch */
			crm_purge_work_timeout = Max(PG_GETARG_INT32(14), 0);
			parts_before = r.parts;
			edata = crm_purge_in_subtransaction(shard_work, &sw);
			/* (a part written by a batch that then failed: no row of it was deleted) */
			if (edata != NULL && sw.w.wrote_part)
				crm_purge_export_remove_unrecorded(request_id, placementid, parts_before);
		}
		PG_FINALLY();
		{
			crm_purge_batch_size = saved_size;
			crm_purge_batch_scale = saved_scale;
			crm_purge_work_timeout = 0;
		}
		PG_END_TRY();
	}
	if (sw.moved && edata == NULL)
		result = "{\"moved\": true}";
	else
		result = shard_state(request_id, placementid, known, PG_GETARG_BOOL(3), edata ? edata->message : NULL,
							 edata ? unpack_sql_state(edata->sqlerrcode) : NULL);
	/* out of SPI's memory, which SPI_finish frees */
	result = strcpy(SPI_palloc(strlen(result) + 1), result);
	SPI_finish();
	AtEOXact_GUC(true, level);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/* start_queued_request: a queued request's scan chosen and saved, in its own subtransaction */
static void
start_queued_request(void *arg)
{
	Request    *r = arg;

	start_request(r);
	if (SPI_execute_with_args("SELECT crm_purge._request_status($1, 'in_progress')",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(r->id)}, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not start request " INT64_FORMAT, r->id);
	save_scan(r);
}

typedef struct NextHeap
{
	Request    *r;
	Oid			next;
} NextHeap;

/*
 * find_next_heap: next_heap() after the request's partition, and the
 * request moved on to it, in its own subtransaction (a partition of
 * another owner attached meanwhile failed the whole step: review round
 * 78, B78-1)
 */
static void
find_next_heap(void *arg)
{
	NextHeap   *nh = arg;

	for (;;)
	{
		nh->next = next_heap(nh->r, nh->r->heap);
		if (!OidIsValid(nh->next))
			break;
		/* locked, so that it is not dropped before the request names it; one dropped meanwhile is passed */
		LockRelationOid(nh->next, AccessShareLock);
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(nh->next)))
			break;
		UnlockRelationOid(nh->next, AccessShareLock);
	}
	set_partition(nh->r, nh->next);
}

/*
 * request_step: fn in a subtransaction; when it fails, r as it was before:
 * what fn counted or moved in r was rolled back with it (a failure after a
 * partition was dropped left r's batch count and partition ahead of the
 * catalog: review round 79, B79-2)
 */
static ErrorData *
request_step(void (*fn) (void *), void *arg, Request *r)
{
	Request		before = *r;
	ErrorData  *edata = crm_purge_in_subtransaction(fn, arg);

	if (edata != NULL)
		*r = before;
	return edata;
}

static bool request_batch(CrmPurgeTickCounts *counts);

/* crm_purge_request_batch: request_batch, the request it worked on known only while it runs */
bool
crm_purge_request_batch(CrmPurgeTickCounts *counts)
{
	bool		result;

	crm_purge_request_in_step = 0;
	result = request_batch(counts);
	/*
	 * (a later failure of the step's other work is not its request's, but
	 * one of its commit is: the worker blames crm_purge_request_of_step
	 * then; review round 80)
	 */
	crm_purge_request_of_step = crm_purge_request_in_step;
	crm_purge_request_in_step = 0;
	return result;
}

/*
 * request_batch: runs one batch of the oldest active request.
 * Returns false when no request is waiting.  A batch that fails is rolled
 * back (nothing deleted, no part recorded); a deadlock, serialization
 * failure or unavailable lock is tried again a few times, anything else marks
 * the request failed.
 */
static bool
request_batch(CrmPurgeTickCounts *counts)
{
	Request		r;
	TimestampTz started = GetCurrentTimestamp();
	BatchWork	work = {0};
	ErrorData  *edata;
	bool		done = false;
	uint64		n = 0;
	int64		scanned_to = 0;
	CrmPurgeExportPart part = {0};
	bool		wrote_part = false;
	StringInfo	outcome;

	memset(&r, 0, sizeof(r));
	if (!read_request(&r))
		return false;
	crm_purge_request_in_step = r.id;

	if (get_rel_relkind(r.relid) == '\0')
	{
		finish_request(&r, "failed", "the table no longer exists");
		counts->requests_failed++;
		return true;
	}
	if (crm_purge_citus_distributed(r.relid))
		return citus_request_round(&r, counts, started);
	if (get_rel_relkind(r.relid) == RELKIND_PARTITIONED_TABLE)
	{
		PartitionSteps ps = {&r, counts, started, STEP_ROWS};

		edata = request_step(run_partition_steps, &ps, &r);
		if (edata != NULL)
			return batch_failed(&r, edata, started, counts, false);
		if (ps.outcome != STEP_ROWS)
			return ps.outcome == STEP_DONE;
	}
	else
		r.heap = r.relid;
	if (r.queued)
	{
		/* (a lock on the table held past lock_timeout waits there: it made the worker exit, review round 75, A75-2) */
		edata = request_step(start_queued_request, &r, &r);
		if (edata != NULL)
			return batch_failed(&r, edata, started, counts, false);
	}

	work.r = &r;
	edata = request_step(run_batch, &work, &r);
	if (edata != NULL)
		return batch_failed(&r, edata, started, counts, true);
	n = work.n;
	done = work.done;
	scanned_to = work.scanned_to;
	part = work.part;
	wrote_part = work.wrote_part;

	if (wrote_part)
	{
		record_part(&r, r.parts + 1, InvalidOid, (int64) n, &part);
		r.parts++;
	}
	/* the parts of rows the cascade removed, and their counts */
	outcome = makeStringInfo();
	appendStringInfoString(outcome, "ok");
	{
		ListCell   *lc;

		foreach(lc, work.cascade)
		{
			CrmPurgeCascadeTable *t = lfirst(lc);

			if (t->rows == 0 || n == 0)
				continue;
			if (t->part > 0)
			{
				record_part(&r, t->part, t->relid, t->rows, &t->written);
				r.parts = Max(r.parts, t->part);
			}
			appendStringInfo(outcome, "; cascade %s: " INT64_FORMAT " rows", crm_purge_relname(t->relid), t->rows);
			crm_purge_record_history("request cascade", t->relid, t->rows, r.created_by, r.id, 0, 0);
		}
		if (work.kept > 0)
			appendStringInfo(outcome, "; kept " INT64_FORMAT " rows whose cascade reaches a row under a legal hold",
							 work.kept);
		if (work.missed > 0)
			appendStringInfo(outcome, "; " INT64_FORMAT " rows not deleted: a trigger or rule of the table kept them,"
							 " or they changed since they were picked", work.missed);
		if (work.again)
			appendStringInfo(outcome, "; %s" INT64_FORMAT " rows the request takes were left: scan %d starts",
							 work.left >= 1000 ? "at least " : "", work.left, r.passes);
		else if (work.left > 0)
		{
			r.left = work.left;
			appendStringInfo(outcome, "; %s", left_note(&r, r.passes));
		}
	}

	advance_scan(&r, n, scanned_to);
	if (r.index_scan && index_pick_stalled && n == 0)
	{
		stalled_extra = stalled_request == r.id ? stalled_extra + crm_purge_batch_rows() : crm_purge_batch_rows();
		stalled_request = r.id;
	}
	else if (r.index_scan && stalled_request == r.id && !index_pick_stalled)
		stalled_request = 0;

	{
		Oid			argtypes[10] = {INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, INT4OID, INT4OID, INT8OID, OIDOID, INT4OID};
		Datum		values[10];
		char		nulls[10] = {' ', ' ', ' ', ' ', r.has_last_value ? ' ' : 'n', ' ', ' ', ' ', OidIsValid(r.scan_file) ? ' ' : 'n', ' '};

		values[0] = Int64GetDatum(r.id);
		values[1] = Int64GetDatum((int64) n);
		values[2] = Int64GetDatum(r.next_block);
		values[3] = Int64GetDatum(r.chunk_blocks);
		values[4] = r.last_value;
		values[5] = Int32GetDatum(r.batches + 1);
		values[6] = Int32GetDatum(r.parts);
		values[7] = Int64GetDatum(r.end_block);
		values[8] = ObjectIdGetDatum(r.scan_file);
		values[9] = Int32GetDatum(r.passes);
		if (SPI_execute_with_args("UPDATE crm_purge.requests SET rows_done = rows_done + $2, next_block = $3,"
								  " chunk_blocks = $4, last_value = $5, batches = $6, parts = $7,"
								  " end_block = $8, scan_file = $9, passes = $10 WHERE id = $1",
								  10, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update request " INT64_FORMAT, r.id);
	}
	record_batch(&r, n, started, outcome->data);
	r.batches++;
	crm_purge_task_succeeded("request batch", r.relid);
	counts->request_rows += n;
	counts->batches++;

	if (done && r.heap != r.relid)
	{
		/* this partition is done: the next one, or the end (it reads the partitions: A75-2 again) */
		NextHeap	nh = {&r, InvalidOid};

		edata = request_step(find_next_heap, &nh, &r);
		if (edata != NULL)
			return batch_failed(&r, edata, started, counts, false);
		done = !OidIsValid(nh.next);
	}
	if (done)
	{
		/* (success: the rows left are named, not silently passed over) */
		finish_request(&r, "success", left_note(&r, r.heap != r.relid ? r.tree_passes : r.passes));
		counts->requests_finished++;
		/* ANALYZE follows in a step of its own (tick.c) */
	}
	return true;
}
