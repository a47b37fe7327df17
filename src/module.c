/*
 * module.c - module load: _PG_init, the settings (GUCs) and their check
 * hooks, the pg_extension cache callback that drops every cache, the set-up
 * of the statement hooks (statement.c) and of the worker when preloaded
 * (worker.c), and the test-only fault points (crm_purge_fault).
 */
#include "postgres.h"

#define CRM_PURGE_SPI_WRAPPER

#include <limits.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

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
int			crm_purge_idle_batch_size = 100000;
int			crm_purge_busy_batch_size = 5000;
int			crm_purge_batch_scale = 1;
int			crm_purge_trash_segment_size = 16 * 1024;
int			crm_purge_trash_segment_age = 86400;
int			crm_purge_batch_delay = 0;
int			crm_purge_max_replica_lag = 0;
char	   *crm_purge_processing_window = NULL;
int			crm_purge_naptime = 10;
int			crm_purge_step_timeout = 300000;
char	   *crm_purge_databases = NULL;
char	   *crm_purge_fault_point = NULL;
bool		crm_purge_allow_truncate = false;
int			crm_purge_deletion_scope = DELETION_SCOPE_STATEMENT;
int			crm_purge_citus_set_propagation = CITUS_SET_PROPAGATION_SUPERUSER;
int			crm_purge_worker_nice = 10;
int			crm_purge_app_yield = 1000;
char	   *crm_purge_actor = NULL;
char	   *crm_purge_citus_deletion = NULL;
char	   *crm_purge_citus_run_as = NULL;
char	   *crm_purge_citus_ddl = NULL;
char	   *crm_purge_citus_metadata = NULL;
char	   *crm_purge_reason = NULL;

static const struct config_enum_entry citus_set_propagation_options[] = {
	{"superuser", CITUS_SET_PROPAGATION_SUPERUSER, false},
	{"all", CITUS_SET_PROPAGATION_ALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry deletion_scope_options[] = {
	{"statement", DELETION_SCOPE_STATEMENT, false},
	{"transaction", DELETION_SCOPE_TRANSACTION, false},
	{NULL, 0, false}
};

static const struct config_enum_entry export_storage_options[] = {
	{"directory", EXPORT_STORAGE_DIRECTORY, false},
	{"database", EXPORT_STORAGE_DATABASE, false},
	{NULL, 0, false}
};

/* check_processing_window: GUC check hook; empty (always) or "HH:MM-HH:MM". */
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

/* check_databases: GUC check hook; the value must split as a list of identifiers. */
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

/*
 * crm_purge_fault: a deterministic crash for tests: at the named point, once
 * per armed marker file, the server goes down as if the machine had (PANIC:
 * crash recovery follows), or, at step_error, the step fails.  Superuser-only
 * to set.
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
	/* step_error: an error in a step, outside its subtransactions (the worker must survive it) */
	if (strcmp(point, "step_error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("crm_purge fault point \"%s\" reached", point),
				 errdetail("crm_purge.fault_point is set for a test; the step is rolled back.")));
	ereport(PANIC,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("crm_purge fault point \"%s\" reached", point),
			 errdetail("crm_purge.fault_point is set for a test; the server restarts with crash recovery.")));
}

/*
 * relcache_changed: crm_purge's one relcache callback.  A backend has ten
 * (PostgreSQL's and Citus's take seven), and running out is FATAL.
 */
static void
relcache_changed(Datum arg, Oid relid)
{
	crm_purge_trash_relcache_changed(relid);
	crm_purge_tombstone_relcache_changed(relid);
	crm_purge_citus_relcache_changed(relid);
}

/* extension_changed: pg_extension changed (CREATE / DROP / ALTER EXTENSION): forget every cache */
static void
extension_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	crm_purge_trash_forget();
	crm_purge_tombstone_forget();
	crm_purge_batch_forget();
	crm_purge_citus_forget();
}

/*
 * crm_purge_batch_rows: the rows a batch aims at: batch_size, or more while
 * the worker finds the database otherwise idle (crm_purge_batch_scale above
 * 1), or busy_batch_size while applications run (scale 0).
 */
int
crm_purge_batch_rows(void)
{
	int64		rows = (int64) crm_purge_batch_size * crm_purge_batch_scale;

	if (crm_purge_batch_scale == 0)
		return Min(crm_purge_busy_batch_size, crm_purge_batch_size);

	return (int) Max(crm_purge_batch_size, Min(rows, crm_purge_idle_batch_size));
}

/*
 * The GUC nest levels of the open SPI connections (crm_purge_spi_connect),
 * each with the transaction nest level it was opened in: a (sub)transaction's
 * end pops its GUC nest levels, and its entries go with them.
 */
#define MAX_PINNED_SPI 64
static int	pinned_guc_level[MAX_PINNED_SPI];
static int	pinned_xact_level[MAX_PINNED_SPI];
static int	pinned_depth = 0;

int
crm_purge_spi_connect(void)
{
	int			rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		return rc;
	if (pinned_depth >= MAX_PINNED_SPI)
		elog(ERROR, "crm_purge: SPI connections nested too deep");
	pinned_guc_level[pinned_depth] = NewGUCNestLevel();
	pinned_xact_level[pinned_depth] = GetCurrentTransactionNestLevel();
	pinned_depth++;
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return rc;
}

int
crm_purge_spi_finish(void)
{
	if (pinned_depth > 0 && pinned_xact_level[pinned_depth - 1] == GetCurrentTransactionNestLevel())
	{
		pinned_depth--;
		AtEOXact_GUC(true, pinned_guc_level[pinned_depth]);
	}
	return SPI_finish();
}

static void
pinned_spi_xact(XactEvent event, void *arg)
{
	pinned_depth = 0;
}

static void
pinned_spi_subxact(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	/* (a subtransaction's end, committed or not, pops its GUC nest levels) */
	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	while (pinned_depth > 0 && pinned_xact_level[pinned_depth - 1] >= GetCurrentTransactionNestLevel())
		pinned_depth--;
}

/*
 * crm_purge.citus_run_as, citus_deletion, citus_ddl and citus_metadata come from crm_purge's
 * own SET LOCAL only: a value stored with ALTER DATABASE/ROLE ... SET would
 * make every statement of the extension owner there fail (the worker's too).
 */
static bool
check_handed_out_only(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (source == PGC_S_TEST || (source >= PGC_S_GLOBAL && source <= PGC_S_DATABASE_USER))
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("this setting is set by crm_purge for a transaction and may not be stored");
		GUC_check_errhint("crm_purge sets it with SET LOCAL for its own statements; ALTER DATABASE/ROLE ... RESET removes a stored value.");
		return false;
	}
	return true;
}

/*
 * _PG_init: defines the settings, registers the cache callback and the
 * statement hooks, and, when preloaded, the launcher.  Does nothing during
 * pg_upgrade's binary upgrade.
 */
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
	DefineCustomIntVariable("crm_purge.busy_batch_size",
							"Rows per batch transaction of the worker while other sessions of the database run statements (at most batch_size).",
							"Shorter transactions while applications work: their commits wait less behind the batch's.",
							&crm_purge_busy_batch_size, 5000, 1, 10000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.idle_batch_size",
							"Rows per batch the worker's batches grow to, doubling, while no other session of the database runs a statement.",
							"Fewer, larger transactions when the database is otherwise idle; back to batch_size as soon as applications work. At most batch_size disables it.",
							&crm_purge_idle_batch_size, 100000, 1, 10000000,
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
	DefineCustomIntVariable("crm_purge.step_timeout",
							"Longest a piece of the worker's due work may run (a request's batch, a table's purge or trash expiry, an ANALYZE); 0 means no limit.",
							"Past it the piece is cancelled, shown in crm_purge_errors and tried again with backoff, while the rest goes on.",
							&crm_purge_step_timeout, 300000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("crm_purge.databases",
							   "Comma-separated databases the worker serves; empty means every database where crm_purge is installed.",
							   NULL, &crm_purge_databases, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, check_databases, NULL, NULL);

	DefineCustomStringVariable("crm_purge.fault_point",
							   "For tests: where the worker crashes the server once (export_written or batch_committed), or fails a step (step_error).",
							   "Fires only while the file crm_purge_fault_armed exists in the data directory, and removes it.",
							   &crm_purge_fault_point, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	DefineCustomBoolVariable("crm_purge.allow_truncate",
							 "For test databases: lets the table's owner TRUNCATE a protected table, bypassing its trash.",
							 "Each such TRUNCATE is recorded in crm_purge.history; for anyone but the owner (or a superuser) TRUNCATE stays refused.",
							 &crm_purge_allow_truncate, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("crm_purge.trash_segment_size",
							"Size at which the worker seals a trash's newest segment and starts another.",
							"The newest segment has no index, so that DELETE stays fast, and is read whole by restores: keep it small.",
							&crm_purge_trash_segment_size, 16 * 1024, 64, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.trash_segment_age",
							"Age at which the worker seals a trash's newest segment that has rows.",
							"Sealed segments are indexed, and dropped whole once all their rows expired.",
							&crm_purge_trash_segment_age, 86400, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.worker_nice",
							"Scheduling priority (nice) of the per-database workers, set when they start.",
							"Positive: the application's backends get the CPU first while requests, expiry and purges run; 0 leaves the worker at the server's priority.",
							&crm_purge_worker_nice, 10, 0, 19,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm_purge.app_yield",
							"While other sessions of the database run statements, the worker pauses after each batch for this percentage of the batch's time (at most 2 s).",
							"1000: the worker takes about a tenth of the time while applications run, all of it when they are idle; 0: no pause.",
							&crm_purge_app_yield, 1000, 0, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("crm_purge.deletion_scope",
							 "What one deletion id covers: each deleting statement, or everything a transaction deletes.",
							 "With transaction, an ORM that deletes children and parents in separate statements is undone by one crm_purge_restore_deletion.",
							 &crm_purge_deletion_scope, DELETION_SCOPE_STATEMENT,
							 deletion_scope_options, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("crm_purge.citus_set_propagation",
							 "Citus: whose SET LOCAL, RESET and SET TRANSACTION Citus may send to the worker nodes while citus.propagate_set_commands is local.",
							 "superuser: other roles' are refused, as Citus 13 also sends them on its own superuser connections; all: as Citus does.",
							 &crm_purge_citus_set_propagation, CITUS_SET_PROPAGATION_SUPERUSER,
							 citus_set_propagation_options, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("crm_purge.citus_deletion",
							   "Citus: the deletion id of the running statement, set by the node that runs a DELETE in a transaction block for its worker nodes.",
							   "Not to be set by hand: a value crm_purge did not issue is refused.",
							   &crm_purge_citus_deletion, "",
							   PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_SUPERUSER_ONLY,
							   check_handed_out_only, NULL, crm_purge_show_handed_out);
	DefineCustomStringVariable("crm_purge.citus_run_as",
							   "Citus: the role a worker node runs the extension owner's statements as during a restore or erase, set by crm_purge.",
							   "Not to be set by hand: a value crm_purge did not issue in the transaction is refused.",
							   &crm_purge_citus_run_as, "",
							   PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_SUPERUSER_ONLY,
							   check_handed_out_only, NULL, crm_purge_show_handed_out);
	DefineCustomStringVariable("crm_purge.citus_ddl",
							   "Citus: set by the coordinator for the worker nodes while a role's change of a distributed table's columns runs there.",
							   "Not to be set by hand: a value crm_purge did not issue in the transaction is refused.",
							   &crm_purge_citus_ddl, "",
							   PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_SUPERUSER_ONLY,
							   check_handed_out_only, NULL, crm_purge_show_handed_out);
	DefineCustomStringVariable("crm_purge.citus_metadata",
							   "Citus: set by the coordinator for the worker nodes while a role's statement there may change Citus's metadata.",
							   "Not to be set by hand: a value crm_purge did not issue in the transaction is refused.",
							   &crm_purge_citus_metadata, "",
							   PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_SUPERUSER_ONLY,
							   check_handed_out_only, NULL, crm_purge_show_handed_out);
	DefineCustomStringVariable("crm_purge.actor",
							   "The application's user, recorded with trashed rows (deletion_actor) and in crm_purge.history (app_actor).",
							   "Set it with SET LOCAL per transaction; permissions still follow the database role.",
							   &crm_purge_actor, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("crm_purge.reason",
							   "Why the application deletes, recorded with trashed rows (deletion_reason) and in crm_purge.history (reason).",
							   "Set it with SET LOCAL per transaction.",
							   &crm_purge_reason, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("crm_purge");

	CacheRegisterSyscacheCallback(EXTENSIONOID, extension_changed, (Datum) 0);
	CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
	RegisterXactCallback(pinned_spi_xact, NULL);
	RegisterSubXactCallback(pinned_spi_subxact, NULL);

	crm_purge_statement_hooks_init();
	crm_purge_connection_hooks_init();
	crm_purge_citus_secrecy_init();
	crm_purge_drop_hook_init();

	if (process_shared_preload_libraries_in_progress)
		crm_purge_worker_init();
}

