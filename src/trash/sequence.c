/*
 * sequence.c - sequence floors: a sequence owned by a column of a protected
 * or guarded table never hands out again a key that is in the trash or was
 * erased.  After setval(), ALTER SEQUENCE ... RESTART, ALTER TABLE ... ALTER
 * COLUMN ... RESTART and TRUNCATE ... RESTART IDENTITY (Django's loaddata,
 * sqlsequencereset and flush send these) such a sequence is raised to its
 * floor: the highest key of that column in the trash, or erased
 * (crm_purge.key_floors keeps erased keys as a number, never the row).
 *
 * setval() is a function, not a statement, and built-in functions bypass
 * the fmgr hook: the executor hook (statement.c) hands a finished statement
 * that calls it to crm_purge_sequences_after_query.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "crm_purge.h"


/*
 * sequence_floor: the floor of the column that owns seqid, or false when it
 * has none (not owned, not an integer column, nothing trashed or erased).
 */
static bool
sequence_floor(Oid seqid, Oid *relid, int64 *floor)
{
	int32		col;
	Oid			nsp = get_namespace_oid(CRM_PURGE_SCHEMA, true);
	Oid			floors;
	Oid			trashid;
	Oid			typid;
	char	   *colname;
	StringInfoData sql;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	CrmPurgeIdentity id;
	bool		found = false;
	bool		is_pk;

	if (!OidIsValid(nsp) || !OidIsValid(get_extension_oid("crm_purge", true)))
		return false;
	floors = get_relname_relid("key_floors", nsp);
	if (!OidIsValid(floors))
		return false;			/* a 1.0 database */
	if (!sequenceIsOwned(seqid, DEPENDENCY_AUTO, relid, &col) &&
		!sequenceIsOwned(seqid, DEPENDENCY_INTERNAL, relid, &col))
		return false;
	typid = get_atttype(*relid, (AttrNumber) col);
	if (typid != INT2OID && typid != INT4OID && typid != INT8OID)
		return false;
	colname = get_attname(*relid, (AttrNumber) col, false);
	trashid = crm_purge_trash_of(*relid);
	{
		Relation	rel = table_open(*relid, AccessShareLock);
		AttrNumber	pk[INDEX_MAX_KEYS];

		/* erased keys are kept for a one-column primary key */
		is_pk = crm_purge_primary_key(rel, pk, true) == 1 && pk[0] == col;
		table_close(rel, AccessShareLock);
	}

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT GREATEST(%s",
					 is_pk ? "(SELECT f.floor FROM crm_purge.key_floors f WHERE f.tbl = $1)" : "NULL::pg_catalog.int8");
	if (OidIsValid(trashid) && get_attnum(trashid, colname) != InvalidAttrNumber &&
		get_atttype(trashid, get_attnum(trashid, colname)) == typid)
		appendStringInfo(&sql, ", (SELECT pg_catalog.max(%s)::pg_catalog.int8 FROM %s)",
						 quote_identifier(colname), crm_purge_relname(trashid));
	appendStringInfoChar(&sql, ')');
	values[0] = ObjectIdGetDatum(*relid);

	SPI_connect();
	crm_purge_become_owner(&id);
	if (SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the key floor of %s", crm_purge_relname(*relid));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			*floor = DatumGetInt64(d);
			found = true;
		}
	}
	crm_purge_unbecome(&id);
	SPI_finish();
	return found;
}

/*
 * crm_purge_raise_sequence: raises seqid to its floor when its next value
 * would not be above it.  Runs as the caller, who just set the sequence.
 */
void
crm_purge_raise_sequence(Oid seqid)
{
	Oid			relid;
	int64		floor;
	int64		next;
	HeapTuple	tup;
	int64		increment;
	bool		is_called;
	int64		last;

	if (!sequence_floor(seqid, &relid, &floor))
		return;
	tup = SearchSysCache1(SEQRELID, ObjectIdGetDatum(seqid));
	if (!HeapTupleIsValid(tup))
		return;
	increment = ((Form_pg_sequence) GETSTRUCT(tup))->seqincrement;
	ReleaseSysCache(tup);
	if (increment <= 0)
		return;					/* a descending sequence never reaches old keys */

	/* the sequence's state as nextval would see it */
	{
		SPITupleTable *tt;
		bool		isnull;
		CrmPurgeIdentity id;

		SPI_connect();
		crm_purge_become_owner(&id);
		if (SPI_execute(psprintf("SELECT last_value, is_called FROM %s", crm_purge_relname(seqid)),
						true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read sequence %s", crm_purge_relname(seqid));
		tt = SPI_tuptable;
		last = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
		is_called = DatumGetBool(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull));
		crm_purge_unbecome(&id);
		SPI_finish();
	}
	next = is_called ? last + increment : last;
	if (next > floor)
		return;
	DirectFunctionCall3(setval3_oid, ObjectIdGetDatum(seqid), Int64GetDatum(floor), BoolGetDatum(true));
	ereport(NOTICE,
			(errmsg("crm_purge raised sequence %s to " INT64_FORMAT ": keys up to it of table %s are in its trash or were erased",
					crm_purge_relname(seqid), floor, crm_purge_relname(relid)),
			 errdetail("The sequence would have handed out " INT64_FORMAT " next, a key already used.", next),
			 errhint("crm_purge never hands out a trashed or erased key again; restores would conflict and tombstones would refuse the rows.")));
}

/* setval_walker: collects the setval() calls of an expression tree. */
static bool
setval_walker(Node *node, List **calls)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr) &&
		(((FuncExpr *) node)->funcid == F_SETVAL_REGCLASS_INT8 ||
		 ((FuncExpr *) node)->funcid == F_SETVAL_REGCLASS_INT8_BOOL))
		*calls = lappend(*calls, node);
	return expression_tree_walker(node, setval_walker, calls);
}

/* contains_param: does an expression use a parameter (of a prepared statement or function)? */
static bool
contains_param(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return true;
	return expression_tree_walker(node, contains_param, context);
}

/* plan_setvals: the setval() calls of a plan and its subplans. */
static void
plan_setvals(Plan *plan, List **calls)
{
	ListCell   *lc;

	if (plan == NULL)
		return;
	setval_walker((Node *) plan->targetlist, calls);
	setval_walker((Node *) plan->qual, calls);
	plan_setvals(plan->lefttree, calls);
	plan_setvals(plan->righttree, calls);
	if (IsA(plan, Append))
		foreach(lc, ((Append *) plan)->appendplans)
			plan_setvals(lfirst(lc), calls);
	else if (IsA(plan, SubqueryScan))
		plan_setvals(((SubqueryScan *) plan)->subplan, calls);
	else if (IsA(plan, ProjectSet) || IsA(plan, Result))
		setval_walker(IsA(plan, Result) ? ((Result *) plan)->resconstantqual : NULL, calls);
}

/*
 * all_floored_sequences: sequences owned by columns of protected tables, or
 * of tables with an erased-key floor: what an unknown setval() may have set.
 */
static List *
all_floored_sequences(void)
{
	List	   *tables = NIL;
	List	   *seqs = NIL;
	ListCell   *lc;
	CrmPurgeIdentity id;
	uint64		i;

	SPI_connect();
	crm_purge_become_owner(&id);
	if (SPI_execute("SELECT tbl::oid FROM crm_purge.protected_tables UNION SELECT tbl::oid FROM crm_purge.key_floors",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		tables = lappend_oid(tables, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull)));
	}
	crm_purge_unbecome(&id);
	SPI_finish();
	foreach(lc, tables)
		if (get_rel_relkind(lfirst_oid(lc)) != '\0')
			seqs = list_concat_unique_oid(seqs, getOwnedSequences(lfirst_oid(lc)));
	return seqs;
}

/*
 * crm_purge_sequences_after_query: after a statement that called setval():
 * its sequences are raised to their floors.  The sequence is the first
 * argument, evaluated again when it is free of the row (a constant, or
 * pg_get_serial_sequence('t', 'id') as Django sends); otherwise every
 * floored sequence is checked.
 */
void
crm_purge_sequences_after_query(QueryDesc *queryDesc)
{
	List	   *calls = NIL;
	List	   *seqs = NIL;
	bool		unknown = false;
	ListCell   *lc;
	const char *src = queryDesc->sourceText;

	/* cheap: only a statement whose text names setval can call it */
	if (src == NULL || queryDesc->plannedstmt == NULL ||
		(strstr(src, "setval") == NULL && strstr(src, "SETVAL") == NULL && strstr(src, "Setval") == NULL))
		return;
	if (!OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	plan_setvals(queryDesc->plannedstmt->planTree, &calls);
	foreach(lc, queryDesc->plannedstmt->subplans)
		plan_setvals(lfirst(lc), &calls);
	foreach(lc, calls)
	{
		Expr	   *arg = linitial(((FuncExpr *) lfirst(lc))->args);

		if (contain_var_clause((Node *) arg) || contain_agg_clause((Node *) arg) ||
			contain_subplans((Node *) arg) || contain_volatile_functions((Node *) arg) ||
			contains_param((Node *) arg, NULL))
			unknown = true;
		else
		{
			EState	   *estate = CreateExecutorState();
			ExprState  *state = ExecInitExpr(arg, NULL);
			bool		isnull;
			Datum		d = ExecEvalExprSwitchContext(state, GetPerTupleExprContext(estate), &isnull);

			if (!isnull)
				seqs = list_append_unique_oid(seqs, DatumGetObjectId(d));
			FreeExecutorState(estate);
		}
	}
	if (calls == NIL)
		return;
	/* a portal's ExecutorFinish may run after its snapshot is gone */
	PushActiveSnapshot(GetTransactionSnapshot());
	if (unknown)
		seqs = list_concat_unique_oid(seqs, all_floored_sequences());
	foreach(lc, seqs)
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_SEQUENCE)
			crm_purge_raise_sequence(lfirst_oid(lc));
	PopActiveSnapshot();
}

/*
 * crm_purge_sequences_after_utility: after ALTER SEQUENCE ... RESTART, ALTER
 * TABLE ... ALTER COLUMN ... RESTART and TRUNCATE ... RESTART IDENTITY.
 */
void
crm_purge_sequences_after_utility(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, AlterSeqStmt))
	{
		AlterSeqStmt *stmt = (AlterSeqStmt *) parsetree;
		Oid			seqid;

		foreach(lc, stmt->options)
			if (strcmp(((DefElem *) lfirst(lc))->defname, "restart") == 0)
				break;
		if (lc == NULL)
			return;
		seqid = RangeVarGetRelid(stmt->sequence, NoLock, true);
		if (OidIsValid(seqid))
			crm_purge_raise_sequence(seqid);
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		bool		restart = false;
		Oid			relid;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (cmd->subtype == AT_SetIdentity)
				restart = true;
		}
		if (!restart)
			return;
		relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		if (OidIsValid(relid))
			foreach(lc, getOwnedSequences(relid))
				crm_purge_raise_sequence(lfirst_oid(lc));
	}
	else if (IsA(parsetree, TruncateStmt) && ((TruncateStmt *) parsetree)->restart_seqs)
	{
		foreach(lc, ((TruncateStmt *) parsetree)->relations)
		{
			Oid			relid = RangeVarGetRelid(lfirst(lc), NoLock, true);
			ListCell   *s;

			if (OidIsValid(relid))
				foreach(s, getOwnedSequences(relid))
					crm_purge_raise_sequence(lfirst_oid(s));
		}
	}
}
