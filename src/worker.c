/*
 * worker.c - the launcher and the per-database workers.
 *
 * The launcher (one static background worker, started once recovery has
 * finished, so never on a standby) connects to no database; it lists the
 * databases from pg_database and starts one dynamic "crm_purge worker" per
 * database.  A worker that finds no crm_purge in its database says so in
 * shared memory and exits; the launcher then leaves that database alone
 * until CREATE EXTENSION wakes it (crm_purge._wake_launcher) or a few
 * minutes have passed.
 *
 * A worker stays connected between naptimes, so DROP DATABASE (and the other
 * commands that need a database to themselves) stop it first: see
 * crm_purge_release_database(), called from the ProcessUtility hook.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "crm_purge.h"

#define MAX_DB_SLOTS		128
/* a database without the extension is looked at again after this long */
#define RECHECK_NO_EXTENSION_MS	(5 * 60 * 1000)
/* after a DROP DATABASE stopped its worker, leave the database alone this long */
#define RELEASE_PAUSE_MS	(60 * 1000)

typedef struct DbSlot
{
	Oid			dboid;
	pid_t		pid;			/* the running worker, or 0 */
	bool		no_extension;	/* the worker found no crm_purge ... */
	uint64		no_extension_generation;	/* ... having started at this wake generation */
	TimestampTz checked_at;		/* when no_extension was last found */
	TimestampTz paused_until;	/* released for DROP DATABASE and the like */
	TimestampTz started_at;		/* last start, so that a failing worker backs off */
} DbSlot;

typedef struct CrmPurgeShared
{
	slock_t		mutex;
	int			launcher_procno;	/* -1 when no launcher runs */
	uint64		generation;		/* counts wakes: CREATE EXTENSION somewhere */
	DbSlot		slots[MAX_DB_SLOTS];
} CrmPurgeShared;

static CrmPurgeShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void crm_purge_launcher_main(Datum arg);
PGDLLEXPORT void crm_purge_worker_main(Datum arg);

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CrmPurgeShared)));
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("crm_purge", sizeof(CrmPurgeShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(CrmPurgeShared));
		SpinLockInit(&shared->mutex);
		shared->launcher_procno = -1;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
crm_purge_worker_init(void)
{
	BackgroundWorker worker;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "crm_purge");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "crm_purge_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "crm_purge launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "crm_purge launcher");
	RegisterBackgroundWorker(&worker);
}

void
crm_purge_wake_launcher(void)
{
	int			procno;

	if (shared == NULL)
		return;					/* not preloaded: no launcher */
	SpinLockAcquire(&shared->mutex);
	/* what a worker started before now found is out of date */
	shared->generation++;
	procno = shared->launcher_procno;
	SpinLockRelease(&shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

static bool wake_at_commit = false;

static void
wake_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		crm_purge_wake_launcher();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_at_commit = false;
}

/*
 * From CREATE EXTENSION: the launcher looks at this database again once the
 * extension is committed, and so visible to the worker it starts.
 */
PG_FUNCTION_INFO_V1(crm_purge_wake_launcher_sql);
Datum
crm_purge_wake_launcher_sql(PG_FUNCTION_ARGS)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/* The slot of a database; with create, a free one is taken.  Mutex held. */
static DbSlot *
slot_for(Oid dboid, bool create)
{
	int			i;
	DbSlot	   *free_slot = NULL;

	for (i = 0; i < MAX_DB_SLOTS; i++)
	{
		if (shared->slots[i].dboid == dboid)
			return &shared->slots[i];
		if (free_slot == NULL && shared->slots[i].dboid == InvalidOid)
			free_slot = &shared->slots[i];
	}
	if (create && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(DbSlot));
		free_slot->dboid = dboid;
		return free_slot;
	}
	return NULL;
}

/*
 * Stops the worker of a database that a command needs to itself (DROP
 * DATABASE, ALTER DATABASE ... RENAME, CREATE DATABASE ... TEMPLATE), and
 * keeps the launcher from starting it again for a while.
 */
void
crm_purge_release_database(Oid dboid)
{
	pid_t		pid = 0;
	int			waited_ms = 0;

	if (shared == NULL || !OidIsValid(dboid))
		return;
	SpinLockAcquire(&shared->mutex);
	{
		DbSlot	   *s = slot_for(dboid, true);

		if (s != NULL)
		{
			s->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RELEASE_PAUSE_MS);
			pid = s->pid;
		}
	}
	SpinLockRelease(&shared->mutex);
	if (pid == 0)
		return;
	kill(pid, SIGTERM);
	/* wait for it to go, as the command would wait for any session */
	while (waited_ms < 10000)
	{
		bool		gone;

		SpinLockAcquire(&shared->mutex);
		{
			DbSlot	   *s = slot_for(dboid, false);

			gone = (s == NULL || s->pid != pid);
		}
		SpinLockRelease(&shared->mutex);
		if (gone)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		waited_ms += 10;
	}
}

/* ---------------------------------------------------------------- launcher */

typedef struct LaunchedWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
} LaunchedWorker;

static List *
databases_to_serve(void)
{
	List	   *result = NIL;
	List	   *names = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext outer = CurrentMemoryContext;

	if (crm_purge_databases && crm_purge_databases[0] != '\0')
	{
		char	   *copy = pstrdup(crm_purge_databases);

		if (!SplitIdentifierString(copy, ',', &names))
			ereport(LOG,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("crm_purge.databases is not a list of database names: \"%s\"",
							crm_purge_databases)));
	}

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		if (names != NIL)
		{
			ListCell   *lc;
			bool		wanted = false;

			foreach(lc, names)
				if (strcmp((char *) lfirst(lc), NameStr(db->datname)) == 0)
					wanted = true;
			if (!wanted)
				continue;
		}
		old = MemoryContextSwitchTo(outer);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return result;
}

static BackgroundWorkerHandle *
start_worker(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "crm_purge");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "crm_purge_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "crm_purge worker for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "crm_purge worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(LOG,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("crm_purge: could not start a worker for database %u", dboid),
				 errhint("Raise max_worker_processes.")));
		return NULL;
	}
	return handle;
}

void
crm_purge_launcher_main(Datum arg)
{
	List	   *launched = NIL;
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("crm_purge launcher");

	SpinLockAcquire(&shared->mutex);
	shared->launcher_procno = MyProc->pgprocno;
	SpinLockRelease(&shared->mutex);

	cxt = AllocSetContextCreate(TopMemoryContext, "crm_purge launcher", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		List	   *dbs;
		List	   *still = NIL;
		ListCell   *lc;
		TimestampTz now = GetCurrentTimestamp();

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(TopMemoryContext);
		dbs = databases_to_serve();

		/* forget workers that stopped; keep the running ones */
		foreach(lc, launched)
		{
			LaunchedWorker *w = lfirst(lc);
			pid_t		pid;

			if (GetBackgroundWorkerPid(w->handle, &pid) == BGWH_STOPPED)
			{
				pfree(w->handle);
				pfree(w);
			}
			else
				still = lappend(still, w);
		}
		list_free(launched);
		launched = still;

		foreach(lc, dbs)
		{
			Oid			dboid = lfirst_oid(lc);
			ListCell   *lc2;
			bool		running = false;
			bool		skip = false;

			foreach(lc2, launched)
				if (((LaunchedWorker *) lfirst(lc2))->dboid == dboid)
					running = true;
			if (running)
				continue;
			SpinLockAcquire(&shared->mutex);
			{
				DbSlot	   *s = slot_for(dboid, true);

				if (s != NULL)
				{
					if (s->paused_until > now ||
						!TimestampDifferenceExceeds(s->started_at, now, crm_purge_naptime * 1000))
						skip = true;
					else if (s->no_extension && s->no_extension_generation == shared->generation &&
							 !TimestampDifferenceExceeds(s->checked_at, now, RECHECK_NO_EXTENSION_MS))
						skip = true;
				}
			}
			SpinLockRelease(&shared->mutex);
			if (!skip)
			{
				BackgroundWorkerHandle *h = start_worker(dboid);

				SpinLockAcquire(&shared->mutex);
				{
					DbSlot	   *s = slot_for(dboid, true);

					if (s != NULL)
						s->started_at = now;
				}
				SpinLockRelease(&shared->mutex);
				if (h != NULL)
				{
					LaunchedWorker *w = palloc(sizeof(LaunchedWorker));

					w->dboid = dboid;
					w->handle = h;
					w->started_at = now;
					launched = lappend(launched, w);
				}
			}
		}
		list_free(dbs);
		MemoryContextReset(cxt);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 crm_purge_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ------------------------------------------------------------------ worker */

static Oid	my_dboid = InvalidOid;
static uint64 my_generation = 0;

static void
worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	{
		DbSlot	   *s = slot_for(my_dboid, false);

		if (s != NULL && s->pid == MyProcPid)
			s->pid = 0;
	}
	SpinLockRelease(&shared->mutex);
}

static void
worker_no_extension(void)
{
	SpinLockAcquire(&shared->mutex);
	{
		DbSlot	   *s = slot_for(my_dboid, true);

		if (s != NULL)
		{
			s->no_extension = true;
			s->no_extension_generation = my_generation;
			s->checked_at = GetCurrentTimestamp();
		}
	}
	SpinLockRelease(&shared->mutex);
}

/*
 * Runs the due work in batches, one transaction each, until nothing is due.
 * Returns false when the extension is not (or no longer) installed.
 */
static bool
run_due_work(void)
{
	CrmPurgeTickCounts counts;
	bool		more;

	memset(&counts, 0, sizeof(counts));
	do
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (!OidIsValid(get_extension_oid("crm_purge", true)))
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
			return false;
		}
		pgstat_report_activity(STATE_RUNNING, "crm_purge: due work");
		more = crm_purge_tick_step(&counts);
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);

		if (more && crm_purge_batch_delay > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 crm_purge_batch_delay, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	} while (more);
	if (counts.batches > 0 || counts.trash_expired > 0 || counts.purge_batches > 0)
		elog(DEBUG1, "crm_purge: %lld request batches, %lld trash rows expired, %lld purge batches",
			 (long long) counts.batches, (long long) counts.trash_expired,
			 (long long) counts.purge_batches);
	return true;
}

void
crm_purge_worker_main(Datum arg)
{
	my_dboid = DatumGetObjectId(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&shared->mutex);
	{
		DbSlot	   *s = slot_for(my_dboid, true);

		if (s != NULL)
		{
			s->pid = MyProcPid;
			s->no_extension = false;
		}
		my_generation = shared->generation;
	}
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(worker_detach, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(my_dboid, InvalidOid, 0);
	pgstat_report_appname("crm_purge worker");
	/*
	 * A batch's export is on disk before its commit is even written, so a
	 * commit lost in a crash only means the batch runs again.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!RecoveryInProgress() && !run_due_work())
		{
			worker_no_extension();
			proc_exit(0);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 crm_purge_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
