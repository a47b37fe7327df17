/*
 * owner_code.c: the code of other roles PostgreSQL runs while one role's
 * filter reads another role's table, out of the fmgr hook's sight.
 *
 * Functions other than built-ins pass through the fmgr hook, which refuses
 * a third role's function called with the rights of the role whose filter
 * runs (security.c).  Two kinds of code do not: built-in and superuser's
 * functions (a domain's CHECK may call setval, lo_unlink or table_to_xml,
 * run as the
 * reader whenever a value is cast to the domain, as a key of
 * crm_purge_delete_keys or a literal of an array or composite type is), and
 * a range type's subtype_diff, which the type cache keeps ready to call
 * from earlier work (selectivity estimates).  Both are looked for here in
 * the types the read may reach: the columns of the table and of its
 * partitions, of their indexes and statistics expressions, and everything
 * those types are made of.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_range.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "crm_purge.h"

typedef struct TypeWalk
{
	Oid			reader;			/* the role whose filter reads */
	Oid			relid;			/* the table read, for messages */
	List	   *seen;			/* types walked already */
} TypeWalk;

static void walk_type(TypeWalk *walk, Oid typid);

/* relation_natts: rel's pg_class.relnatts (dropped columns included), 0 when it is gone */
static int
relation_natts(Oid rel)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	int			natts = 0;

	if (HeapTupleIsValid(tup))
	{
		natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
		ReleaseSysCache(tup);
	}
	return natts;
}

typedef struct CheckWalk
{
	Oid			reader;
	List	   *types;			/* the types its parts produce: a domain among them, or in them, checks too */
	Oid			acting;			/* a function that acts_as_reader (nextval: F_NEXTVAL) */
} CheckWalk;

/* plain_value_type: a type of plain values (numbers, text, dates and times), no rows, arrays, OIDs of things */
static bool
plain_value_type(Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case CHAROID:
		case NAMEOID:
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INTERVALOID:
			return true;
		default:
			return false;
	}
}

/*
 * harmless_stable_builtin: a STABLE built-in that reads the clock, the time
 * zone or the locale only (now(), date arithmetic, to_char, a text cast to
 * timestamptz): plain values in and out (an input function's cstring and
 * type OID aside), and not one of the families that read the session or
 * the server (pg_stat_get_backend_activity, current_setting, has_*_privilege,
 * txid_current, inet_client_port, row_security_active, *_to_xml).  Any other (record_in, domain_in and array_in build a value of
 * a type chosen by an argument, review round 69, A69-1) acts.
 */
static bool
harmless_stable_builtin(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc p;
	const char *name;
	bool		ok;
	int			i;

	if (!HeapTupleIsValid(tup))
		return false;
	p = (Form_pg_proc) GETSTRUCT(tup);
	name = NameStr(p->proname);
	ok = !p->proretset && plain_value_type(p->prorettype) &&
		strncmp(name, "pg_", 3) != 0 && strncmp(name, "current_", 8) != 0 && strncmp(name, "has_", 4) != 0 &&
		strncmp(name, "txid_", 5) != 0 && strncmp(name, "inet_", 5) != 0 && strncmp(name, "row_security", 12) != 0 &&
		strstr(name, "xml") == NULL;
	for (i = 0; ok && i < p->pronargs; i++)
		ok = plain_value_type(p->proargtypes.values[i]) ||
			(i == 0 && p->proargtypes.values[i] == CSTRINGOID) || (i > 0 && p->proargtypes.values[i] == OIDOID);
	ReleaseSysCache(tup);
	return ok;
}

/*
 * acts_as_reader: could fn, a function the fmgr hook lets run as the
 * reader (a built-in, a superuser's, the reader's own), act with the
 * reader's rights: write (not IMMUTABLE nor STABLE), or read data?  Of the
 * STABLE built-ins only those that read the clock, time zone or locale do
 * not (harmless_stable_builtin: a CHECK (VALUE <= now()) stays readable).
 * A STABLE function of a superuser's may read anything.  A third role's
 * function is the hook's to refuse, when it is called.
 */
static bool
acts_as_reader(Oid fn, void *context)
{
	CheckWalk  *cw = (CheckWalk *) context;
	char		volatility = func_volatile(fn);
	bool		acts;

	if (volatility == PROVOLATILE_IMMUTABLE || !crm_purge_trusted_code(crm_purge_function_owner(fn), cw->reader))
		return false;
	if (volatility == PROVOLATILE_VOLATILE || fn >= FirstGenbkiObjectId)
		acts = true;
	else
		acts = !harmless_stable_builtin(fn);
	if (acts && !OidIsValid(cw->acting))
		cw->acting = fn;
	return acts;
}

/*
 * walk_check: notes a function the expression calls that acts_as_reader
 * (or nextval), and the type every part of it produces (a cast through
 * text to a composite type runs the CHECKs of the domains in it, and so
 * does json_populate_record: review round 66, A66-1); walks it whole.
 */
static bool
walk_check(Node *node, CheckWalk *cw)
{
	if (node == NULL)
		return false;
	if (IsA(node, Const) || IsA(node, FuncExpr) || IsA(node, OpExpr) || IsA(node, CoerceViaIO) ||
		IsA(node, CoerceToDomain) || IsA(node, RelabelType) || IsA(node, ArrayCoerceExpr) ||
		IsA(node, ConvertRowtypeExpr) || IsA(node, RowExpr) || IsA(node, ArrayExpr) || IsA(node, CaseExpr) ||
		IsA(node, CoalesceExpr) || IsA(node, MinMaxExpr) || IsA(node, SubscriptingRef) ||
		IsA(node, FieldSelect) || IsA(node, NullIfExpr))
		cw->types = list_append_unique_oid(cw->types, exprType(node));
	if (IsA(node, NextValueExpr) && !OidIsValid(cw->acting))
		cw->acting = F_NEXTVAL;
	/*
	 * a type's input function called by name (record_in, domain_in,
	 * array_in, range_in, enum_in) builds a value of the type its OID
	 * argument names: that type is walked too, and a type chosen at run
	 * time cannot be: the call acts (review round 69, A69-1)
	 */
	if ((IsA(node, FuncExpr) || IsA(node, OpExpr)) &&
		list_length(IsA(node, FuncExpr) ? ((FuncExpr *) node)->args : ((OpExpr *) node)->args) >= 2 &&
		exprType(linitial(IsA(node, FuncExpr) ? ((FuncExpr *) node)->args : ((OpExpr *) node)->args)) == CSTRINGOID)
	{
		List	   *args = IsA(node, FuncExpr) ? ((FuncExpr *) node)->args : ((OpExpr *) node)->args;
		Oid			fn = IsA(node, FuncExpr) ? ((FuncExpr *) node)->funcid : ((OpExpr *) node)->opfuncid;
		ListCell   *lc;

		for_each_from(lc, args, 1)
		{
			Node	   *arg = lfirst(lc);

			if (exprType(arg) != OIDOID && exprType(arg) != REGTYPEOID)
				continue;
			while (IsA(arg, RelabelType))
				arg = (Node *) ((RelabelType *) arg)->arg;
			if (IsA(arg, Const) && !((Const *) arg)->constisnull)
				cw->types = list_append_unique_oid(cw->types, DatumGetObjectId(((Const *) arg)->constvalue));
			else if (!IsA(arg, Const) && !OidIsValid(cw->acting))
				cw->acting = OidIsValid(fn) ? fn : get_opcode(((OpExpr *) node)->opno);
		}
	}
	(void) check_functions_in_node(node, acts_as_reader, (void *) cw);
	return expression_tree_walker(node, walk_check, (void *) cw);
}

/*
 * walk_domain_checks: a domain of another role whose CHECK calls functions
 * the hook lets run that are not IMMUTABLE (setval, lo_unlink,
 * query_to_xml) is refused.
 */
static void
walk_domain_checks(TypeWalk *walk, Oid domain, Oid owner)
{
	Relation	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	CheckWalk	cw = {walk->reader, NIL, InvalidOid};
	ListCell   *lc;

	ScanKeyInit(&key, Anum_pg_constraint_contypid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(domain));
	scan = systable_beginscan(conrel, ConstraintTypidIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		bool		isnull;
		Datum		bin;
		Node	   *expr;

		if (con->contype != CONSTRAINT_CHECK)
			continue;
		bin = heap_getattr(tup, Anum_pg_constraint_conbin, RelationGetDescr(conrel), &isnull);
		if (isnull)
			continue;
		expr = stringToNode(TextDatumGetCString(bin));
		cw.acting = InvalidOid;
		(void) walk_check(expr, &cw);
		if (OidIsValid(cw.acting) && !crm_purge_trusted_code(owner, walk->reader))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot read table %s with the rights of role %s: the CHECK %s of domain %s of role %s calls %s",
							crm_purge_relname(walk->relid), crm_purge_role_name(walk->reader),
							quote_identifier(NameStr(con->conname)), format_type_be_qualified(domain),
							crm_purge_role_name(owner), format_procedure_qualified(cw.acting)),
					 errdetail("A domain's CHECK runs with the rights of whoever casts a value to it; crm_purge reads the table with %s's filter, and that function could write, or read tables or settings, with that role's rights.",
							   crm_purge_role_name(walk->reader)),
					 errhint("Have the domain's owner make its CHECK call IMMUTABLE functions (or now() and the like) only, or have a member of the table owner's role do this.")));
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	foreach(lc, cw.types)
		walk_type(walk, lfirst_oid(lc));
}

/* walk_range: a range type's subtype_diff of another role is refused: the type cache calls it unhooked */
static void
walk_range(TypeWalk *walk, Oid range)
{
	HeapTuple	tup = SearchSysCache1(RANGETYPE, ObjectIdGetDatum(range));
	Oid			subtype;
	Oid			diff;

	if (!HeapTupleIsValid(tup))
		return;
	subtype = ((Form_pg_range) GETSTRUCT(tup))->rngsubtype;
	diff = ((Form_pg_range) GETSTRUCT(tup))->rngsubdiff;
	ReleaseSysCache(tup);
	if (OidIsValid(diff) && !crm_purge_trusted_code(crm_purge_function_owner(diff), walk->reader))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot read table %s with the rights of role %s: range type %s has the subtype_diff function %s of role %s",
						crm_purge_relname(walk->relid), crm_purge_role_name(walk->reader),
						format_type_be_qualified(range), format_procedure_qualified(diff),
						crm_purge_role_name(crm_purge_function_owner(diff))),
				 errdetail("PostgreSQL calls it while planning a read of the table, with the reader's rights; crm_purge reads it with %s's filter.",
						   crm_purge_role_name(walk->reader)),
				 errhint("Have a member of the table owner's role do this, or use a range type without another role's subtype_diff.")));
	walk_type(walk, subtype);
}

/* walk_type: typid and what it is made of (domain base, array element, attributes, range subtype) */
static void
walk_type(TypeWalk *walk, Oid typid)
{
	HeapTuple	tup;
	Form_pg_type typ;
	char		typtype;
	Oid			owner;
	Oid			basetype;
	Oid			elem;
	Oid			typrelid;

	if (!OidIsValid(typid) || list_member_oid(walk->seen, typid))
		return;
	walk->seen = lappend_oid(walk->seen, typid);
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		return;
	typ = (Form_pg_type) GETSTRUCT(tup);
	typtype = typ->typtype;
	owner = typ->typowner;
	basetype = typ->typbasetype;
	elem = IsTrueArrayType(typ) ? typ->typelem : InvalidOid;
	typrelid = typ->typrelid;
	ReleaseSysCache(tup);

	if (typtype == TYPTYPE_DOMAIN)
	{
		walk_domain_checks(walk, typid, owner);
		walk_type(walk, basetype);
	}
	else if (typtype == TYPTYPE_RANGE)
		walk_range(walk, typid);
	else if (typtype == TYPTYPE_MULTIRANGE)
		walk_type(walk, get_multirange_range(typid));
	else if (typtype == TYPTYPE_COMPOSITE && OidIsValid(typrelid))
	{
		int			natts = relation_natts(typrelid);
		AttrNumber	a;

		for (a = 1; a <= natts; a++)
			walk_type(walk, get_atttype(typrelid, a));
	}
	if (OidIsValid(elem))
		walk_type(walk, elem);
}

/* walk_columns: the types of rel's columns (a table's, an index's) */
static void
walk_columns(TypeWalk *walk, Oid rel)
{
	int			natts = relation_natts(rel);
	AttrNumber	a;

	/* (a dropped column's type is 0) */
	for (a = 1; a <= natts; a++)
		walk_type(walk, get_atttype(rel, a));
}

/* walk_statistics: the types of the expressions of rel's extended statistics */
static void
walk_statistics(TypeWalk *walk, Relation rel)
{
	List	   *stats = RelationGetStatExtList(rel);
	ListCell   *lc;

	foreach(lc, stats)
	{
		HeapTuple	tup = SearchSysCache1(STATEXTOID, ObjectIdGetDatum(lfirst_oid(lc)));
		bool		isnull;
		Datum		exprs;
		ListCell   *e;

		if (!HeapTupleIsValid(tup))
			continue;
		exprs = SysCacheGetAttr(STATEXTOID, tup, Anum_pg_statistic_ext_stxexprs, &isnull);
		if (!isnull)
			foreach(e, (List *) stringToNode(TextDatumGetCString(exprs)))
				walk_type(walk, exprType(lfirst(e)));
		ReleaseSysCache(tup);
	}
	list_free(stats);
}

/*
 * crm_purge_refuse_hidden_owner_code: an error when reading relid (with its
 * partitions or children) by reader's filter would run a third role's code
 * the fmgr hook cannot see.  Takes AccessShareLock on them first: no column
 * or index changes before the read (the lock is held to the transaction's
 * end).
 */
void
crm_purge_refuse_hidden_owner_code(Oid relid, Oid reader)
{
	List	   *rels = find_all_inheritors(relid, AccessShareLock, NULL);
	TypeWalk	walk = {reader, relid, NIL};
	ListCell   *lc;

	foreach(lc, rels)
	{
		Oid			rel = lfirst_oid(lc);
		Relation	r = try_table_open(rel, NoLock);
		List	   *indexes;
		ListCell   *i;

		if (r == NULL)
			continue;
		/* (a partition's columns are its parent's) */
		if (rel == relid || !r->rd_rel->relispartition)
			walk_columns(&walk, rel);
		indexes = RelationGetIndexList(r);
		foreach(i, indexes)
			walk_columns(&walk, lfirst_oid(i));
		walk_statistics(&walk, r);
		list_free(indexes);
		table_close(r, NoLock);
	}
	list_free(walk.seen);
	list_free(rels);
}
