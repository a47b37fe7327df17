/*
 * filter.c - user-supplied row conditions.
 *
 * A filter is pasted into SQL as "WHERE (<filter>\n)", so before that it must
 * parse as exactly one boolean-position expression: one statement, no set
 * operations, no clauses that could change what the surrounding query does.
 * Here: crm_purge_check_filter() and its SQL face crm_purge._check_filter.
 * Privileges are not checked here: a filter always runs with the rights of
 * the role that supplied it (the caller, or a request's or hold's creator).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "utils/plancache.h"
#include "parser/parse_expr.h"
#include "parser/parser.h"
#include "utils/memutils.h"

#include "crm_purge.h"

/* reject: the error for a filter that is not a single condition; why says what is wrong. */
static void
reject(const char *filter, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("filter is not a valid condition: %s", why),
			 errdetail("The filter was: %s", filter),
			 errhint("A filter is an SQL boolean expression on the table's columns, such as: id = 42 AND email LIKE '%%@example.com'.")));
}

/*
 * crm_purge_check_filter: parses "SELECT 1 WHERE <filter>" (parsing only,
 * nothing runs) and errors unless the filter is one bare expression.  NULL
 * (no filter) passes; an empty one does not.
 */
void
crm_purge_check_filter(const char *filter)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *sql;
	List	   *stmts = NIL;
	SelectStmt *sel;
	const char *p;

	if (filter == NULL)
		return;
	for (p = filter; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	if (*p == '\0')
		reject(filter, "it is empty");

	sql = psprintf("SELECT 1 WHERE %s\n", filter);
	PG_TRY();
	{
		stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		reject(filter, edata->message);
	}
	PG_END_TRY();

	if (list_length(stmts) != 1 ||
		!IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		reject(filter, "it must be one expression, not several statements");
	sel = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
	if (sel->op != SETOP_NONE || sel->whereClause == NULL ||
		sel->fromClause != NIL || sel->groupClause != NIL ||
		sel->havingClause != NULL || sel->windowClause != NIL ||
		sel->sortClause != NIL || sel->limitOffset != NULL ||
		sel->limitCount != NULL || sel->lockingClause != NIL ||
		sel->withClause != NULL || sel->distinctClause != NIL ||
		sel->valuesLists != NIL || sel->intoClause != NULL ||
		list_length(sel->targetList) != 1)
		reject(filter, "it must be a single expression, without clauses such as UNION, ORDER BY, LIMIT or FOR UPDATE");
	pfree(sql);
}

/*
 * crm_purge_check_deferred_filter: a filter that runs later (a request's,
 * policy's, hold's) is read with standard_conforming_strings on and
 * transform_null_equals off wherever it runs (crm_purge_pin_filter_settings);
 * made in a session where it would read otherwise, it is refused.
 */
/* names_system_column: does a raw expression name tableoid, ctid, xmin...? */
static bool
names_system_column(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, ColumnRef))
	{
		Node	   *last = llast(((ColumnRef *) node)->fields);
		static const char *const sys[] = {"tableoid", "ctid", "xmin", "xmax", "cmin", "cmax"};
		int			i;

		if (IsA(last, String))
			for (i = 0; i < lengthof(sys); i++)
				if (strcmp(strVal(last), sys[i]) == 0)
				{
					*(const char **) context = sys[i];
					return true;
				}
		return false;
	}
	return raw_expression_tree_walker(node, names_system_column, context);
}

static void
crm_purge_check_deferred_filter(const char *filter)
{
	List	   *stmts;
	const char *sys = NULL;

	if (filter == NULL)
		return;
	crm_purge_check_filter(filter);

	/*
	 * It runs on the table and on its trash, where a system column means
	 * another thing (a trashed row's tableoid is a trash segment's): a hold
	 * on tableoid = 'a partition' kept none of its trashed rows
	 */
	stmts = raw_parser(psprintf("SELECT 1 WHERE %s\n", filter), RAW_PARSE_DEFAULT);
	if (names_system_column(((SelectStmt *) linitial_node(RawStmt, stmts)->stmt)->whereClause, &sys))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a filter that runs later cannot name the system column %s", sys),
				 errdetail("Filters of requests, policies and legal holds run on the table and on its trash, where %s means something else.", sys),
				 errhint("Name the rows by their columns' values (a partition's by its partition key).")));
	if ((!standard_conforming_strings && strchr(filter, '\\') != NULL) || Transform_null_equals)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a filter that runs later cannot be made with %s in this session",
						Transform_null_equals ? "transform_null_equals on" : "standard_conforming_strings off"),
				 errdetail("Filters of requests, policies and legal holds are read with standard_conforming_strings on and transform_null_equals off wherever they run; this one would mean something else there."),
				 errhint("SET standard_conforming_strings = on and transform_null_equals = off, and write the filter for them (x IS NULL, E'\\\\' for a backslash).")));
}

#include "access/transam.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* crm_purge_check_deferred_filter_sql: crm_purge._check_deferred_filter(filter); NULL passes. */
PG_FUNCTION_INFO_V1(crm_purge_check_deferred_filter_sql);
Datum
crm_purge_check_deferred_filter_sql(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		crm_purge_check_deferred_filter(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* crm_purge_check_filter_sql: crm_purge._check_filter(filter); NULL passes. */
PG_FUNCTION_INFO_V1(crm_purge_check_filter_sql);
Datum
crm_purge_check_filter_sql(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		crm_purge_check_filter(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * condition_sql: a relation's condition, checked and written out again with
 * every operator schema-qualified: is it only comparisons of the child's
 * built-in-typed columns with constants, joined by AND, OR and NOT?  Nothing
 * in it can call a function, and no one's search_path picks its operators.
 */
static bool
condition_sql(Node *node, Oid child, StringInfo out)
{
	ListCell   *lc;

	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_ColumnRef:
			{
				ColumnRef  *c = (ColumnRef *) node;
				AttrNumber	attno;

				if (list_length(c->fields) != 1 || !IsA(linitial(c->fields), String))
					return false;
				/* a built-in type: its = is crm_purge's to trust */
				attno = get_attnum(child, strVal(linitial(c->fields)));
				if (attno <= 0 || get_atttype(child, attno) >= FirstNormalObjectId)
					return false;
				appendStringInfoString(out, quote_identifier(strVal(linitial(c->fields))));
				return true;
			}
		case T_A_Const:
			{
				A_Const    *k = (A_Const *) node;

				if (k->isnull)
					appendStringInfoString(out, "NULL");
				else if (IsA(&k->val, Integer))
					appendStringInfo(out, "%d", intVal(&k->val));
				else if (IsA(&k->val, Float))
					appendStringInfoString(out, castNode(Float, &k->val)->fval);
				else if (IsA(&k->val, Boolean))
					appendStringInfoString(out, boolVal(&k->val) ? "true" : "false");
				else if (IsA(&k->val, String))
					appendStringInfoString(out, quote_literal_cstr(strVal(&k->val)));
				else
					return false;
				return true;
			}
		case T_NullTest:
			{
				NullTest   *n = (NullTest *) node;

				appendStringInfoChar(out, '(');
				if (!IsA(n->arg, ColumnRef) || !condition_sql((Node *) n->arg, child, out))
					return false;
				appendStringInfoString(out, n->nulltesttype == IS_NULL ? " IS NULL)" : " IS NOT NULL)");
				return true;
			}
		case T_BoolExpr:
			{
				BoolExpr   *b = (BoolExpr *) node;
				bool		first = true;

				appendStringInfoString(out, b->boolop == NOT_EXPR ? "(NOT " : "(");
				foreach(lc, b->args)
				{
					if (!first)
						appendStringInfoString(out, b->boolop == AND_EXPR ? " AND " : " OR ");
					first = false;
					if (!condition_sql(lfirst(lc), child, out))
						return false;
				}
				appendStringInfoChar(out, ')');
				return true;
			}
		case T_A_Expr:
			{
				A_Expr	   *e = (A_Expr *) node;
				const char *op;
				bool		first = true;

				if ((e->kind != AEXPR_OP && e->kind != AEXPR_IN) || list_length(e->name) != 1)
					return false;
				op = strVal(linitial(e->name));
				/* btree comparisons of built-in types: pg_catalog's, no one's code */
				if (strcmp(op, "=") != 0 && strcmp(op, "<>") != 0 &&
					(e->kind != AEXPR_OP || (strcmp(op, "<") != 0 && strcmp(op, "<=") != 0 &&
											 strcmp(op, ">") != 0 && strcmp(op, ">=") != 0)))
					return false;
				if (!IsA(e->lexpr, ColumnRef))
					return false;
				if (e->kind == AEXPR_OP)
				{
					if (!IsA(e->rexpr, A_Const))
						return false;
					appendStringInfoChar(out, '(');
					if (!condition_sql(e->lexpr, child, out))
						return false;
					appendStringInfo(out, " OPERATOR(pg_catalog.%s) ", op);
					if (!condition_sql(e->rexpr, child, out))
						return false;
					appendStringInfoChar(out, ')');
					return true;
				}
				/* IN (a, b): = a OR = b; NOT IN: <> a AND <> b */
				appendStringInfoChar(out, '(');
				foreach(lc, (List *) e->rexpr)
				{
					if (!IsA(lfirst(lc), A_Const))
						return false;
					if (!first)
						appendStringInfoString(out, strcmp(op, "=") == 0 ? " OR " : " AND ");
					first = false;
					if (!condition_sql(e->lexpr, child, out))
						return false;
					appendStringInfo(out, " OPERATOR(pg_catalog.%s) ", op);
					if (!condition_sql(lfirst(lc), child, out))
						return false;
				}
				appendStringInfoChar(out, ')');
				return true;
			}
		default:
			return false;
	}
}

/*
 * crm_purge_check_condition_sql: crm_purge._check_condition(child,
 * condition): a relation's condition (content_type_id = 12, kind IN
 * ('contact', 'lead')), as the SQL crm_purge evaluates: the child's columns
 * of built-in types compared with constants, joined by AND, OR and NOT, with
 * pg_catalog's operators.  It is evaluated for other admins and as the
 * extension owner, so it may run no one's code: no functions, casts,
 * subqueries or user-defined types.  Checked again at every use: a column's
 * type may have changed since.
 */
/*
 * crm_purge_plain_condition: cond on relid written out again as the SQL
 * condition_sql() accepts (columns of built-in types compared with
 * constants by =, <>, <, <=, >, >=, IN, joined by AND, OR and NOT, with
 * pg_catalog's operators), or NULL when it is anything else.  Such a
 * condition runs no one's code, whoever evaluates it.
 */
char *
crm_purge_plain_condition(Oid relid, const char *cond)
{
	List	   *stmts;
	SelectStmt *sel;
	StringInfoData out;

	crm_purge_check_filter(cond);
	stmts = raw_parser(psprintf("SELECT 1 WHERE %s\n", cond), RAW_PARSE_DEFAULT);
	sel = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
	initStringInfo(&out);
	if (!condition_sql(sel->whereClause, relid, &out))
		return NULL;
	return out.data;
}

PG_FUNCTION_INFO_V1(crm_purge_check_condition_sql);
Datum
crm_purge_check_condition_sql(PG_FUNCTION_ARGS)
{
	char	   *cond;
	char	   *out;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	cond = text_to_cstring(PG_GETARG_TEXT_PP(1));
	out = crm_purge_plain_condition(PG_GETARG_OID(0), cond);
	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a relation's condition may only compare the child's columns with constants"),
				 errdetail("The condition was: %s", cond),
				 errhint("Write it like content_type_id = 12 or kind IN ('contact', 'lead') on columns of built-in types, joined by AND, OR and NOT; no functions, casts or subqueries.")));
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
