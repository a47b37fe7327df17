/*
 * worker.c - the launcher and the per-database workers.
 *
 * The launcher is one static background worker.  It starts once recovery
 * has finished, so it never runs on a standby and does start after a
 * promotion.  It connects to no database: it reads the shared catalog
 * pg_database and starts one dynamic "crm_purge worker" for each database
 * that allows connections, is not a template and is in crm_purge.databases
 * (when that is set).
 *
 * A worker does the due work of its database every naptime, one batch per
 * transaction.  A worker that finds no crm_purge in its database says so in
 * shared memory and exits; the launcher leaves that database alone until
 * crm_purge_wake_launcher() (called when CREATE EXTENSION commits) or a few
 * minutes have passed.  A worker that stopped for any other reason (an
 * ERROR, pg_terminate_backend) is started again after naptime.
 *
 * DROP DATABASE.  A worker stays connected between naptimes, and PostgreSQL
 * 15 refuses to drop (rename, copy, move) a database that any session other
 * than an autovacuum worker is connected to.  A worker that exits after
 * every naptime would only make that failure rarer: a long batch can still
 * outlast the 5 s DROP DATABASE waits.  So the commands that need a database
 * to themselves call crm_purge_release_database() from the ProcessUtility
 * hook first: it pauses the database (the launcher does not start a worker
 * for it, and a worker starting up gives up), stops its worker and waits for
 * it to go.  The pause ends with the command's transaction.  This is how
 * TimescaleDB keeps its per-database schedulers out of DROP DATABASE too.
 *
 * Shared memory holds one slot per running worker (and per paused
 * database); what the launcher knows about every database lives in its own
 * memory, so the number of databases is not limited by shared memory.
 */
#include "postgres.h"

#include <sys/resource.h>

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
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "compat.h"
#include "crm_purge.h"

/* a database without the extension is looked at again after this long */
#define RECHECK_NO_EXTENSION_MS	(5 * 60 * 1000)
/* a release whose command never ends (its backend died) expires after this */
#define RELEASE_PAUSE_MS		(60 * 1000)
/* after the releasing command ends: lets a launcher pass that read
 * pg_database just before a DROP DATABASE committed see the drop */
#define RELEASE_GRACE_MS		1000
/* how long DROP DATABASE and the like wait for a worker to exit */
#define RELEASE_WAIT_MS			10000
/* slots beyond max_worker_processes, for paused databases without a worker */
#define EXTRA_SLOTS				8

#define LAUNCHER_TYPE	"crm_purge launcher"
#define WORKER_TYPE		"crm_purge worker"

typedef struct DbSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* the running worker, or 0 */
	bool		exited;			/* a worker used this slot and exited */
	bool		no_extension;	/* ... because crm_purge is not installed */
	uint64		generation;		/* the wake generation that worker started at */
	TimestampTz checked_at;		/* when it found no extension */
	TimestampTz paused_until;	/* released for DROP DATABASE and the like */
} DbSlot;

typedef struct CrmPurgeShared
{
	slock_t		mutex;			/* protects launcher_procno and generation */
	int			launcher_procno;	/* -1 when no launcher runs */
	uint64		generation;		/* counts wakes (CREATE EXTENSION somewhere) */
	LWLock	   *lock;			/* protects slots */
	int			nslots;
	DbSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} CrmPurgeShared;

static CrmPurgeShared *shared = NULL;

/*
 * Rows the guard skipped, per table, since the server started: shown in
 * view crm_purge_guards.  Added once per table at the end of a statement.
 */
#define GUARD_COUNTERS 1024

typedef struct GuardCounter
{
	Oid			dboid;			/* InvalidOid: free */
	Oid			relid;
	pg_atomic_uint64 rows;
} GuardCounter;

static GuardCounter *guard_counters = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void crm_purge_launcher_main(Datum arg);
PGDLLEXPORT void crm_purge_worker_main(Datum arg);

/* ------------------------------------------------------------ shared memory */

/* slot_count: one slot per possible background worker, plus EXTRA_SLOTS for paused databases. */
static int
slot_count(void)
{
	/* our workers are background workers: max_worker_processes bounds them */
	return max_worker_processes + EXTRA_SLOTS;
}

/* shared_size: the size of the shared state with all its slots. */
static Size
shared_size(void)
{
	return add_size(offsetof(CrmPurgeShared, slots),
					mul_size(slot_count(), sizeof(DbSlot)));
}

/* shmem_request: asks for the shared state and its LWLock tranche. */
static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(shared_size()));
	RequestAddinShmemSpace(MAXALIGN(mul_size(GUARD_COUNTERS, sizeof(GuardCounter))));
	RequestNamedLWLockTranche("crm_purge", 1);
}

/* shmem_startup: creates the shared state, or attaches to it. */
static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("crm_purge", shared_size(), &found);
	if (!found)
	{
		memset(shared, 0, shared_size());
		SpinLockInit(&shared->mutex);
		shared->launcher_procno = -1;
		shared->lock = &(GetNamedLWLockTranche("crm_purge"))->lock;
		shared->nslots = slot_count();
	}
	guard_counters = ShmemInitStruct("crm_purge guard counters",
									 mul_size(GUARD_COUNTERS, sizeof(GuardCounter)), &found);
	if (!found)
	{
		int			i;

		for (i = 0; i < GUARD_COUNTERS; i++)
		{
			guard_counters[i].dboid = InvalidOid;
			guard_counters[i].relid = InvalidOid;
			pg_atomic_init_u64(&guard_counters[i].rows, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * guard_counter: this database's counter of relid, made when create is set
 * (when all are taken, none).
 */
static GuardCounter *
guard_counter(Oid relid, bool create)
{
	int			i;

	if (guard_counters == NULL)
		return NULL;
	LWLockAcquire(shared->lock, create ? LW_EXCLUSIVE : LW_SHARED);
	for (i = 0; i < GUARD_COUNTERS; i++)
		if (guard_counters[i].dboid == MyDatabaseId && guard_counters[i].relid == relid)
			break;
	if (i == GUARD_COUNTERS && create)
		for (i = 0; i < GUARD_COUNTERS; i++)
			if (!OidIsValid(guard_counters[i].dboid))
			{
				guard_counters[i].dboid = MyDatabaseId;
				guard_counters[i].relid = relid;
				pg_atomic_write_u64(&guard_counters[i].rows, 0);
				break;
			}
	LWLockRelease(shared->lock);
	return i < GUARD_COUNTERS ? &guard_counters[i] : NULL;
}

/* crm_purge_guard_count: adds rows the guard skipped in one statement. */
void
crm_purge_guard_count(Oid relid, int64 rows)
{
	GuardCounter *c = guard_counter(relid, true);

	if (c != NULL)
		pg_atomic_fetch_add_u64(&c->rows, (uint64) rows);
}

/*
 * crm_purge_guard_skipped: crm_purge._guard_skipped(tbl): rows the guard of
 * tbl skipped since the server started; NULL when crm_purge is not preloaded.
 */
PG_FUNCTION_INFO_V1(crm_purge_guard_skipped);
Datum
crm_purge_guard_skipped(PG_FUNCTION_ARGS)
{
	GuardCounter *c;

	if (guard_counters == NULL)
		PG_RETURN_NULL();
	c = guard_counter(PG_GETARG_OID(0), false);
	PG_RETURN_INT64(c != NULL ? (int64) pg_atomic_read_u64(&c->rows) : 0);
}

/* crm_purge_worker_init: from _PG_init when preloaded: the shared memory hooks and the launcher. */
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
	/* never on a standby; after a promotion it starts */
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "crm_purge");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "crm_purge_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, LAUNCHER_TYPE);
	snprintf(worker.bgw_type, BGW_MAXLEN, LAUNCHER_TYPE);
	RegisterBackgroundWorker(&worker);
}

/* require_shared: an error when the library was not preloaded (no shared state). */
static void
require_shared(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crm_purge background workers need crm_purge in shared_preload_libraries")));
}

/* slot_for: the slot of a database; with create, a free one is taken.  Lock held. */
static DbSlot *
slot_for(Oid dboid, bool create)
{
	DbSlot	   *free_slot = NULL;
	int			i;

	for (i = 0; i < shared->nslots; i++)
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

/* ------------------------------------------------ waking and releasing */

/*
 * crm_purge_wake_launcher: a new wake generation, so that databases found
 * without crm_purge are looked at again, and the launcher's latch set.
 */
void
crm_purge_wake_launcher(void)
{
	int			procno;

	if (shared == NULL)
		return;					/* not preloaded: there is no launcher */
	SpinLockAcquire(&shared->mutex);
	/* what a worker that started before now found is out of date */
	shared->generation++;
	procno = shared->launcher_procno;
	SpinLockRelease(&shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

static bool xact_callback_registered = false;
static bool wake_at_commit = false;
static Oid	released_dboid = InvalidOid;

/*
 * worker_xact_callback: at the end of a transaction: wake the launcher after
 * a commit that created the extension, and end the pause of a database this
 * transaction released (after RELEASE_GRACE_MS).
 */
static void
worker_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		crm_purge_wake_launcher();
	wake_at_commit = false;

	if (OidIsValid(released_dboid) && shared != NULL)
	{
		DbSlot	   *s;

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		s = slot_for(released_dboid, false);
		if (s != NULL)
			s->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  RELEASE_GRACE_MS);
		LWLockRelease(shared->lock);
		released_dboid = InvalidOid;
	}
}

/* register_xact_callback: once per backend. */
static void
register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(worker_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

/*
 * crm_purge_wake_launcher_sql: crm_purge._wake_launcher(), at the end of the
 * install script.  The wake waits for the commit: a worker started earlier
 * could not yet see the extension, and would report it missing.
 */
PG_FUNCTION_INFO_V1(crm_purge_wake_launcher_sql);
Datum
crm_purge_wake_launcher_sql(PG_FUNCTION_ARGS)
{
	if (shared != NULL)
	{
		register_xact_callback();
		wake_at_commit = true;
	}
	PG_RETURN_VOID();
}

/*
 * crm_purge_release_database: from the ProcessUtility hook, before a command
 * that needs the database to itself (DROP DATABASE, ALTER DATABASE ... RENAME,
 * CREATE DATABASE ... TEMPLATE): pauses the database and stops its worker,
 * waiting for it to exit as the command would wait for any session.  Only for
 * the database's owner (or a superuser): anyone else's command fails anyway,
 * and must not be a way to stop the worker.
 */
void
crm_purge_release_database(Oid dboid)
{
	pid_t		pid = 0;
	int			waited_ms = 0;
	DbSlot	   *s;

	if (shared == NULL || !OidIsValid(dboid) ||
		!crm_purge_database_ownercheck(dboid, GetUserId()))
		return;

	register_xact_callback();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s = slot_for(dboid, true);
	if (s != NULL)
	{
		s->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													  RELEASE_PAUSE_MS);
		pid = s->pid;
		released_dboid = dboid;
	}
	LWLockRelease(shared->lock);
	if (pid == 0)
		return;

	/*
	 * A worker that starts from now on sees the pause and does not connect.
	 * SIGUSR2, not SIGTERM: this stop is expected, and logged as such.
	 */
	kill(pid, SIGUSR2);
	while (waited_ms < RELEASE_WAIT_MS)
	{
		bool		gone;

		LWLockAcquire(shared->lock, LW_SHARED);
		s = slot_for(dboid, false);
		gone = (s == NULL || s->pid != pid);
		LWLockRelease(shared->lock);
		if (gone)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		waited_ms += 10;
	}
}

/* --------------------------------------------------------------- launcher */

/* what the launcher knows about one database (launcher memory) */
typedef struct DbState
{
	Oid			dboid;			/* hash key */
	BackgroundWorkerHandle *handle; /* the worker we started, until it stopped */
	bool		served;			/* in this pass's list of databases */
	bool		no_extension;	/* its last worker found no crm_purge */
	uint64		no_extension_generation;
	TimestampTz no_extension_at;
	TimestampTz retry_at;		/* no new worker before this */
} DbState;

typedef struct ServedDb
{
	Oid			dboid;
	NameData	name;
} ServedDb;

static HTAB *db_states = NULL;
static List *served_names = NIL;	/* crm_purge.databases, parsed */
static bool served_names_ok = true;

/* launcher_detach: at exit, the launcher is no longer there to wake. */
static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	if (shared->launcher_procno == MyProc->pgprocno)
		shared->launcher_procno = -1;
	SpinLockRelease(&shared->mutex);
}

/* parse_served_names: parses crm_purge.databases, at start and after each reload. */
static void
parse_served_names(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	char	   *copy;

	list_free_deep(served_names);
	served_names = NIL;
	served_names_ok = true;
	if (crm_purge_databases == NULL || crm_purge_databases[0] == '\0')
	{
		MemoryContextSwitchTo(old);
		return;
	}
	copy = pstrdup(crm_purge_databases);
	if (!SplitIdentifierString(copy, ',', &served_names))
	{
		/* serve nothing rather than databases nobody asked for */
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("crm_purge.databases is not a list of database names: \"%s\"",
						crm_purge_databases),
				 errdetail("The crm_purge launcher starts no worker until it is fixed.")));
		list_free(served_names);
		served_names = NIL;
		served_names_ok = false;
	}
	else
	{
		/* the list points into copy; keep copies of the names instead */
		List	   *names = NIL;
		ListCell   *lc;

		foreach(lc, served_names)
			names = lappend(names, pstrdup((char *) lfirst(lc)));
		list_free(served_names);
		served_names = names;
	}
	pfree(copy);
	MemoryContextSwitchTo(old);
}

/*
 * name_is_served: is the database one to serve?  Every one when
 * crm_purge.databases is empty, none when it does not parse.
 */
static bool
name_is_served(const char *name)
{
	ListCell   *lc;

	if (!served_names_ok)
		return false;
	if (served_names == NIL)
		return true;
	foreach(lc, served_names)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	}
	return false;
}

/*
 * databases_to_serve: the databases to serve, read from pg_database in a
 * transaction of its own, as ServedDb in the current memory context.
 */
static List *
databases_to_serve(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		ServedDb   *d;
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
#ifdef DATCONNLIMIT_INVALID_DB
		/* partly dropped */
		if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;
#endif
		if (!name_is_served(NameStr(db->datname)))
			continue;
		/* the transaction's memory goes at commit: the list lives in cxt */
		old = MemoryContextSwitchTo(cxt);
		d = palloc(sizeof(ServedDb));
		d->dboid = db->oid;
		d->name = db->datname;
		result = lappend(result, d);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return result;
}

/*
 * start_worker: registers the dynamic worker of a database; NULL (warned once)
 * when no slot is free.
 */
static BackgroundWorkerHandle *
start_worker(ServedDb *db)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	static bool warned = false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* the launcher restarts it, after naptime, when it should run */
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "crm_purge");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "crm_purge_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, WORKER_TYPE " for database %s",
			 NameStr(db->name));
	snprintf(worker.bgw_type, BGW_MAXLEN, WORKER_TYPE);
	worker.bgw_main_arg = ObjectIdGetDatum(db->dboid);
	worker.bgw_notify_pid = MyProcPid;	/* wakes us when it stops */
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		/* said once; it is tried again every naptime */
		if (!warned)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start a crm_purge worker for database \"%s\"",
							NameStr(db->name)),
					 errdetail("All background worker slots are in use."),
					 errhint("Raise max_worker_processes.")));
		warned = true;
		return NULL;
	}
	warned = false;
	return handle;
}

/* sooner: lowers *sleep_ms to wake at at, but not within 10 ms. */
static void
sooner(long *sleep_ms, TimestampTz now, TimestampTz at)
{
	long		ms = TimestampDifferenceMilliseconds(now, at);

	*sleep_ms = Min(*sleep_ms, Max(ms, 10));
}

/*
 * launcher_pass: one pass: note which workers stopped and why, stop the
 * workers of databases no longer served, start the missing ones.  Returns how
 * long to sleep before the next pass.
 */
static long
launcher_pass(void)
{
	List	   *dbs = databases_to_serve();
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = crm_purge_naptime * 1000L;
	uint64		generation;
	HASH_SEQ_STATUS seq;
	DbState    *e;
	ListCell   *lc;
	int			i;

	hash_seq_init(&seq, db_states);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		pid_t		pid;

		e->served = false;
		if (e->handle != NULL &&
			GetBackgroundWorkerPid(e->handle, &pid) == BGWH_STOPPED)
		{
			pfree(e->handle);
			e->handle = NULL;
		}
	}
	foreach(lc, dbs)
	{
		ServedDb   *d = lfirst(lc);
		bool		found;

		e = hash_search(db_states, &d->dboid, HASH_ENTER, &found);
		if (!found)
		{
			memset(e, 0, sizeof(DbState));
			e->dboid = d->dboid;
		}
		e->served = true;
	}

	SpinLockAcquire(&shared->mutex);
	generation = shared->generation;
	SpinLockRelease(&shared->mutex);

	/* what the workers that exited left in their slots */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < shared->nslots; i++)
	{
		DbSlot	   *s = &shared->slots[i];

		if (s->dboid == InvalidOid || s->pid != 0)
			continue;
		e = hash_search(db_states, &s->dboid, HASH_FIND, NULL);
		if (s->exited && e != NULL)
		{
			e->no_extension = s->no_extension;
			if (s->no_extension)
			{
				e->no_extension_generation = s->generation;
				e->no_extension_at = s->checked_at;
				e->retry_at = 0;
			}
			else
				/* an ERROR or a terminate: again after naptime */
				e->retry_at = TimestampTzPlusMilliseconds(now, crm_purge_naptime * 1000L);
		}
		s->exited = false;
		s->no_extension = false;
		if (s->paused_until <= now)
			memset(s, 0, sizeof(DbSlot));
	}
	LWLockRelease(shared->lock);

	/* databases dropped or no longer served: stop their workers, forget them */
	hash_seq_init(&seq, db_states);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->served)
			continue;
		if (e->handle != NULL)
			TerminateBackgroundWorker(e->handle);
		else
			(void) hash_search(db_states, &e->dboid, HASH_REMOVE, NULL);
	}

	foreach(lc, dbs)
	{
		ServedDb   *d = lfirst(lc);
		DbSlot	   *s;
		bool		busy = false;
		TimestampTz paused_until = 0;

		e = hash_search(db_states, &d->dboid, HASH_FIND, NULL);
		if (e->handle != NULL)
			continue;			/* running (or just started) */

		LWLockAcquire(shared->lock, LW_SHARED);
		s = slot_for(d->dboid, false);
		if (s != NULL)
		{
			busy = (s->pid != 0);	/* e.g. started by an earlier launcher */
			paused_until = s->paused_until;
		}
		LWLockRelease(shared->lock);
		if (busy)
			continue;
		if (paused_until > now)
		{
			sooner(&sleep_ms, now, paused_until);
			continue;
		}
		if (e->no_extension && e->no_extension_generation == generation)
		{
			TimestampTz recheck = TimestampTzPlusMilliseconds(e->no_extension_at,
															  RECHECK_NO_EXTENSION_MS);

			if (recheck > now)
			{
				sooner(&sleep_ms, now, recheck);
				continue;
			}
		}
		if (e->retry_at > now)
		{
			sooner(&sleep_ms, now, e->retry_at);
			continue;
		}
		{
			/* the handle outlives this pass's memory */
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			e->handle = start_worker(d);
			MemoryContextSwitchTo(old);
		}
		/* never more than one start per naptime for a database */
		e->retry_at = TimestampTzPlusMilliseconds(now, crm_purge_naptime * 1000L);
	}
	return sleep_ms;
}

/*
 * crm_purge_launcher_main: the launcher: a pass, then a sleep until the next
 * is due, a wake or a reload.
 */
void
crm_purge_launcher_main(Datum arg)
{
	MemoryContext pass_cxt;
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	require_shared();
	/* pg_database is a shared catalog: no database needed */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname(LAUNCHER_TYPE);

	SpinLockAcquire(&shared->mutex);
	shared->launcher_procno = MyProc->pgprocno;
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DbState);
	ctl.hcxt = TopMemoryContext;
	db_states = hash_create("crm_purge databases", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "crm_purge launcher pass",
									 ALLOCSET_DEFAULT_SIZES);
	parse_served_names();

	for (;;)
	{
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			/* crm_purge.databases may have changed: this pass rescans */
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			parse_served_names();
		}
		MemoryContextReset(pass_cxt);
		MemoryContextSwitchTo(pass_cxt);
		sleep_ms = launcher_pass();
		MemoryContextSwitchTo(TopMemoryContext);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------- worker */

static Oid	my_dboid = InvalidOid;
static uint64 my_generation = 0;
static char *my_dbname = NULL;
static MemoryContext worker_cxt = NULL;

/*
 * worker_detach: at exit, clears the slot's pid and marks that its worker
 * exited (the launcher reads why).
 */
static void
worker_detach(int code, Datum arg)
{
	DbSlot	   *s;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s = slot_for(my_dboid, false);
	if (s != NULL && s->pid == MyProcPid)
	{
		s->pid = 0;
		s->exited = true;
	}
	LWLockRelease(shared->lock);
}

/*
 * worker_claim_slot: takes the database's slot.  False when the database is
 * paused (DROP DATABASE and the like are about to run) or another worker
 * serves it (one started by an earlier launcher, say).
 */
static bool
worker_claim_slot(void)
{
	DbSlot	   *s;
	bool		ok = false;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s = slot_for(my_dboid, true);
	if (s == NULL)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no free crm_purge worker slot for database %u", my_dboid)));
	else if (s->pid == 0 && s->paused_until <= GetCurrentTimestamp())
	{
		s->pid = MyProcPid;
		s->exited = false;
		s->no_extension = false;
		SpinLockAcquire(&shared->mutex);
		my_generation = shared->generation;
		SpinLockRelease(&shared->mutex);
		s->generation = my_generation;
		ok = true;
	}
	LWLockRelease(shared->lock);
	return ok;
}

/*
 * worker_no_extension: tells the launcher the database has no crm_purge, as of
 * this wake generation.
 */
static void
worker_no_extension(void)
{
	DbSlot	   *s;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	s = slot_for(my_dboid, false);
	if (s != NULL && s->pid == MyProcPid)
	{
		s->no_extension = true;
		s->generation = my_generation;
		s->checked_at = GetCurrentTimestamp();
	}
	LWLockRelease(shared->lock);
}

/* worker_reload_config: rereads the configuration; exits when the database is no longer served. */
static void
worker_reload_config(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	/* taken off crm_purge.databases: go (the launcher will not restart us) */
	parse_served_names();
	if (!name_is_served(my_dbname))
		proc_exit(0);
}

/*
 * applications_active: is another client session of this database running
 * a statement right now?
 */
static bool
applications_active(void)
{
	int			i,
				n;

	pgstat_clear_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *l = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be = l ? &l->backendStatus : NULL;

		/* running a statement: a session idle in a transaction for long does not hold the work up */
		if (be != NULL && be->st_procpid != MyProcPid && be->st_databaseid == MyDatabaseId &&
			be->st_backendType == B_BACKEND &&
			(be->st_state == STATE_RUNNING || be->st_state == STATE_FASTPATH))
			return true;
	}
	return false;
}

/*
 * run_due_work: runs the due work in batches, one transaction each, until
 * nothing is due.  Returns false when the extension is not (or not yet, or no
 * longer) installed.
 */
static bool
run_due_work(void)
{
	CrmPurgeTickCounts counts;
	bool		more;
	bool		apps;
	bool		seen_applications = false;	/* in this run of due work */
	int64		batches;

	memset(&counts, 0, sizeof(counts));
	crm_purge_batch_scale = 1;
	do
	{
		CrmPurgeIdentity id;
		TimestampTz step_started = GetCurrentTimestamp();

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (creating_extension || !OidIsValid(get_extension_oid("crm_purge", true)))
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
			MemoryContextSwitchTo(worker_cxt);
			return false;
		}
		pgstat_report_activity(STATE_RUNNING, "crm_purge: due work");
		/* a table locked by someone else delays its own work only (see crm_purge_errors) */
		(void) set_config_option("lock_timeout", "5s", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
		/* as crm_purge_tick() does: the extension owner, not the superuser */
		crm_purge_become_owner(&id);
		batches = counts.batches;
		crm_purge_work_timeout = crm_purge_step_timeout;
		crm_purge_fault("step_error");	/* for tests */
		crm_purge_request_in_step = crm_purge_request_of_step = 0;
		more = crm_purge_tick_step(&counts);
		crm_purge_work_timeout = 0;
		crm_purge_unbecome(&id);
		PopActiveSnapshot();
		/* a commit that fails (deferred work of the request's table) is its request's */
		crm_purge_request_in_step = crm_purge_request_of_step;
		CommitTransactionCommand();
		crm_purge_request_in_step = crm_purge_request_of_step = 0;
		if (counts.batches > batches)
			crm_purge_fault("batch_committed");	/* for tests */
		MemoryContextSwitchTo(worker_cxt);
		pgstat_report_activity(STATE_IDLE, NULL);
		pgstat_report_stat(false);

		/*
		 * after a batch: busy_batch_size as soon as something else of the
		 * database runs (scale 0); while nothing does, idle_batch_size at
		 * once, or once applications were seen in this run of work, batches
		 * that double from batch_size (an idle moment between their
		 * statements is no pause).  Work found after a pause starts at
		 * batch_size.  (Doubling in an idle database: six small batches of a
		 * request cost 6% of its time.)
		 */
		apps = counts.batches > batches && applications_active();
		seen_applications |= apps;
		if (counts.batches > batches)
			crm_purge_batch_scale = apps ? 0 :
				seen_applications ? Min(Max(crm_purge_batch_scale, 1) * 2, 1024) : 1024;

		if (more)
		{
			long		delay = crm_purge_batch_delay;

			/*
			 * Applications at work in this database: pause a multiple of the
			 * batch's own time, so that they keep most of the machine
			 */
			if (crm_purge_app_yield > 0 && apps)
				delay = Max(delay, Min((long) (TimestampDifferenceMilliseconds(step_started, GetCurrentTimestamp()) *
											   crm_purge_app_yield / 100), 2000L));
			/* throttling: a latch wait, so SIGTERM and SIGHUP cut it short */
			if (delay > 0)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 delay, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
			}
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
				worker_reload_config();
		}
	} while (more);
	pgstat_report_stat(true);
	if (counts.batches > 0 || counts.trash_expired > 0 || counts.purge_batches > 0 ||
		counts.exports_expired > 0)
		elog(DEBUG1, "crm_purge: %lld request batches, %lld trash rows expired, "
			 "%lld purge batches, %lld exports expired",
			 (long long) counts.batches, (long long) counts.trash_expired,
			 (long long) counts.purge_batches, (long long) counts.exports_expired);
	return true;
}

/*
 * An expected release (DROP DATABASE and the like) is not an incident:
 * the worker stops as on SIGTERM, interrupting any batch at its next check,
 * but says so at LOG, not FATAL, so that log alerting stays quiet.
 */
static volatile sig_atomic_t release_requested = false;
static emit_log_hook_type prev_emit_log_hook = NULL;

#define RELEASE_MESSAGE "crm_purge worker of database \"%s\" stops: a command needs the database to itself (DROP DATABASE, ALTER DATABASE ... RENAME, CREATE DATABASE ... TEMPLATE); it is started again when the command ends"

static void
worker_release_handler(SIGNAL_ARGS)
{
	release_requested = true;
	die(postgres_signal_arg);
}

/* turns the FATAL of a released worker, idle or in a batch, into a LOG line */
static void
worker_emit_log_hook(ErrorData *edata)
{
	if (release_requested && edata->elevel == FATAL &&
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
	{
		edata->elevel = LOG;
		edata->message = psprintf(RELEASE_MESSAGE, my_dbname ? my_dbname : "?");
		edata->detail = NULL;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* the worker's catch of a step's uncaught error (crm_purge_worker_main) */
static sigjmp_buf worker_sigjmp_buf;
static bool recording_step_failure = false;

/*
 * crm_purge_worker_main: a database's worker: claims its slot before
 * connecting, then does the due work every naptime until it finds no
 * crm_purge in the database.
 */
void
crm_purge_worker_main(Datum arg)
{
	ErrorData  *edata;

	my_dboid = DatumGetObjectId(arg);

	/*
	 * The application's backends come first: the worker's batches take the
	 * CPU they leave (its transactions are short, so a lower priority
	 * delays no one's locks for long).
	 */
	if (crm_purge_worker_nice != 0 && setpriority(PRIO_PROCESS, 0, crm_purge_worker_nice) != 0)
		ereport(LOG, (errmsg("crm_purge worker could not lower its priority: %m")));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGUSR2, worker_release_handler);
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = worker_emit_log_hook;
	BackgroundWorkerUnblockSignals();
	require_shared();

	/* before connecting: a paused database must not see us connect */
	if (!worker_claim_slot())
		proc_exit(0);
	before_shmem_exit(worker_detach, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(my_dboid, InvalidOid, 0);
	/* also shown in pg_stat_activity.application_name and %a of log lines */
	SetConfigOption("application_name", WORKER_TYPE, PGC_USERSET, PGC_S_SESSION);

	/*
	 * A batch's export is on disk before its commit is even written, so a
	 * commit lost in a crash only means the batch runs again.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* crm_purge's SQL reads its literals so, whatever the database's settings (a regex's backslashes) */
	SetConfigOption("standard_conforming_strings", "on", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * due work runs in READ COMMITTED, writable transactions, whatever the
	 * server's or the database's defaults: under REPEATABLE READ a step's
	 * segment merge copied rows an erase removed meanwhile back into the
	 * trash, and a read-only default made the worker exit at every start
	 * (review round 77, A77-1, A77-2; a database owner may set both)
	 */
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_deferrable", "off", PGC_SUSET, PGC_S_OVERRIDE);

	StartTransactionCommand();
	my_dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(my_dboid));
	CommitTransactionCommand();
	parse_served_names();

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "crm_purge worker",
									   ALLOCSET_DEFAULT_SIZES);

	/*
	 * An error a step does not catch (outside its subtransactions) rolls the
	 * step back and the worker naps, as after an idle round: exiting, it
	 * was restarted to fail again, with every other due work of the
	 * database waiting behind it
	 */
	if (sigsetjmp(worker_sigjmp_buf, 1) != 0)
	{
		/* (not in PG_TRY: the error context stack is reset by hand, as PostgresMain does) */
		error_context_stack = NULL;
		debug_query_string = NULL;
		HOLD_INTERRUPTS();
		disable_all_timeouts(false);
		QueryCancelPending = false;
		EmitErrorReport();
		LWLockReleaseAll();
		pgstat_report_wait_end();
		AbortCurrentTransaction();
		crm_purge_work_timeout = 0;
		crm_purge_request_forget_plans();
		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* (not again when recording the failure failed too) */
		if (!recording_step_failure)
		{
			recording_step_failure = true;
			crm_purge_request_step_failed(edata);
		}
		recording_step_failure = false;
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 crm_purge_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	PG_exception_stack = &worker_sigjmp_buf;
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			worker_reload_config();
		MemoryContextReset(worker_cxt);
		MemoryContextSwitchTo(worker_cxt);

		/* never act on a standby (belt and braces: workers start only on a primary) */
		if (!RecoveryInProgress() && !run_due_work())
		{
			elog(DEBUG1, "crm_purge is not installed in database \"%s\"; its worker exits",
				 my_dbname);
			worker_no_extension();
			proc_exit(0);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 crm_purge_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
