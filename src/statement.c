/*
 * statement.c - statement ids: which top-level statement is running, kept
 * by the executor and ProcessUtility hooks installed here.
 *
 * Every row trashed by one top-level statement (including ON DELETE CASCADE
 * and rows deleted inside functions it calls) shares one deletion_id.
 * Counting the way pg_stat_statements tracks nesting is exact where the
 * statement timestamp is not (a multi-statement query string shares one
 * timestamp).  The ProcessUtility hook also hands each utility statement to
 * utility.c first.  At the end of a top-level statement the guard reports
 * the rows it skipped.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/executor.h"
#include "tcop/utility.h"

#include "crm_purge.h"

static uint64 top_level_statement = 0;
static int	nesting_level = 0;
static int	merging = 0;		/* MERGE statements running, nested ones included */

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* cp_ExecutorStart: a statement started with nothing running around it is a new top-level one. */
static void
cp_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (nesting_level == 0)
	{
		top_level_statement++;
		crm_purge_guard_skips_reset();
		crm_purge_sequences_before(queryDesc->sourceText);
	}
	/* Citus: several DELETEs of one transaction block, one id each; the actor */
	if (IsTransactionBlock() && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) && !XactReadOnly &&
		!RecoveryInProgress() && crm_purge_citus_plan(queryDesc->plannedstmt) &&
		crm_purge_citus_plan_deletes(queryDesc->plannedstmt))
	{
		/* the SET it runs is part of this statement, not a new one */
		nesting_level++;
		PG_TRY();
		{
			crm_purge_citus_issue_deletion(top_level_statement);
		}
		PG_FINALLY();
		{
			nesting_level--;
		}
		PG_END_TRY();
	}
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * cp_ExecutorRun: what runs inside (functions, triggers) is nested; the level
 * is restored on error too.
 */
static void
cp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			   bool execute_once)
{
	bool		merge = queryDesc->operation == CMD_MERGE;

	nesting_level++;
	merging += merge;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		nesting_level--;
		merging -= merge;
	}
	PG_END_TRY();
}

/*
 * cp_ExecutorFinish: as cp_ExecutorRun; AFTER triggers, the trash trigger
 * among them, fire here.
 */
static void
cp_ExecutorFinish(QueryDesc *queryDesc)
{
	bool		merge = queryDesc->operation == CMD_MERGE;

	nesting_level++;
	merging += merge;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		nesting_level--;
		merging -= merge;
	}
	PG_END_TRY();
	if (nesting_level == 0)
	{
		crm_purge_sequences_after();
		crm_purge_guard_skips_report();
	}
}

/*
 * cp_ProcessUtility: utility.c's checks first, then the utility statement
 * counts as a top-level one when nothing runs around it, and what it runs
 * is nested.
 */
static void
cp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	crm_purge_before_utility(pstmt->utilityStmt);
	if (nesting_level == 0)
	{
		top_level_statement++;
		crm_purge_guard_skips_reset();
		crm_purge_sequences_before(queryString);
	}
	nesting_level++;
	PG_TRY();
	{
		/*
		 * COPY FROM into a guarded table keeps COPY's multi-insert
		 * (guard_copy.c), unless other hooks below ours must see it
		 */
		if (IsA(pstmt->utilityStmt, CopyStmt) && prev_ProcessUtility == NULL &&
			crm_purge_guarded_copy((CopyStmt *) pstmt->utilityStmt, queryString, queryEnv, qc))
			;
		else if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
	crm_purge_sequences_after_utility(pstmt->utilityStmt);
	/* COPY FROM runs no executor hooks */
	if (nesting_level == 0)
	{
		crm_purge_sequences_after();
		crm_purge_guard_skips_report();
	}
}

/*
 * crm_purge_top_level_statement: the id (a per-backend counter) of the running
 * top-level statement.
 */
uint64
crm_purge_top_level_statement(void)
{
	return top_level_statement;
}

/*
 * crm_purge_merge_running: is a MERGE running (its rows queued or its
 * AFTER triggers firing), or a statement inside one?
 */
bool
crm_purge_merge_running(void)
{
	return merging > 0;
}

/* crm_purge_statement_hooks_init: installs the executor and utility hooks (from _PG_init). */
void
crm_purge_statement_hooks_init(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = cp_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = cp_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = cp_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = cp_ProcessUtility;
}
