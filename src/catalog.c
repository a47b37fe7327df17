/*
 * catalog.c - lookups shared by every part of crm_purge: a relation's
 * display name, the protected tables and their trash (and segments), a
 * key as text.  Every read of crm_purge.protected_tables and
 * crm_purge.trash_segments from C is here.  (The catalogs of one mechanism
 * are read where it lives: holds in erase/holds.c, tombstones and key
 * floors in erase/tombstone.c, requests in requests/batch.c, unlinks in
 * trash/.)
 */
#include "postgres.h"

#include "catalog/pg_operator.h"

#include "utils/typcache.h"

#include "access/transam.h"

#include "access/genam.h"
#include "access/table.h"
#include "utils/snapmgr.h"
#include "utils/fmgroids.h"
#include "parser/parse_relation.h"
#include "access/stratnum.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "catalog/pg_cast.h"
#include "utils/regproc.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "parser/parse_func.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "crm_purge.h"

/*
 * crm_purge_relname: a relation's schema-qualified, quoted name, for SQL
 * text and messages; an error when it no longer exists.
 */
const char *
crm_purge_relname(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
}

/*
 * crm_purge_relname_only: crm_purge_relname() for statements that name rows
 * by ctid: ONLY, unless partitioned (an inheritance child's rows have ctids
 * of their own; a partitioned table's rows are all in its partitions).
 */
const char *
crm_purge_relname_only(Oid relid)
{
	const char *name = crm_purge_relname(relid);

	return get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? name : psprintf("ONLY %s", name);
}

/*
 * crm_purge_primary_key: the primary key's columns of rel into keys
 * (INDEX_MAX_KEYS long); returns how many.  Without one: 0 when missing_ok,
 * an error saying what to do otherwise.
 */
int
crm_purge_primary_key(Relation rel, AttrNumber *keys, bool missing_ok)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;
	int			n,
				i;

	if (!OidIsValid(pkoid))
	{
		if (missing_ok)
			return 0;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table %s has no primary key", crm_purge_relname(RelationGetRelid(rel))),
				 errhint("crm_purge identifies rows by their key: add one with ALTER TABLE ... ADD PRIMARY KEY.")));
	}
	idx = index_open(pkoid, AccessShareLock);
	n = idx->rd_index->indnkeyatts;
	for (i = 0; i < n; i++)
		keys[i] = idx->rd_index->indkey.values[i];
	index_close(idx, AccessShareLock);
	return n;
}

/* crm_purge_rel_owner: a relation's owner (a batch's DELETE and a Citus restore run as it) */
Oid
crm_purge_rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * crm_purge_trash_of: the trash table of a protected table, or InvalidOid.
 * Read through the primary key's index, not SPI: the trash trigger asks in
 * every new backend (a Citus node's connections for a multi-shard statement
 * are often new), and no role's rights or policies apply to the catalog.
 */
Oid
crm_purge_trash_of(Oid relid)
{
	Oid			nsp = get_namespace_oid(CRM_PURGE_SCHEMA, true);
	Oid			tableid = OidIsValid(nsp) ? get_relname_relid("protected_tables", nsp) : InvalidOid;
	Oid			indexid = OidIsValid(nsp) ? get_relname_relid("protected_tables_pkey", nsp) : InvalidOid;
	Oid			trashid = InvalidOid;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	AttrNumber	tbl,
				trash;

	if (!OidIsValid(tableid))
		return InvalidOid;
	rel = table_open(tableid, AccessShareLock);
	tbl = attnameAttNum(rel, "tbl", false);
	trash = attnameAttNum(rel, "trash", false);
	if (tbl == InvalidAttrNumber || trash == InvalidAttrNumber)
		elog(ERROR, "crm_purge.protected_tables lacks tbl or trash");
	ScanKeyInit(&key, tbl, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	/* the statement's snapshot, as a query would see it */
	scan = systable_beginscan(rel, indexid, OidIsValid(indexid),
							  ActiveSnapshotSet() ? GetActiveSnapshot() : NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, trash, RelationGetDescr(rel), &isnull);

		if (!isnull)
			trashid = DatumGetObjectId(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return trashid;
}

/* crm_purge_trash_trigger_fn: crm_purge.trash_trigger(), or InvalidOid (no extension) */
Oid
crm_purge_trash_trigger_fn(void)
{
	return LookupFuncName(list_make2(makeString(CRM_PURGE_SCHEMA), makeString("trash_trigger")), 0, NULL, true);
}

/*
 * crm_purge_trash_trigger_named: is relid's trigger name one of crm_purge's
 * trash triggers?  Known by its function, not its name: a rename keeps
 * the function, and the owner's trigger of that name is not crm_purge's.
 * (name NULL: does relid carry any of them?)
 */
bool
crm_purge_trash_trigger_named(Oid relid, const char *name)
{
	Oid			fn = crm_purge_trash_trigger_fn();
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[2];
	HeapTuple	tup;
	bool		found = false;

	if (!OidIsValid(fn))
		return false;
	rel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	if (name != NULL)
		ScanKeyInit(&key[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum(name));
	scan = systable_beginscan(rel, TriggerRelidNameIndexId, true, NULL, name != NULL ? 2 : 1, key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		found = ((Form_pg_trigger) GETSTRUCT(tup))->tgfoid == fn;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * crm_purge_table_of_trash: the protected table whose trash is trashid, or
 * whose trash has the segment trashid (a row's tableoid); InvalidOid when
 * none.  Reads the catalog as the extension owner.
 */
Oid
crm_purge_table_of_trash(Oid trashid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(trashid)};
	Oid			live = InvalidOid;
	CrmPurgeIdentity id;

	SPI_connect();
	crm_purge_become_owner(&id);
	if (SPI_execute_with_args("SELECT tbl::oid FROM crm_purge.protected_tables WHERE trash ="
							  " coalesce((SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid = $1), $1)",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	if (SPI_processed == 1)
	{
		bool		isnull;

		live = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	crm_purge_unbecome(&id);
	SPI_finish();
	/* a trash shard on a Citus node: the catalog is on the coordinator */
	if (!OidIsValid(live))
		live = crm_purge_citus_live_of_trash_shard(trashid);
	return live;
}

/*
 * crm_purge_young_segment: the newest segment of trashid while it is
 * unsealed and younger than age, or -1.  Its rows were deleted by
 * statements that began after it was made (long ones aside), so none is
 * older than age yet: trash expiry leaves it unread, while a large DELETE
 * may be filling it.  SPI connected, as the extension owner.
 */
int32
crm_purge_young_segment(Oid trashid, Datum age)
{
	Oid			argtypes[2] = {OIDOID, INTERVALOID};
	Datum		values[2] = {ObjectIdGetDatum(trashid), age};
	bool		isnull;

	if (SPI_execute_with_args("SELECT segment FROM crm_purge.trash_segments"
							  " WHERE trash = $1 AND sealed_at IS NULL AND created_at > pg_catalog.now() - $2"
							  " ORDER BY segment DESC LIMIT 1",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.trash_segments");
	if (SPI_processed == 0)
		return -1;
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * crm_purge_key_text_settled: is the text of a key of this type the same
 * whatever DateStyle, TimeZone, extra_float_digits and the like say?
 */
bool
crm_purge_key_text_settled(Oid typid)
{
	typid = getBaseType(typid);
	if (typid >= FirstNormalObjectId)
		return get_typtype(typid) == TYPTYPE_ENUM;
	return typid == INT2OID || typid == INT4OID || typid == INT8OID || typid == TEXTOID ||
		typid == VARCHAROID || typid == BPCHAROID || typid == UUIDOID || typid == NUMERICOID ||
		typid == OIDOID || typid == NAMEOID || typid == BOOLOID || typid == INETOID ||
		typid == CIDROID || typid == CHAROID || typid == MACADDROID || typid == MACADDR8OID;
}

/*
 * type_user_cast: a cast to or from typid whose function is not a
 * superuser-like role's (the type's owner may make one): crm_purge's SQL
 * on a Citus table (key::text, $1::type[]) is run by the coordinator, with
 * the extension owner's or the admin's rights (review round 47, C47-1,
 * C47-2).  Returns the cast's function, or InvalidOid.
 */
static Oid
type_user_cast(Oid typid)
{
	Relation	rel = table_open(CastRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	Oid			found = InvalidOid;

	while (!OidIsValid(found) && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_cast c = (Form_pg_cast) GETSTRUCT(tup);
		HeapTuple	proc;

		if ((c->castsource != typid && c->casttarget != typid) || !OidIsValid(c->castfunc))
			continue;
		proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(c->castfunc));
		if (HeapTupleIsValid(proc))
		{
			if (!crm_purge_superuser_like(((Form_pg_proc) GETSTRUCT(proc))->proowner))
				found = c->castfunc;
			ReleaseSysCache(proc);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * crm_purge_key_expression: the primary key as the text tombstones and
 * erasure compare: col::text, or ROW(a, b)::text for several columns.  An
 * error for a table without a primary key.
 */
/*
 * key_expression: the text of the given key columns of relid, as SQL.  A
 * column of a type that is not built in is written by its output function
 * (the text ::text gives without a cast): its owner may have made a cast to
 * text, which runs with the rights of whoever compares keys.  A record's
 * text is its fields' output, never a cast.
 */
static char *
key_expression(Oid relid, const AttrNumber *cols, int n)
{
	StringInfoData buf;
	int			i;

	/* the worker nodes write a key with their own settings, the coordinator with crm_purge's */
	if (crm_purge_citus_distributed(relid))
	{
		for (i = 0; i < n; i++)
		{
			Oid			type = get_atttype(relid, cols[i]);
			Oid			cast;

			if (!crm_purge_key_text_settled(type))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("crm_purge cannot compare keys of Citus table %s: column \"%s\" is of type %s",
								crm_purge_relname(relid), get_attname(relid, cols[i], false), format_type_be(type)),
						 errdetail("Its text depends on settings (DateStyle, TimeZone, extra_float_digits), and the worker nodes write it with their own."),
						 errhint("Erase, delete by keys and guard such a table by a key of an integer, text or uuid type.")));
			cast = getBaseType(type) >= FirstNormalObjectId ? type_user_cast(getBaseType(type)) : InvalidOid;
			if (OidIsValid(cast))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("crm_purge cannot compare keys of Citus table %s: type %s of column \"%s\" has a cast by function %s",
								crm_purge_relname(relid), format_type_be(type), get_attname(relid, cols[i], false),
								format_procedure(cast)),
						 errdetail("The coordinator converts keys to and from text with the rights of the extension owner or an admin; that function would run with them."),
						 errhint("Drop the cast, or key the table by a column of a built-in type.")));
		}
	}

	initStringInfo(&buf);
	if (n > 1)
		appendStringInfoString(&buf, "ROW(");
	for (i = 0; i < n; i++)
	{
		const char *att = quote_identifier(get_attname(relid, cols[i], false));
		Oid			base = getBaseType(get_atttype(relid, cols[i]));
		Oid			output;
		bool		varlena;

		if (n > 1 || base < FirstNormalObjectId)
		{
			appendStringInfo(&buf, "%s%s", i ? ", " : "", att);
			continue;
		}
		/* as the base type: a domain's own value is no argument of it */
		getTypeOutputInfo(base, &output, &varlena);
		appendStringInfo(&buf, "pg_catalog.textin(%s.%s(%s::%s))",
						 quote_identifier(get_namespace_name(get_func_namespace(output))),
						 quote_identifier(get_func_name(output)), att, format_type_be_qualified(base));
		return buf.data;
	}
	appendStringInfoString(&buf, n > 1 ? ")::pg_catalog.text" : "::pg_catalog.text");
	return buf.data;
}

char *
crm_purge_key_expression(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	AttrNumber	keys[INDEX_MAX_KEYS];
	int			n = crm_purge_primary_key(rel, keys, false);

	table_close(rel, AccessShareLock);
	return key_expression(relid, keys, n);
}

/* key_columns_arg: the columns of an int2[] argument naming a key (1 to INDEX_MAX_KEYS of them) */
static AttrNumber *
key_columns_arg(ArrayType *arr, int *n)
{
	*n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (*n < 1 || *n > INDEX_MAX_KEYS || ARR_HASNULL(arr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a key has 1 to %d columns", INDEX_MAX_KEYS)));
	return (AttrNumber *) ARR_DATA_PTR(arr);
}

/* key_match_family: a type whose text converts back exactly, and the family it compares in */
static char
key_match_family(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return 'i';
		case TEXTOID:
		case VARCHAROID:
			return 't';
		case UUIDOID:
			return 'u';
		default:
			return '\0';
	}
}

/*
 * crm_purge_key_match: the condition "the key text of these columns of
 * relid is one of $1 (text[])".  The keys are texts of values of srctype
 * (the key's own type, or the referenced column's), so for one column of
 * an integer, text or uuid type the values are compared on the column as
 * well, which its index serves: a key text never converts back wrong.
 */
char *
crm_purge_key_match(Oid relid, const AttrNumber *cols, int n, Oid srctype)
{
	char	   *expr = key_expression(relid, cols, n);
	Oid			type;
	char		family;

	if (n != 1)
		return psprintf("%s OPERATOR(pg_catalog.=) ANY ($1)", expr);
	type = get_atttype(relid, cols[0]);
	family = key_match_family(type);
	if (family == '\0' || family != key_match_family(srctype))
		return psprintf("%s OPERATOR(pg_catalog.=) ANY ($1)", expr);
	return psprintf("(%s OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.%s[]) AND %s OPERATOR(pg_catalog.=) ANY ($1))",
					quote_identifier(get_attname(relid, cols[0], false)),
					srctype == INT2OID ? "int2" : srctype == INT4OID ? "int4" : srctype == INT8OID ? "int8" :
					family == 't' ? "text" : "uuid", expr);
}

/* crm_purge_key_match_array: crm_purge_key_match() for columns given as an int2[] */
char *
crm_purge_key_match_array(Oid relid, ArrayType *cols, Oid srctype)
{
	int			n;
	AttrNumber *attnums = key_columns_arg(cols, &n);

	return crm_purge_key_match(relid, attnums, n, srctype);
}

/* crm_purge_key_match_sql: crm_purge._key_match(tbl, cols, srctype), the same for SQL */
PG_FUNCTION_INFO_V1(crm_purge_key_match_sql);
Datum
crm_purge_key_match_sql(PG_FUNCTION_ARGS)
{
	int			n;
	AttrNumber *cols = key_columns_arg(PG_GETARG_ARRAYTYPE_P(1), &n);

	PG_RETURN_TEXT_P(cstring_to_text(crm_purge_key_match(PG_GETARG_OID(0), cols, n, PG_GETARG_OID(2))));
}

/* crm_purge_primary_key_match: crm_purge_key_match() for relid's primary key */
char *
crm_purge_primary_key_match(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	AttrNumber	keys[INDEX_MAX_KEYS];
	int			n = crm_purge_primary_key(rel, keys, false);

	table_close(rel, AccessShareLock);
	return crm_purge_key_match(relid, keys, n, get_atttype(relid, keys[0]));
}

/*
 * crm_purge_trash_rows_named: the condition "trash row alias is one of those
 * named by $param (deletion ids) and $param+1 (trash_row), int8[] each".
 * A trash row is named so from one statement to the next, never by ctid
 * (that names a row of one segment, one shard, one version).  Operators are
 * pg_catalog's whatever the search_path.
 */
char *
crm_purge_trash_rows_named(const char *alias, int param)
{
	return psprintf("EXISTS (SELECT FROM ROWS FROM (pg_catalog.unnest($%d), pg_catalog.unnest($%d)) AS crm_purge_n(d, r)"
					" WHERE crm_purge_n.d OPERATOR(pg_catalog.=) %s.deletion_id"
					" AND crm_purge_n.r OPERATOR(pg_catalog.=) %s.trash_row)",
					param, param + 1, alias, alias);
}

/*
 * crm_purge_key_expr_sql: crm_purge._key_expr(tbl, cols), the same key
 * text expression for SQL (erase, trash updates), so that there is one.
 */
PG_FUNCTION_INFO_V1(crm_purge_key_expr_sql);
Datum
crm_purge_key_expr_sql(PG_FUNCTION_ARGS)
{
	int			n;
	AttrNumber *cols = key_columns_arg(PG_GETARG_ARRAYTYPE_P(1), &n);

	PG_RETURN_TEXT_P(cstring_to_text(key_expression(PG_GETARG_OID(0), cols, n)));
}

/*
 * crm_purge_record_history: a row of crm_purge.history through its one
 * writer, crm_purge._record_history.  relid, actor and the ids may be
 * InvalidOid / 0 (none; the actor is then the current role).  SPI
 * connected; the caller's identity must be allowed to run it (the
 * extension owner).
 */
void
crm_purge_record_history(const char *action, Oid relid, int64 rows, Oid actor,
						 int64 request_id, int64 purge_id, int64 deletion_id)
{
	Oid			argtypes[7] = {TEXTOID, OIDOID, INT8OID, NAMEOID, INT8OID, INT8OID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', OidIsValid(relid) ? ' ' : 'n', ' ', OidIsValid(actor) ? ' ' : 'n',
	request_id ? ' ' : 'n', purge_id ? ' ' : 'n', deletion_id ? ' ' : 'n'};

	values[0] = CStringGetTextDatum(action);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = Int64GetDatum(rows);
	values[3] = OidIsValid(actor) ?
		DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(actor, false))) : (Datum) 0;
	values[4] = Int64GetDatum(request_id);
	values[5] = Int64GetDatum(purge_id);
	values[6] = Int64GetDatum(deletion_id);
	if (SPI_execute_with_args("SELECT crm_purge._record_history($1, $2::pg_catalog.regclass, $3, $4, $5, $6, $7)",
							  7, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not write crm_purge.history");
}

/*
 * crm_purge_pk_cols_sql: crm_purge._pk_cols(tbl), the primary key's column
 * numbers for SQL, read the one way C reads them (crm_purge_primary_key).
 */
PG_FUNCTION_INFO_V1(crm_purge_pk_cols_sql);
Datum
crm_purge_pk_cols_sql(PG_FUNCTION_ARGS)
{
	Relation	rel = table_open(PG_GETARG_OID(0), AccessShareLock);
	AttrNumber	keys[INDEX_MAX_KEYS];
	int			n = crm_purge_primary_key(rel, keys, false);
	Datum		elems[INDEX_MAX_KEYS];
	int			i;

	table_close(rel, AccessShareLock);
	for (i = 0; i < n; i++)
		elems[i] = Int16GetDatum(keys[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT2OID, sizeof(int16), true, TYPALIGN_SHORT));
}

/* protected_list: the rows of a query of (tbl oid, trash oid[, retention, name]) as CrmPurgeProtected */
static List *
protected_list(bool with_retention)
{
	List	   *out = NIL;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		CrmPurgeProtected *p = palloc0(sizeof(CrmPurgeProtected));
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;

		p->relid = DatumGetObjectId(SPI_getbinval(tup, td, 1, &isnull));
		p->trashid = DatumGetObjectId(SPI_getbinval(tup, td, 2, &isnull));
		if (with_retention)
		{
			p->retention = datumCopy(SPI_getbinval(tup, td, 3, &isnull), false, sizeof(Interval));
			p->name = SPI_getvalue(tup, td, 4);
		}
		out = lappend(out, p);
	}
	return out;
}

/*
 * crm_purge_protected_tables: every protected table with its trash, its
 * retention (default_retention seconds when it has none of its own) and
 * its display name, by name.  SPI connected, as the extension owner.
 */
List *
crm_purge_protected_tables(int default_retention)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(default_retention)};

	if (SPI_execute_with_args("SELECT tbl::oid, trash::oid, "
							  "coalesce(retention, pg_catalog.make_interval(secs => $1)), crm_purge._qualified(tbl) "
							  "FROM crm_purge.protected_tables ORDER BY tbl",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	return protected_list(true);
}

/* relations_have_columns: does crm_purge.relations have child_columns (1.1)? */
static bool
relations_have_columns(void)
{
	Oid			rel = get_relname_relid("relations", get_namespace_oid(CRM_PURGE_SCHEMA, false));

	return OidIsValid(rel) && get_attnum(rel, "child_columns") != InvalidAttrNumber;
}

/*
 * crm_purge_protected_parents_first: the protected tables with their
 * trash, parents before the children that reference them (by foreign key,
 * or by a relation without one).  SPI connected; reads as the extension
 * owner.
 */
List *
crm_purge_protected_parents_first(void)
{
	CrmPurgeIdentity id;
	List	   *out;

	crm_purge_become_owner(&id);
	if (SPI_execute(psprintf("WITH RECURSIVE p AS (SELECT tbl::oid AS rel, trash::oid AS trash FROM crm_purge.protected_tables),"
							 " e AS (SELECT DISTINCT c.conrelid AS child, c.confrelid AS parent FROM pg_catalog.pg_constraint c"
							 "       JOIN p pc ON pc.rel = c.conrelid JOIN p pp ON pp.rel = c.confrelid"
							 "       WHERE c.contype = 'f' AND c.conrelid <> c.confrelid%s),"
							 " l(rel, depth) AS (SELECT rel, 0 FROM p UNION ALL"
							 "       SELECT e.child, l.depth + 1 FROM l JOIN e ON e.parent = l.rel WHERE l.depth < 64)"
							 " SELECT p.rel, p.trash FROM p JOIN (SELECT rel, max(depth) AS depth FROM l GROUP BY rel) d USING (rel)"
							 " ORDER BY d.depth, p.rel",
	/* relations without a foreign key order children after parents too (1.1) */
							 relations_have_columns() ?
							 " UNION SELECT r.child::oid, r.parent::oid FROM crm_purge.relations r"
							 " JOIN p pc ON pc.rel = r.child JOIN p pp ON pp.rel = r.parent"
							 " WHERE r.child_columns IS NOT NULL AND r.child <> r.parent" : ""),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	out = protected_list(false);
	crm_purge_unbecome(&id);
	return out;
}

/*
 * crm_purge_floored_tables: protected tables and tables with an erased-key
 * floor (crm_purge.key_floors), whose sequences crm_purge keeps above their
 * keys.  SPI connected, as the extension owner.
 */
List *
crm_purge_floored_tables(void)
{
	List	   *tables = NIL;
	uint64		i;

	if (SPI_execute("SELECT tbl::oid FROM crm_purge.protected_tables UNION SELECT tbl::oid FROM crm_purge.key_floors",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		tables = lappend_oid(tables, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull)));
	}
	return tables;
}

/*
 * crm_purge._live_rows(tbl): the overview's row count of a table, counted
 * as its owner, restricted: planning a table runs its owner's code (index
 * and statistics expressions, policies), which must not run as the admin,
 * or the superuser, who only reads the overview.  Every row counts, as in
 * live_bytes.
 */
PG_FUNCTION_INFO_V1(crm_purge_live_rows);
Datum
crm_purge_live_rows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	CrmPurgeIdentity id;
	int64		n;
	bool		isnull;
	int			rc;

	crm_purge_require_admin("crm_purge_overview");
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", crm_purge_relname(relid))));
	/* a protected table's; one whose row-level security hides rows from the caller is not counted */
	if (!OidIsValid(crm_purge_trash_of(relid)) || check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		PG_RETURN_NULL();
	/* (nor one with a partition of another owner: its code would run with the table owner's rights) */
	if (OidIsValid(crm_purge_other_owner_inheritor(relid, crm_purge_rel_owner(relid))))
		PG_RETURN_NULL();
	SPI_connect();
	/* (a superuser-like owner's code reaching a third role's would run with its rights: as the admin, marked) */
	if (crm_purge_superuser_like(crm_purge_rel_owner(relid)))
		crm_purge_become_picker(GetUserId(), relid, &id);
	else
		crm_purge_become_with(crm_purge_rel_owner(relid), SECURITY_NOFORCE_RLS, &id);
	rc = SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s", crm_purge_relname(relid)), true, 1);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the rows of %s", crm_purge_relname(relid));
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(n);
}

/*
 * crm_purge_eq_operator: OPERATOR(schema.=) of a type's default equality
 * (its btree opclass's, as a unique index compares), for SQL text that must
 * not resolve "=" in the caller's search_path.
 */
char *
crm_purge_eq_operator(Oid typid)
{
	TypeCacheEntry *tc = lookup_type_cache(getBaseType(typid), TYPECACHE_EQ_OPR);
	HeapTuple	tup;
	char	   *out;

	if (!OidIsValid(tc->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("type %s has no default equality operator", format_type_be(typid))));
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tc->eq_opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", tc->eq_opr);
	out = psprintf("OPERATOR(%s.%s)",
				   quote_identifier(get_namespace_name(((Form_pg_operator) GETSTRUCT(tup))->oprnamespace)),
				   NameStr(((Form_pg_operator) GETSTRUCT(tup))->oprname));
	ReleaseSysCache(tup);
	return out;
}
