/*
 * citus.c - crm_purge on Citus: which node this is, the trash shard a
 * shard's deleted rows go to, and deletion ids that are the same on every
 * shard of a distributed transaction and unique across nodes.
 *
 * Citus is never linked against: its catalogs (pg_dist_*) are read by SQL,
 * only when the citus extension exists in the database.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "nodes/extensible.h"
#include "nodes/plannodes.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "crm_purge.h"

/*
 * (Every operator in this file's SQL is pg_catalog's: some of it runs with
 * the caller's search_path.)
 *
 * crm_purge_citus_present: is the citus extension created in this
 * database?  Kept until pg_extension changes (crm_purge_citus_forget): the
 * trash trigger asks at every statement.
 */
static int	citus_present = -1;	/* -1: not known */
static int32 cached_group = -1;	/* -1: not known */
static Oid	local_group_relid = InvalidOid;
static FmgrInfo txn_fn;			/* Citus's get_current_transaction_id() */
static bool txn_fn_valid = false;

bool
crm_purge_citus_present(void)
{
	if (citus_present < 0)
		citus_present = OidIsValid(get_extension_oid("citus", true)) ? 1 : 0;
	return citus_present == 1;
}

/* local_group_changed: Citus changed pg_dist_local_group (a node added, removed) */
static void
local_group_changed(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == local_group_relid)
		cached_group = -1;
}

/*
 * crm_purge_citus_forget: pg_extension changed: whether Citus is there, and
 * its functions, are read again.
 */
void
crm_purge_citus_forget(void)
{
	citus_present = -1;
	cached_group = -1;
	txn_fn_valid = false;
}

/*
 * crm_purge_citus_group: this node's Citus group id: 0 on the coordinator
 * (and without Citus), above 0 on a worker node.
 */
int32
crm_purge_citus_group(void)
{
	static bool callback_registered = false;
	int32		group = 0;
	bool		isnull;

	if (cached_group >= 0)
		return cached_group;
	if (!crm_purge_citus_present())
		return cached_group = 0;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(local_group_changed, (Datum) 0);
		callback_registered = true;
	}
	local_group_relid = get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE);
	SPI_connect();
	if (SPI_execute("SELECT groupid FROM pg_catalog.pg_dist_local_group", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			group = DatumGetInt32(d);
	}
	SPI_finish();
	/* Citus invalidates pg_dist_local_group's relcache entry when it changes */
	cached_group = group;
	return group;
}

/*
 * crm_purge_require_coordinator: crm_purge's functions run on the Citus
 * coordinator, which holds the catalogs; a worker node's are empty.
 */
void
crm_purge_require_coordinator(const char *what)
{
	if (crm_purge_citus_group() > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot run on a Citus worker node", what),
				 errhint("Connect to the Citus coordinator and run it there.")));
}

/*
 * shard_name: when relid is named like a Citus shard, <name>_<shard id>,
 * true, with the query arguments that check it against pg_dist_shard:
 * $1 the shard id, $2 the name without it, $3 the namespace.
 */
static bool
shard_name(Oid relid, int64 *id, Datum *values)
{
	const char *relname = get_rel_name(relid);
	const char *suffix;
	char	   *end;

	if (relname == NULL || (suffix = strrchr(relname, '_')) == NULL || suffix[1] == '\0' ||
		!crm_purge_citus_present())
		return false;
	errno = 0;
	*id = strtoll(suffix + 1, &end, 10);
	if (*end != '\0' || errno != 0 || *id <= 0)
		return false;
	values[0] = Int64GetDatum(*id);
	values[1] = CStringGetTextDatum(pnstrdup(relname, suffix - relname));
	values[2] = ObjectIdGetDatum(get_rel_namespace(relid));
	return true;
}

/*
 * crm_purge_citus_shard_trash: when relid is the shard of a distributed
 * table on this node, the shard of its trash on this node (a partitioned
 * table, colocated: the same hash range); InvalidOid otherwise.  The trash
 * of a distributed table s.t is crm_trash."s__t" (crm_purge_protect gives
 * it no other name), so a shard's own name says which trash it may write:
 * a table's owner cannot point its trigger at another table's trash.
 * *shardid is the live shard's id.
 */
Oid
crm_purge_citus_shard_trash(Oid relid, int64 *shardid)
{
	int64		id;
	Oid			trash = InvalidOid;
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];
	CrmPurgeIdentity ident;

	*shardid = 0;
	if (!shard_name(relid, &id, values))
		return InvalidOid;

	SPI_connect();
	crm_purge_become_owner(&ident);
	/* the shard named so is really that table's; its trash the one colocated with it */
	if (SPI_execute_with_args("SELECT (tc.relname || '_' || ts.shardid)::pg_catalog.text"
							  " FROM pg_catalog.pg_dist_shard ls"
							  " JOIN pg_catalog.pg_class lc ON lc.oid OPERATOR(pg_catalog.=) ls.logicalrelid"
							  " JOIN pg_catalog.pg_namespace ln ON ln.oid OPERATOR(pg_catalog.=) lc.relnamespace"
							  " JOIN pg_catalog.pg_dist_partition lp ON lp.logicalrelid OPERATOR(pg_catalog.=) ls.logicalrelid"
							  " JOIN pg_catalog.pg_class tc ON tc.relname OPERATOR(pg_catalog.=) (ln.nspname || '__' || lc.relname)"
							  "  AND tc.relkind OPERATOR(pg_catalog.=) 'p'"
							  "  AND tc.relnamespace OPERATOR(pg_catalog.=) (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'crm_trash')"
							  " JOIN pg_catalog.pg_dist_partition tp ON tp.logicalrelid OPERATOR(pg_catalog.=) tc.oid AND tp.colocationid OPERATOR(pg_catalog.=) lp.colocationid"
							  " JOIN pg_catalog.pg_dist_shard ts ON ts.logicalrelid OPERATOR(pg_catalog.=) tc.oid"
							  "  AND ts.shardminvalue OPERATOR(pg_catalog.=) ls.shardminvalue"
							  " WHERE ls.shardid OPERATOR(pg_catalog.=) $1 AND lc.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name"
							  "  AND lc.relnamespace OPERATOR(pg_catalog.=) $3"
	/* the name names one table only (crm_purge._citus_name_ok) */
							  "  AND pg_catalog.strpos(ln.nspname, '__') OPERATOR(pg_catalog.=) 0 AND pg_catalog.strpos(lc.relname, '__') OPERATOR(pg_catalog.=) 0"
							  "  AND pg_catalog.right(ln.nspname, 1) OPERATOR(pg_catalog.<>) '_'"
							  "  AND pg_catalog.left(lc.relname, 1) OPERATOR(pg_catalog.<>) '_'",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	if (SPI_processed == 1)
	{
		Oid			nsp = get_namespace_oid("crm_trash", true);

		/* the trash shard is on this node when the live shard is: it moves with it */
		if (OidIsValid(nsp))
			trash = get_relname_relid(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), nsp);
	}
	crm_purge_unbecome(&ident);
	SPI_finish();
	if (OidIsValid(trash))
		*shardid = id;
	return trash;
}

/*
 * crm_purge_citus_deletion_id: the deletion id of the running distributed
 * transaction, the same in every shard it touches, or 0 outside one (a
 * statement Citus ran on one shard in one backend, or no Citus).  Made of
 * the transaction's start (milliseconds since 2024, 40 bits), the
 * initiating node (10 bits) and its transaction number (12 bits), with bit
 * 62 set: no id from a sequence reaches it.
 */
int64
crm_purge_citus_deletion_id(void)
{
	HeapTupleHeader tx;
	Datum		node,
				number,
				stamp;
	bool		n1,
				n2,
				n3;

	if (!crm_purge_citus_present())
		return 0;
	/* called directly, not through SPI: the trigger asks at every statement */
	if (!txn_fn_valid)
	{
		Oid			fn = LookupFuncName(list_make2(makeString("pg_catalog"),
												   makeString("get_current_transaction_id")),
										0, NULL, false);

		fmgr_info_cxt(fn, &txn_fn, TopMemoryContext);
		txn_fn_valid = true;
	}
	tx = DatumGetHeapTupleHeader(FunctionCall0Coll(&txn_fn, InvalidOid));
	node = GetAttributeByName(tx, "initiator_node_identifier", &n1);
	number = GetAttributeByName(tx, "transaction_number", &n2);
	stamp = GetAttributeByName(tx, "transaction_stamp", &n3);
	if (!n1 && !n2 && !n3 && DatumGetInt64(number) > 0)
	{
		/* 2024-01-01 00:00 UTC in PostgreSQL's epoch, in microseconds */
		const TimestampTz base = INT64CONST(757382400000000);
		int64		ms = (DatumGetTimestampTz(stamp) - base) / 1000;

		return ((int64) 1 << 62) |
			((ms & ((INT64CONST(1) << 40) - 1)) << 22) |
			((int64) (DatumGetInt32(node) & 1023) << 12) |
			(DatumGetInt64(number) & 4095);
	}
	return 0;
}

/*
 * One deletion id per statement in a transaction block.  A worker node
 * cannot tell the initiator's statements apart (one distributed
 * transaction, tasks spread over several connections), so the initiator
 * allocates each deleting statement's id and hands it to every connection
 * of the transaction as SET LOCAL crm_purge.citus_deletion (Citus sends it
 * to the open connections and prefixes it to the ones it opens later).  The
 * value carries the secret's tag of the id: a role that sets it by hand
 * cannot file its rows under someone else's deletion.
 */
static LocalTransactionId issued_lxid = InvalidLocalTransactionId;
static uint64 issued_stmt = 0;
static int64 issued_id = 0;

/* parse_issued: the id in a crm_purge.citus_deletion value, or 0 when empty; a value crm_purge did not make is an error. */
static int64
parse_issued(const char *value)
{
	long long	id;
	unsigned long long tag;
	int			used = 0;

	if (value == NULL || value[0] == '\0')
		return 0;
	if (sscanf(value, "%lld.%16llx%n", &id, &tag, &used) != 2 || value[used] != '\0' ||
		id <= 0 || (uint64) tag != crm_purge_deletion_mac((int64) id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("crm_purge.citus_deletion holds a value crm_purge did not issue"),
				 errhint("Do not set crm_purge.citus_deletion: the node that runs the DELETE sets it for its worker nodes.")));
	return (int64) id;
}

/*
 * crm_purge_citus_plan: is this the plan of a statement Citus distributes
 * (its CustomScan at the top)?  The initiator sees the distributed table;
 * a worker node's tasks name shards, which are plain tables.
 */
bool
crm_purge_citus_plan(PlannedStmt *plan)
{
	return plan != NULL && plan->planTree != NULL && IsA(plan->planTree, CustomScan) &&
		strncmp(((CustomScan *) plan->planTree)->methods->CustomName, "Citus", 5) == 0;
}

/*
 * propagate_local: SET LOCAL name = value here and on every connection of
 * the transaction.  Citus propagates SET LOCAL only when asked to: asked
 * for this one only.
 */
static void
propagate_local(const char *name, const char *value)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("citus.propagate_set_commands", "local", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	if (SPI_execute(psprintf("SET LOCAL %s = %s", name, quote_literal_cstr(value)), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not hand %s to the Citus worker nodes", name);
	SPI_finish();
	AtEOXact_GUC(true, nest);
}

/* the actor and reason the worker nodes were last given, in issued_lxid */
static char *issued_actor = NULL;
static char *issued_reason = NULL;

/* propagate_if_changed: propagate_local of a setting the nodes do not have yet in this transaction. */
static void
propagate_if_changed(const char *name, const char *value, char **issued, bool new_xact)
{
	if (value == NULL || (value[0] == '\0' && (new_xact || *issued == NULL)))
		return;
	if (!new_xact && *issued != NULL && strcmp(*issued, value) == 0)
		return;
	propagate_local(name, value);
	if (*issued)
		pfree(*issued);
	*issued = MemoryContextStrdup(TopMemoryContext, value);
}

/*
 * crm_purge_citus_issue_deletion: before a distributed DELETE in a
 * transaction block, gives top-level statement stmt its deletion id on
 * every connection of the transaction (once per statement; again when a
 * rolled-back subtransaction took the setting away), and the application's
 * actor and reason, which Citus does not send by itself.
 */
void
crm_purge_citus_issue_deletion(uint64 stmt)
{
	bool		new_xact = issued_lxid != MyProc->lxid;

	if (new_xact && issued_actor)
	{
		pfree(issued_actor);
		issued_actor = NULL;
	}
	if (new_xact && issued_reason)
	{
		pfree(issued_reason);
		issued_reason = NULL;
	}
	propagate_if_changed("crm_purge.actor", crm_purge_actor, &issued_actor, new_xact);
	propagate_if_changed("crm_purge.reason", crm_purge_reason, &issued_reason, new_xact);
	issued_lxid = MyProc->lxid;
	if (crm_purge_deletion_scope != DELETION_SCOPE_STATEMENT ||
		(!new_xact && issued_stmt == stmt && parse_issued(crm_purge_citus_deletion) == issued_id))
		return;
	issued_id = crm_purge_new_deletion_id();
	issued_stmt = stmt;
	propagate_local("crm_purge.citus_deletion",
					psprintf("%lld.%016llx", (long long) issued_id,
							 (unsigned long long) crm_purge_deletion_mac(issued_id)));
}

/*
 * crm_purge_citus_issued_deletion: the deletion id the initiator issued for
 * the running statement, 0 when none.  In the initiator itself the setting
 * outlives its statement: a later statement that did not issue one (a
 * DELETE of a local table) gets none.
 */
int64
crm_purge_citus_issued_deletion(uint64 stmt)
{
	int64		id = parse_issued(crm_purge_citus_deletion);

	if (id != 0 && issued_lxid == MyProc->lxid && id == issued_id && issued_stmt != stmt)
		return 0;
	return id;
}

/* crm_purge_citus_distributed: is relid a Citus distributed (or reference) table? */
bool
crm_purge_citus_distributed(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		found;

	if (!crm_purge_citus_present())
		return false;
	SPI_connect();
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * crm_purge_citus_live_of_trash_shard: on a Citus node, the distributed
 * table (its shell here) whose trash has the shard trashid (of the trash or
 * of one of its segments); InvalidOid when trashid is no such shard.  The
 * row-level security of a trash shard asks it: the catalog that maps a
 * trash to its table is on the coordinator.
 */
Oid
crm_purge_citus_live_of_trash_shard(Oid trashid)
{
	int64		id;
	Oid			live = InvalidOid;
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];
	CrmPurgeIdentity ident;

	if (!shard_name(trashid, &id, values))
		return InvalidOid;

	SPI_connect();
	crm_purge_become_owner(&ident);
	if (SPI_execute_with_args("SELECT lc.oid"
							  " FROM pg_catalog.pg_dist_shard ss"
							  " JOIN pg_catalog.pg_class sc ON sc.oid OPERATOR(pg_catalog.=) ss.logicalrelid"
							  " JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) coalesce((SELECT i.inhparent FROM pg_catalog.pg_inherits i"
							  "                                                   WHERE i.inhrelid OPERATOR(pg_catalog.=) ss.logicalrelid), ss.logicalrelid)"
							  " JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace AND tn.nspname OPERATOR(pg_catalog.=) 'crm_trash'"
							  " JOIN pg_catalog.pg_dist_partition tp ON tp.logicalrelid OPERATOR(pg_catalog.=) tc.oid"
							  " JOIN pg_catalog.pg_dist_partition lp ON lp.colocationid OPERATOR(pg_catalog.=) tp.colocationid"
							  " JOIN pg_catalog.pg_class lc ON lc.oid OPERATOR(pg_catalog.=) lp.logicalrelid"
							  " JOIN pg_catalog.pg_namespace ln ON ln.oid OPERATOR(pg_catalog.=) lc.relnamespace"
							  " WHERE ss.shardid OPERATOR(pg_catalog.=) $1 AND sc.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name"
							  "  AND sc.relnamespace OPERATOR(pg_catalog.=) $3"
							  "  AND tc.relname OPERATOR(pg_catalog.=) (ln.nspname || '__' || lc.relname)"
							  "  AND pg_catalog.strpos(ln.nspname, '__') OPERATOR(pg_catalog.=) 0 AND pg_catalog.strpos(lc.relname, '__') OPERATOR(pg_catalog.=) 0"
							  "  AND pg_catalog.right(ln.nspname, 1) OPERATOR(pg_catalog.<>) '_'"
							  "  AND pg_catalog.left(lc.relname, 1) OPERATOR(pg_catalog.<>) '_'",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	if (SPI_processed == 1)
	{
		bool		isnull;

		live = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	crm_purge_unbecome(&ident);
	SPI_finish();
	return live;
}

/*
 * crm_purge_citus_shard_logical: when relid is a shard on this node, the
 * distributed table it is a shard of (its shell here); else InvalidOid.
 */
Oid
crm_purge_citus_shard_logical(Oid relid)
{
	int64		id;
	Oid			logical = InvalidOid;
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];

	if (!shard_name(relid, &id, values))
		return InvalidOid;
	SPI_connect();
	if (SPI_execute_with_args("SELECT c.oid FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
							  " WHERE s.shardid OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name"
							  " AND c.relnamespace OPERATOR(pg_catalog.=) $3",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	if (SPI_processed == 1)
	{
		bool		isnull;

		logical = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return logical;
}

/*
 * crm_purge_citus_placement: the name of this node's placement of the
 * reference table crm_trash.<name> (where the coordinator keeps what every
 * node must see: tombstones of distributed tables, the secret), or NULL.
 * A shard's trigger reads the placement: a query on the distributed table
 * itself would be a distributed query inside one on a shard.  SPI
 * connected.
 */
char *
crm_purge_citus_placement(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	if (SPI_execute_with_args("SELECT pg_catalog.quote_ident('crm_trash') || '.' || pg_catalog.quote_ident($1 || '_' || s.shardid)"
							  " FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
							  " WHERE c.relname OPERATOR(pg_catalog.=) $1::pg_catalog.name"
							  " AND c.relnamespace OPERATOR(pg_catalog.=) (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'crm_trash')",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	if (SPI_processed != 1)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * crm_purge_citus_table_key: the key the coordinator's copy of tombstones
 * names a Citus table by: its smallest shard id, the same on every node and
 * through renames (a split gives new shards: the guard then refuses rows
 * until crm_purge_guard copies again).  NULL when it has no shard.  SPI
 * connected.
 */
char *
crm_purge_citus_table_key(Oid logical)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(logical)};

	if (SPI_execute_with_args("SELECT pg_catalog.min(shardid)::pg_catalog.text FROM pg_catalog.pg_dist_shard"
							  " WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	return SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
}
