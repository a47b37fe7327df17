/*
 * guard_copy.c - COPY FROM into a guarded table, with COPY's multi-insert.
 *
 * The guard is a BEFORE ROW trigger, and any BEFORE ROW trigger makes COPY
 * insert row by row (one WAL record and one buffer lock per row): twice the
 * time of an unguarded COPY.  For a plain table whose only BEFORE ROW
 * trigger is the guard, the ProcessUtility hook runs COPY FROM here
 * instead: rows are read with COPY's own reader (BeginCopyFrom,
 * NextCopyFrom), checked against the tombstones as the trigger would, and
 * written in batches with table_multi_insert(), as COPY does for a table
 * without such triggers: indexes, constraints, stored generated columns and
 * AFTER ROW triggers (foreign keys) as in COPY.  Anything less plain
 * (partitions, WHERE, FREEZE, row-level security, transition tables, other
 * BEFORE ROW triggers, foreign tables, volatile defaults) takes PostgreSQL's
 * own path, and so does every COPY when another extension's ProcessUtility
 * hook runs inside ours (pg_stat_statements, pgaudit loaded before
 * crm_purge): they must see it.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_trigger.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "commands/progress.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "pgstat.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rowsecurity.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "crm_purge.h"

/* the same buffer limits as COPY FROM's multi-insert */
#define GUARD_COPY_TUPLES	1000
#define GUARD_COPY_BYTES	65535

/* guard_trigger_in: the guard trigger when it is the only BEFORE/INSTEAD ROW INSERT trigger that fires */
static Trigger *
guard_trigger_in(TriggerDesc *td)
{
	Trigger    *guard = NULL;
	int			i;

	if (td == NULL || td->trig_insert_instead_row || td->trig_insert_new_table)
		return NULL;
	for (i = 0; i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_BEFORE(t->tgtype) || !TRIGGER_FOR_INSERT(t->tgtype))
			continue;
		if (strcmp(t->tgname, "crm_purge_guard") != 0 || guard != NULL)
			return NULL;		/* another BEFORE ROW trigger: COPY's own path */
		/* fired as TriggerEnabled() would, under session_replication_role */
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA ?
			(t->tgenabled == TRIGGER_FIRES_ON_ORIGIN || t->tgenabled == TRIGGER_DISABLED) :
			(t->tgenabled == TRIGGER_FIRES_ON_REPLICA || t->tgenabled == TRIGGER_DISABLED))
			return NULL;
		guard = t;
	}
	if (guard != NULL)
	{
		char	   *fname = get_func_name(guard->tgfoid);

		/* by its function, not its name: anyone can name a trigger */
		if (fname == NULL || strcmp(fname, "guard_trigger") != 0 ||
			get_func_namespace(guard->tgfoid) != get_namespace_oid(CRM_PURGE_SCHEMA, true) ||
			guard->tgnargs < 1)
			return NULL;
	}
	return guard;
}

/*
 * volatile_defaults: does a column COPY fills from its default have a
 * volatile one (nextval aside)?  COPY then inserts row by row, so that the
 * default sees the rows before it; so must we: COPY's own path.
 */
static bool
volatile_defaults(Relation rel, List *attnums)
{
	TupleDesc	td = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);
		Node	   *def;

		if (att->attisdropped || att->attgenerated || list_member_int(attnums, att->attnum))
			continue;
		def = build_column_default(rel, att->attnum);
		if (def != NULL && contain_volatile_functions_not_nextval(def))
			return true;
	}
	return false;
}

/* has_option: is a COPY option given? */
static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	return false;
}

/*
 * flush: writes the buffered rows, then their index entries and AFTER ROW
 * trigger events, as COPY's multi-insert buffer does.
 */
static void
flush(CopyFromState cstate, EState *estate, ResultRelInfo *rri, TupleTableSlot **slots,
	  uint64 *linenos, int n, CommandId mycid, BulkInsertState bistate, uint64 *processed)
{
	MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	uint64		save_lineno = cstate->cur_lineno;
	int			i;

	/* an error names the row's line, not the line last read */
	cstate->line_buf_valid = false;
	table_multi_insert(rri->ri_RelationDesc, slots, n, mycid, 0, bistate);
	MemoryContextSwitchTo(old);
	for (i = 0; i < n; i++)
	{
		List	   *recheck = NIL;

		/* errors name the row's line */
		cstate->cur_lineno = linenos[i];
		if (rri->ri_NumIndices > 0)
		{
			old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
			recheck = ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL);
			MemoryContextSwitchTo(old);
		}
		if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_insert_after_row)
			ExecARInsertTriggers(estate, rri, slots[i], recheck, NULL);
		list_free(recheck);
		ExecClearTuple(slots[i]);
		ResetPerTupleExprContext(estate);
	}
	cstate->cur_lineno = save_lineno;
	*processed += n;
	pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, *processed);
}

/* guarded_copy_rows: CopyFrom() for a plain guarded table; returns the rows inserted. */
static uint64
guarded_copy_rows(CopyFromState cstate)
{
	Trigger    *guard;
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	Relation	rel = cstate->rel;
	ExprContext *econtext;
	TupleTableSlot *slots[GUARD_COPY_TUPLES];
	uint64		linenos[GUARD_COPY_TUPLES];
	int			nused = 0;
	Size		nbytes = 0;
	BulkInsertState bistate = GetBulkInsertState();
	CommandId	mycid = GetCurrentCommandId(true);
	uint64		processed = 0;
	MemoryContext oldcontext = CurrentMemoryContext;
	ErrorContextCallback errcallback;
	bool		check_constraints = rel->rd_att->constr != NULL;
	bool		generated = check_constraints && rel->rd_att->constr->has_generated_stored;
	int			i;

	memset(slots, 0, sizeof(slots));
	ExecInitRangeTable(estate, cstate->range_table);
	ExecInitResultRelation(estate, rri, 1);
	CheckValidResultRel(rri, CMD_INSERT);
	/* the statement's copy of the trigger: DDL in a default cannot free it */
	guard = guard_trigger_in(rri->ri_TrigDesc);
	if (guard == NULL)
		elog(ERROR, "the crm_purge guard of %s is gone", RelationGetRelationName(rel));
	ExecOpenIndices(rri, false);
	AfterTriggerBeginQuery();
	ExecBSInsertTriggers(estate, rri);
	econtext = GetPerTupleExprContext(estate);

	errcallback.callback = CopyFromErrorCallback;
	errcallback.arg = (void *) cstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (;;)
	{
		TupleTableSlot *slot;

		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(estate);
		if (slots[nused] == NULL)
			slots[nused] = table_slot_create(rel, NULL);
		slot = slots[nused];

		/* NextCopyFrom evaluates defaults: per-tuple memory */
		MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		ExecClearTuple(slot);
		if (!NextCopyFrom(cstate, econtext, slot->tts_values, slot->tts_isnull))
			break;
		ExecStoreVirtualTuple(slot);
		slot->tts_tableOid = RelationGetRelid(rel);
		MemoryContextSwitchTo(oldcontext);

		/* the buffered row outlives the per-tuple context */
		ExecMaterializeSlot(slot);
		/* the guard, where its BEFORE ROW trigger would run */
		if (!crm_purge_guard_keeps(rel, guard, ExecFetchSlotHeapTuple(slot, false, NULL)))
		{
			ExecClearTuple(slot);
			continue;
		}
		if (generated)
			ExecComputeStoredGenerated(rri, estate, slot, CMD_INSERT);
		if (check_constraints)
			ExecConstraints(rri, slot, estate);

		linenos[nused++] = cstate->cur_lineno;
		nbytes += cstate->line_buf.len;
		if (nused == GUARD_COPY_TUPLES || nbytes >= GUARD_COPY_BYTES)
		{
			flush(cstate, estate, rri, slots, linenos, nused, mycid, bistate, &processed);
			nused = 0;
			nbytes = 0;
		}
	}
	MemoryContextSwitchTo(oldcontext);
	if (nused > 0)
		flush(cstate, estate, rri, slots, linenos, nused, mycid, bistate, &processed);
	error_context_stack = errcallback.previous;

	FreeBulkInsertState(bistate);
	table_finish_bulk_insert(rel, 0);
	ExecASInsertTriggers(estate, rri, NULL);
	AfterTriggerEndQuery(estate);
	for (i = 0; i < GUARD_COPY_TUPLES; i++)
		if (slots[i] != NULL)
			ExecDropSingleTupleTableSlot(slots[i]);
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	return processed;
}

/*
 * crm_purge_guarded_copy: from the ProcessUtility hook, for COPY FROM.
 * Returns false when COPY's own path is to run it (not a plain guarded
 * table); otherwise ran it, with the checks DoCopy() makes, and set qc.
 */
bool
crm_purge_guarded_copy(CopyStmt *stmt, const char *queryString, QueryEnvironment *queryEnv,
					   QueryCompletion *qc)
{
	Relation	rel;
	Trigger    *guard;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	RangeTblEntry *rte;
	List	   *attnums;
	ListCell   *lc;
	CopyFromState cstate;
	uint64		processed;

	if (!stmt->is_from || stmt->relation == NULL || stmt->query != NULL || stmt->whereClause != NULL ||
		has_option(stmt->options, "freeze"))
		return false;
	rel = table_openrv(stmt->relation, RowExclusiveLock);
	guard = guard_trigger_in(rel->trigdesc);
	if (guard == NULL || rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition ||
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED ||
		volatile_defaults(rel, CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist)))
	{
		/* DoCopy opens it again, and checks all of it */
		table_close(rel, RowExclusiveLock);
		return false;
	}

	/* DoCopy()'s checks: who may read files or run programs, and write the table */
	if (stmt->filename != NULL)
	{
		if (stmt->is_program)
		{
			if (!has_privs_of_role(GetUserId(), ROLE_PG_EXECUTE_SERVER_PROGRAM))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("must be superuser or have privileges of the pg_execute_server_program role to COPY to or from an external program"),
						 errhint("Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.")));
		}
		else if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be superuser or have privileges of the pg_read_server_files role to COPY from a file"),
					 errhint("Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone.")));
	}
	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = queryString;
	pstate->p_queryEnv = queryEnv;
	nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	rte = nsitem->p_rte;
	rte->requiredPerms = ACL_INSERT;
	attnums = CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist);
	foreach(lc, attnums)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	ExecCheckRTPerms(pstate->p_rtable, true);
	if (XactReadOnly && !rel->rd_islocaltemp)
		PreventCommandIfReadOnly("COPY FROM");
	PreventCommandIfParallelMode("COPY FROM");

	cstate = BeginCopyFrom(pstate, rel, NULL, stmt->filename, stmt->is_program, NULL,
						   stmt->attlist, stmt->options);
	cstate->range_table = pstate->p_rtable;
	processed = guarded_copy_rows(cstate);
	EndCopyFrom(cstate);
	free_parsestate(pstate);
	table_close(rel, NoLock);
	if (qc)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return true;
}
