/*
 * crm_purge.c - module load: settings, statement numbering, role checks.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "utils/snapmgr.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/varlena.h"
#include "utils/resowner.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "access/htup_details.h"

#include "crm_purge.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			crm_purge_trash_retention = 90 * 86400;
int			crm_purge_max_rows_per_request = 200000;
int			crm_purge_max_queued_rows = 1000000;
int			crm_purge_pending_period = 7 * 86400;
int			crm_purge_export_retention = 30 * 86400;
char	   *crm_purge_export_directory = NULL;
int			crm_purge_export_storage = EXPORT_STORAGE_DIRECTORY;
int			crm_purge_batch_size = 10000;
int			crm_purge_batch_delay = 0;
int			crm_purge_max_replica_lag = 0;
char	   *crm_purge_processing_window = NULL;
int			crm_purge_naptime = 10;
char	   *crm_purge_databases = NULL;
char	   *crm_purge_fault_point = NULL;

static const struct config_enum_entry export_storage_options[] = {
	{"directory", EXPORT_STORAGE_DIRECTORY, false},
	{"database", EXPORT_STORAGE_DATABASE, false},
	{NULL, 0, false}
};

/*
 * Top-level statement numbering: every row trashed by one top-level statement
 * (including ON DELETE CASCADE and rows deleted inside functions it calls)
 * shares one deletion_id.  Counting the way pg_stat_statements tracks nesting
 * is exact where the statement timestamp is not (a multi-statement query
 * string shares one timestamp).
 */
static uint64 top_level_statement = 0;
static int	nesting_level = 0;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static bool
check_processing_window(char **newval, void **extra, GucSource source)
{
	int			s,
				e;

	if (*newval == NULL || **newval == '\0')
		return true;
	if (!crm_purge_parse_window(*newval, &s, &e))
	{
		GUC_check_errdetail("A processing window looks like \"22:00-06:00\" (HH:MM-HH:MM, 24-hour clock), or is empty for always.");
		return false;
	}
	return true;
}

static bool
check_databases(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	List	   *names = NIL;
	bool		ok = SplitIdentifierString(copy, ',', &names);

	list_free(names);
	pfree(copy);
	if (!ok)
		GUC_check_errdetail("crm_purge.databases is a comma-separated list of database names, or empty for all.");
	return ok;
}

static void
cp_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (nesting_level == 0)
		top_level_statement++;
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
cp_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			   bool execute_once)
{
	nesting_level++;
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
	}
	PG_END_TRY();
}

static void
cp_ExecutorFinish(QueryDesc *queryDesc)
{
	nesting_level++;
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
	}
	PG_END_TRY();
}

/* Is this DROP EXTENSION crm_purge, with the extension present? */
static bool
drops_this_extension(Node *parsetree)
{
	DropStmt   *drop;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt))
		return false;
	drop = (DropStmt *) parsetree;
	if (drop->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, drop->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "crm_purge") == 0)
			return OidIsValid(get_extension_oid("crm_purge", true));
	}
	return false;
}

/*
 * A policy's pg_cron job must not outlive the extension.  Only for the
 * extension's owner: anyone else gets PostgreSQL's own error from the drop.
 */
static void
drop_cron_jobs(void)
{
	CrmPurgeIdentity id;

	if (!pg_extension_ownercheck(get_extension_oid("crm_purge", false), GetUserId()))
		return;
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	crm_purge_become_owner(&id);
	/* an older version of the extension may lack the function */
	if (SPI_execute("SELECT 1 WHERE pg_catalog.to_regprocedure('crm_purge._drop_cron_jobs()') IS NOT NULL",
					true, 0) == SPI_OK_SELECT && SPI_processed == 1 &&
		SPI_execute("SELECT crm_purge._drop_cron_jobs()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not remove the pg_cron jobs of crm_purge policies");
	crm_purge_unbecome(&id);
	SPI_finish();
	PopActiveSnapshot();
}

/*
 * Commands that need a database to themselves find its worker gone: DROP
 * DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE, CREATE DATABASE ...
 * TEMPLATE.
 */
static void
release_databases(Node *parsetree)
{
	if (IsA(parsetree, DropdbStmt))
		crm_purge_release_database(get_database_oid(((DropdbStmt *) parsetree)->dbname, true));
	else if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		crm_purge_release_database(get_database_oid(((RenameStmt *) parsetree)->subname, true));
	else if (IsA(parsetree, AlterDatabaseStmt))
	{
		ListCell   *lc;

		foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
		{
			if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
				crm_purge_release_database(get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true));
		}
	}
	else if (IsA(parsetree, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) parsetree)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				crm_purge_release_database(get_database_oid(defGetString(opt), true));
		}
	}
}

static void
cp_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	if (drops_this_extension(pstmt->utilityStmt))
		drop_cron_jobs();
	release_databases(pstmt->utilityStmt);
	if (nesting_level == 0)
		top_level_statement++;
	nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
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
}

/*
 * A deterministic crash for tests: at the named point, once per armed
 * marker file, the server goes down as if the machine had (PANIC: crash
 * recovery follows).  Superuser-only to set.
 */
void
crm_purge_fault(const char *point)
{
	char	   *marker;

	if (crm_purge_fault_point == NULL || strcmp(crm_purge_fault_point, point) != 0)
		return;
	marker = psprintf("%s/crm_purge_fault_armed", DataDir);
	if (unlink(marker) != 0)
		return;
	ereport(PANIC,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("crm_purge fault point \"%s\" reached", point),
			 errdetail("crm_purge.fault_point is set for a test; the server restarts with crash recovery.")));
}

uint64
crm_purge_top_level_statement(void)
{
	return top_level_statement;
}

PG_FUNCTION_INFO_V1(crm_purge_check_admin);
Datum
crm_purge_check_admin(PG_FUNCTION_ARGS)
{
	crm_purge_require_admin(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* pg_extension changed (CREATE / DROP / ALTER EXTENSION): forget every cache */
static void
extension_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	crm_purge_trash_forget();
	crm_purge_tombstone_forget();
	crm_purge_batch_forget();
}

void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;

	DefineCustomIntVariable("crm_purge.trash_retention",
							"Default time a protected table's trash is kept.",
							"crm_purge_protect(tbl, retention) overrides it per table.",
							&crm_purge_trash_retention, 90 * 86400, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.max_rows_per_request",
							"Rows one bulk export-and-delete request may process.",
							NULL, &crm_purge_max_rows_per_request, 200000, 1, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.max_queued_rows",
							"Rows all queued and running requests may hold together.",
							NULL, &crm_purge_max_queued_rows, 1000000, 1, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.pending_period",
							"How long an activated permanent purge stays pending.",
							"Applied when the purge is activated.",
							&crm_purge_pending_period, 7 * 86400, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.export_retention",
							"How long an export stays downloadable.",
							"Applied when the request is created.",
							&crm_purge_export_retention, 30 * 86400, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("crm_purge.export_directory",
							   "Directory export files are written to.",
							   "Empty means crm_purge_exports inside the data directory.",
							   &crm_purge_export_directory, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("crm_purge.export_storage",
							 "Where export parts are kept: directory or database.",
							 NULL, &crm_purge_export_storage, EXPORT_STORAGE_DIRECTORY,
							 export_storage_options, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.batch_size",
							"Rows per batch transaction (a target).",
							NULL, &crm_purge_batch_size, 10000, 1, 10000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.batch_delay",
							"Pause between batches, to throttle the worker.",
							NULL, &crm_purge_batch_delay, 0, 0, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.max_replica_lag",
							"Pause batches while a standby's replay lag exceeds this; 0 turns it off.",
							NULL, &crm_purge_max_replica_lag, 0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("crm_purge.processing_window",
							   "When the worker runs requests, e.g. 22:00-06:00; empty means always.",
							   NULL, &crm_purge_processing_window, "",
							   PGC_SIGHUP, 0, check_processing_window, NULL, NULL);
	DefineCustomIntVariable("crm_purge.naptime",
							"How often the worker looks for due work.",
							NULL, &crm_purge_naptime, 10, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("crm_purge.databases",
							   "Comma-separated databases the worker serves; empty means every database where crm_purge is installed.",
							   NULL, &crm_purge_databases, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, check_databases, NULL, NULL);

	DefineCustomStringVariable("crm_purge.fault_point",
							   "For tests: where the worker crashes the server once (export_written or batch_committed).",
							   "Fires only while the file crm_purge_fault_armed exists in the data directory, and removes it.",
							   &crm_purge_fault_point, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	MarkGUCPrefixReserved("crm_purge");

	CacheRegisterSyscacheCallback(EXTENSIONOID, extension_changed, (Datum) 0);

	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = cp_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = cp_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = cp_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = cp_ProcessUtility;

	if (process_shared_preload_libraries_in_progress)
		crm_purge_worker_init();
}


PG_FUNCTION_INFO_V1(crm_purge_is_admin_sql);
Datum
crm_purge_is_admin_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(crm_purge_is_admin(GetUserId()));
}

PG_FUNCTION_INFO_V1(crm_purge_require_admin_sql);
Datum
crm_purge_require_admin_sql(PG_FUNCTION_ARGS)
{
	crm_purge_require_admin(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_BOOL(true);
}
