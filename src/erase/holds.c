/*
 * holds.c - legal holds, evaluated one way everywhere.
 *
 * A hold's filter runs as the admin who made it, restricted, with
 * search_path pinned: never as the table owner, the extension owner, the
 * worker or the admin who happens to erase or request.  Callers ask which
 * rows of a set (the table or its trash, narrowed by their own condition)
 * the active holds keep, and leave those rows alone.  SQL functions here:
 * crm_purge._hold_keeping and crm_purge._held_rows.
 */
#include "postgres.h"
#include "utils/guc.h"

#include "catalog/partition.h"
#include "access/stratnum.h"
#include "access/skey.h"
#include "utils/fmgroids.h"
#include "catalog/indexing.h"
#include "access/table.h"
#include "access/genam.h"
#include "catalog/pg_inherits.h"

#include "funcapi.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"

#include "crm_purge.h"


/*
 * crm_purge_hold_hits: the rows of scanrel matching cond ($1.. = values) that
 * an active hold on relid keeps, as a list of CrmPurgeHoldHit (only holds that
 * keep some row).  SPI must be connected.  A hold that cannot be evaluated is
 * an error: its rows must not go because the check failed.
 */
static List *hold_hits(Oid relid, Oid scanrel, bool trash_rows, const char *key, const char *cond, int nargs,
					   Oid *argtypes, Datum *values);

List *
crm_purge_hold_hits(Oid relid, Oid scanrel, const char *cond, int nargs, Oid *argtypes,
					Datum *values)
{
	return hold_hits(relid, scanrel, false, NULL, cond, nargs, argtypes, values);
}

/*
 * crm_purge_trash_held: which of the trash rows named by ids and rows
 * (deletion_id and trash_row, int8[] each) an active hold on relid keeps,
 * in *held_ids and *held_rows.  A trash row is never named by ctid: that
 * names a row of one segment (one shard) only, and not across statements.
 * SPI must be connected.
 */
void
crm_purge_trash_held(Oid relid, Oid trashid, Datum ids, Datum rows, Datum *held_ids, Datum *held_rows)
{
	Oid			argtypes[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[2] = {ids, rows};
	List	   *hits = hold_hits(relid, trashid, true, NULL,
								 crm_purge_trash_rows_named(crm_purge_relname(trashid), 1),
								 2, argtypes, values);
	ListCell   *lc,
			   *lc2;
	int			n = 0,
				i = 0;
	Datum	   *d,
			   *r;

	foreach(lc, hits)
		n += list_length(((CrmPurgeHoldHit *) lfirst(lc))->tids);
	d = palloc(sizeof(Datum) * Max(n, 1));
	r = palloc(sizeof(Datum) * Max(n, 1));
	foreach(lc, hits)
	{
		foreach(lc2, ((CrmPurgeHoldHit *) lfirst(lc))->tids)
		{
			int64	   *pair = lfirst(lc2);

			d[i] = Int64GetDatum(pair[0]);
			r[i++] = Int64GetDatum(pair[1]);
		}
	}
	*held_ids = PointerGetDatum(construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	*held_rows = PointerGetDatum(construct_array(r, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * check_hold: an error when hold hold_id of relid cannot be checked: its
 * creator is no longer an admin, may no longer read the table, or the
 * table's policies would run with their rights (scanrel is the live table).
 */
static void
check_hold(Oid relid, Oid scanrel, int64 hold_id, Oid creator)
{
	/* (locked first: row-level security switched on meanwhile is seen below, A63-1) */
	LockRelationOid(scanrel, AccessShareLock);
	if (!crm_purge_is_admin(creator))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("legal hold " INT64_FORMAT " on table %s cannot be checked: its creator %s is no longer a member of %s",
						hold_id, crm_purge_relname(relid), crm_purge_role_name(creator),
						CRM_PURGE_ADMIN_ROLE),
				 errdetail("A hold's filter runs with its creator's rights; until it can run, nothing it might keep is removed."),
				 errhint("Release hold " INT64_FORMAT " and make it again as an admin.", hold_id)));
	/* trash rows are visible only with SELECT on the table: none would be held */
	if (pg_class_aclcheck(relid, creator, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("legal hold " INT64_FORMAT " on table %s cannot be checked: its creator %s may no longer read the table",
						hold_id, crm_purge_relname(relid), crm_purge_role_name(creator)),
				 errdetail("A hold's filter runs with its creator's rights; until it can run, nothing it might keep is removed."),
				 errhint("Grant SELECT on the table to %s again, or release hold " INT64_FORMAT " and make it again.",
						 crm_purge_role_name(creator), hold_id)));
	/*
	 * A live table's own policies, or a partition's read by itself, would
	 * run with the hold creator's rights (and hide held rows)
	 */
	if (get_rel_namespace(scanrel) != get_namespace_oid(CRM_TRASH_SCHEMA, true) &&
		crm_purge_policies_would_run(scanrel, creator))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("legal hold " INT64_FORMAT " on table %s cannot be checked: %s has row-level security",
						hold_id, crm_purge_relname(relid),
						scanrel == relid ? "the table" : psprintf("its partition %s", crm_purge_relname(scanrel))),
				 errdetail("Its policies would run with the rights of the hold's creator %s.",
						   crm_purge_role_name(creator)),
				 errhint("Disable row-level security there, or have the table's owner make the hold again.")));
}

/* citus_plain_filter: the hold's filter as a plain condition (filter.c), or an error. */
static char *
citus_plain_filter(Oid relid, Oid scanrel, int64 hold_id, char *filter)
{
	filter = crm_purge_plain_condition(scanrel, filter);
	if (filter == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("legal hold " INT64_FORMAT " on Citus table %s cannot be checked: its filter is not a plain condition",
						hold_id, crm_purge_relname(relid)),
				 errdetail("On a Citus table a hold's filter may only compare columns of built-in types with constants; until it can run, nothing it might keep is removed."),
				 errhint("Release hold " INT64_FORMAT " and make it again with a condition like id = 42 or created_at < '2024-01-01'.", hold_id)));
	return filter;
}

/*
 * A hold keeps rows of its table wherever an operation names them: through
 * the table, or through one of its partitions (a hold names no partition:
 * crm_purge_hold).  Kept until the end of its until day wherever that day
 * ends (the day is the creator's, checked in its time zone).
 */
#define HOLD_ACTIVE " released_at IS NULL AND (until IS NULL OR until >= " \
	"((pg_catalog.now() AT TIME ZONE 'UTC') - interval '14 hours')::date)"

/*
 * hold_tables: relid, the tables it is a partition or inheritance child of
 * (at any level), and its own partitions and children, as an oid[]; their
 * holds' locks taken in mode.  A hold keeps its rows through whichever of
 * them an operation names (one made on a table that became a partition
 * later, on an inheritance child).
 */
static Datum
hold_tables(Oid relid, LOCKMODE mode)
{
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);
	/* (every parent of every child: a child of two parents, one of them held; review round 50, B50-1) */
	List	   *todo = list_copy(rels);
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;

	/* up: every parent, at every level, of the table and of its children */
	while (todo != NIL)
	{
		Oid			child = linitial_oid(todo);
		Relation	inh = table_open(InheritsRelationId, AccessShareLock);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		todo = list_delete_first(todo);
		ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(child));
		scan = systable_beginscan(inh, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Oid			parent = ((Form_pg_inherits) GETSTRUCT(tup))->inhparent;

			if (!list_member_oid(rels, parent))
			{
				rels = lappend_oid(rels, parent);
				todo = lappend_oid(todo, parent);
			}
		}
		systable_endscan(scan);
		table_close(inh, AccessShareLock);
	}
	elems = palloc(sizeof(Datum) * list_length(rels));
	foreach(lc, rels)
	{
		crm_purge_lock_holds(lfirst_oid(lc), mode);
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	}
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/* read_holds: sql ($1 = hold_tables(relid)) on crm_purge.holds, under the latest snapshot; false when it failed */
static bool
read_holds(const char *sql, Datum tables, long limit)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1] = {tables};
	SPIPlanPtr	plan = SPI_prepare(sql, 1, argtypes);

	return plan != NULL &&
		SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, limit) == SPI_OK_SELECT;
}

/*
 * crm_purge_lock_holds: the lock on relid's legal holds.  Whatever reads
 * them to delete rows (a request's batch or Citus round, a purge, trash
 * expiry, an erase, a TRUNCATE) takes it shared until its transaction ends; a hold
 * being made takes it exclusive (crm_purge._lock_holds), so it returns
 * only once no transaction that read the holds without it can still
 * delete, and those after it read it.
 */
void
crm_purge_lock_holds(Oid relid, LOCKMODE mode)
{
	static Oid	holds_relid = InvalidOid;

	if (!OidIsValid(holds_relid) || get_rel_relkind(holds_relid) == '\0')
		holds_relid = get_relname_relid("holds", get_namespace_oid(CRM_PURGE_SCHEMA, false));
	LockDatabaseObject(holds_relid, relid, 0, mode);
}

/* crm_purge_lock_holds_sql: crm_purge._lock_holds(tbl): the exclusive lock, for a hold being made. */
PG_FUNCTION_INFO_V1(crm_purge_lock_holds_sql);
Datum
crm_purge_lock_holds_sql(PG_FUNCTION_ARGS)
{
	crm_purge_require_extension_owner("crm_purge._lock_holds");
	/* first the database's (see crm_purge_any_hold), then the table's */
	crm_purge_lock_holds(InvalidOid, ExclusiveLock);
	crm_purge_lock_holds(PG_GETARG_OID(0), ExclusiveLock);
	PG_RETURN_VOID();
}

/*
 * crm_purge_held_on: crm_purge._held_on(rels oid[]): the first legal hold
 * in force on one of rels, or NULL.  As active_holds: their holds' locks
 * taken shared, read under the latest snapshot (a REPEATABLE READ
 * transaction begun before the hold dropped the held table).
 */
PG_FUNCTION_INFO_V1(crm_purge_held_on);
Datum
crm_purge_held_on(PG_FUNCTION_ARGS)
{
	ArrayType  *rels = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	CrmPurgeIdentity id;
	bool		isnull = true;
	int64		hold = 0;

	crm_purge_require_extension_owner("crm_purge._held_on");
	deconstruct_array(rels, OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			crm_purge_lock_holds(DatumGetObjectId(elems[i]), ShareLock);
	SPI_connect();
	crm_purge_become_owner(&id);
	if (!read_holds("SELECT pg_catalog.min(id) FROM crm_purge.holds WHERE tbl = ANY ($1) AND" HOLD_ACTIVE,
					PointerGetDatum(rels), 1) || SPI_processed != 1)
		elog(ERROR, "could not read crm_purge.holds");
	hold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	crm_purge_unbecome(&id);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT64(hold);
}

/*
 * crm_purge_any_hold: crm_purge._any_hold(): is a legal hold in force
 * anywhere in the database?  For a shortcut that then reads no table's
 * holds: the database's holds lock is taken shared, so a hold being made
 * meanwhile waits for this transaction (crm_purge._lock_holds), and read
 * under the latest snapshot.
 */
PG_FUNCTION_INFO_V1(crm_purge_any_hold);
Datum
crm_purge_any_hold(PG_FUNCTION_ARGS)
{
	CrmPurgeIdentity id;
	bool		found;

	crm_purge_require_admin("crm_purge._any_hold");
	crm_purge_lock_holds(InvalidOid, ShareLock);
	SPI_connect();
	crm_purge_become_owner(&id);
	/* (read_holds' $1, the tables, is not asked for: any table) */
	if (!read_holds("SELECT 1 FROM crm_purge.holds WHERE $1 IS NOT NULL AND" HOLD_ACTIVE,
					PointerGetDatum(construct_empty_array(OIDOID)), 1))
		elog(ERROR, "could not read crm_purge.holds");
	found = SPI_processed > 0;
	crm_purge_unbecome(&id);
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/* active_holds: id, filter, created_by, reason of relid's active holds, by id.  SPI connected. */
static SPITupleTable *
active_holds(Oid relid, uint64 *n)
{
	CrmPurgeIdentity id;

	/*
	 * a hold being made on relid waits for this transaction, or this for it,
	 * and is read then, under any isolation level (the latest snapshot)
	 */
	Datum		tables = hold_tables(relid, ShareLock);

	crm_purge_become_owner(&id);
	if (!read_holds("SELECT id, filter, created_by::oid, reason FROM crm_purge.holds"
					" WHERE tbl = ANY ($1) AND" HOLD_ACTIVE " ORDER BY id", tables, 0))
		elog(ERROR, "could not read crm_purge.holds");
	crm_purge_unbecome(&id);
	*n = SPI_processed;
	return SPI_tuptable;
}

/*
 * crm_purge_citus_hold_condition: what the active holds on Citus table
 * relid keep, as one plain condition "(f1) OR (f2)" that a shard's batch
 * runs on its node (where no hold is recorded); NULL without holds.  Each
 * hold is checked as hold_hits checks it.  SPI connected.
 */
char *
crm_purge_citus_hold_condition(Oid relid)
{
	uint64		n,
				h;
	SPITupleTable *holds = active_holds(relid, &n);
	StringInfoData cond;

	if (n == 0)
		return NULL;
	initStringInfo(&cond);
	for (h = 0; h < n; h++)
	{
		bool		isnull;
		int64		hold_id = DatumGetInt64(SPI_getbinval(holds->vals[h], holds->tupdesc, 1, &isnull));
		char	   *filter = SPI_getvalue(holds->vals[h], holds->tupdesc, 2);
		Oid			creator = DatumGetObjectId(SPI_getbinval(holds->vals[h], holds->tupdesc, 3, &isnull));
		CrmPurgeIdentity id;

		check_hold(relid, relid, hold_id, creator);
		crm_purge_become_creator(creator, relid, &id);
		filter = citus_plain_filter(relid, relid, hold_id, filter);
		crm_purge_unbecome(&id);
		appendStringInfo(&cond, "%s(%s)", h > 0 ? " OR " : "", filter);
	}
	return cond.data;
}

/*
 * crm_purge_hold_rows: the rows of relid its active holds keep, as the text
 * of all their columns (a hit's tids are char *): on Citus, where a row has
 * no ctid to follow; by their key, a row changed and another made under its
 * key passed (review round 75, B75-1, B75-2).
 */
List *
crm_purge_hold_rows(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	StringInfoData row;
	int			i;

	initStringInfo(&row);
	appendStringInfoString(&row, "ROW(");
	for (i = 0; i < RelationGetDescr(rel)->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(RelationGetDescr(rel), i);

		if (!a->attisdropped)
			appendStringInfo(&row, "%s%s", row.data[row.len - 1] == '(' ? "" : ", ", quote_identifier(NameStr(a->attname)));
	}
	appendStringInfoChar(&row, ')');
	table_close(rel, AccessShareLock);
	return hold_hits(relid, relid, false, row.data, "true", 0, NULL, NULL);
}

/*
 * hold_hits: crm_purge_hold_hits(), whose hits are ctids, or with
 * trash_rows (deletion_id, trash_row) pairs (int64[2]), or with key (an
 * expression of the row) its texts.
 */
static List *
hold_hits(Oid relid, Oid scanrel, bool trash_rows, const char *key, const char *cond, int nargs, Oid *argtypes,
		  Datum *values)
{
	CrmPurgeIdentity id;
	SPITupleTable *holds;
	uint64		nholds,
				h;
	List	   *hits = NIL;
	const char *scanname = crm_purge_relname(scanrel);
	bool		citus = crm_purge_citus_distributed(scanrel);

	holds = active_holds(relid, &nholds);

	for (h = 0; h < nholds; h++)
	{
		bool		isnull;
		int64		hold_id = DatumGetInt64(SPI_getbinval(holds->vals[h], holds->tupdesc, 1, &isnull));
		char	   *filter = SPI_getvalue(holds->vals[h], holds->tupdesc, 2);
		Oid			creator = DatumGetObjectId(SPI_getbinval(holds->vals[h], holds->tupdesc, 3, &isnull));
		char	   *reason = SPI_getvalue(holds->vals[h], holds->tupdesc, 4);
		CrmPurgeHoldHit *hit = NULL;
		uint64		r;
		int			rc;
		int			nest = -1;

		check_hold(relid, scanrel, hold_id, creator);
		/*
		 * As for the table itself, whatever is read: a trash column of the
		 * owner's composite or domain-array type runs the owner's code (the
		 * filter's literals read as that type), so a superuser creator
		 * reads the trash as the table's owner, as crm_purge's own pick
		 */
		crm_purge_become_creator(creator, relid, &id);
		if (citus)
		{
			/*
			 * Citus: after the extension owner changed the trash in this
			 * transaction, no other role may read it; the filter runs as the
			 * extension owner, so it must be a plain condition that runs no
			 * one's code.  The table itself is planned and read as its
			 * owner (its index expressions run while planning).
			 */
			filter = citus_plain_filter(relid, scanrel, hold_id, filter);
			crm_purge_unbecome(&id);
			crm_purge_become_owner(&id);
			/* its literals read as when it was made ('02/03/04' in YMD order, UTC) */
			crm_purge_pin_filter_settings();
			if (scanrel == relid)
				nest = crm_purge_citus_run_as_begin(crm_purge_rel_owner(relid), relid);
		}
		/*
		 * (Citus plans no ctid of a distributed table: a hit there names no
		 * row, only its hold.)  Under the newest snapshot: a row committed
		 * while the caller waited for a lock (a child inserted under the hold
		 * as its parent was deleted), which a cascade would reach, is seen.
		 */
		PushActiveSnapshot(GetLatestSnapshot());
		{
			/*
			 * No index predicate or CHECK constraint decides which rows are
			 * read: the owner's IMMUTABLE function there can lie, and the
			 * planner would skip held rows (review round 49, A49-1).
			 */
			int			plan_nest;
			static const char *const off[] = {"enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"};
			static const char *const planning[] = {"enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan",
			"constraint_exclusion"};
			static const char *const offs[] = {"off", "off", "off", "off"};
			const char *saved[lengthof(planning)];
			int			g;

			/* (on Citus the worker nodes plan the shards' check: review round 52, C52-1) */
			if (citus && scanrel == relid)
			{
				for (g = 0; g < lengthof(planning); g++)
					saved[g] = pstrdup(GetConfigOption(planning[g], false, false));
				crm_purge_citus_propagate_settings(lengthof(planning), planning, offs);
			}
			plan_nest = NewGUCNestLevel();
			for (g = 0; g < lengthof(off); g++)
				(void) set_config_option(off[g], "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
			(void) set_config_option("constraint_exclusion", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
									 true, 0, false);
			rc = SPI_execute_with_args(psprintf("SELECT %s FROM %s WHERE (%s) AND (%s\n)",
												key ? psprintf("(%s)::pg_catalog.text", key) :
												trash_rows ? "deletion_id, trash_row" :
												citus ? "'(0,0)'::pg_catalog.tid" : "ctid",
												scanname, cond, filter),
									   nargs, argtypes, values, NULL, true, 0);
			AtEOXact_GUC(false, plan_nest);
			if (citus && scanrel == relid)
				crm_purge_citus_propagate_settings(lengthof(planning), planning, saved);
		}
		PopActiveSnapshot();
		if (citus && scanrel == relid)
			crm_purge_citus_run_as_end(nest);
		crm_purge_unbecome(&id);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not evaluate legal hold " INT64_FORMAT, hold_id);
		for (r = 0; r < SPI_processed; r++)
		{
			void	   *tid;

			if (key)
				tid = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
			else if (trash_rows)
			{
				int64	   *pair = palloc(sizeof(int64) * 2);

				pair[0] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
				pair[1] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
				tid = pair;
			}
			else
			{
				tid = palloc(sizeof(ItemPointerData));
				*(ItemPointer) tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[r],
																				  SPI_tuptable->tupdesc, 1, &isnull));
			}
			if (hit == NULL)
			{
				hit = palloc0(sizeof(CrmPurgeHoldHit));
				hit->id = hold_id;
				hit->reason = reason;
			}
			hit->tids = lappend(hit->tids, tid);
		}
		if (hit)
			hits = lappend(hits, hit);
	}
	return hits;
}

/* crm_purge_has_holds: does any active legal hold cover relid?  SPI must be connected. */
bool
crm_purge_has_holds(Oid relid)
{
	CrmPurgeIdentity id;
	bool		found;

	/* as active_holds: what deletes after asking holds the lock on the table's holds */
	Datum		tables = hold_tables(relid, ShareLock);

	crm_purge_become_owner(&id);
	if (!read_holds("SELECT 1 FROM crm_purge.holds WHERE tbl = ANY ($1) AND" HOLD_ACTIVE, tables, 1))
		elog(ERROR, "could not read crm_purge.holds");
	found = SPI_processed > 0;
	crm_purge_unbecome(&id);
	return found;
}

/* crm_purge_has_holds_sql: crm_purge._has_holds(tbl): crm_purge_has_holds(), for an admin's checks */
PG_FUNCTION_INFO_V1(crm_purge_has_holds_sql);
Datum
crm_purge_has_holds_sql(PG_FUNCTION_ARGS)
{
	bool		found;

	crm_purge_require_admin("crm_purge_erase");
	SPI_connect();
	found = crm_purge_has_holds(PG_GETARG_OID(0));
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/* crm_purge_hold_tid_array: all held tids of hits, as a tid[] datum (empty when none). */
Datum
crm_purge_hold_tid_array(List *hits)
{
	ListCell   *lc,
			   *lc2;
	List	   *all = NIL;
	Datum	   *elems;
	int			i = 0;

	foreach(lc, hits)
		all = list_concat(all, ((CrmPurgeHoldHit *) lfirst(lc))->tids);
	elems = palloc(sizeof(Datum) * Max(list_length(all), 1));
	foreach(lc2, all)
		elems[i++] = PointerGetDatum(lfirst(lc2));
	return PointerGetDatum(construct_array(elems, i, TIDOID, sizeof(ItemPointerData), false,
										   TYPALIGN_SHORT));
}

/*
 * hold_keeping: the first active hold that keeps a row of relid, live or
 * trashed, matching cond ($1 = keys; NULL: the primary key's match); 0 when
 * none.
 */
static int64
hold_keeping(Oid relid, const char *cond, Datum keys)
{
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1] = {keys};
	Oid			trashid;
	List	   *hits;
	int64		result = 0;

	bool		any;

	/* (no hold, nothing to read: a table the caller may not read is fine then) */
	SPI_connect();
	any = crm_purge_has_holds(relid);
	SPI_finish();
	if (!any)
		return 0;
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", crm_purge_relname(relid))));
	if (cond == NULL)
		cond = crm_purge_primary_key_match(relid);
	SPI_connect();
	hits = crm_purge_hold_hits(relid, relid, cond, 1, argtypes, values);
	trashid = crm_purge_trash_of(relid);
	if (hits == NIL && OidIsValid(trashid))
		hits = crm_purge_hold_hits(relid, trashid, cond, 1, argtypes, values);
	if (hits != NIL)
		result = ((CrmPurgeHoldHit *) linitial(hits))->id;
	SPI_finish();
	return result;
}

/*
 * crm_purge_hold_keeping: crm_purge._hold_keeping(tbl, keys): the first active
 * hold that keeps a live or trashed row of tbl whose primary key text is in
 * keys, or NULL.  For crm_purge_erase, which refuses held rows; the caller
 * must be an admin who may read the table.
 */
PG_FUNCTION_INFO_V1(crm_purge_hold_keeping);
Datum
crm_purge_hold_keeping(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		result;

	crm_purge_require_admin("crm_purge_erase");
	result = hold_keeping(relid, NULL, PG_GETARG_DATUM(1));
	if (result == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(result);
}

/*
 * crm_purge_hold_keeping_cols: crm_purge._hold_keeping_cols(tbl, cols, keys,
 * key_type): the first legal hold that keeps a row of tbl, live or
 * trashed, whose columns cols hold one of the keys (of type key_type): the
 * children an erase would anonymize or unlink.
 */
PG_FUNCTION_INFO_V1(crm_purge_hold_keeping_cols);
Datum
crm_purge_hold_keeping_cols(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		result;

	crm_purge_require_admin("crm_purge_erase");
	result = hold_keeping(relid, crm_purge_key_match_array(relid, PG_GETARG_ARRAYTYPE_P(1), PG_GETARG_OID(3)),
						  PG_GETARG_DATUM(2));
	if (result == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(result);
}

/*
 * crm_purge_held_rows: crm_purge._held_rows(tbl, ids, rows): which of these
 * rows of tbl's trash (deletion_id, trash_row) an active legal hold keeps.
 * For marks; the extension owner only (it runs every hold's filter, each
 * as its creator).
 */
PG_FUNCTION_INFO_V1(crm_purge_held_rows);
Datum
crm_purge_held_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	Oid			trashid = crm_purge_trash_of(relid);
	Datum		held_ids,
				held_rows;
	ArrayType  *ia,
			   *ra;
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	if (!OidIsValid(trashid))
		return (Datum) 0;
	SPI_connect();
	crm_purge_trash_held(relid, trashid, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), &held_ids, &held_rows);
	SPI_finish();
	ia = DatumGetArrayTypeP(held_ids);
	ra = DatumGetArrayTypeP(held_rows);
	n = ArrayGetNItems(ARR_NDIM(ia), ARR_DIMS(ia));
	for (i = 0; i < n; i++)
	{
		Datum		v[2] = {Int64GetDatum(((int64 *) ARR_DATA_PTR(ia))[i]),
							Int64GetDatum(((int64 *) ARR_DATA_PTR(ra))[i])};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/*
 * holds_below: a table with legal holds that foreign keys' actions reach
 * from relid (its rows, its children's, and on down).
 */
static bool
holds_below(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (SPI_execute_with_args("WITH RECURSIVE below(rel) AS (SELECT $1"
							  " UNION SELECT x.rel FROM below b, LATERAL ("
							  "  SELECT c.conrelid FROM pg_catalog.pg_constraint c"
							  "  WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.confrelid OPERATOR(pg_catalog.=) b.rel"
							  "    AND (c.confdeltype OPERATOR(pg_catalog.=) ANY ('{c,n,d}') OR c.confupdtype OPERATOR(pg_catalog.=) ANY ('{c,n,d}'))"
							  "  UNION ALL SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent OPERATOR(pg_catalog.=) b.rel) x(rel))"
							  " SELECT b.rel FROM below b WHERE b.rel OPERATOR(pg_catalog.<>) $1",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the foreign keys below table %u", relid);
	{
		uint64		n = SPI_processed;
		SPITupleTable *tab = SPI_tuptable;
		uint64		i;

		for (i = 0; i < n; i++)
		{
			bool		isnull;
			Oid			rel = DatumGetObjectId(SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull));

			if (!isnull && crm_purge_has_holds(rel))
				return true;
		}
	}
	return false;
}

/*
 * crm_purge._lock_held(tbl): a table with legal holds that a foreign key's
 * action would reach is kept from writers until the transaction ends, so
 * that its held rows are all seen: a child row inserted under a hold while
 * its parent is deleted has committed (the lock waits for it) or waits.
 * So is a table above one: a row of it moved under a deleted parent while
 * the check ran took its held children along (review round 55, B55-1).
 */
PG_FUNCTION_INFO_V1(crm_purge_lock_held);
Datum
crm_purge_lock_held(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	bool		held;

	crm_purge_require_admin("crm_purge_erase");
	if (get_rel_relkind(relid) == '\0')
		PG_RETURN_VOID();
	SPI_connect();
	held = crm_purge_has_holds(relid) || holds_below(relid);
	SPI_finish();
	if (held)
		LockRelationOid(relid, ShareLock);
	PG_RETURN_VOID();
}
