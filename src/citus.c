/*
 * citus.c - crm_purge on Citus: which node this is, the trash shard a
 * shard's deleted rows go to, and deletion ids that are the same on every
 * shard of a distributed transaction and unique across nodes.
 *
 * Citus is never linked against: its catalogs (pg_dist_*) are read by SQL,
 * only when the citus extension exists in the database.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "utils/guc_tables.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "parser/parse_relation.h"
#include "storage/lockdefs.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
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

static Datum dist_attr(HeapTuple tup, TupleDesc desc, const char *column, bool *isnull);

bool
crm_purge_citus_present(void)
{
	if (citus_present < 0)
		citus_present = OidIsValid(get_extension_oid("citus", true)) ? 1 : 0;
	return citus_present == 1;
}

/* local_group_changed: Citus changed pg_dist_local_group (a node added, removed) */
static void
local_group_changed(Oid relid)
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
	int32		group = 0;
	bool		isnull;

	if (cached_group >= 0)
		return cached_group;
	if (!crm_purge_citus_present())
		return cached_group = 0;
	local_group_relid = get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE);
	if (OidIsValid(local_group_relid))
	{
		/* one row; read directly: the trash trigger asks in every new backend */
		Relation	rel = table_open(local_group_relid, AccessShareLock);
		SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
		HeapTuple	tup = systable_getnext(scan);

		if (HeapTupleIsValid(tup))
		{
			Datum		d = dist_attr(tup, RelationGetDescr(rel), "groupid", &isnull);

			if (!isnull)
				group = DatumGetInt32(d);
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
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
 * Citus's catalogs read directly, not through SPI: the trash trigger of a
 * shard looks its trash shard up in every new backend, and Citus opens new
 * connections for the shards of a multi-shard statement (the SPI join took
 * milliseconds to plan).  Columns are found by name.
 */

/* dist_scan_first: the first row of pg_catalog.<table> whose <column> = value (int8 or oid), copied; NULL if none */
static HeapTuple
dist_scan_first(const char *table, const char *index, const char *column, Datum value,
				bool int8, TupleDesc *desc, HeapTuple (*match) (HeapTuple, TupleDesc, void *), void *arg)
{
	Oid			relid = get_relname_relid(table, PG_CATALOG_NAMESPACE);
	Oid			indexid = get_relname_relid(index, PG_CATALOG_NAMESPACE);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup,
				found = NULL;
	AttrNumber	att;

	if (!OidIsValid(relid))
		return NULL;
	rel = table_open(relid, AccessShareLock);
	att = attnameAttNum(rel, column, false);
	if (att == InvalidAttrNumber)
		elog(ERROR, "the Citus catalog %s has no column %s", table, column);
	ScanKeyInit(&key, att, BTEqualStrategyNumber, int8 ? F_INT8EQ : F_OIDEQ, value);
	scan = systable_beginscan(rel, indexid, OidIsValid(indexid), NULL, 1, &key);
	while (found == NULL && HeapTupleIsValid(tup = systable_getnext(scan)))
		if (match == NULL || match(tup, RelationGetDescr(rel), arg) != NULL)
			found = heap_copytuple(tup);
	systable_endscan(scan);
	*desc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, AccessShareLock);
	return found;
}

/* dist_attr: a column of a row of a Citus catalog, by name; NULL when null */
static Datum
dist_attr(HeapTuple tup, TupleDesc desc, const char *column, bool *isnull)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), column) == 0)
			return heap_getattr(tup, i + 1, desc, isnull);
	elog(ERROR, "a Citus catalog has no column %s", column);
}

/* dist_shard: pg_dist_shard's table and shardminvalue of shard id; false when none */
static bool
dist_shard(int64 id, Oid *logical, char **minvalue)
{
	TupleDesc	desc;
	HeapTuple	tup = dist_scan_first("pg_dist_shard", "pg_dist_shard_shardid_index", "shardid",
									  Int64GetDatum(id), true, &desc, NULL, NULL);
	bool		isnull;
	Datum		d;

	if (tup == NULL)
		return false;
	*logical = DatumGetObjectId(dist_attr(tup, desc, "logicalrelid", &isnull));
	d = dist_attr(tup, desc, "shardminvalue", &isnull);
	*minvalue = isnull ? NULL : TextDatumGetCString(d);
	return true;
}

/* dist_colocation: pg_dist_partition's colocationid of relid; -1 when not distributed */
static int32
dist_colocation(Oid relid)
{
	TupleDesc	desc;
	HeapTuple	tup = dist_scan_first("pg_dist_partition", "pg_dist_partition_logical_relid_index",
									  "logicalrelid", ObjectIdGetDatum(relid), false, &desc, NULL, NULL);
	bool		isnull;
	Datum		d;

	if (tup == NULL)
		return -1;
	d = dist_attr(tup, desc, "colocationid", &isnull);
	return isnull ? -1 : DatumGetInt32(d);
}

/* min_matches: a pg_dist_shard row whose shardminvalue is arg's */
static HeapTuple
min_matches(HeapTuple tup, TupleDesc desc, void *arg)
{
	bool		isnull;
	Datum		d = dist_attr(tup, desc, "shardminvalue", &isnull);

	return !isnull && strcmp(TextDatumGetCString(d), (char *) arg) == 0 ? tup : NULL;
}

/* dist_shard_with_min: the shard of logical with that shardminvalue (the colocated one); 0 when none */
static int64
dist_shard_with_min(Oid logical, char *minvalue)
{
	TupleDesc	desc;
	HeapTuple	tup;
	bool		isnull;

	if (minvalue == NULL)
		return 0;
	tup = dist_scan_first("pg_dist_shard", "pg_dist_shard_logical_relid_index", "logicalrelid",
						  ObjectIdGetDatum(logical), false, &desc, min_matches, minvalue);
	return tup == NULL ? 0 : DatumGetInt64(dist_attr(tup, desc, "shardid", &isnull));
}

/*
 * trash_name_ok: schema and table name make a trash name that names one
 * table (crm_purge._citus_name_ok): no "__" inside either, the schema does
 * not end and the table does not start with "_".
 */
static bool
trash_name_ok(const char *nspname, const char *relname)
{
	size_t		n = strlen(nspname);

	return strstr(nspname, "__") == NULL && strstr(relname, "__") == NULL &&
		n > 0 && nspname[n - 1] != '_' && relname[0] != '\0' && relname[0] != '_';
}

/* shard_of: the distributed table (its shell here) relid is shard id of, by name and namespace; InvalidOid if not */
static Oid
shard_of(Oid relid, int64 id, Datum *values, char **minvalue)
{
	Oid			logical;
	char	   *relname;

	if (!dist_shard(id, &logical, minvalue))
		return InvalidOid;
	relname = get_rel_name(logical);
	if (relname == NULL || strcmp(relname, TextDatumGetCString(values[1])) != 0 ||
		get_rel_namespace(logical) != DatumGetObjectId(values[2]))
		return InvalidOid;
	return logical;
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
	int64		id,
				trash_shard;
	int32		colocation;
	Datum		values[3];
	Oid			logical,
				crm_trash,
				trash;
	char	   *minvalue;
	char	   *nspname;
	char	   *relname;

	*shardid = 0;
	if (!shard_name(relid, &id, values))
		return InvalidOid;
	/* the shard named so is really that table's; its trash the one colocated with it */
	if (!OidIsValid(logical = shard_of(relid, id, values, &minvalue)))
		return InvalidOid;
	nspname = get_namespace_name(get_rel_namespace(logical));
	relname = get_rel_name(logical);
	crm_trash = get_namespace_oid("crm_trash", true);
	if (nspname == NULL || relname == NULL || !OidIsValid(crm_trash) || !trash_name_ok(nspname, relname))
		return InvalidOid;
	trash = get_relname_relid(psprintf("%s__%s", nspname, relname), crm_trash);
	if (!OidIsValid(trash) || get_rel_relkind(trash) != RELKIND_PARTITIONED_TABLE ||
		(colocation = dist_colocation(trash)) < 0 || colocation != dist_colocation(logical) ||
		(trash_shard = dist_shard_with_min(trash, minvalue)) == 0)
		return InvalidOid;
	/* the trash shard is on this node when the live shard is: it moves with it */
	trash = get_relname_relid(psprintf("%s_" INT64_FORMAT, get_rel_name(trash), trash_shard), crm_trash);
	if (OidIsValid(trash))
		*shardid = id;
	return trash;
}

/* the running distributed transaction, as get_current_transaction_id() says */
typedef struct DistTxn
{
	int32		node;			/* the initiating node */
	int64		number;			/* its transaction number, 0: none */
	TimestampTz stamp;
} DistTxn;

/* current_dist_txn: the distributed transaction this backend runs in; false when none */
static bool
current_dist_txn(DistTxn *t)
{
	HeapTupleHeader tx;
	bool		n1,
				n2,
				n3;

	if (!crm_purge_citus_present())
		return false;
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
	t->node = DatumGetInt32(GetAttributeByName(tx, "initiator_node_identifier", &n1));
	t->number = DatumGetInt64(GetAttributeByName(tx, "transaction_number", &n2));
	t->stamp = DatumGetTimestampTz(GetAttributeByName(tx, "transaction_stamp", &n3));
	return !n1 && !n2 && !n3 && t->number > 0;
}

/*
 * ensured_dist_txn: the distributed transaction, which Citus starts now if
 * it has not yet (a tag names it before the statement runs); false when
 * Citus has no such function or no transaction results.
 */
static bool
ensured_dist_txn(DistTxn *t)
{
	void		(*ensure_txn) (void);

	ensure_txn = (void (*) (void)) load_external_function("$libdir/citus", "EnsureDistributedTransactionId",
														  false, NULL);
	if (ensure_txn == NULL)
		return false;
	ensure_txn();
	return current_dist_txn(t);
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
	DistTxn		t;

	if (current_dist_txn(&t))
	{
		/* 2024-01-01 00:00 UTC in PostgreSQL's epoch, in microseconds */
		const TimestampTz base = INT64CONST(757382400000000);
		int64		ms = (t.stamp - base) / 1000;

		return ((int64) 1 << 62) |
			((ms & ((INT64CONST(1) << 40) - 1)) << 22) |
			((int64) (t.node & 1023) << 12) |
			(t.number & 4095);
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
 * value carries the secret's tag of the id and of the distributed
 * transaction: a role that sets it by hand, or replays one it saw (Citus
 * can log remote commands), cannot file rows under another deletion.  The
 * initiator itself never reads the setting.
 */
static LocalTransactionId issued_lxid = InvalidLocalTransactionId;
static uint64 issued_stmt = 0;
static int64 issued_id = 0;		/* in issued_lxid; 0: none yet */
static char *issued_value = NULL;	/* what was sent */

/* the actor and reason the worker nodes were last given, in issued_lxid */
static char *issued_actor = NULL;
static char *issued_reason = NULL;

/* deletion_tag: the secret's tag of a deletion id in distributed transaction t */
static uint64
deletion_tag(int64 id, const DistTxn *t)
{
	return crm_purge_deletion_mac(id, t->node, t->number, t->stamp);
}

/*
 * parse_issued: the id in a crm_purge.citus_deletion value, or 0 when
 * empty; a value not issued in this distributed transaction is an error.
 */
static int64
parse_issued(const char *value)
{
	long long	id;
	unsigned long long tag;
	int			used = 0;
	DistTxn		t;

	if (value == NULL || value[0] == '\0')
		return 0;
	if (sscanf(value, "%lld.%16llx%n", &id, &tag, &used) != 2 || value[used] != '\0' ||
		id <= 0 || strcmp(value, psprintf("%lld.%016llx", id, tag)) != 0 ||
		!current_dist_txn(&t) || (uint64) tag != deletion_tag((int64) id, &t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("crm_purge.citus_deletion holds a value crm_purge did not issue in this transaction"),
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
 * type_code_owner: the role, not superuser-like, whose domain type (at any
 * depth: an array's element, a composite's or an anonymous record's
 * attribute, a range's subtype, a domain's base) reads a value of type:
 * its CHECK is that role's code.  InvalidOid: none; *unsure: the walk could
 * not tell (too deep, a record whose columns are not known here), which
 * counts as a role's code (a cap read as "none" let 17 nested composites
 * through, and a record of ROW(col) was "none": review round 75, C75-1,
 * C75-2).
 */
static Oid
type_code_owner(Oid type, int32 typmod, int depth, bool *unsure)
{
	HeapTuple	tup;
	Form_pg_type t;
	Oid			owner = InvalidOid;

	if (depth > 64)
	{
		*unsure = true;
		return InvalidOid;
	}
	if (type == RECORDOID || type == RECORDARRAYOID)
	{
		TupleDesc	td = typmod >= 0 ? lookup_rowtype_tupdesc_noerror(RECORDOID, typmod, true) : NULL;
		int			i;

		if (td == NULL)
		{
			*unsure = true;
			return InvalidOid;
		}
		for (i = 0; i < td->natts && !OidIsValid(owner); i++)
			if (!TupleDescAttr(td, i)->attisdropped)
				owner = type_code_owner(TupleDescAttr(td, i)->atttypid, TupleDescAttr(td, i)->atttypmod,
										depth + 1, unsure);
		ReleaseTupleDesc(td);
		return owner;
	}
	if (!OidIsValid(type) || (tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type))) == NULL)
		return InvalidOid;
	t = (Form_pg_type) GETSTRUCT(tup);
	if (t->typtype == TYPTYPE_DOMAIN)
		owner = crm_purge_superuser_like(t->typowner) ?
			type_code_owner(t->typbasetype, t->typtypmod, depth + 1, unsure) : t->typowner;
	else if (OidIsValid(t->typelem) && IsTrueArrayType(t))
		owner = type_code_owner(t->typelem, typmod, depth + 1, unsure);
	else if (t->typtype == TYPTYPE_RANGE)
		owner = type_code_owner(get_range_subtype(type), -1, depth + 1, unsure);
	else if (t->typtype == TYPTYPE_MULTIRANGE)
		owner = type_code_owner(get_multirange_range(type), -1, depth + 1, unsure);
	else if (t->typtype == TYPTYPE_COMPOSITE && OidIsValid(t->typrelid))
	{
		Relation	rel = relation_open(t->typrelid, AccessShareLock);
		int			i;

		for (i = 0; i < RelationGetDescr(rel)->natts && !OidIsValid(owner); i++)
			if (!TupleDescAttr(RelationGetDescr(rel), i)->attisdropped)
				owner = type_code_owner(TupleDescAttr(RelationGetDescr(rel), i)->atttypid,
										TupleDescAttr(RelationGetDescr(rel), i)->atttypmod, depth + 1, unsure);
		relation_close(rel, AccessShareLock);
	}
	ReleaseSysCache(tup);
	return owner;
}

/* refuse_foreign_type: a superuser reading a value of type through Citus, if a role's code checks it */
static void
refuse_foreign_type(Oid type, int32 typmod, const char *what)
{
	bool		unsure = false;
	Oid			owner = type_code_owner(type, typmod, 0, &unsure);

	if (OidIsValid(owner) && owner != GetUserId())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a superuser may not read %s of type %s through Citus: it is checked by a domain of role %s",
						what, format_type_be_qualified(type), crm_purge_role_name(owner)),
				 errdetail("Citus reads the rows it moves between nodes through the type's input function, which checks the domain's constraints, that role's code, as the superuser."),
				 errhint("Read it as its base type (cast it in the query), or as the domain's owner (SET ROLE).")));
	if (unsure)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a superuser may not read %s of type %s through Citus: crm_purge cannot tell whose code checks it",
						what, format_type_be_qualified(type)),
				 errdetail("Citus reads the rows it moves between nodes through the type's input function; a role's domain in it would check its constraints, that role's code, as the superuser."),
				 errhint("Read it as text (cast it in the query), or as the role whose types it holds (SET ROLE).")));
}

/*
 * citus_scans: the Citus scans of a plan tree, and its function scans
 * (*functions: a FunctionScan keeps its functions, the flattened range
 * table does not)
 */
static void
citus_scans(Plan *plan, List **out, List **functions)
{
	ListCell   *lc;

	if (plan == NULL)
		return;
	if (IsA(plan, CustomScan) && strncmp(((CustomScan *) plan)->methods->CustomName, "Citus", 5) == 0)
		*out = lappend(*out, plan);
	if (IsA(plan, FunctionScan))
		*functions = list_concat(*functions, ((FunctionScan *) plan)->functions);
	citus_scans(plan->lefttree, out, functions);
	citus_scans(plan->righttree, out, functions);
	if (IsA(plan, Append))
		foreach(lc, ((Append *) plan)->appendplans)
			citus_scans(lfirst(lc), out, functions);
	else if (IsA(plan, MergeAppend))
		foreach(lc, ((MergeAppend *) plan)->mergeplans)
			citus_scans(lfirst(lc), out, functions);
	else if (IsA(plan, SubqueryScan))
		citus_scans(((SubqueryScan *) plan)->subplan, out, functions);
	else if (IsA(plan, CustomScan))
		foreach(lc, ((CustomScan *) plan)->custom_plans)
			citus_scans(lfirst(lc), out, functions);
}

/*
 * crm_purge_citus_refuse_foreign_domains: a superuser's statement whose
 * rows Citus reads back from the worker nodes on this node, through the
 * input (or receive) function of each column's type: a role's domain there
 * checks its CHECK as the superuser.  A role's domain whose CHECK called
 * only built-ins (query_to_xml of run_command_on_all_nodes) made the role
 * superuser on every node when a superuser read its table (review round
 * 73, C73-1).  Its owner reads it as itself.
 */
void
crm_purge_citus_refuse_foreign_domains(PlannedStmt *stmt)
{
	List	   *scans = NIL;
	List	   *functions = NIL;
	ListCell   *lc;

	if (!superuser() || !crm_purge_citus_present())
		return;
	citus_scans(stmt->planTree, &scans, &functions);
	foreach(lc, stmt->subplans)
		citus_scans(lfirst(lc), &scans, &functions);

	/*
	 * Rows Citus moves between nodes as intermediate results, read back on
	 * the receiving node by read_intermediate_result(s) through the column
	 * definitions' types: a local table joined with a distributed one, a
	 * repartition join (review round 74, C74-1)
	 */
	foreach(lc, functions)
	{
		RangeTblFunction *rtf = lfirst(lc);
		ListCell   *t,
				   *tm;
		char	   *name;

		if (!IsA(rtf->funcexpr, FuncExpr))
			continue;
		name = get_func_name(((FuncExpr *) rtf->funcexpr)->funcid);
		if (name == NULL || strncmp(name, "read_intermediate_result", 24) != 0)
			continue;
		forboth(t, rtf->funccoltypes, tm, rtf->funccoltypmods)
			refuse_foreign_type(lfirst_oid(t), lfirst_int(tm), "values");
	}
	foreach(lc, scans)
	{
		CustomScan *scan = lfirst(lc);
		ListCell   *t;

		foreach(t, scan->custom_scan_tlist != NIL ? scan->custom_scan_tlist : scan->scan.plan.targetlist)
		{
			TargetEntry *tle = lfirst(t);

			refuse_foreign_type(exprType((Node *) tle->expr), exprTypmod((Node *) tle->expr),
								tle->resname ? quote_identifier(tle->resname) : "a column");
		}
	}
}

/*
 * crm_purge_citus_roles_by_name: role OIDs differ from node to node, and
 * Citus sends a regrole (a trash's deleted_by) as its OID in the binary
 * protocol: in a shard copy (a move: the rows then named another role, or
 * none) and in results sent to the coordinator (the wrong role named there,
 * another user seeing and restoring the rows).  A statement reading a
 * distributed trash, and a shard copy or split on a worker node, runs with
 * citus.enable_binary_protocol off (to the end of its transaction).
 */
void
crm_purge_citus_roles_by_name(QueryDesc *queryDesc)
{
	const char *binary;
	const char *src = queryDesc->sourceText;
	bool		by_name = false;
	Oid			trash_schema;
	ListCell   *lc;

	if (IsParallelWorker() || !crm_purge_citus_present())
		return;
	binary = GetConfigOption("citus.enable_binary_protocol", true, false);
	if (binary == NULL || strcmp(binary, "off") == 0)
		return;
	/* (the statements Citus sends a source node to copy shards) */
	if (src != NULL && (strstr(src, "worker_copy_table_to_node") != NULL || strstr(src, "worker_split_copy") != NULL))
		by_name = true;
	trash_schema = get_namespace_oid(CRM_TRASH_SCHEMA, true);
	if (!by_name && OidIsValid(trash_schema))
		foreach(lc, queryDesc->plannedstmt->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION && get_rel_namespace(rte->relid) == trash_schema)
			{
				by_name = true;
				break;
			}
		}
	if (by_name)
		(void) set_config_option("citus.enable_binary_protocol", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
}

/* reshard_arg: the argument of call f named name, or at position pos (0-based); NULL when not given */
static Node *
reshard_arg(FuncExpr *f, const char *name, int pos)
{
	ListCell   *lc;

	foreach(lc, f->args)
	{
		Node	   *a = lfirst(lc);

		if (IsA(a, NamedArgExpr))
		{
			if (strcmp(((NamedArgExpr *) a)->name, name) == 0)
				return (Node *) ((NamedArgExpr *) a)->arg;
		}
		else if (foreach_current_index(lc) == pos)
			return a;
	}
	return NULL;
}

/*
 * crm_purge_citus_refuse_reshard: Citus's alter_distributed_table and
 * alter_table_set_access_method make a table again and copy its rows over
 * (a repartitioning INSERT ... SELECT whose intermediate results carry a
 * regrole as its OID): a trash's deleted_by then named other roles on the
 * worker nodes, and its table could not be protected again.  Refused for
 * a protected table and a trash, and with cascade_to_colocated for a
 * colocation group that has a trash; read from a call's constant
 * arguments at top level (SELECT alter_distributed_table('t', ...)).
 */
void
crm_purge_citus_refuse_reshard(Query *parse)
{
	ListCell   *lc;

	if (parse->commandType != CMD_SELECT || !crm_purge_citus_present())
		return;
	foreach(lc, parse->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		FuncExpr   *f;
		const char *name;
		Node	   *arg;
		Oid			relid;
		Oid			trash_schema;
		bool		cascade = false;

		if (!IsA(te->expr, FuncExpr))
			continue;
		f = (FuncExpr *) te->expr;
		name = get_func_name(f->funcid);
		if (name == NULL || get_func_namespace(f->funcid) != PG_CATALOG_NAMESPACE ||
			(strcmp(name, "alter_distributed_table") != 0 && strcmp(name, "alter_table_set_access_method") != 0 &&
			 strcmp(name, "create_distributed_table_concurrently") != 0 && strcmp(name, "citus_drop_all_shards") != 0))
			continue;
		arg = reshard_arg(f, strcmp(name, "citus_drop_all_shards") == 0 ? "logicalrelid" : "table_name", 0);
		if (arg == NULL || !IsA(arg, Const) || ((Const *) arg)->constisnull ||
			((Const *) arg)->consttype != REGCLASSOID)
			continue;
		relid = DatumGetObjectId(((Const *) arg)->constvalue);
		trash_schema = get_namespace_oid(CRM_TRASH_SCHEMA, true);
		/* (its rows would go past the trash and the holds, with every shard) */
		if (strcmp(name, "citus_drop_all_shards") == 0)
		{
			if (OidIsValid(crm_purge_trash_of(relid)) ||
				(OidIsValid(trash_schema) && get_rel_namespace(relid) == trash_schema))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot run %s on table %s: it is protected by crm_purge, or a trash", name, crm_purge_relname(relid)),
						 errdetail("Its rows would go past the trash and the legal holds."),
						 errhint("Run crm_purge_unprotect first (once its holds are released).")));
			continue;
		}
		/* (its first step, committed at once, makes the table a Citus local table) */
		if (strcmp(name, "create_distributed_table_concurrently") == 0)
		{
			if (OidIsValid(crm_purge_trash_of(relid)))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot run %s on table %s: it is protected by crm_purge", name, crm_purge_relname(relid)),
						 errdetail("Its logical replication carries no trash, and a call that fails leaves the table a Citus local table."),
						 errhint("Use create_distributed_table.")));
			continue;
		}
		if (strcmp(name, "alter_distributed_table") == 0)
		{
			Node	   *c = reshard_arg(f, "cascade_to_colocated", 4);

			cascade = c != NULL && IsA(c, Const) && !((Const *) c)->constisnull &&
				DatumGetBool(((Const *) c)->constvalue);
		}
		if (OidIsValid(crm_purge_trash_of(relid)) ||
			(OidIsValid(trash_schema) && get_rel_namespace(relid) == trash_schema))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot run %s on table %s: it is protected by crm_purge, or a trash", name, crm_purge_relname(relid)),
					 errdetail("Citus would copy the trash's rows with their deleters' role OIDs, which name other roles on other nodes."),
					 errhint("Make a new distributed table with the shape you need and move the rows into it, then protect it.")));
		if (cascade && OidIsValid(trash_schema))
		{
			Oid			argtypes[2] = {REGCLASSOID, OIDOID};
			Datum		values[2] = {ObjectIdGetDatum(relid), ObjectIdGetDatum(trash_schema)};
			bool		isnull;
			bool		found;

			SPI_connect();
			if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid"
									  " WHERE c.relnamespace = $2 AND p.colocationid = (SELECT q.colocationid FROM pg_dist_partition q"
									  " WHERE q.logicalrelid = $1))", 2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read the colocation group of %s", crm_purge_relname(relid));
			found = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			SPI_finish();
			if (found)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot run %s on table %s with cascade_to_colocated: a protected table's trash is colocated with it",
								name, crm_purge_relname(relid)),
						 errdetail("Citus would copy the trash's rows with their deleters' role OIDs, which name other roles on other nodes."),
						 errhint("Run it with cascade_to_colocated => false.")));
		}
	}
}

/* citus_scan_in: a Citus scan anywhere in plan (Citus's combine query puts an aggregate above it) */
static bool
citus_scan_in(Plan *plan)
{
	ListCell   *lc;
	List	   *children = NIL;

	if (plan == NULL)
		return false;
	if (IsA(plan, CustomScan) && strncmp(((CustomScan *) plan)->methods->CustomName, "Citus", 5) == 0)
		return true;
	switch (nodeTag(plan))
	{
		case T_Append:
			children = ((Append *) plan)->appendplans;
			break;
		case T_MergeAppend:
			children = ((MergeAppend *) plan)->mergeplans;
			break;
		case T_BitmapAnd:
			children = ((BitmapAnd *) plan)->bitmapplans;
			break;
		case T_BitmapOr:
			children = ((BitmapOr *) plan)->bitmapplans;
			break;
		case T_SubqueryScan:
			children = list_make1(((SubqueryScan *) plan)->subplan);
			break;
		case T_CustomScan:
			children = ((CustomScan *) plan)->custom_plans;
			break;
		default:
			break;
	}
	foreach(lc, children)
		if (citus_scan_in(lfirst(lc)))
			return true;
	return citus_scan_in(plan->lefttree) || citus_scan_in(plan->righttree);
}

/* crm_purge_citus_plan_anywhere: does the statement run a Citus scan, in its plan or a subplan? */
bool
crm_purge_citus_plan_anywhere(PlannedStmt *plan)
{
	ListCell   *lc;

	if (plan == NULL)
		return false;
	if (citus_scan_in(plan->planTree))
		return true;
	foreach(lc, plan->subplans)
		if (citus_scan_in(lfirst(lc)))
			return true;
	return false;
}

/* the tables whose deletes may reach a trash, read once per transaction */
static LocalTransactionId trashing_lxid = InvalidLocalTransactionId;
static Oid *trashing = NULL;
static int	ntrashing = 0;

/*
 * may_trash: might changing relid trash rows: is it protected, or does a
 * protected table reach it through ON DELETE CASCADE?  Only such
 * statements get a deletion id: each id is a round trip to the worker
 * nodes, and a new entry in their pg_stat_statements.
 */
/* trashing_changed: a table changed (protected, a foreign key added): read again */
static void
trashing_changed(Oid relid)
{
	trashing_lxid = InvalidLocalTransactionId;
}

/*
 * crm_purge_citus_relcache_changed: from crm_purge's one relcache callback
 * (module.c; a backend has ten slots, Citus takes five).
 */
void
crm_purge_citus_relcache_changed(Oid relid)
{
	local_group_changed(relid);
	trashing_changed(relid);
}

static bool
may_trash(Oid relid)
{
	int			i;

	if (trashing_lxid != MyProc->lxid)
	{
		CrmPurgeIdentity id;
		bool		isnull;
		Datum		d;

		ntrashing = 0;
		SPI_connect();
		crm_purge_become_owner_local(&id);
		if (SPI_execute("WITH RECURSIVE r(rel) AS (SELECT p.tbl::pg_catalog.oid FROM crm_purge.protected_tables p"
						" UNION SELECT c.confrelid FROM pg_catalog.pg_constraint c JOIN r ON c.conrelid OPERATOR(pg_catalog.=) r.rel"
						"  WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.confdeltype OPERATOR(pg_catalog.=) 'c')"
						" SELECT pg_catalog.array_agg(rel) FROM r", true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read crm_purge.protected_tables");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(d);
			int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

			if (trashing)
				pfree(trashing);
			trashing = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * Max(n, 1));
			memcpy(trashing, ARR_DATA_PTR(arr), sizeof(Oid) * n);
			ntrashing = n;
		}
		crm_purge_unbecome(&id);
		SPI_finish();
		trashing_lxid = MyProc->lxid;
	}
	for (i = 0; i < ntrashing; i++)
		if (trashing[i] == relid)
			return true;
	return false;
}

/*
 * crm_purge_citus_plan_deletes: might this distributed plan trash rows: a
 * DELETE, MERGE or modifying WITH (any statement but INSERT and UPDATE)
 * that changes a table may_trash() names?  Citus keeps the statement's own
 * range table after its scan's, for permission checks.
 */
bool
crm_purge_citus_plan_deletes(PlannedStmt *plan)
{
	ListCell   *lc;

	if (plan->commandType == CMD_INSERT || plan->commandType == CMD_UPDATE)
		return false;
	/* the library is preloaded in every database, the extension perhaps not */
	if (!OidIsValid(get_extension_oid("crm_purge", true)))
		return false;
	foreach(lc, plan->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_RELATION && rte->rellockmode >= RowExclusiveLock && may_trash(rte->relid))
			return true;
	}
	return false;
}

static bool propagating = false;	/* propagate_local's own SET LOCAL */
static bool settings_propagated = false;	/* by someone else, in this transaction */
static bool crm_purge_switched = false; /* crm_purge worked as another role, in this transaction */
static bool settings_callback = false;

/*
 * propagate_local: SET LOCAL name = value here and on every connection of
 * the transaction.  Citus propagates SET LOCAL only when asked to: asked
 * for this one only.
 */
static void
propagate_local(const char *name, const char *value)
{
	crm_purge_citus_propagate_settings(1, &name, &value);
}

/* hide_value: text with every value in it replaced by "(hidden)" */
static char *
hide_value(char *text, const char *value)
{
	StringInfoData out;
	char	   *p = text;
	char	   *hit;

	if (text == NULL || value == NULL || value[0] == '\0' || strstr(text, value) == NULL)
		return text;
	initStringInfo(&out);
	while ((hit = strstr(p, value)) != NULL)
	{
		appendBinaryStringInfo(&out, p, hit - p);
		appendStringInfoString(&out, "(hidden)");
		p = hit + strlen(value);
	}
	appendStringInfoString(&out, p);
	return out.data;
}

/* crm_purge_citus_propagate_settings: propagate_local() of n settings at once */
void
crm_purge_citus_propagate_settings(int n, const char *const *names, const char *const *values)
{
	int			nest = NewGUCNestLevel();
	StringInfoData sets;
	char	   *body;
	char	   *tag = pstrdup("$crm_purge$");
	int			tries = 0;
	int			i;

	initStringInfo(&sets);
	for (i = 0; i < n; i++)
		appendStringInfo(&sets, "SET LOCAL %s = %s; ", names[i], quote_literal_cstr(values[i]));
	body = psprintf("BEGIN %sEND", sets.data);

	/* (a dollar quote the value does not close: an actor or reason may hold any text) */
	while (strstr(body, tag) != NULL)
		tag = psprintf("$crm_purge_%d$", ++tries);
	(void) set_config_option("citus.propagate_set_commands", "local", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* (Citus's WARNINGs about a node carry the SET's text in their context) */
	(void) set_config_option("client_min_messages", "error", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* (the DO runs before the statement's own hooks: pg_stat_statements would keep it as the role's) */
	if (GetConfigOption("pg_stat_statements.track", true, false) != NULL)
		(void) set_config_option("pg_stat_statements.track", "none", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	propagating = true;
	PG_TRY();
	{
		/* in a DO block: Citus sends a SET LOCAL only from a "multi-statement transaction" */
		if (SPI_execute(psprintf("DO %s%s%s", tag, body, tag), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not hand %s to the Citus worker nodes", names[0]);
	}
	PG_CATCH();
	{
		/*
		 * the error's context and texts name the values: the role would
		 * read them (a connection of its own it ended on a node made the
		 * send fail: review round 63, C63-3)
		 */
		ErrorData  *e;

		propagating = false;
		MemoryContextSwitchTo(ErrorContext);
		e = CopyErrorData();
		FlushErrorState();
		e->context = NULL;
		e->internalquery = NULL;
		e->internalpos = 0;
		e->cursorpos = 0;
		for (i = 0; i < n; i++)
		{
			if (strncmp(names[i], "crm_purge.citus_", 16) != 0)
				continue;
			e->message = hide_value(e->message, values[i]);
			e->detail = hide_value(e->detail, values[i]);
			e->detail_log = hide_value(e->detail_log, values[i]);
			e->hint = hide_value(e->hint, values[i]);
		}
		ReThrowError(e);
	}
	PG_END_TRY();
	propagating = false;
	SPI_finish();
	AtEOXact_GUC(true, nest);
}

static void
settings_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		settings_propagated = crm_purge_switched = false;
}

static void
settings_callbacks(void)
{
	if (!settings_callback)
	{
		RegisterXactCallback(settings_xact, NULL);
		settings_callback = true;
	}
}

/*
 * crm_purge_citus_before_set: a SET that Citus may send to the worker nodes
 * (citus.propagate_set_commands = local: SET LOCAL, RESET, RESET ALL, SET
 * TRANSACTION).  Citus sends the whole query string the SET came in, with
 * any statements after it, to every connection of the transaction, and
 * repeats it on each it opens later, the extension owner's included: there
 * those statements, or a search_path naming the caller's schema (Citus
 * calls its own functions unqualified), would run as the superuser.  So
 * every such SET but crm_purge's own (propagate_local) is refused inside
 * crm_purge's work (security-restricted: the table owner's code) and
 * after crm_purge's work as another role in the transaction, and otherwise
 * remembered until the transaction ends: crm_purge_citus_switching then
 * refuses crm_purge's work.  Citus also sends them on the superuser
 * connections it opens for its own work (creating a dependency of a new
 * distributed object), which crm_purge cannot see: with
 * crm_purge.citus_set_propagation = superuser (the default) only a
 * superuser may make them.
 */
void
crm_purge_citus_before_set(VariableSetStmt *stmt, bool top_level)
{
	const char *mode;

	/* a session-level SET is never sent, nor a statement of its own outside a transaction block */
	if (propagating ||
		((stmt->kind == VAR_SET_VALUE || stmt->kind == VAR_SET_CURRENT || stmt->kind == VAR_SET_DEFAULT) &&
		 !stmt->is_local) ||
		(top_level && !IsTransactionBlock()))
		return;
	mode = GetConfigOption("citus.propagate_set_commands", true, false);
	if (mode == NULL || pg_strcasecmp(mode, "local") != 0 || !IsTransactionState() ||
		!crm_purge_citus_present())
		return;
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot send settings to the Citus worker nodes inside crm_purge's work"),
				 errdetail("citus.propagate_set_commands is local: this SET, and the statements sent with it, would reach crm_purge's own connections to the worker nodes."),
				 errhint("Set citus.propagate_set_commands to none in this code.")));
	/* Citus's own superuser connections get them too: no role of crm_purge's can stop that but this */
	if (crm_purge_citus_set_propagation == CITUS_SET_PROPAGATION_SUPERUSER && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may send settings to the Citus worker nodes"),
				 errdetail("citus.propagate_set_commands is local: Citus 13 sends this SET, and the statements sent with it, also on the superuser connections it opens for its own work in the transaction."),
				 errhint("Set citus.propagate_set_commands to none, or use set_config(name, value, true), which Citus does not send; a superuser may set crm_purge.citus_set_propagation to all for roles that are trusted.")));
	if (crm_purge_switched)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot send settings to the Citus worker nodes in a transaction in which crm_purge worked"),
				 errdetail("citus.propagate_set_commands is local: Citus would send this SET, and the statements sent with it, to crm_purge's own connections to the worker nodes, open to the end of the transaction."),
				 errhint("Set citus.propagate_set_commands to none first, or make the SET in another transaction; set crm_purge.actor and crm_purge.reason with set_config(..., true).")));
	settings_callbacks();
	settings_propagated = true;
}

/*
 * crm_purge_citus_switching: crm_purge is about to work as another role
 * (crm_purge_become), and may open Citus connections as it: refused after
 * settings were sent to the worker nodes in this transaction (see
 * crm_purge_citus_before_set), and remembered: a setting sent later would
 * reach those connections, which are open to the end of the transaction.
 */
void
crm_purge_citus_switching(void)
{
	if (settings_propagated)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("crm_purge cannot work in a transaction that sent settings to the Citus worker nodes"),
				 errdetail("A SET LOCAL, RESET or SET TRANSACTION ran while citus.propagate_set_commands was local; Citus repeats it, and the statements sent with it, on crm_purge's own connections to the worker nodes."),
				 errhint("Call crm_purge in a transaction of its own, or set citus.propagate_set_commands to none before the SET; set crm_purge.actor and crm_purge.reason with set_config(..., true), which Citus does not send.")));
	if (!crm_purge_switched && crm_purge_citus_present())
	{
		settings_callbacks();
		crm_purge_switched = true;
	}
}

/* forget: frees *s and sets it NULL */
static void
forget(char **s)
{
	if (*s)
		pfree(*s);
	*s = NULL;
}

/*
 * issued_subxact: a rolled-back subtransaction takes back what was set in
 * it, on the worker nodes too: the actor and reason are sent again.  (The
 * deletion id is compared with the setting itself.)
 */
static void
issued_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		forget(&issued_actor);
		forget(&issued_reason);
	}
}

/* propagate_if_changed: propagate_local of a setting the nodes do not have yet in this transaction. */
static void
propagate_if_changed(const char *name, const char *value, char **issued, bool new_xact)
{
	if (value == NULL || (value[0] == '\0' && (new_xact || *issued == NULL)))
		return;
	if (!new_xact && *issued != NULL && strcmp(*issued, value) == 0)
		return;
	propagate_local(name, value);
	forget(issued);
	*issued = MemoryContextStrdup(TopMemoryContext, value);
}

/*
 * crm_purge_citus_issue_deletion: before a distributed statement in a
 * transaction block that may trash rows, gives top-level statement stmt
 * its deletion id on every connection of the transaction (once per
 * statement; again when a rolled-back subtransaction took the setting
 * away), and the application's actor and reason, which Citus does not
 * send by itself.
 */
void
crm_purge_citus_issue_deletion(uint64 stmt)
{
	static bool callback_registered = false;
	bool		new_xact = issued_lxid != MyProc->lxid;
	DistTxn		t;

	if (!callback_registered)
	{
		RegisterSubXactCallback(issued_subxact, NULL);
		callback_registered = true;
	}
	if (new_xact)
	{
		forget(&issued_actor);
		forget(&issued_reason);
		forget(&issued_value);
		issued_id = 0;
		issued_stmt = 0;
		issued_lxid = MyProc->lxid;
	}
	propagate_if_changed("crm_purge.actor", crm_purge_actor, &issued_actor, new_xact);
	propagate_if_changed("crm_purge.reason", crm_purge_reason, &issued_reason, new_xact);
	/* with deletion_scope = transaction, the transaction's id (or the one issued before) */
	if (crm_purge_deletion_scope != DELETION_SCOPE_STATEMENT ||
		(issued_stmt == stmt && issued_value != NULL && crm_purge_citus_deletion != NULL &&
		 strcmp(crm_purge_citus_deletion, issued_value) == 0))
		return;
	/* no secret before the first protect on Citus: the transaction's id, as before */
	if (!crm_purge_secret_exists())
		return;
	if (!ensured_dist_txn(&t))
		return;
	issued_id = crm_purge_new_deletion_id();
	issued_stmt = stmt;
	forget(&issued_value);
	issued_value = MemoryContextStrdup(TopMemoryContext,
									   psprintf("%lld.%016llx", (long long) issued_id,
												(unsigned long long) deletion_tag(issued_id, &t)));
	propagate_local("crm_purge.citus_deletion", issued_value);
}

/*
 * crm_purge_citus_issued_deletion: the deletion id the initiator issued
 * for the running statement, 0 when none.  The initiator uses what it
 * issued (for this statement, or for the transaction with deletion_scope
 * = transaction) and never reads the setting; another node takes the
 * setting once its tag checks out for this distributed transaction.
 */
int64
crm_purge_citus_issued_deletion(uint64 stmt)
{
	if (issued_lxid == MyProc->lxid && issued_id != 0)
		return issued_stmt == stmt || crm_purge_deletion_scope != DELETION_SCOPE_STATEMENT ? issued_id : 0;
	if (issued_lxid == MyProc->lxid)
		return 0;
	return parse_issued(crm_purge_citus_deletion);
}

/*
 * Citus refuses two roles changing colocated shards in one transaction, so
 * a restore or erase of a distributed table runs all of its statements as
 * the extension owner: its connections to the worker nodes are the
 * extension owner's.  There the table's owner's code (triggers, defaults,
 * constraints) must not run as the extension owner: for those statements
 * crm_purge hands the connections crm_purge.citus_run_as (the table's
 * owner, tagged with the secret for this distributed transaction), and a
 * worker node runs every statement of such a connection as that role,
 * restricted (crm_purge_citus_run_as_role), except those that change only
 * the extension owner's tables: the trash rows a restore or erase removes.
 * The setting only ever lowers the extension owner's rights, and the
 * table's owner never gets to delete trash rows.
 */
static bool run_as_initiator = false;	/* this backend handed it out */
static Oid	run_as_initiator_role = InvalidOid;
static SubTransactionId run_as_subid = InvalidSubTransactionId;

/* an error between begin and end: handed out no longer (the SET LOCAL is undone too) */
static void
run_as_xact(XactEvent event, void *arg)
{
	run_as_initiator = false;
}

static void
run_as_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && run_as_initiator && mySubid <= run_as_subid)
		run_as_initiator = false;
}

/*
 * crm_purge_citus_planning_role: while this backend hands out
 * crm_purge.citus_run_as, the role its statements are planned as: the
 * table owner's index expressions and constraints are evaluated while
 * planning, never with the extension owner's rights.
 */
Oid
crm_purge_citus_planning_role(void)
{
	return run_as_initiator ? run_as_initiator_role : InvalidOid;
}

/* the number tagged for a role: by name, as role OIDs differ from node to node */
static int64
run_as_tag_id(const char *role)
{
	/* apart from every deletion id (> 0) */
	return -((int64) 1 << 40) - (int64) hash_bytes((const unsigned char *) role, strlen(role));
}

/*
 * type_runs_owner_code: can reading a value of typid in (its input or
 * receive function) run code of a role other than the bootstrap superuser's?
 * A domain's CHECK can; a top-level domain is fine (the trash stores its
 * base type), one inside an array, a composite or a range is not.
 */
static bool
type_runs_owner_code(Oid typid, bool top)
{
	char		typtype = get_typtype(typid);
	Oid			elem;

	if (typtype == TYPTYPE_DOMAIN)
		return !top || type_runs_owner_code(getBaseType(typid), true);
	if (OidIsValid(elem = get_element_type(typid)))
		return type_runs_owner_code(elem, false);
	if (typid < FirstNormalObjectId)
		return false;
	return typtype != TYPTYPE_ENUM;
}

/* owner_code_column: rel's first column whose type runs owner code when read (type_runs_owner_code), or NULL */
static Form_pg_attribute
owner_code_column(Relation rel, bool top)
{
	int			i;

	for (i = 0; i < RelationGetDescr(rel)->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(RelationGetDescr(rel), i);

		if (!a->attisdropped && type_runs_owner_code(a->atttypid, top))
			return a;
	}
	return NULL;
}

/*
 * crm_purge_citus_refuse_trash_code: a superuser's COPY into relid, a
 * trash (shard) on this node (Citus moving, splitting or distributing a
 * trash's rows): no column may have a type whose values run a role's code
 * when read.  crm_purge_protect checked the coordinator's types; on a
 * worker node a table's owner can put a domain of its own under the name a
 * trash column's type had there (Citus makes the shard from DDL text).
 */
void
crm_purge_citus_refuse_trash_code(Oid relid)
{
	Relation	rel;
	Form_pg_attribute a;

	if (!crm_purge_citus_present() || !superuser() ||
		get_rel_namespace(relid) != get_namespace_oid(CRM_TRASH_SCHEMA, true))
		return;
	rel = relation_open(relid, AccessShareLock);
	a = owner_code_column(rel, false);
	if (a != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot copy rows into trash %s: its column %s has type %s, whose values run a role's code when read",
						crm_purge_relname(relid), quote_identifier(NameStr(a->attname)), format_type_be_qualified(a->atttypid)),
				 errdetail("A trash holds built-in types and enums only; on this node the type's name was given to another type since the table was protected."),
				 errhint("Drop that type on this node and give the name back to the one the table uses.")));
	relation_close(rel, AccessShareLock);
}

/*
 * crm_purge_citus_mark_on_behalf: code runs on another role's behalf in
 * this transaction (a filter as its creator): the worker nodes' sessions
 * of the transaction are marked so too (crm_purge.citus_on_behalf), once.
 */
void
crm_purge_citus_mark_on_behalf(void)
{
	static LocalTransactionId marked_lxid = InvalidLocalTransactionId;

	if (marked_lxid == MyProc->lxid || !crm_purge_citus_present() || crm_purge_citus_group() > 0 ||
		!IsTransactionState())
		return;
	propagate_local("crm_purge.citus_on_behalf", "on");
	marked_lxid = MyProc->lxid;
}

/* crm_purge_citus_propagating: is propagate_local's own SET LOCAL running? */
bool
crm_purge_citus_propagating(void)
{
	return propagating;
}

/*
 * crm_purge_citus_run_as_begin: the worker nodes run the statements that
 * follow (in this distributed transaction) as role, and this node plans
 * them as role; returns what crm_purge_citus_run_as_end needs.  Refused when this node holds a shard
 * of relid: its statements run here, unrestricted.
 */
int
crm_purge_citus_run_as_begin(Oid role, Oid relid)
{
	int			nest = NewGUCNestLevel();
	Oid			asker;
	DistTxn		t;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		local;
	char	   *name;

	Relation	rel;
	Oid			trashid;
	Form_pg_attribute a;
	static bool callbacks = false;

	/*
	 * A superuser-like owner's table is written as the role that asked
	 * (crm_purge_asker: as on a plain table): code the owner's code reaches (a
	 * role's audit table) would run with the owner's rights.  Else as the
	 * owner, never running a third role's code (a trigger, domain, index
	 * expression of another role's, a partition of another owner).
	 */
	asker = OidIsValid(crm_purge_asker) ? crm_purge_asker : GetUserId();
	crm_purge_refuse_owner_code(relid, asker);
	if (crm_purge_superuser_like(role) && !superuser_arg(asker))
	{
		/* (a third role's code, a trigger of a role with TRIGGER there, would run as the asker: C48-1) */
		crm_purge_refuse_foreign_code(relid, ACL_DELETE);
		role = asker;
	}
	else if (role != asker)
		crm_purge_refuse_foreign_code(relid, ACL_DELETE);
	/* already handed out for this role (a hold checked inside an erase) */
	if (run_as_initiator)
	{
		if (run_as_initiator_role != role)
			elog(ERROR, "crm_purge.citus_run_as is handed out for another role");
		return -1;
	}
	/* the rows come back to this node, read as the extension owner */
	rel = table_open(relid, AccessShareLock);
	/* a rule's actions would run here, as the extension owner */
	if (rel->rd_rules != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot restore or erase rows of Citus table %s: it has rules", crm_purge_relname(relid)),
				 errdetail("A rule's actions would run on the coordinator with the extension owner's rights."),
				 errhint("Drop the table's rules (DROP RULE) and try again.")));
	if ((a = owner_code_column(rel, true)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot restore or erase rows of Citus table %s: column %s has type %s",
						crm_purge_relname(relid), quote_identifier(NameStr(a->attname)),
						format_type_be(a->atttypid)),
				 errdetail("Its values would be read on the coordinator with the extension owner's rights, and a domain's check inside it runs its owner's code."),
				 errhint("Give the column a built-in type, an enum or a domain over one of those.")));
	/* kept locked to the end: no rule or column can come in meanwhile */
	table_close(rel, NoLock);
	/* its trash stores base types (a trash made by 1.0 may not) */
	if (OidIsValid(trashid = crm_purge_trash_of(relid)))
	{
		rel = table_open(trashid, AccessShareLock);
		if ((a = owner_code_column(rel, false)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot restore or erase rows of Citus table %s: column %s of its trash %s has type %s",
							crm_purge_relname(relid), quote_identifier(NameStr(a->attname)),
							crm_purge_relname(trashid), format_type_be(a->atttypid)),
					 errdetail("Its values would be read on the coordinator with the extension owner's rights, and a domain's check runs its owner's code."),
					 errhint("Change the trash column to the domain's base type (ALTER TABLE ... ALTER COLUMN ... TYPE) as a superuser.")));
		table_close(rel, NoLock);
	}
	SPI_connect();
	if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_shard s"
							  " JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
							  " WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1"
							  " AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group))",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	local = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool){false}));
	SPI_finish();
	if (local)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot restore or erase rows of table %s: this node holds shards of it",
						crm_purge_relname(relid)),
				 errdetail("Its owner's triggers would run here with the extension owner's rights."),
				 errhint("Move its shards to the worker nodes (citus_drain_node) and try again.")));
	if (!ensured_dist_txn(&t))
		elog(ERROR, "no Citus distributed transaction to restore or erase in");
	name = GetUserNameFromId(role, false);
	if (!callbacks)
	{
		RegisterXactCallback(run_as_xact, NULL);
		RegisterSubXactCallback(run_as_subxact, NULL);
		callbacks = true;
	}
	run_as_initiator = true;
	run_as_initiator_role = role;
	run_as_subid = GetCurrentSubTransactionId();
	/*
	 * Citus sends pg_catalog's functions unqualified: on the worker nodes the
	 * extension owner's connections must not find a function of someone's
	 * in a schema on its search_path (public) instead.
	 */
	propagate_local("search_path", "pg_catalog");
	propagate_local("crm_purge.citus_run_as",
					psprintf("%016llx:%s", (unsigned long long) deletion_tag(run_as_tag_id(name), &t), name));
	return nest;
}

/*
 * A role's change of a distributed table's columns is checked on the
 * coordinator (a held column is not renamed, a guarded key not retyped);
 * on a worker node, where no hold is recorded, the role could change its
 * shards' columns itself, and the holds' filters, sent there by name, then
 * read other columns (review round 55, C55-2).  The coordinator hands the
 * nodes, for the statement, a tag of the distributed transaction, of
 * each Citus table the change reaches (by its key, the same on every node)
 * and of the change itself (its kind and column names): a worker node
 * refuses a role's column change of a shard or table that no tag names.
 * A tag of one table's change let another table's shards change in the
 * transaction (review round 56, B56-2).
 */

/* ddl_fingerprint: the column changes of parsetree (kinds and names), hashed */
static uint32
ddl_fingerprint(Node *parsetree)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	/* (a table's new name or schema: a shard's differs from its table's) */
	if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType != OBJECT_COLUMN)
		appendStringInfoString(&buf, "T|");
	else if (IsA(parsetree, AlterObjectSchemaStmt))
		appendStringInfoString(&buf, "S|");
	else if (IsA(parsetree, RenameStmt))
		appendStringInfo(&buf, "R|%s|%s", ((RenameStmt *) parsetree)->subname, ((RenameStmt *) parsetree)->newname);
	else if (IsA(parsetree, AlterTableStmt))
		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_AddColumn && cmd->def != NULL && IsA(cmd->def, ColumnDef))
				appendStringInfo(&buf, "A|%s|", ((ColumnDef *) cmd->def)->colname);
			else if (cmd->subtype == AT_DropColumn || cmd->subtype == AT_AlterColumnType)
				appendStringInfo(&buf, "%d|%s|", (int) cmd->subtype, cmd->name ? cmd->name : "");
			else if (cmd->subtype == AT_AddOf || cmd->subtype == AT_DropOf ||
					 cmd->subtype == AT_AddInherit || cmd->subtype == AT_DropInherit)
				appendStringInfo(&buf, "%d|", (int) cmd->subtype);
		}
	return hash_bytes((const unsigned char *) buf.data, buf.len);
}

/* ddl_table_key: the smallest shard id of the Citus table relid is or is a shard of; 0: none.  SPI connected. */
static int64
ddl_table_key(Oid relid)
{
	Oid			logical = relid;
	char	   *key;

	if (crm_purge_citus_known_shard(relid))
	{
		int64		shardid;
		Oid			argtypes[1] = {INT8OID};
		Datum		values[3];
		bool		isnull;

		if (!shard_name(relid, &shardid, values))
			return 0;
		if (SPI_execute_with_args("SELECT logicalrelid::pg_catalog.oid FROM pg_catalog.pg_dist_shard"
								  " WHERE shardid OPERATOR(pg_catalog.=) $1",
								  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the Citus metadata");
		if (SPI_processed != 1)
			return 0;
		logical = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	key = crm_purge_citus_table_key(logical);
	return key ? strtoi64(key, NULL, 10) : 0;
}

/* ddl_tag: the tag of a change (fingerprint) of the table with key in distributed transaction t */
static uint64
ddl_tag(int64 key, uint32 fingerprint, const DistTxn *t)
{
	/* apart from every deletion id (> 0) and run_as_tag_id (> -2^41) */
	return deletion_tag(PG_INT64_MIN + (int64) ((((uint64) key * UINT64CONST(0x9E3779B97F4A7C15)) ^ fingerprint) &
												UINT64CONST(0x3FFFFFFFFFFFFFFF)), t);
}

/* ddl_tables: the tables a change of relid reaches (its inheritors unless ONLY) */
static List *
ddl_tables(Oid relid, bool inh)
{
	return inh ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
}

/* crm_purge_citus_hand_out_ddl: on the coordinator, before a role's column change of relid */
void
crm_purge_citus_hand_out_ddl(Oid relid, bool inh, Node *parsetree)
{
	DistTxn		t;
	StringInfoData tags;
	uint32		fingerprint = ddl_fingerprint(parsetree);
	ListCell   *lc;

	/* (no secret: nothing on Citus was protected, guarded or held yet) */
	if (superuser() || crm_purge_citus_group() != 0 || !crm_purge_citus_distributed(relid) ||
		!crm_purge_have_secret() || !ensured_dist_txn(&t))
		return;
	initStringInfo(&tags);
	SPI_connect();
	foreach(lc, ddl_tables(relid, inh))
	{
		int64		key = crm_purge_citus_distributed(lfirst_oid(lc)) ? ddl_table_key(lfirst_oid(lc)) : 0;

		if (key != 0)
			appendStringInfo(&tags, "%s%016llx", tags.len > 0 ? "," : "",
							 (unsigned long long) ddl_tag(key, fingerprint, &t));
	}
	SPI_finish();
	/* (the statement's own: the next one's replace them) */
	propagate_local("crm_purge.citus_ddl", tags.data);
}

/*
 * The metadata tag: Citus lets a session that names itself citus_internal
 * run its metadata functions for the caller's own tables; a table's owner
 * so made its shard unknown to a worker node's checks, or swapped shard
 * ranges, and put it back (review round 59, C59-1..3).  On a worker node a
 * role's call of them needs the tag the coordinator hands out, once per
 * distributed transaction, when the role's statement there may change
 * metadata (Citus then sends them over the role's connections).
 */
static DistTxn metadata_txn;
static bool metadata_handed = false;

static char *
metadata_tag(const DistTxn *t)
{
	return psprintf("%016llx", (unsigned long long) ddl_tag(0, hash_bytes((const unsigned char *) "M|", 2), t));
}

/* crm_purge_citus_hand_out_metadata: on the coordinator, before a role's statement that may change Citus's metadata */
void
crm_purge_citus_hand_out_metadata(void)
{
	DistTxn		t;

	/* (not in Citus's own sessions: their transaction is the initiator's) */
	if (superuser() || !crm_purge_citus_present() || crm_purge_citus_group() != 0 || crm_purge_citus_internal_session() ||
		!OidIsValid(get_extension_oid("crm_purge", true)) || !crm_purge_have_secret() || !ensured_dist_txn(&t))
		return;
	if (metadata_handed && metadata_txn.node == t.node && metadata_txn.number == t.number &&
		metadata_txn.stamp == t.stamp)
		return;
	propagate_local("crm_purge.citus_metadata", metadata_tag(&t));
	metadata_txn = t;
	metadata_handed = true;
}

/* crm_purge_citus_metadata_tagged: on a worker node, did the coordinator hand out the metadata tag of this distributed transaction? */
bool
crm_purge_citus_metadata_tagged(void)
{
	DistTxn		t;

	return current_dist_txn(&t) && crm_purge_citus_metadata != NULL &&
		strstr(crm_purge_citus_metadata, metadata_tag(&t)) != NULL;
}

/*
 * crm_purge_citus_ddl_refused: on a worker node, a Citus table or shard a
 * role's column change (parsetree, of relid) reaches that no tag handed out
 * names, or InvalidOid.
 */
Oid
crm_purge_citus_ddl_refused(Oid relid, bool inh, Node *parsetree)
{
	uint32		fingerprint = ddl_fingerprint(parsetree);
	DistTxn		t;
	bool		txn = current_dist_txn(&t);
	Oid			refused = InvalidOid;
	ListCell   *lc;

	SPI_connect();
	foreach(lc, ddl_tables(relid, inh))
	{
		Oid			rel = lfirst_oid(lc);
		int64		key;
		char	   *tag;

		if (!crm_purge_citus_known_shard(rel) && !crm_purge_citus_distributed(rel))
		{
			/*
			 * a protected table's shard renamed away is none by name, but
			 * keeps its trash triggers: its columns change on the
			 * coordinator only (review round 57, C57-2).  (A rename: Citus
			 * renames the table before its shards.)
			 */
			if (!IsA(parsetree, RenameStmt) || ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN)
				if (crm_purge_trash_trigger_named(rel, NULL))
				{
					refused = rel;
					break;
				}
			continue;
		}
		key = ddl_table_key(rel);
		tag = txn && key != 0 ? psprintf("%016llx", (unsigned long long) ddl_tag(key, fingerprint, &t)) : NULL;
		if (tag == NULL || crm_purge_citus_ddl == NULL || strstr(crm_purge_citus_ddl, tag) == NULL)
		{
			refused = rel;
			break;
		}
	}
	SPI_finish();
	return refused;
}

/* crm_purge_citus_known_shard: is relid a shard of a Citus table (Citus's own answer)? */
bool
crm_purge_citus_known_shard(Oid relid)
{
	static bool (*known) (Oid) = NULL;

	if (!crm_purge_citus_present())
		return false;
	if (known == NULL)
		known = (bool (*) (Oid)) load_external_function("$libdir/citus", "RelationIsAKnownShard", false, NULL);
	return known != NULL && known(relid);
}

/* crm_purge_citus_run_as_end: the worker nodes' statements as their connection's role again */
void
crm_purge_citus_run_as_end(int nest)
{
	if (nest < 0)
		return;
	run_as_initiator = false;
	propagate_local("crm_purge.citus_run_as", "");
	AtEOXact_GUC(true, nest);
}

/*
 * crm_purge_citus_run_as_role: the role a worker node's top-level statement
 * runs as (crm_purge.citus_run_as, checked against the distributed
 * transaction), or InvalidOid: only for the extension owner, never on the
 * node that handed it out.
 */
Oid
crm_purge_citus_run_as_role(void)
{
	static LocalTransactionId checked_lxid = InvalidLocalTransactionId;
	static char *checked = NULL;
	static Oid	checked_role = InvalidOid;
	static bool verifying = false;
	bool		ok = false;
	bool		pushed;
	const char *v = crm_purge_citus_run_as;
	unsigned long long tag;
	int			used = 0;
	Oid			role;
	DistTxn		t;

	if (v == NULL || v[0] == '\0' || run_as_initiator || !IsTransactionState() ||
		GetUserId() != crm_purge_extension_owner())
		return InvalidOid;
	if (checked != NULL && checked_lxid == MyProc->lxid && strcmp(v, checked) == 0)
		return checked_role;
	if (sscanf(v, "%16llx:%n", &tag, &used) != 1 || used != 17 || v[used] == '\0' ||
		strncmp(v, psprintf("%016llx:", tag), 17) != 0)
		goto refused;
	/* Citus's own first statement, which joins the distributed transaction */
	if (!current_dist_txn(&t))
		return InvalidOid;
	/* the secret is read with a statement of its own: as the extension owner */
	if (verifying)
		return InvalidOid;
	verifying = true;
	/* a statement is planned before any snapshot is taken for it */
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		ok = (uint64) tag == deletion_tag(run_as_tag_id(v + used), &t);
	}
	PG_FINALLY();
	{
		verifying = false;
	}
	PG_END_TRY();
	if (pushed)
		PopActiveSnapshot();
	if (!ok)
		goto refused;
	role = get_role_oid(v + used, false);
	if (checked)
		pfree(checked);
	checked = MemoryContextStrdup(TopMemoryContext, v);
	checked_lxid = MyProc->lxid;
	checked_role = role;
	return role;
refused:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("crm_purge.citus_run_as holds a value crm_purge did not issue in this transaction"),
			 errhint("Do not set crm_purge.citus_run_as: crm_purge sets it for its worker nodes.")));
	return InvalidOid;
}

/*
 * crm_purge._citus_drop_trash_rows(trash, ids, nums): removes the trash
 * rows named (deletion_id, trash_row) that no legal hold keeps, as the
 * extension owner, inside an erase.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_drop_trash_rows);
Datum
crm_purge_citus_drop_trash_rows(PG_FUNCTION_ARGS)
{
	Oid			trashid = PG_GETARG_OID(0);
	Oid			argtypes[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[2] = {PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)};
	Oid			live;
	char	   *hold;
	int64		n;
	int			nest;

	crm_purge_require_extension_owner("crm_purge._citus_drop_trash_rows");
	if (crm_purge_owner_calls == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("crm_purge._citus_drop_trash_rows runs only inside crm_purge_erase"),
				 errhint("Use crm_purge_erase, crm_purge_delete_keys or crm_purge_delete_where with permanent => true.")));
	SPI_connect();
	live = crm_purge_table_of_trash(trashid);
	if (!OidIsValid(live) || !crm_purge_citus_distributed(trashid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not the trash of a distributed table", crm_purge_relname(trashid))));
	hold = crm_purge_citus_hold_condition(live);
	/* the holds' conditions read as they were made ('02/03/04' a date in YMD order, UTC) */
	nest = NewGUCNestLevel();
	crm_purge_pin_filter_settings();
	if (SPI_execute_with_args(psprintf("DELETE FROM %s t WHERE (t.deletion_id, t.trash_row) IN"
									   " (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))) AND NOT coalesce((%s\n), false)",
									   crm_purge_relname(trashid), hold ? hold : "false"),
							  2, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not remove rows of %s", crm_purge_relname(trashid));
	AtEOXact_GUC(false, nest);
	n = SPI_processed;
	SPI_finish();
	PG_RETURN_INT64(n);
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
	Datum		values[3];
	Oid			logical,
				trash,
				live;
	char	   *minvalue;
	char	   *name;
	char	   *sep;
	Oid			nsp;
	int32		colocation;

	if (!shard_name(trashid, &id, values))
		return InvalidOid;
	if (!OidIsValid(logical = shard_of(trashid, id, values, &minvalue)))
		return InvalidOid;
	/* a segment's shard: its trash is the segment's parent */
	trash = get_rel_relispartition(logical) ? get_partition_parent(logical, true) : logical;
	if (get_rel_namespace(trash) != get_namespace_oid("crm_trash", true) ||
		(name = get_rel_name(trash)) == NULL || (sep = strstr(name, "__")) == NULL)
		return InvalidOid;
	/* crm_trash."<schema>__<table>" names one table: the name rules make the split unique */
	*sep = '\0';
	if (!trash_name_ok(name, sep + 2) || !OidIsValid(nsp = get_namespace_oid(name, true)) ||
		!OidIsValid(live = get_relname_relid(sep + 2, nsp)) ||
		(colocation = dist_colocation(live)) < 0 || colocation != dist_colocation(trash))
		return InvalidOid;
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
	Datum		values[3];
	char	   *minvalue;

	if (!shard_name(relid, &id, values))
		return InvalidOid;
	return shard_of(relid, id, values, &minvalue);
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

/*
 * crm_purge_citus_foreign_temp_path: a SET search_path naming another
 * backend's temporary schema (pg_temp_N), without it; NULL when there is
 * none.  Citus sends a session's search_path to the worker nodes with its
 * own temporary schema written out by name (a DDL statement's, including
 * crm_purge's as the extension owner): there the name is whichever session
 * has that number, whose functions would be found before Citus's own
 * unqualified ones.  Judged by the name, as the schema may be made later.
 */
VariableSetStmt *
crm_purge_citus_foreign_temp_path(VariableSetStmt *stmt)
{
	List	   *kept = NIL;
	bool		dropped = false;
	ListCell   *lc;
	VariableSetStmt *result;

	if (stmt->kind != VAR_SET_VALUE || stmt->name == NULL || strcmp(stmt->name, "search_path") != 0 ||
		!crm_purge_citus_present())
		return NULL;
	foreach(lc, stmt->args)
	{
		A_Const    *con = lfirst(lc);
		const char *name;
		Oid			nsp;

		if (IsA(con, A_Const) && !con->isnull && IsA(&con->val, String))
		{
			name = strVal(&con->val);
			if (strncmp(name, "pg_temp_", 8) == 0 || strncmp(name, "pg_toast_temp_", 14) == 0)
			{
				nsp = get_namespace_oid(name, true);
				if (!OidIsValid(nsp) || !isTempOrTempToastNamespace(nsp))
				{
					dropped = true;
					continue;
				}
			}
		}
		kept = lappend(kept, con);
	}
	if (!dropped)
		return NULL;
	ereport(DEBUG1, (errmsg_internal("crm_purge: another session's temporary schema left out of search_path")));
	if (kept == NIL)
	{
		A_Const    *catalog = makeNode(A_Const);

		catalog->val.sval.type = T_String;
		catalog->val.sval.sval = pstrdup("pg_catalog");
		catalog->location = -1;
		kept = list_make1(catalog);
	}
	result = copyObject(stmt);
	result->args = kept;
	return result;
}

/*
 * crm_purge._citus_owner_code_column(tbl): the first column of tbl (a
 * trash) whose values run someone's code when Citus copies them (its COPY
 * into a shard reads every value as the superuser: a domain's CHECK, at
 * any depth), or NULL.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_owner_code_column);
Datum
crm_purge_citus_owner_code_column(PG_FUNCTION_ARGS)
{
	Relation	rel = relation_open(PG_GETARG_OID(0), AccessShareLock);
	Form_pg_attribute a = owner_code_column(rel, false);
	Name		result = NULL;

	if (a != NULL)
	{
		result = palloc0(NAMEDATALEN);
		namestrcpy(result, NameStr(a->attname));
	}
	relation_close(rel, AccessShareLock);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_NAME(result);
}

/*
 * Keeping the tags crm_purge hands to the worker nodes from the roles they
 * are handed out for (review round 60, C60-3): any session named
 * citus_internal may join a distributed transaction on a worker node (C55-3),
 * so a tag a role saw could be replayed there.  Citus prints what it sends
 * (citus.log_remote_commands, any role's to set until now), and a worker
 * node shows a role's Citus connections' statements to the role
 * (pg_stat_activity, pg_stat_statements).
 */
static ClientAuthentication_hook_type prev_client_authentication_hook = NULL;
static GucBoolCheckHook prev_log_remote_commands_check = NULL;

/* refuse_role_remote_log: citus.log_remote_commands on, for a superuser only */
static bool
refuse_role_remote_log(bool *newval, void **extra, GucSource source)
{
	/* (the server's own configuration: a superuser's) */
	if (*newval && source >= PGC_S_DATABASE && source != PGC_S_OVERRIDE && IsUnderPostmaster &&
		IsTransactionState() && OidIsValid(GetUserId()) && !superuser())
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("only a superuser may turn citus.log_remote_commands on where crm_purge is loaded");
		GUC_check_errdetail("Citus would print the values crm_purge hands to the worker nodes for this transaction; a role that saw one could use it in a session of its own there.");
		GUC_check_errhint("Ask a superuser to look at the commands Citus sends.");
		return false;
	}
	return prev_log_remote_commands_check == NULL || prev_log_remote_commands_check(newval, extra, source);
}

/*
 * quiet_citus_connections: a role's Citus connection to this node (named
 * citus_internal when it starts) shows its statements to no one: the tags
 * Citus sends over it are the role's to see there otherwise.
 */
static void
quiet_citus_connections(Port *port, int status)
{
	if (prev_client_authentication_hook)
		prev_client_authentication_hook(port, status);
	if (status != STATUS_OK || port->application_name == NULL ||
		strncmp(port->application_name, "citus_internal", 14) != 0 ||
		superuser_arg(get_role_oid(port->user_name, true)))
		return;
	SetConfigOption("track_activities", "off", PGC_SUSET, PGC_S_OVERRIDE);
	if (GetConfigOption("pg_stat_statements.track_utility", true, false) != NULL)
		SetConfigOption("pg_stat_statements.track_utility", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

/* show_handed_out: SHOW and current_setting() of a handed-out setting (pg_read_all_settings reads them) */
const char *
crm_purge_show_handed_out(void)
{
	return "(hidden)";
}

/* crm_purge_citus_secrecy_init: from _PG_init */
void
crm_purge_citus_secrecy_init(void)
{
	struct config_generic **gucs = get_guc_variables();
	int			n = GetNumConfigOptions();
	int			i;

	/* (Citus is loaded first: it says so) */
	for (i = 0; i < n; i++)
		if (gucs[i]->vartype == PGC_BOOL && strcmp(gucs[i]->name, "citus.log_remote_commands") == 0)
		{
			struct config_bool *conf = (struct config_bool *) gucs[i];

			prev_log_remote_commands_check = conf->check_hook;
			conf->check_hook = refuse_role_remote_log;
		}
	prev_client_authentication_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = quiet_citus_connections;
}

/*
 * Citus's metadata commands, as it sends them to a worker node: one SELECT
 * calling one function on constants, or on the columns of a VALUES list in
 * its WITH.  A role's statement of that shape is no risk: it calls the
 * metadata function itself, in full view.  Anything else reaching one (a
 * role's distributed function Citus delegates, inlined there; a query it
 * pushes down to a shard) is refused (review round 61, C61-1).
 */
static bool
plain_argument(Node *n, bool columns)
{
	if (n == NULL)
		return false;
	if (IsA(n, A_Const))
		return true;
	if (IsA(n, TypeCast))
		return plain_argument(((TypeCast *) n)->arg, columns);
	if (IsA(n, ColumnRef))
		return columns && list_length(((ColumnRef *) n)->fields) == 1 &&
			IsA(linitial(((ColumnRef *) n)->fields), String);
	return false;
}

static bool
bare_select(SelectStmt *sel)
{
	return sel->op == SETOP_NONE && sel->distinctClause == NIL && sel->intoClause == NULL &&
		sel->whereClause == NULL && sel->groupClause == NIL && sel->havingClause == NULL &&
		sel->windowClause == NIL && sel->sortClause == NIL && sel->limitOffset == NULL &&
		sel->limitCount == NULL && sel->lockingClause == NIL;
}

/* values_cte: a CTE that is only a VALUES list of constants */
static bool
values_cte(CommonTableExpr *cte)
{
	SelectStmt *sel = (SelectStmt *) cte->ctequery;
	ListCell   *row;
	ListCell   *lc;

	if (sel == NULL || !IsA(sel, SelectStmt) || !bare_select(sel) || sel->valuesLists == NIL ||
		sel->targetList != NIL || sel->fromClause != NIL || sel->withClause != NULL)
		return false;
	foreach(row, sel->valuesLists)
		foreach(lc, (List *) lfirst(row))
			if (!plain_argument(lfirst(lc), false))
				return false;
	return true;
}

/*
 * crm_purge_citus_metadata_command: the function a statement (source text,
 * from location, len bytes or to its end) calls if it has the shape of
 * Citus's metadata commands, as "schema.name" or "name"; else NULL
 */
char *
crm_purge_citus_metadata_command(const char *source, int location, int len)
{
	char	   *text;
	List	   *raw;
	SelectStmt *sel;
	ResTarget  *target;
	FuncCall   *call;
	ListCell   *lc;
	char	   *result = NULL;

	/* (most statements name neither: no copy, no parse) */
	if (source == NULL || location < 0 ||
		(strstr(source + location, "citus_internal") == NULL &&
		 strstr(source + location, "worker_drop_distributed_table") == NULL))
		return NULL;
	text = len > 0 ? pnstrdup(source + location, len) : pstrdup(source + location);
	/* (the statement running: it parsed before) */
	raw = raw_parser(text, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt))
		return NULL;
	sel = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
	if (!bare_select(sel) || sel->valuesLists != NIL || list_length(sel->targetList) != 1 ||
		list_length(sel->fromClause) > 1)
		return NULL;
	target = linitial_node(ResTarget, sel->targetList);
	if (target->val == NULL || !IsA(target->val, FuncCall))
		return NULL;
	call = (FuncCall *) target->val;
	if (call->agg_order != NIL || call->agg_filter != NULL || call->over != NULL || call->agg_star ||
		call->agg_distinct || call->func_variadic || list_length(call->funcname) > 2)
		return NULL;
	foreach(lc, call->args)
		if (!plain_argument(lfirst(lc), sel->fromClause != NIL))
			return NULL;
	if (sel->withClause != NULL)
	{
		if (sel->withClause->recursive)
			return NULL;
		foreach(lc, sel->withClause->ctes)
			if (!values_cte(lfirst_node(CommonTableExpr, lc)))
				return NULL;
	}
	/* FROM: a CTE of its WITH, by name */
	if (sel->fromClause != NIL)
	{
		RangeVar   *from = (RangeVar *) linitial(sel->fromClause);
		bool		cte = false;

		if (!IsA(from, RangeVar) || from->schemaname != NULL || from->catalogname != NULL ||
			sel->withClause == NULL)
			return NULL;
		foreach(lc, sel->withClause->ctes)
			if (strcmp(lfirst_node(CommonTableExpr, lc)->ctename, from->relname) == 0)
				cte = true;
		if (!cte)
			return NULL;
	}
	result = list_length(call->funcname) == 2 ?
		psprintf("%s.%s", strVal(linitial(call->funcname)), strVal(lsecond(call->funcname))) :
		pstrdup(strVal(linitial(call->funcname)));
	return result;
}

/*
 * crm_purge_citus_command_calls: does the statement's function (named as
 * crm_purge_citus_metadata_command gives it) name fn?  Unqualified: only
 * pg_catalog's, and no other function of that name in reach.
 */
bool
crm_purge_citus_command_calls(const char *command, Oid fn)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	const char *dot;
	bool		result;

	if (command == NULL || !HeapTupleIsValid(tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn))))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	dot = strchr(command, '.');
	if (dot != NULL)
	{
		char	   *nsp = get_namespace_name(proc->pronamespace);

		result = strcmp(dot + 1, NameStr(proc->proname)) == 0 && nsp != NULL &&
			strlen(nsp) == (size_t) (dot - command) && strncmp(command, nsp, dot - command) == 0;
	}
	else
	{
		FuncCandidateList c;

		result = strcmp(command, NameStr(proc->proname)) == 0 && proc->pronamespace == PG_CATALOG_NAMESPACE;
		for (c = FuncnameGetCandidates(list_make1(makeString(pstrdup(command))), -1, NIL, false, false, false, true);
			 result && c != NULL; c = c->next)
			if (get_func_namespace(c->oid) != PG_CATALOG_NAMESPACE)
				result = false;
	}
	ReleaseSysCache(tup);
	return result;
}
