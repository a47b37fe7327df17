/*
 * cascade.c - rows a request's DELETE removes from other tables.
 *
 * A foreign key ON DELETE CASCADE makes a request's batch remove rows of
 * other tables too.  Nothing leaves without a trace: before the batch
 * deletes, its parent rows are locked (no new child can refer to them), the
 * rows the cascade will remove are found level by level and locked, legal
 * holds are checked on them (a parent whose cascade would remove a held row
 * is kept), and for export_and_delete they are written to export parts of
 * their own, one per table.  The batch then deletes; the cascade removes
 * exactly the rows exported.  Each statement reads one table, as that
 * table's owner, restricted, search_path pinned, its own row-level security
 * not forced on it (as PostgreSQL's own cascade runs): planning a statement
 * runs the table's index expressions, its owner's code, which must never
 * run as the extension owner.  Keys go from parent to child as values.
 * Holds run as their creators (holds.c).  Here: crm_purge_cascade_edges()
 * and crm_purge_cascade_prepare(), for batch.c.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_trigger.h"
#include "rewrite/prs2lock.h"

#include "catalog/partition.h"
#include "catalog/pg_inherits.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
#include "catalog/pg_operator.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "crm_purge.h"

#define MAX_CASCADE_LEVELS	8

typedef struct CascadeEdge
{
	int			parent_edge;	/* index of the edge that reaches the parent; -1: the request's table */
	bool		unlink;			/* ON DELETE SET NULL or SET DEFAULT: its rows change, never go */
	int			level;
	Oid			parent;
	Oid			child;
	int			nkeys;
	char	  **fk_cols;		/* the child's key columns, quoted */
	char	  **ref_cols;		/* the parent's columns they reference */
	char	  **eqops;			/* the key's own "parent = child" operators, OPERATOR(schema.op) */
	int16	   *fk_attnums;		/* the child's key columns: those an unlink changes */
	struct KeyValues *kv;		/* the parent's keys the batch removes */
	Datum		rows;			/* tid[]: the child's rows it removes or changes (crm_purge_cascade_prepare) */
} CascadeEdge;


/* column_names: the quoted names of a constraint's attnum array (conkey or confkey); *n their count. */
static char **
column_names(Oid relid, Datum arr, int *n)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	int16	   *attnums = (int16 *) ARR_DATA_PTR(a);
	char	  **names;
	int			i;

	*n = ARR_DIMS(a)[0];
	names = palloc(sizeof(char *) * *n);
	for (i = 0; i < *n; i++)
		names[i] = pstrdup(quote_identifier(get_attname(relid, attnums[i], false)));
	return names;
}

/*
 * key_operators: for each column pair of a foreign key, "%s OPERATOR(s.op) %s"
 * with the parent's value first and the child's second, each cast to the
 * operator's own input type where it differs (as PostgreSQL's cascade
 * compares them: char(4) 'ab' equals text 'ab ', and text = would not).
 */
static char **
key_operators(Datum arr, int n, Oid parent, Datum pcols, Oid child, Datum ccols)
{
	Oid		   *ops = (Oid *) ARR_DATA_PTR(DatumGetArrayTypeP(arr));
	int16	   *pk = (int16 *) ARR_DATA_PTR(DatumGetArrayTypeP(pcols));
	int16	   *fk = (int16 *) ARR_DATA_PTR(DatumGetArrayTypeP(ccols));
	char	  **exprs = palloc(sizeof(char *) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(ops[i]));
		Form_pg_operator op;
		Oid			ptype = get_atttype(parent, pk[i]);
		Oid			ctype = get_atttype(child, fk[i]);
		Oid			pcoll = InvalidOid;
		Oid			unused_type;
		int32		unused_typmod;
		const char *collate = "";

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for operator %u", ops[i]);
		op = (Form_pg_operator) GETSTRUCT(tup);
		/*
		 * (compared as PostgreSQL's cascade compares, under the referenced
		 * column's collation when it is nondeterministic: under the child's
		 * it found fewer rows than the cascade removed, unexported and
		 * unchecked against holds: review round 70, B70-3)
		 */
		get_atttypetypmodcoll(parent, pk[i], &unused_type, &unused_typmod, &pcoll);
		if (OidIsValid(pcoll) && !get_collation_isdeterministic(pcoll))
		{
			HeapTuple	ctup = SearchSysCache1(COLLOID, ObjectIdGetDatum(pcoll));

			if (!HeapTupleIsValid(ctup))
				elog(ERROR, "cache lookup failed for collation %u", pcoll);
			collate = psprintf(" COLLATE %s.%s",
							   quote_identifier(get_namespace_name(((Form_pg_collation) GETSTRUCT(ctup))->collnamespace)),
							   quote_identifier(NameStr(((Form_pg_collation) GETSTRUCT(ctup))->collname)));
			ReleaseSysCache(ctup);
		}
		/* (typmod given as -1: "bpchar", not "character", which is char(1)) */
		exprs[i] = psprintf("%%s%s OPERATOR(%s.%s) %%s%s%s",
							ptype == op->oprleft ? "" :
							psprintf("::%s", format_type_extended(op->oprleft, -1, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY)),
							quote_identifier(get_namespace_name(op->oprnamespace)), NameStr(op->oprname),
							ctype == op->oprright ? "" :
							psprintf("::%s", format_type_extended(op->oprright, -1, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY)),
							collate);
		ReleaseSysCache(tup);
	}
	return exprs;
}

static bool followed_on_update_of(Relation conrel, Oid rel, const int16 *cols, int ncols);

/* overlaps: does a constraint's attnum array hold one of cols? */
static bool
overlaps(Datum arr, const int16 *cols, int ncols)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	int16	   *attnums = (int16 *) ARR_DATA_PTR(a);
	int			i,
				j;

	for (i = 0; i < ARR_DIMS(a)[0]; i++)
		for (j = 0; j < ncols; j++)
			if (attnums[i] == cols[j])
				return true;
	return false;
}

/*
 * part_columns: the attnums in part (a partition of rel, or rel) of rel's
 * columns cols, by name (a partition's numbers are its own); *n how many.
 */
static int16 *
part_columns(Oid rel, Oid part, const int16 *cols, int ncols, int *n)
{
	int16	   *out = palloc(sizeof(int16) * Max(ncols, 1));
	int			i;

	*n = 0;
	for (i = 0; i < ncols; i++)
	{
		AttrNumber	a = get_attnum(part, get_attname(rel, cols[i], false));

		if (a != InvalidAttrNumber)
			out[(*n)++] = a;
	}
	return out;
}

/*
 * followed_on_update: does a foreign key follow an update of these columns
 * of rel, or of one of its partitions (ON UPDATE CASCADE, SET NULL, SET
 * DEFAULT)?
 */
static bool
followed_on_update(Relation conrel, Oid rel, const int16 *cols, int ncols)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(rel, NoLock, NULL))
	{
		int			n;
		int16	   *mapped = part_columns(rel, lfirst_oid(lc), cols, ncols, &n);

		if (followed_on_update_of(conrel, lfirst_oid(lc), mapped, n))
			return true;
	}
	return false;
}

/* followed_on_update_of: followed_on_update() of rel itself */
static bool
followed_on_update_of(Relation conrel, Oid rel, const int16 *cols, int ncols)
{
	SysScanDesc scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	bool		found = false;

	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		bool		isnull;

		found = con->contype == CONSTRAINT_FOREIGN && con->confrelid == rel && !OidIsValid(con->conparentid) &&
			(con->confupdtype == FKCONSTR_ACTION_CASCADE || con->confupdtype == FKCONSTR_ACTION_SETNULL ||
			 con->confupdtype == FKCONSTR_ACTION_SETDEFAULT) &&
			overlaps(heap_getattr(tup, Anum_pg_constraint_confkey, RelationGetDescr(conrel), &isnull), cols, ncols);
	}
	systable_endscan(scan);
	return found;
}

/*
 * user_delete_trigger: an enabled trigger of rel's own (not crm_purge's nor
 * internal) that fires while a DELETE's ON DELETE CASCADE runs: BEFORE
 * DELETE (a statement one too: it runs before the cascade's DELETE of the
 * table), or AFTER DELETE for each row (a row's AFTER triggers fire before
 * the next row's cascade, whatever their name: review rounds 71 and 72,
 * B71-1, A72-1..3).  NULL if none.
 */
static Trigger *
user_delete_trigger(Relation rel)
{
	Oid			nsp = get_namespace_oid(CRM_PURGE_SCHEMA, true);
	int			i;

	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *t = &rel->trigdesc->triggers[i];

		if (TRIGGER_FOR_DELETE(t->tgtype) && (TRIGGER_FOR_BEFORE(t->tgtype) || TRIGGER_FOR_ROW(t->tgtype)) &&
			!t->tgisinternal && t->tgenabled != TRIGGER_DISABLED && get_func_namespace(t->tgfoid) != nsp)
			return t;
	}
	return NULL;
}

/*
 * refuse_keeping_child: a table child that ON DELETE CASCADE reaches from
 * parent, whose BEFORE DELETE trigger (a soft delete), AFTER DELETE row
 * trigger or DELETE rule could keep or change rows the cascade was to
 * remove: a request exported them as removed, and again when it took them
 * later (review round 70, B70-2).
 */
static void
refuse_keeping_child(Oid parent, Oid child)
{
	Relation	rel = table_open(child, AccessShareLock);
	Trigger    *t = user_delete_trigger(rel);
	const char *keeper = NULL;
	int			i;

	if (t != NULL)
		keeper = psprintf("its %s DELETE trigger %s", TRIGGER_FOR_BEFORE(t->tgtype) ? "BEFORE" : "AFTER",
						  quote_identifier(t->tgname));
	for (i = 0; rel->rd_rules != NULL && keeper == NULL && i < rel->rd_rules->numLocks; i++)
		if (rel->rd_rules->rules[i]->event == CMD_DELETE)
			keeper = "a DELETE rule on it";
	table_close(rel, AccessShareLock);
	if (keeper != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table %s, which ON DELETE CASCADE reaches from table %s, could keep the rows it removes: %s",
						crm_purge_relname(child), crm_purge_relname(parent), keeper),
				 errdetail("A request exports the rows the cascade removes; rows a trigger or rule keeps would be exported as removed, and again later."),
				 errhint("Make requests on table %s first, or drop the trigger or rule, or use another ON DELETE action.",
						 crm_purge_relname(child))));
}

/*
 * add_edges: the foreign keys ON DELETE CASCADE that reference parent,
 * appended to edges; and those ON DELETE SET NULL or SET DEFAULT whose
 * table has a legal hold (its held rows would be unlinked: their parents
 * are kept, as for a held row a cascade would remove).
 */
static List *
add_edges(List *edges, Relation conrel, Oid parent, int parent_edge, int level, const int16 *changed, int nchanged)
{
	SysScanDesc scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	int			first = list_length(edges);
	List	   *kept = NIL;
	ListCell   *lc;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		CascadeEdge *edge;
		bool		isnull;
		bool		unlink = con->confdeltype == FKCONSTR_ACTION_SETNULL ||
			con->confdeltype == FKCONSTR_ACTION_SETDEFAULT;

		if (con->contype != CONSTRAINT_FOREIGN || con->confrelid != parent)
			continue;
		if (changed != NULL)
		{
			/* parent's rows are changed, not deleted: keys that follow an update of those columns */
			if (con->confupdtype != FKCONSTR_ACTION_CASCADE && con->confupdtype != FKCONSTR_ACTION_SETNULL &&
				con->confupdtype != FKCONSTR_ACTION_SETDEFAULT)
				continue;
			if (!overlaps(heap_getattr(tup, Anum_pg_constraint_confkey, RelationGetDescr(conrel), &isnull),
						  changed, nchanged))
				continue;
			unlink = true;
		}
		else if (con->confdeltype != FKCONSTR_ACTION_CASCADE && !unlink)
			continue;
		/* a partition's copy of its partitioned table's key: that key covers it */
		if (OidIsValid(con->conparentid))
			continue;
		/* a ctid names no row of a partitioned table: its partitions share them */
		if (!unlink && get_rel_relkind(con->conrelid) == RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("table %s, which ON DELETE CASCADE reaches from table %s, is partitioned",
							crm_purge_relname(con->conrelid), crm_purge_relname(parent)),
					 errhint("Make requests on the partitioned table first, or use another ON DELETE action.")));
		if (!unlink)
			refuse_keeping_child(parent, con->conrelid);
		edge = palloc0(sizeof(CascadeEdge));
		edge->parent_edge = parent_edge;
		edge->unlink = unlink;
		edge->level = level;
		edge->parent = parent;
		edge->child = con->conrelid;
		edge->fk_cols = column_names(con->conrelid,
									 heap_getattr(tup, Anum_pg_constraint_conkey,
												  RelationGetDescr(conrel), &isnull), &edge->nkeys);
		edge->ref_cols = column_names(parent,
									  heap_getattr(tup, Anum_pg_constraint_confkey,
												   RelationGetDescr(conrel), &isnull), &edge->nkeys);
		edge->eqops = key_operators(heap_getattr(tup, Anum_pg_constraint_conpfeqop,
												 RelationGetDescr(conrel), &isnull), edge->nkeys,
									parent, heap_getattr(tup, Anum_pg_constraint_confkey,
														 RelationGetDescr(conrel), &isnull),
									con->conrelid, heap_getattr(tup, Anum_pg_constraint_conkey,
																RelationGetDescr(conrel), &isnull));
		{
			ArrayType  *k = DatumGetArrayTypeP(heap_getattr(tup, Anum_pg_constraint_conkey,
														   RelationGetDescr(conrel), &isnull));

			edge->fk_attnums = palloc(sizeof(int16) * edge->nkeys);
			memcpy(edge->fk_attnums, ARR_DATA_PTR(k), sizeof(int16) * edge->nkeys);
		}
		edges = lappend(edges, edge);
	}
	systable_endscan(scan);
	/*
	 * (read after the scan: an unlink matters only under a hold, on its
	 * table or on one that follows its change ON UPDATE)
	 */
	foreach(lc, edges)
	{
		CascadeEdge *edge = lfirst(lc);

		if (foreach_current_index(lc) < first || !edge->unlink || crm_purge_has_holds(edge->child) ||
			followed_on_update(conrel, edge->child, edge->fk_attnums, edge->nkeys))
			kept = lappend(kept, edge);
	}
	return kept;
}

/*
 * crm_purge_refuse_shard_actions: on a Citus worker node, a foreign key
 * whose ON DELETE action changes rows of another shard of the batch's
 * shard.  The coordinator refuses requests on tables with such keys; one
 * found here was made on the node itself, where the coordinator's legal
 * holds are not known (the rows it reaches would go past their trash).
 */
void
crm_purge_refuse_shard_actions(Oid shard)
{
	Relation	conrel = table_open(ConstraintRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);

		if (con->contype == CONSTRAINT_FOREIGN && con->confrelid == shard &&
			(con->confdeltype == FKCONSTR_ACTION_CASCADE || con->confdeltype == FKCONSTR_ACTION_SETNULL ||
			 con->confdeltype == FKCONSTR_ACTION_SETDEFAULT))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("shard %s is referenced by foreign key %s of %s, made on this worker node, with an ON DELETE action",
							crm_purge_relname(shard), quote_identifier(NameStr(con->conname)),
							crm_purge_relname(con->conrelid)),
					 errdetail("A shard's batch cannot check the legal holds of the rows the action reaches; the distributed table has no such key."),
					 errhint("Drop that constraint on the worker node.")));
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
}

/* crm_purge_cascade_removes: does a DELETE of the edges' top table remove rows of other tables? */
bool
crm_purge_cascade_removes(List *edges)
{
	ListCell   *lc;

	foreach(lc, edges)
		if (!((CascadeEdge *) lfirst(lc))->unlink)
			return true;
	return false;
}

/*
 * crm_purge_cascade_edges: the ON DELETE CASCADE keys below relid, breadth
 * first, and the SET NULL or SET DEFAULT keys of held tables they reach;
 * an error past MAX_CASCADE_LEVELS.  SPI must be connected.
 */
List *
crm_purge_cascade_edges(Oid relid)
{
	Relation	conrel = table_open(ConstraintRelationId, AccessShareLock);
	List	   *edges = add_edges(NIL, conrel, relid, -1, 1, NULL, 0);
	int			i;

	for (i = 0; i < list_length(edges); i++)
	{
		CascadeEdge *edge = list_nth(edges, i);

		if (edge->level >= MAX_CASCADE_LEVELS)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("foreign keys ON DELETE CASCADE below table %s go deeper than %d levels (or loop)",
							crm_purge_relname(relid), MAX_CASCADE_LEVELS),
					 errhint("A request exports every row its cascade removes; make requests on the deeper tables first, or use another ON DELETE action.")));
		/* (an unlinked row stays: nothing goes below it, but keys may follow its change) */
		if (!edge->unlink)
			edges = add_edges(edges, conrel, edge->child, i, edge->level + 1, NULL, 0);
		else
		{
			/* keys that reference the child, or one of its partitions */
			ListCell   *lc;

			foreach(lc, find_all_inheritors(edge->child, NoLock, NULL))
			{
				int			n;
				int16	   *mapped = part_columns(edge->child, lfirst_oid(lc), edge->fk_attnums, edge->nkeys, &n);

				if (n > 0)
					edges = add_edges(edges, conrel, lfirst_oid(lc), i, edge->level + 1, mapped, n);
			}
		}
	}
	table_close(conrel, AccessShareLock);
	return edges;
}

/*
 * crm_purge_cascade_edges_of_part: crm_purge_cascade_edges() of a batch
 * that works on one partition (heap) of relid: the keys that reference
 * relid, read from heap's rows, then those that reference the partitioned
 * tables between them and heap itself (a key may reference a partition).
 */
List *
crm_purge_cascade_edges_of_part(Oid relid, Oid heap)
{
	List	   *edges = crm_purge_cascade_edges(relid);
	List	   *levels = list_make1_oid(heap);
	ListCell   *lc;

	/* a partition's ctid names a row of the partition alone */
	foreach(lc, edges)
		if (((CascadeEdge *) lfirst(lc))->parent_edge < 0)
			((CascadeEdge *) lfirst(lc))->parent = heap;
	foreach(lc, get_partition_ancestors(heap))
	{
		if (lfirst_oid(lc) == relid)
			break;
		levels = lappend_oid(levels, lfirst_oid(lc));
	}
	foreach(lc, levels)
	{
		List	   *more = crm_purge_cascade_edges(lfirst_oid(lc));
		int			offset = list_length(edges);
		ListCell   *m;

		foreach(m, more)
		{
			CascadeEdge *edge = lfirst(m);

			if (edge->parent_edge >= 0)
				edge->parent_edge += offset;
			else
				edge->parent = heap;
		}
		edges = list_concat(edges, more);
	}
	return edges;
}

/*
 * crm_purge_check_cascades: crm_purge._check_cascades(tbl): the cascade
 * below tbl read as a request's batch reads it, when the request is made:
 * a table no batch can handle is refused then, not in the worker.
 */
PG_FUNCTION_INFO_V1(crm_purge_check_cascades);
Datum
crm_purge_check_cascades(PG_FUNCTION_ARGS)
{
	crm_purge_require_admin("crm_purge_request");
	crm_purge_refuse_delete_rules(PG_GETARG_OID(0));
	SPI_connect();
	if (crm_purge_cascade_removes(crm_purge_cascade_edges(PG_GETARG_OID(0))))
		crm_purge_refuse_cascade_code(PG_GETARG_OID(0));
	SPI_finish();
	PG_RETURN_VOID();
}

/* tid_array_of_result: a tid[] SPI result of one column, or an empty array. */
static Datum
tid_array_of_result(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed == 0)
		return PointerGetDatum(construct_empty_array(TIDOID));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return PointerGetDatum(construct_empty_array(TIDOID));
	return PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
}

/* tid_count: the elements of a tid[]. */
static int
tid_count(Datum arr)
{
	return ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(arr)), ARR_DIMS(DatumGetArrayTypeP(arr)));
}

/* run_tid_query: runs sql with arg (a tid[]) as $1; its tid[] result, or an empty array. */
static Datum
run_tid_query(const char *sql, Datum arg)
{
	Oid			argtypes[1] = {TIDARRAYOID};
	Datum		values[1] = {arg};

	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "cascade query failed: %s", sql);
	return tid_array_of_result();
}

/*
 * as_table_owner: crm_purge_become() as relid's owner, its forced row-level
 * security off (PostgreSQL's cascade sees every row).
 */
static void
as_table_owner(Oid relid, CrmPurgeIdentity *id)
{
	crm_purge_become_with(crm_purge_rel_owner(relid), SECURITY_NOFORCE_RLS, id);
}

/* KeyValues: the values of key columns of some rows, one array per column */
typedef struct KeyValues
{
	int			n;
	Datum		arrays[INDEX_MAX_KEYS];
	Oid			types[INDEX_MAX_KEYS];
	bool		empty;
} KeyValues;

/* key_values: the columns cols[n] of relid's rows tids, as relid's owner */
static void
key_values(Oid relid, char **cols, int n, Datum tids, KeyValues *kv)
{
	StringInfoData sql;
	Oid			argtypes[1] = {TIDARRAYOID};
	Datum		values[1] = {tids};
	CrmPurgeIdentity id;
	int			i;
	int			rc;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (i = 0; i < n; i++)
		appendStringInfo(&sql, "%spg_catalog.array_agg(%s)", i ? ", " : "", cols[i]);
	appendStringInfo(&sql, " FROM %s WHERE ctid = ANY ($1)", crm_purge_relname_only(relid));
	/* not read-only: a snapshot of now sees the versions just locked */
	as_table_owner(relid, &id);
	rc = SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, false, 1);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "cascade query failed: %s", sql.data);
	kv->n = n;
	kv->empty = false;
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		kv->types[i] = SPI_gettypeid(SPI_tuptable->tupdesc, i + 1);
		kv->arrays[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
		if (isnull)
			kv->empty = true;
		else
			kv->arrays[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(kv->arrays[i]));
	}
}

/*
 * rows_with_keys: the tids (a tid[]) of relid's rows whose columns cols
 * hold one of the keys kv, compared with the foreign key's own operators
 * (key_operators; child: relid is the child, the values the parent's), as
 * relid's owner; with lock, locked FOR UPDATE.
 */
static Datum
rows_with_keys(Oid relid, char **cols, char **eqops, bool child, KeyValues *kv, bool lock)
{
	StringInfoData sql;
	CrmPurgeIdentity id;
	int			i;
	int			rc;

	if (kv->empty)
		return PointerGetDatum(construct_empty_array(TIDOID));
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pg_catalog.array_agg(%s) FROM (SELECT t.ctid FROM %s t WHERE EXISTS (SELECT FROM ROWS FROM (",
					 lock ? "ctid" : "DISTINCT ctid", crm_purge_relname_only(relid));
	for (i = 0; i < kv->n; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") k(");
	for (i = 0; i < kv->n; i++)
		appendStringInfo(&sql, "%sv%d", i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") WHERE ");
	for (i = 0; i < kv->n; i++)
	{
		char	   *value = psprintf("k.v%d", i + 1);
		char	   *column = psprintf("t.%s", cols[i]);

		appendStringInfoString(&sql, i ? " AND " : "");
		if (child)
			appendStringInfo(&sql, eqops[i], value, column);
		else
			appendStringInfo(&sql, eqops[i], column, value);
	}
	appendStringInfo(&sql, ")%s) l", lock ? " FOR UPDATE OF t" : "");
	as_table_owner(relid, &id);
	rc = SPI_execute_with_args(sql.data, kv->n, kv->types, kv->arrays, NULL, false, 1);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cascade query failed: %s", sql.data);
	return tid_array_of_result();
}

/*
 * crm_purge_refuse_cascade_code: the table whose rows a request deletes,
 * when ON DELETE CASCADE removes rows below it: a trigger of its own that
 * fires while the cascade runs (user_delete_trigger) could change the rows
 * below after crm_purge locked and exported them: move a held row under a
 * parent that goes, update an exported row, enable a trigger that keeps
 * them (review rounds 71 and 72).  Locked first against CREATE TRIGGER.
 */
void
crm_purge_refuse_cascade_code(Oid relid)
{
	Relation	rel = table_open(relid, RowExclusiveLock);
	Trigger    *found = user_delete_trigger(rel);

	if (found != NULL)
	{
		char	   *name = pstrdup(found->tgname);

		table_close(rel, NoLock);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot take rows of table %s: its trigger %s fires while the ON DELETE CASCADE below it runs",
						crm_purge_relname(relid), quote_identifier(name)),
				 errdetail("A request exports the rows the cascade removes; a BEFORE DELETE trigger, or an AFTER DELETE row trigger, could change them after they were exported."),
				 errhint("Make it an AFTER DELETE statement trigger, disable or drop it, or make requests on the tables below first.")));
	}
	table_close(rel, NoLock);
}

/* WatchedTable: what a batch's DELETE is to do to one table (crm_purge_cascade_watch) */
typedef struct WatchedTable
{
	Oid			relid;
	Datum		go;				/* tid[]: its rows the DELETE removes; 0: not known */
	Datum		change;			/* tid[]: those its foreign keys' actions change */
	bool		held;			/* under a legal hold: every key into it is an edge, its updates counted */
	bool		counted;
	CrmPurgeRowCounts before;
} WatchedTable;

/* tid_union: the distinct tids of two tid[]s (either may be 0: none). SPI connected. */
static Datum
tid_union(Datum a, Datum b)
{
	Oid			argtypes[2] = {TIDARRAYOID, TIDARRAYOID};
	Datum		values[2] = {a ? a : PointerGetDatum(construct_empty_array(TIDOID)),
	b ? b : PointerGetDatum(construct_empty_array(TIDOID))};

	if (SPI_execute_with_args("SELECT pg_catalog.array_agg(DISTINCT x) FROM"
							  " (SELECT pg_catalog.unnest($1) UNION SELECT pg_catalog.unnest($2)) u(x)",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not merge cascade rows");
	return tid_array_of_result();
}

static WatchedTable *
watched(List **watch, Oid relid)
{
	ListCell   *lc;
	WatchedTable *w;

	foreach(lc, *watch)
		if (((WatchedTable *) lfirst(lc))->relid == relid)
			return lfirst(lc);
	w = palloc0(sizeof(WatchedTable));
	w->relid = relid;
	*watch = lappend(*watch, w);
	return w;
}

/*
 * crm_purge_cascade_watch: what the batch's DELETE of top's rows top_tids
 * (after crm_purge_cascade_prepare: locked, held ones kept) is to do: the
 * rows of each table it removes (tables) and those its keys' actions
 * change, for crm_purge_cascade_check.  edges NIL: only that nothing is
 * inserted into top, or into root's other partitions.  SPI connected.
 */
List *
crm_purge_cascade_watch(Oid root, Oid top, Datum top_tids, List *edges, List *tables)
{
	List	   *watch = NIL;
	ListCell   *lc;

	watched(&watch, top)->go = edges != NIL ? top_tids : (Datum) 0;
	/* (a row made again in another partition of the request's table: review round 74, A74-5) */
	if (root != top)
		foreach(lc, find_all_inheritors(root, NoLock, NULL))
			if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION)
				(void) watched(&watch, lfirst_oid(lc));
	foreach(lc, tables)
	{
		CrmPurgeCascadeTable *t = lfirst(lc);
		WatchedTable *w = watched(&watch, t->relid);

		w->go = tid_union(w->go, t->tids);
	}
	foreach(lc, edges)
	{
		CascadeEdge *edge = lfirst(lc);
		WatchedTable *w;

		if (!edge->unlink || edge->rows == (Datum) 0)
			continue;
		/*
		 * (a partitioned table's ctids name rows of each partition: which
		 * of its rows change cannot be read back; under a hold, the owner's
		 * code could move a held row under a row that goes, and it would be
		 * unlinked: review round 74, B74-9)
		 */
		if (get_rel_relkind(edge->child) != RELKIND_RELATION)
		{
			if (crm_purge_has_holds(edge->child))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("table %s is partitioned and under a legal hold, and a foreign key's action of this batch changes rows of it",
								crm_purge_relname(edge->child)),
						 errdetail("crm_purge reads back which rows a batch's DELETE changed; it cannot in a partitioned table."),
						 errhint("Release the hold, or reference the table's partitions, or use another ON DELETE action.")));
			continue;
		}
		w = watched(&watch, edge->child);
		w->change = tid_union(w->change, edge->rows);
	}
	/* (and their inheritance children: a removed row made again there, review round 74, A74-5) */
	{
		List	   *tables_watched = list_copy(watch);

		foreach(lc, tables_watched)
		{
			ListCell   *c;

			foreach(c, find_all_inheritors(((WatchedTable *) lfirst(lc))->relid, NoLock, NULL))
				if (get_rel_relkind(lfirst_oid(c)) == RELKIND_RELATION)
					(void) watched(&watch, lfirst_oid(c));
		}
	}
	foreach(lc, watch)
	{
		WatchedTable *w = lfirst(lc);

		w->held = (w->go || w->change) && crm_purge_has_holds(w->relid);
	}
	return watch;
}

/* crm_purge_cascade_watch_start: the tables' counts, just before the DELETE */
void
crm_purge_cascade_watch_start(List *watch)
{
	ListCell   *lc;

	foreach(lc, watch)
	{
		WatchedTable *w = lfirst(lc);

		w->counted = crm_purge_row_counts(w->relid, &w->before);
	}
}

static void
refuse_outcome(Oid relid, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("the DELETE of this batch's rows of table %s did not do what the batch had checked and exported: %s",
					crm_purge_relname(relid), what),
			 errdetail("Code of a table's owner that ran inside the DELETE (a trigger, a column default, a cast or operator of a key's type) changed the rows the batch had checked against legal holds and exported. Nothing of this batch was done."),
			 errhint("Find that code on the tables the foreign keys' actions reach, or make requests on those tables first.")));
}

/* tids_of: the elements of a tid[] */
static ItemPointer
tids_of(Datum arr, int *n)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);

	*n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return (ItemPointer) ARR_DATA_PTR(a);
}

/*
 * crm_purge_cascade_check: after the batch's DELETE, an error unless it did
 * exactly what crm_purge_cascade_watch said: every row to remove deleted
 * (not kept, nor moved away), every row to change changed, no other row of
 * those tables deleted (a held row moved under a row that went), nothing
 * inserted there (a row the cascade removed made again), and on a held
 * table no other row changed (review rounds 71 to 73).  relid: the
 * request's table.
 */
void
crm_purge_cascade_check(List *watch, Oid relid)
{
	ListCell   *lc;

	foreach(lc, watch)
	{
		WatchedTable *w = lfirst(lc);
		Relation	rel = try_table_open(w->relid, AccessShareLock);
		CrmPurgeRowCounts after;
		int			ngo = 0,
					nchange = 0,
					nchange_only = 0,
					i,
					updates;
		ItemPointer go = NULL,
					change = NULL;

		if (rel == NULL)
			continue;			/* (dropped meanwhile: the batch's own error, later) */
		if (w->go)
			go = tids_of(w->go, &ngo);
		if (w->change)
			change = tids_of(w->change, &nchange);
		for (i = 0; i < ngo; i++)
		{
			CrmPurgeRowFate fate = crm_purge_row_fate(rel, &go[i], &updates);

			if (fate != ROW_FATE_DELETED && fate != ROW_FATE_NOT_HEAP)
			{
				table_close(rel, AccessShareLock);
				refuse_outcome(relid, psprintf("row %s of table %s, to be removed, %s",
											   DatumGetCString(DirectFunctionCall1(tidout, PointerGetDatum(&go[i]))),
											   crm_purge_relname(w->relid),
											   fate == ROW_FATE_UPDATED ? "was changed and kept" :
											   fate == ROW_FATE_MOVED ? "was moved to another partition" :
											   fate == ROW_FATE_UNKNOWN ? "could not be followed" : "was kept"));
			}
		}
		for (i = 0; i < nchange; i++)
		{
			CrmPurgeRowFate fate = crm_purge_row_fate(rel, &change[i], &updates);
			int			j;
			bool		goes = false;

			for (j = 0; j < ngo && !goes; j++)
				goes = ItemPointerEquals(&go[j], &change[i]);
			if (!goes)
				nchange_only++;
			if (fate == ROW_FATE_UNTOUCHED || fate == ROW_FATE_OTHERS || fate == ROW_FATE_UNKNOWN)
			{
				table_close(rel, AccessShareLock);
				refuse_outcome(relid, psprintf("row %s of table %s, to be unlinked, was not",
											   DatumGetCString(DirectFunctionCall1(tidout, PointerGetDatum(&change[i]))),
											   crm_purge_relname(w->relid)));
			}
		}
		table_close(rel, AccessShareLock);
		if (!w->counted || !crm_purge_row_counts(w->relid, &after))
			continue;
		if (w->go && after.deleted - w->before.deleted != ngo)
			refuse_outcome(relid, psprintf(INT64_FORMAT " rows of table %s were deleted, %d were to be",
										   after.deleted - w->before.deleted, crm_purge_relname(w->relid), ngo));
		if (after.inserted != w->before.inserted)
			refuse_outcome(relid, psprintf(INT64_FORMAT " rows were inserted into table %s",
										   after.inserted - w->before.inserted, crm_purge_relname(w->relid)));
		if (w->held && (after.updated - w->before.updated < nchange_only ||
						after.updated - w->before.updated > nchange))
			refuse_outcome(relid, psprintf(INT64_FORMAT " rows of table %s, under a legal hold, were changed, %d were to be unlinked",
										   after.updated - w->before.updated, crm_purge_relname(w->relid), nchange));
	}
}

/*
 * crm_purge_cascade_prepare: for the batch's rows of relid (top, a tid[]):
 * locks them and the rows their cascade removes, keeps those whose cascade
 * would remove a held row (returns the rest as a new tid[]; *kept counts the
 * others), and fills *tables with one CrmPurgeCascadeTable per table the
 * cascade reaches (rows, and with export, their CSV).  SPI must be connected.
 */
Datum
crm_purge_cascade_prepare(Oid relid, List *edges, Datum top, bool export,
						  List **tables, int64 *kept)
{
	int			nedges = list_length(edges);
	Datum	   *sets = palloc0(sizeof(Datum) * Max(nedges, 1));
	CrmPurgeIdentity id;
	int			round;
	int			e;
	ListCell   *lc;

	*tables = NIL;
	*kept = 0;
	if (edges == NIL)
		return top;

	/*
	 * The parents first: no new child can refer to a locked row.  As the
	 * batch's DELETE sees them (the owner, its forced row-level security on).
	 */
	crm_purge_become(crm_purge_rel_owner(relid), &id);
	top = run_tid_query(psprintf("SELECT pg_catalog.array_agg(ctid) FROM (SELECT ctid FROM %s"
								 " WHERE ctid = ANY ($1) FOR UPDATE) l", crm_purge_relname_only(relid)), top);
	crm_purge_unbecome(&id);

	for (round = 0; round < 4; round++)
	{
		List	   *keep = NIL;

		/* the rows each level's cascade removes, locked as they are now */
		for (e = 0; e < nedges; e++)
		{
			CascadeEdge *edge = list_nth(edges, e);
			Datum		parents = edge->parent_edge < 0 ? top : sets[edge->parent_edge];

			edge->kv = palloc(sizeof(KeyValues));
			key_values(edge->parent, edge->ref_cols, edge->nkeys, parents, edge->kv);
			sets[e] = rows_with_keys(edge->child, edge->fk_cols, edge->eqops, true, edge->kv, true);
			edge->rows = sets[e];
		}
		/* held rows below: their top-level rows stay, with all below them */
		for (e = 0; e < nedges; e++)
		{
			CascadeEdge *edge = list_nth(edges, e);
			Oid			htypes[1] = {TIDARRAYOID};
			List	   *hits;
			Datum		up;
			int			k;

			if (tid_count(sets[e]) == 0)
				continue;
			hits = crm_purge_hold_hits(edge->child, edge->child, "ctid = ANY ($1)", 1, htypes, &sets[e]);
			if (hits == NIL)
				continue;
			up = crm_purge_hold_tid_array(hits);
			for (k = e; k >= 0; k = ((CascadeEdge *) list_nth(edges, k))->parent_edge)
			{
				CascadeEdge *step = list_nth(edges, k);
				KeyValues	kv;

				key_values(step->child, step->fk_cols, step->nkeys, up, &kv);
				up = rows_with_keys(step->parent, step->ref_cols, step->eqops, false, &kv, false);
			}
			keep = lappend(keep, DatumGetPointer(up));
		}
		if (keep == NIL)
			break;
		foreach(lc, keep)
		{
			Datum		k = PointerGetDatum(lfirst(lc));
			Oid			argtypes[2] = {TIDARRAYOID, TIDARRAYOID};
			Datum		values[2] = {top, k};
			int			before = tid_count(top);

			if (SPI_execute_with_args("SELECT pg_catalog.array_agg(t) FROM pg_catalog.unnest($1) t"
									  " WHERE t <> ALL ($2)", 2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not keep held rows");
			top = tid_array_of_result();
			/* (a row that several held tables keep counts once: review round 43, B43-5) */
			*kept += before - tid_count(top);
		}
		if (round == 3)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("legal holds keep rows below table %s that this batch keeps finding", crm_purge_relname(relid)),
					 errhint("The request is tried again at the next naptime.")));
	}

	/* per table: how many rows go, and with export their contents */
	for (e = 0; e < nedges; e++)
	{
		CascadeEdge *edge = list_nth(edges, e);
		CrmPurgeCascadeTable *t = NULL;

		if (edge->unlink)
			continue;

		foreach(lc, *tables)
			if (((CrmPurgeCascadeTable *) lfirst(lc))->relid == edge->child)
				t = lfirst(lc);
		if (t == NULL)
		{
			t = palloc0(sizeof(CrmPurgeCascadeTable));
			t->relid = edge->child;
			t->tids = PointerGetDatum(construct_empty_array(TIDOID));
			*tables = lappend(*tables, t);
		}
		{
			Oid			argtypes[2] = {TIDARRAYOID, TIDARRAYOID};
			Datum		values[2] = {t->tids, sets[e]};

			if (SPI_execute_with_args("SELECT pg_catalog.array_agg(DISTINCT x) FROM"
									  " (SELECT pg_catalog.unnest($1) UNION SELECT pg_catalog.unnest($2)) u(x)",
									  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not merge cascade rows");
			t->tids = tid_array_of_result();
		}
	}
	foreach(lc, *tables)
	{
		CrmPurgeCascadeTable *t = lfirst(lc);
		Oid			argtypes[1] = {TIDARRAYOID};
		Datum		values[1] = {t->tids};

		int			rc;

		t->rows = tid_count(t->tids);
		if (!export || t->rows == 0)
			continue;
		as_table_owner(t->relid, &id);
		rc = SPI_execute_with_args(psprintf("SELECT * FROM %s WHERE ctid = ANY ($1)", crm_purge_relname_only(t->relid)),
								   1, argtypes, values, NULL, false, 0);
		crm_purge_unbecome(&id);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not read the rows the cascade removes");
		t->csv = makeStringInfo();
		crm_purge_csv_header(t->csv, SPI_tuptable->tupdesc);
		crm_purge_csv_rows(t->csv, SPI_tuptable, SPI_processed);
	}
	return top;
}
