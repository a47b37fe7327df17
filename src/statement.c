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
#include "access/tableam.h"
#include "access/table.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"

#include "optimizer/plancat.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"

#include "crm_purge.h"

static uint64 top_level_statement = 0;
static int	nesting_level = 0;
static int	attaching = 0;			/* ALTER TABLE ... ATTACH PARTITION running */
static char *top_level_command = NULL;	/* in TopMemoryContext */

/* crm_purge_nesting_level: how deep in planning and running statements this runs (0: a top-level statement) */
int
crm_purge_nesting_level(void)
{
	return nesting_level;
}

/*
 * crm_purge_top_level_metadata_command: the function the running top-level
 * statement calls if it has the shape of Citus's metadata commands
 * (crm_purge_citus_metadata_command), else NULL
 */
const char *
crm_purge_top_level_metadata_command(void)
{
	return top_level_command;
}
static int	merging = 0;		/* MERGE statements running, nested ones included */

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static planner_hook_type prev_planner = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * Citus: the role a statement runs as while crm_purge.citus_run_as is
 * handed out (see citus.c): on a worker node, every top-level statement of
 * the extension owner's connection that changes anything but the extension
 * owner's tables, planned and executed as that role; on the node that
 * handed it out, the planning of every statement (the owner's index
 * expressions and constraints are evaluated while planning).  Worked out
 * again at each step: nothing is remembered that an aborted
 * subtransaction could take away.
 */
/*
 * run_as_role: the role a top-level statement runs as on a worker node,
 * InvalidOid when none: the one handed out (crm_purge_citus_run_as_role),
 * unless the statement is crm_purge's removal of trash rows: as sent (no
 * rule's action), changing relations (changed not NIL), and every relation
 * it names (rels) the extension owner's, in crm_trash or crm_purge.
 */
static Oid
run_as_role(bool original, List *changed, List *rels)
{
	Oid			role;
	Oid			owner;
	ListCell   *lc;
	bool		exempt = original && changed != NIL;

	if (nesting_level > 0)
		return InvalidOid;
	role = crm_purge_citus_run_as_role();
	if (!OidIsValid(role))
		return InvalidOid;
	owner = crm_purge_extension_owner();
	/* (crm_purge's own tables: a table of the extension owner's elsewhere is an application's, its code too) */
	foreach(lc, rels)
	{
		char	   *nsp = get_namespace_name(get_rel_namespace(lfirst_oid(lc)));

		if (crm_purge_rel_owner(lfirst_oid(lc)) != owner || nsp == NULL ||
			(strcmp(nsp, CRM_TRASH_SCHEMA) != 0 && strcmp(nsp, CRM_PURGE_SCHEMA) != 0))
			exempt = false;
	}
	if (exempt)
		return InvalidOid;

	/*
	 * A shard written as its owner: a third role's code made on the shard
	 * itself (a trigger, by a role with TRIGGER on the table) is refused here,
	 * as the coordinator refuses it on the table
	 */
	foreach(lc, changed)
	{
		char	   *nsp = get_namespace_name(get_rel_namespace(lfirst_oid(lc)));

		if (nsp != NULL && strcmp(nsp, CRM_TRASH_SCHEMA) != 0 && strcmp(nsp, CRM_PURGE_SCHEMA) != 0 &&
			crm_purge_rel_owner(lfirst_oid(lc)) == role &&
			OidIsValid(crm_purge_citus_shard_logical(lfirst_oid(lc))))
		{
			crm_purge_refuse_shard_rules(lfirst_oid(lc));
			crm_purge_refuse_foreign_code(lfirst_oid(lc), ACL_DELETE);
		}
	}
	return role;
}

/* run_as_active: is crm_purge.citus_run_as set, and this a top-level statement? */
static bool
run_as_active(void)
{
	return nesting_level == 0 && crm_purge_citus_run_as != NULL && crm_purge_citus_run_as[0] != '\0';
}

/*
 * Citus copies a shard (a move, copy or split with block_writes) as the
 * superuser who asked: on the source node worker_copy_table_to_node or
 * worker_split_copy reads it by "SELECT ... FROM shard", and the target
 * node takes the rows by "COPY shard FROM STDIN" in Citus's session.  Both
 * ran the owner's code as the superuser: index expressions folded while
 * planning, a view the owner made of its shard, CHECK constraints and
 * domains.  They run as the owner of what they read or write (one owner,
 * or an error), restricted.
 */
static bool
in_shard_copy(void)
{
	/* (read once per top-level statement: a long one runs many nested ones) */
	static uint64 checked_statement = 0;
	static bool copies = false;

	if (nesting_level == 0 || debug_query_string == NULL)
		return false;
	if (checked_statement != top_level_statement)
	{
		copies = strstr(debug_query_string, "worker_copy_table_to_node") != NULL ||
			strstr(debug_query_string, "worker_split_copy") != NULL;
		checked_statement = top_level_statement;
	}
	return copies && superuser();
}

/* shard_copy_role: the one owner of rels that is not superuser-like (InvalidOid: none) */
static Oid
shard_copy_role(List *rels)
{
	ListCell   *lc;
	Oid			owner = InvalidOid;

	foreach(lc, rels)
	{
		Oid			o = crm_purge_rel_owner(lfirst_oid(lc));

		if (crm_purge_superuser_like(o))
			continue;
		if (OidIsValid(owner) && owner != o)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot run Citus's statement on shards of two owners, %s and %s, as their owner",
							crm_purge_role_name(owner), crm_purge_role_name(o)),
					 errhint("Run it on each owner's tables separately.")));
		owner = o;
	}
	return owner;
}

/* local_rows_left: has the heap of relid (here, not through Citus) a row that is not dead? */
static bool
local_rows_left(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	/* (the newest: rows committed while the statement waited for its locks count) */
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = table_scan_getnextslot(scan, ForwardScanDirection, slot);

	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * unknown_role_table: is relid, on a worker node, a role's table the node
 * does not know as a Citus table (a shard whose metadata or shell its
 * owner dropped there)?  A superuser's statement over it runs as the owner.
 */
static bool
unknown_role_table(Oid relid)
{
	return crm_purge_citus_group() > 0 && !crm_purge_citus_distributed(relid) &&
		!crm_purge_superuser_like(crm_purge_rel_owner(relid));
}

/* tree_rows_left: local_rows_left of relid or of a leaf partition of it */
static bool
tree_rows_left(Oid relid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION && local_rows_left(lfirst_oid(lc)))
			return true;
	return false;
}

/* statement_run_as: run_as_role() of an executor's statement, or the shard copy's role */
static Oid
statement_run_as(QueryDesc *queryDesc)
{
	PlannedStmt *ps = queryDesc->plannedstmt;
	List	   *rels = NIL;
	List	   *changed = NIL;
	ListCell   *lc;
	bool		run_as = run_as_active();

	if (!run_as && !in_shard_copy())
		return InvalidOid;
	/* the flattened range table: every relation of its subqueries and rules too */
	foreach(lc, ps->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_RELATION)
			rels = lappend_oid(rels, rte->relid);
	}
	if (!run_as)
		return shard_copy_role(rels);
	/* the tables it writes (resultRelations are range table indexes) */
	foreach(lc, ps->resultRelations)
		changed = lappend_oid(changed, rt_fetch(lfirst_int(lc), ps->rtable)->relid);
	/*
	 * and those it was written for: a DO INSTEAD rule's action writes
	 * another table, the rewritten one keeps its write permissions (a rule
	 * on a shard must be seen: review round 44, C44-2)
	 */
	foreach(lc, ps->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_RELATION && (rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) != 0)
			changed = list_append_unique_oid(changed, rte->relid);
	}
	/* a rule's DO ALSO action sets no tag */
	return run_as_role(ps->canSetTag, changed, rels);
}

/* relations_walker: every relation a query names, at any depth, into *context (a List **) */
static bool
relations_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			*(List **) context = lappend_oid(*(List **) context, rte->relid);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, relations_walker, context, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, relations_walker, context);
}

/*
 * run_as_enter: as role, restricted, search_path pinned, settings changed
 * inside taken back after (crm_purge_become).  To execute, every constraint
 * is checked at once: a deferred trigger would fire at commit as the
 * extension owner (a restricted operation refuses to queue one).
 */
static void
run_as_enter(Oid role, bool executing, CrmPurgeIdentity *save)
{
	crm_purge_become(role, save);
	if (executing)
	{
		ConstraintsSetStmt *immediate = makeNode(ConstraintsSetStmt);

		immediate->constraints = NIL;
		immediate->deferred = false;
		AfterTriggerSetState(immediate);
	}
}

/*
 * cp_get_relation_info: a foreign table's remote estimate connects while
 * planning, as the current user: refused on another role's behalf for
 * every relation the planner builds, the partitions it expands and the
 * relations of the SQL functions it inlines too (a foreign partition was
 * planned, its remote session acting as the admin, and a cached plan
 * pruned to a local partition then ran unrefused).
 */
static get_relation_info_hook_type prev_get_relation_info = NULL;

static void
cp_get_relation_info(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	if (rel->fdwroutine != NULL)
		crm_purge_refuse_foreign_tables(list_make1_oid(relid));
	if (prev_get_relation_info)
		prev_get_relation_info(root, relid, inhparent, rel);
}

/* cp_planner: planned as the role it runs as; what runs while planning is nested */
static PlannedStmt *
cp_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	PlannedStmt *result;
	Oid			role = crm_purge_citus_planning_role();
	CrmPurgeIdentity save;

	crm_purge_citus_refuse_reshard(parse);
	if ((parse->commandType != CMD_SELECT || parse->hasModifyingCTE) && crm_purge_superuser_moving_rows())
	{
		List	   *rels = NIL;

		(void) relations_walker((Node *) parse, &rels);
		crm_purge_refuse_superuser_row_move(rels, true);
	}
	if (!OidIsValid(role) && in_shard_copy())
	{
		List	   *rels = NIL;

		(void) relations_walker((Node *) parse, &rels);
		role = shard_copy_role(rels);
	}
	if (!OidIsValid(role) && run_as_active())
	{
		List	   *rels = NIL;

		(void) relations_walker((Node *) parse, &rels);
		role = run_as_role(parse->querySource == QSRC_ORIGINAL,
						   parse->resultRelation > 0 || parse->hasModifyingCTE ? list_make1_int(1) : NIL, rels);
	}
	if (OidIsValid(role))
		run_as_enter(role, false, &save);
	nesting_level++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
	if (OidIsValid(role))
		crm_purge_unbecome(&save);
	return result;
}

/* cp_ExecutorStart: a statement started with nothing running around it is a new top-level one. */
static void
cp_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	crm_purge_refuse_nested_distributed(queryDesc->plannedstmt, queryDesc->sourceText, nesting_level);
	crm_purge_citus_roles_by_name(queryDesc);
	{
		List	   *rels = NIL;
		ListCell   *lc;

		List	   *all = NIL;
		bool		moving = crm_purge_superuser_moving_rows();

		foreach(lc, queryDesc->plannedstmt->rtable)
		{
			if (lfirst_node(RangeTblEntry, lc)->rtekind == RTE_RELATION &&
				lfirst_node(RangeTblEntry, lc)->relkind == RELKIND_FOREIGN_TABLE)
				rels = lappend_oid(rels, lfirst_node(RangeTblEntry, lc)->relid);
			if (moving && lfirst_node(RangeTblEntry, lc)->rtekind == RTE_RELATION)
				all = lappend_oid(all, lfirst_node(RangeTblEntry, lc)->relid);
		}
		crm_purge_refuse_foreign_tables(rels);
		crm_purge_refuse_swallowing_move(queryDesc->plannedstmt);
		crm_purge_refuse_superuser_row_move(all, queryDesc->plannedstmt->commandType != CMD_SELECT ||
											queryDesc->plannedstmt->hasModifyingCTE);
	}
	if (nesting_level == 0)
	{
		top_level_statement++;
		crm_purge_guard_skips_reset();
		crm_purge_sequences_before(queryDesc->sourceText);
		if (top_level_command != NULL)
			pfree(top_level_command);
		top_level_command = NULL;
		if (queryDesc->plannedstmt->commandType == CMD_SELECT && crm_purge_citus_present())
		{
			char	   *command = crm_purge_citus_metadata_command(queryDesc->sourceText,
																   queryDesc->plannedstmt->stmt_location,
																   queryDesc->plannedstmt->stmt_len);

			if (command != NULL)
				top_level_command = MemoryContextStrdup(TopMemoryContext, command);
		}
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
	{
		Oid			role = statement_run_as(queryDesc);
		CrmPurgeIdentity save;
		Oid			prev_code = InvalidOid;

		if (OidIsValid(role))
		{
			run_as_enter(role, true, &save);
			prev_code = crm_purge_code_of_only(role);
		}
		/* what runs while it starts (crm_purge's own lookups) is nested */
		nesting_level++;
		PG_TRY();
		{
			/* (as the role it runs as: a statement Citus runs as a shard's owner reads as the owner) */
			crm_purge_citus_refuse_foreign_domains(queryDesc->plannedstmt);
			if (prev_ExecutorStart)
				prev_ExecutorStart(queryDesc, eflags);
			else
				standard_ExecutorStart(queryDesc, eflags);
		}
		PG_FINALLY();
		{
			nesting_level--;
			if (OidIsValid(role))
				(void) crm_purge_code_of_only(prev_code);
		}
		PG_END_TRY();
		if (OidIsValid(role))
			crm_purge_unbecome(&save);
	}
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

	Oid			role = statement_run_as(queryDesc);
	CrmPurgeIdentity save;
	Oid			prev_code = InvalidOid;

	if (OidIsValid(role))
	{
		run_as_enter(role, true, &save);
		prev_code = crm_purge_code_of_only(role);
	}
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
		if (OidIsValid(role))
			(void) crm_purge_code_of_only(prev_code);
		merging -= merge;
	}
	PG_END_TRY();
	if (OidIsValid(role))
		crm_purge_unbecome(&save);
}

/*
 * cp_ExecutorFinish: as cp_ExecutorRun; AFTER triggers, the trash trigger
 * among them, fire here.
 */
static void
cp_ExecutorFinish(QueryDesc *queryDesc)
{
	bool		merge = queryDesc->operation == CMD_MERGE;

	Oid			role = statement_run_as(queryDesc);
	CrmPurgeIdentity save;
	Oid			prev_code = InvalidOid;

	if (OidIsValid(role))
	{
		run_as_enter(role, true, &save);
		prev_code = crm_purge_code_of_only(role);
	}
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
		if (OidIsValid(role))
			(void) crm_purge_code_of_only(prev_code);
		merging -= merge;
	}
	PG_END_TRY();
	if (OidIsValid(role))
		crm_purge_unbecome(&save);
	if (nesting_level == 0)
	{
		crm_purge_sequences_after();
		crm_purge_guard_skips_report();
	}
}

/* cp_ExecutorEnd: the end of a statement that ran as another role, as that role too */
static void
cp_ExecutorEnd(QueryDesc *queryDesc)
{
	Oid			role = statement_run_as(queryDesc);
	CrmPurgeIdentity save;

	if (OidIsValid(role))
		run_as_enter(role, true, &save);
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorEnd)
			prev_ExecutorEnd(queryDesc);
		else
			standard_ExecutorEnd(queryDesc);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
	if (OidIsValid(role))
		crm_purge_unbecome(&save);
}

/*
 * crm_purge_alter_reads_rows: may an ALTER TABLE read the table's rows or
 * check its expressions?  Not a change of owner, trigger switches, storage
 * settings.
 */
bool
crm_purge_alter_reads_rows(AlterTableStmt *alter)
{
	ListCell   *lc;
	bool		checks = false;

	foreach(lc, alter->cmds)
	{
		AlterTableType t = lfirst_node(AlterTableCmd, lc)->subtype;

		if (t == AT_ChangeOwner)
			return false;
		checks |= !(t == AT_EnableTrig || t == AT_EnableAlwaysTrig || t == AT_EnableReplicaTrig ||
					t == AT_DisableTrig || t == AT_EnableTrigAll || t == AT_DisableTrigAll ||
					t == AT_EnableTrigUser || t == AT_DisableTrigUser || t == AT_SetTableSpace ||
					t == AT_SetRelOptions || t == AT_ResetRelOptions || t == AT_ReplaceRelOptions ||
					t == AT_ReplicaIdentity || t == AT_ClusterOn || t == AT_DropCluster ||
					t == AT_SetStatistics || t == AT_SetStorage || t == AT_SetCompression ||
					t == AT_SetOptions || t == AT_ResetOptions);
	}
	return checks;
}

/*
 * attach_of_one_owner: Citus's metadata sync attaches a role's partition to
 * its parent over a superuser connection, and PostgreSQL folds the owner's
 * partition key and CHECKs there (a role's IMMUTABLE function).  An ALTER
 * TABLE whose only subcommand attaches a partition of the same owner as
 * relid, a role, in a Citus session: that owner (run as it, restricted), or
 * InvalidOid (review round 51, C51-2, C51-3b).
 */
static Oid
attach_of_one_owner(AlterTableStmt *alter, Oid relid)
{
	AlterTableCmd *cmd;
	Oid			part;
	Oid			owner;

	if (list_length(alter->cmds) != 1 || alter->objtype != OBJECT_TABLE || !crm_purge_citus_internal_session())
		return InvalidOid;
	cmd = linitial_node(AlterTableCmd, alter->cmds);
	if (cmd->subtype != AT_AttachPartition || !IsA(cmd->def, PartitionCmd))
		return InvalidOid;
	part = RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true);
	owner = crm_purge_rel_owner(relid);
	if (!OidIsValid(part) || crm_purge_rel_owner(part) != owner || crm_purge_superuser_like(owner))
		return InvalidOid;
	return owner;
}

/*
 * utility_run_as: the role a top-level COPY runs as (Citus copies rows and
 * intermediate results to the worker nodes with COPY), or a Citus shard's
 * DDL (*keeps_path: with the session's search_path), or InvalidOid.
 */
static Oid
utility_run_as(Node *stmt, bool *keeps_path)
{
	CopyStmt   *copy;
	List	   *changed = NIL;

	/*
	 * DDL on a shard of a role's table, by a superuser: Citus's (a
	 * superuser's column change, a split re-adding foreign keys and
	 * attaching partitions), sent to a node or run in the superuser's own
	 * session when the node holds shards (local execution).  It checks the
	 * owner's constraints and partition keys over the shard's rows, its
	 * index code folded while validating: as the owner, restricted.  Only
	 * what reads no row stays the superuser's (a change of owner, trigger
	 * switches, storage settings).
	 */
	if (IsA(stmt, AlterTableStmt) && superuser())
	{
		AlterTableStmt *alter = (AlterTableStmt *) stmt;
		bool		checks = crm_purge_alter_reads_rows(alter);
		Oid			relid;

		relid = alter->relation ? RangeVarGetRelid(alter->relation, NoLock, true) : InvalidOid;
		if (checks && OidIsValid(relid) && OidIsValid(attach_of_one_owner(alter, relid)))
		{
			*keeps_path = true;
			return attach_of_one_owner(alter, relid);
		}
		/*
		 * a role's distributed table on the coordinator whose rows from
		 * before it was distributed are still there (Citus leaves them
		 * until truncate_local_data_after_distributing_table): the rewrite
		 * would check the owner's constraints over them as the superuser
		 * (review round 60, C60-4); a partitioned one's are its leaves'
		 * (review round 68, C68-2)
		 */
		if (checks && OidIsValid(relid) && crm_purge_citus_group() == 0 &&
			(get_rel_relkind(relid) == RELKIND_RELATION || get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE) &&
			crm_purge_citus_distributed(relid) &&
			!crm_purge_superuser_like(crm_purge_rel_owner(relid)) &&
			/*
			 * (under the statement's own lock first: a partition with rows
			 * the owner attached in a transaction still open was not seen,
			 * the ALTER waited for it and checked them: review round 69,
			 * C69-1)
			 */
			(find_all_inheritors(relid, AlterTableGetLockLevel(alter->cmds), NULL), tree_rows_left(relid)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot change distributed table %s as a superuser: its table on the coordinator still holds the rows it had before it was distributed",
							crm_purge_relname(relid)),
					 errdetail("Checking them would run its owner's constraints as the superuser."),
					 errhint("Remove them first: SELECT truncate_local_data_after_distributing_table('%s').",
							 crm_purge_relname(relid))));
		/* (a shard's, partitioned too: a worker node's shell table has no rows to check) */
		if (!checks || !OidIsValid(relid) ||
			(get_rel_relkind(relid) != RELKIND_RELATION && get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE))
			return InvalidOid;
		/*
		 * on a worker node, a role's table with rows below a Citus table
		 * or shard it knows (an inheritance child its owner made there):
		 * the statement reaches it, and would check the owner's
		 * constraints over its rows as the superuser (review round 69,
		 * C69-2)
		 */
		if (crm_purge_citus_group() > 0 && !unknown_role_table(relid))
		{
			ListCell   *lc;

			foreach(lc, find_all_inheritors(relid, AlterTableGetLockLevel(alter->cmds), NULL))
			{
				Oid			part = lfirst_oid(lc);

				if (part != relid && unknown_role_table(part) && !crm_purge_citus_known_shard(part) &&
					get_rel_relkind(part) == RELKIND_RELATION && local_rows_left(part))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("cannot change table %s as a superuser on this Citus worker node: table %s of role %s below it is not a Citus table and has rows",
									crm_purge_relname(relid), crm_purge_relname(part),
									crm_purge_role_name(crm_purge_rel_owner(part))),
							 errdetail("Checking them would run its owner's constraints as the superuser."),
							 errhint("Remove it from below the table first (ALTER TABLE %s NO INHERIT %s), as a superuser on this node.",
									 crm_purge_relname(part), crm_purge_relname(relid))));
			}
		}
		if (OidIsValid(crm_purge_citus_shard_logical(relid)))
		{
			*keeps_path = true;
			return shard_copy_role(list_make1_oid(relid));
		}
		/*
		 * a role's table with rows that a worker node does not know as a
		 * Citus table or shard (a shard whose metadata its owner dropped
		 * there: review round 61, C61-2): as its owner too.  (Not a shell
		 * table Citus makes before its metadata while it activates a node:
		 * it has no rows.)
		 */
		/* (a partitioned table's rows are its leaves': it has no heap to scan, review round 67, C67-1) */
		if (unknown_role_table(relid) && tree_rows_left(relid))
		{
			*keeps_path = true;
			return crm_purge_rel_owner(relid);
		}
		return InvalidOid;
	}

	/*
	 * A TRUNCATE of a role's shards, by a superuser (crm_purge lets only
	 * superusers truncate a protected distributed table): the shard's
	 * TRUNCATE triggers, which its owner can make on the shard itself, run
	 * as the owner, restricted.
	 */
	if (IsA(stmt, TruncateStmt) && superuser())
	{
		ListCell   *lc;
		List	   *shards = NIL;

		foreach(lc, ((TruncateStmt *) stmt)->relations)
		{
			Oid			relid = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);

			if (OidIsValid(relid) && OidIsValid(crm_purge_citus_shard_logical(relid)))
				shards = lappend_oid(shards, relid);
			/*
			 * a role's table a worker node does not know as a Citus table (a
			 * shard whose shell its owner dropped there: review round 63,
			 * C63-1): its TRUNCATE triggers run as its owner too
			 */
			else if (OidIsValid(relid) && unknown_role_table(relid))
				shards = lappend_oid(shards, relid);
		}
		if (shards == NIL)
			return InvalidOid;
		*keeps_path = true;
		return shard_copy_role(shards);
	}
	if (!IsA(stmt, CopyStmt))
		return InvalidOid;
	copy = (CopyStmt *) stmt;
	if (copy->is_from && copy->relation != NULL)
	{
		Oid			relid = RangeVarGetRelid(copy->relation, NoLock, true);

		if (OidIsValid(relid))
		{
			changed = list_make1_oid(relid);
			crm_purge_citus_refuse_trash_code(relid);
		}
	}
	/* a shard's rows arriving in Citus's session from a superuser's copy (in_shard_copy) */
	if (changed != NIL && nesting_level == 0 && crm_purge_citus_internal_session() && superuser())
		return shard_copy_role(changed);
	if (!run_as_active())
		return InvalidOid;
	return run_as_role(true, changed, changed);
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
	Oid			role;
	bool		keeps_path = false;
	CrmPurgeIdentity save;
	int			attaching_now;

	if (IsA(pstmt->utilityStmt, VariableSetStmt))
	{
		VariableSetStmt *own_path = crm_purge_citus_foreign_temp_path((VariableSetStmt *) pstmt->utilityStmt);

		if (own_path != NULL)
		{
			PlannedStmt *copy = makeNode(PlannedStmt);

			memcpy(copy, pstmt, sizeof(PlannedStmt));
			copy->utilityStmt = (Node *) own_path;
			pstmt = copy;
		}
		crm_purge_citus_before_set((VariableSetStmt *) pstmt->utilityStmt, nesting_level == 0);
	}
	/*
	 * the statement's tables by name, fixed now: the owner's code it runs
	 * (a partition bound, a default) could move search_path, and crm_purge's
	 * checks after it (the DDL event trigger, crm_purge_after_utility) and
	 * PostgreSQL's own late lookups (ATTACH's partition) found another
	 * table, or none (review round 59, A59-1..4, B59-2)
	 */
	{
		Node	   *pinned = crm_purge_pin_names(pstmt->utilityStmt);

		if (pinned != NULL)
		{
			PlannedStmt *copy = makeNode(PlannedStmt);

			memcpy(copy, pstmt, sizeof(PlannedStmt));
			copy->utilityStmt = pinned;
			pstmt = copy;
			readOnlyTree = false;
		}
	}
	/* (Citus sends the metadata of the tables it makes or drops over the role's connections) */
	if (IsA(pstmt->utilityStmt, CreateStmt) || IsA(pstmt->utilityStmt, AlterTableStmt) ||
		IsA(pstmt->utilityStmt, DropStmt) || IsA(pstmt->utilityStmt, RenameStmt) ||
		IsA(pstmt->utilityStmt, AlterObjectSchemaStmt) || IsA(pstmt->utilityStmt, CreateSchemaStmt) ||
		IsA(pstmt->utilityStmt, CreateTableAsStmt) || IsA(pstmt->utilityStmt, DropOwnedStmt))
		crm_purge_citus_hand_out_metadata();
	role = utility_run_as(pstmt->utilityStmt, &keeps_path);
	crm_purge_refuse_attach_tricks(pstmt->utilityStmt, attaching > 0);
	crm_purge_before_utility(pstmt->utilityStmt, context);
	if (OidIsValid(role) && keeps_path)
		crm_purge_become_with(role, CRM_PURGE_KEEP_PATH, &save);
	else if (OidIsValid(role))
		run_as_enter(role, true, &save);
	if (nesting_level == 0)
	{
		top_level_statement++;
		crm_purge_guard_skips_reset();
		crm_purge_sequences_before(queryString);
		if (top_level_command != NULL)
			pfree(top_level_command);
		top_level_command = NULL;
	}
	nesting_level++;
	attaching_now = crm_purge_attaches(pstmt->utilityStmt);
	attaching += attaching_now;
	crm_purge_superuser_ddl_enter(pstmt->utilityStmt);
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
		attaching -= attaching_now;
		crm_purge_superuser_ddl_exit();
	}
	PG_END_TRY();
	if (OidIsValid(role))
		crm_purge_unbecome(&save);
	crm_purge_after_utility(pstmt->utilityStmt);
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
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = cp_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = cp_ProcessUtility;
	prev_planner = planner_hook;
	planner_hook = cp_planner;
	prev_get_relation_info = get_relation_info_hook;
	get_relation_info_hook = cp_get_relation_info;
}
