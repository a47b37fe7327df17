/*
 * utility.c - what crm_purge does before some utility statements: DROP
 * EXTENSION crm_purge takes the policies' pg_cron jobs along; commands that
 * need a database to themselves stop its worker first.
 */
#include "postgres.h"

#include "catalog/heap.h"
#include "catalog/dependency.h"
#include "catalog/pg_collation.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "catalog/objectaccess.h"
#include "utils/rel.h"
#include "commands/trigger.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "access/genam.h"
#include "access/table.h"
#include "commands/user.h"
#include "catalog/pg_type.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/fmgroids.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "utils/regproc.h"
#include "utils/partcache.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "access/sysattr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "crm_purge.h"

/* drops_this_extension: is this DROP EXTENSION crm_purge, with the extension present? */
static bool
drops_this_extension(Node *parsetree)
{
	DropStmt   *drop;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt))
		return false;
	drop = (DropStmt *) parsetree;
	if (drop->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, drop->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "crm_purge") == 0)
			return OidIsValid(get_extension_oid("crm_purge", true));
	}
	return false;
}

/*
 * drop_cron_jobs: a policy's pg_cron job must not outlive the extension.
 * Only for the extension's owner: anyone else gets PostgreSQL's own error
 * from the drop.
 */
static void
drop_cron_jobs(void)
{
	CrmPurgeIdentity id;

	if (!crm_purge_extension_ownercheck(get_extension_oid("crm_purge", false), GetUserId()))
		return;
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	crm_purge_become_owner(&id);
	/* an older version of the extension may lack the function */
	if (SPI_execute("SELECT 1 WHERE pg_catalog.to_regprocedure('crm_purge._drop_cron_jobs()') IS NOT NULL",
					true, 0) == SPI_OK_SELECT && SPI_processed == 1 &&
		SPI_execute("SELECT crm_purge._drop_cron_jobs()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not remove the pg_cron jobs of crm_purge policies");
	crm_purge_unbecome(&id);
	SPI_finish();
	PopActiveSnapshot();
}

/*
 * release_databases: commands that need a database to themselves find its
 * worker gone (crm_purge_release_database, worker.c): DROP DATABASE, ALTER
 * DATABASE ... RENAME / SET TABLESPACE, CREATE DATABASE ... TEMPLATE.
 */
static void
release_databases(Node *parsetree)
{
	if (IsA(parsetree, DropdbStmt))
		crm_purge_release_database(get_database_oid(((DropdbStmt *) parsetree)->dbname, true));
	else if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		crm_purge_release_database(get_database_oid(((RenameStmt *) parsetree)->subname, true));
	else if (IsA(parsetree, AlterDatabaseStmt))
	{
		ListCell   *lc;

		foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
		{
			if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
				crm_purge_release_database(get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true));
		}
	}
	else if (IsA(parsetree, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) parsetree)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				crm_purge_release_database(get_database_oid(defGetString(opt), true));
		}
	}
}

/*
 * user_owned_type: is typid, or a type inside it (a domain's base, an
 * array's element, a composite's fields, a range's subtype), owned by a
 * role that is not a superuser?  Reading a value of it may run that
 * role's code (a domain's CHECK).
 */
static bool
user_owned_type(Oid typid, int depth)
{
	HeapTuple	tup;
	Form_pg_type t;
	bool		result = false;

	if (depth > 8 || typid < FirstNormalObjectId)
		return false;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		return false;
	t = (Form_pg_type) GETSTRUCT(tup);
	if (!superuser_arg(t->typowner))
		result = true;
	else if (t->typtype == TYPTYPE_DOMAIN)
		result = user_owned_type(t->typbasetype, depth + 1);
	else if (OidIsValid(t->typelem) && IsTrueArrayType(t))
		result = user_owned_type(t->typelem, depth + 1);
	else if (t->typtype == TYPTYPE_RANGE)
		result = user_owned_type(get_range_subtype(typid), depth + 1);
	else if (t->typtype == TYPTYPE_COMPOSITE && OidIsValid(t->typrelid))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, -1);
		int			i;

		for (i = 0; i < desc->natts && !result; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
				result = user_owned_type(TupleDescAttr(desc, i)->atttypid, depth + 1);
		ReleaseTupleDesc(desc);
	}
	ReleaseSysCache(tup);
	return result;
}

/*
 * refuse_superuser_initcond: on a Citus node, a superuser's CREATE
 * AGGREGATE with an initial value (INITCOND, read through STYPE's input;
 * MINITCOND, through MSTYPE's) of a type another role made: reading it runs
 * that role's code (a domain's CHECK), and Citus creates a table's
 * dependencies on the worker nodes over its superuser connections: a role
 * could run its code as the superuser there by having Citus create its
 * aggregate.
 */
static void
refuse_superuser_initcond(DefineStmt *stmt)
{
	ListCell   *lc;
	TypeName   *stype = NULL;
	TypeName   *mstype = NULL;
	bool		initcond = false;
	bool		minitcond = false;
	int			i;

	if (stmt->kind != OBJECT_AGGREGATE || !superuser() || !crm_purge_citus_present())
		return;
	foreach(lc, stmt->definition)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (pg_strcasecmp(d->defname, "stype") == 0 || pg_strcasecmp(d->defname, "stype1") == 0)
			stype = defGetTypeName(d);
		else if (pg_strcasecmp(d->defname, "mstype") == 0)
			mstype = defGetTypeName(d);
		else if (pg_strcasecmp(d->defname, "initcond") == 0 || pg_strcasecmp(d->defname, "initcond1") == 0)
			initcond = true;
		else if (pg_strcasecmp(d->defname, "minitcond") == 0)
			minitcond = true;
	}
	for (i = 0; i < 2; i++)
	{
		TypeName   *t = i == 0 ? (initcond ? stype : NULL) : (minitcond ? mstype : NULL);
		Oid			typid = t ? LookupTypeNameOid(NULL, t, true) : InvalidOid;

		if (OidIsValid(typid) && user_owned_type(typid, 0))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("a superuser may not create an aggregate with an initial value of type %s on a Citus node",
							format_type_be(typid)),
					 errdetail("Reading the initial value runs code of the role that made the type (a domain's CHECK) as the superuser; Citus creates aggregates a table depends on as the superuser."),
					 errhint("Create the aggregate as the type's owner.")));
	}
}

/*
 * user_literal_walker: a raw statement's expressions hold a typed literal
 * (or a column default, check or generated expression of a column) of a
 * type user_owned_type() names: parse analysis reads it through the type's
 * input, which runs that role's code (a domain's CHECK).  *found: the type.
 */
static bool
user_literal_walker(Node *node, Oid *found)
{
	ListCell   *lc;

	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_TypeCast:
			{
				Oid			typid = LookupTypeNameOid(NULL, ((TypeCast *) node)->typeName, true);

				if (OidIsValid(typid) && user_owned_type(typid, 0))
				{
					*found = typid;
					return true;
				}
				break;
			}
		case T_ColumnDef:
			{
				ColumnDef  *def = (ColumnDef *) node;
				Oid			typid = def->typeName ? LookupTypeNameOid(NULL, def->typeName, true) : InvalidOid;

				foreach(lc, def->constraints)
				{
					Constraint *c = lfirst_node(Constraint, lc);

					/* an untyped default is read as the column's type */
					if (c->raw_expr != NULL && OidIsValid(typid) && user_owned_type(typid, 0))
					{
						*found = typid;
						return true;
					}
					if (user_literal_walker(c->raw_expr, found))
						return true;
				}
				return user_literal_walker(def->raw_default, found) ||
					user_literal_walker((Node *) def->typeName, found);
			}
		case T_Constraint:
			/* (exclusions: a list of (IndexElem, operator name) pairs; review round 50, C50-3) */
			return user_literal_walker(((Constraint *) node)->raw_expr, found) ||
				user_literal_walker(((Constraint *) node)->where_clause, found) ||
				user_literal_walker((Node *) ((Constraint *) node)->exclusions, found);
		case T_StatsElem:
			return user_literal_walker(((StatsElem *) node)->expr, found);
		case T_PartitionSpec:
			return user_literal_walker((Node *) ((PartitionSpec *) node)->partParams, found);
		case T_PartitionElem:
			return user_literal_walker(((PartitionElem *) node)->expr, found);
		case T_PartitionBoundSpec:
			{
				PartitionBoundSpec *bound = (PartitionBoundSpec *) node;

				return user_literal_walker((Node *) bound->listdatums, found) ||
					user_literal_walker((Node *) bound->lowerdatums, found) ||
					user_literal_walker((Node *) bound->upperdatums, found);
			}
		case T_PartitionCmd:
			return user_literal_walker((Node *) ((PartitionCmd *) node)->bound, found);
		case T_ReturnStmt:
			return user_literal_walker(((ReturnStmt *) node)->returnval, found);
		case T_String:
		case T_Integer:
		case T_Float:
		case T_Boolean:
		case T_BitString:
			return false;
		case T_TableLikeClause:
			return false;
		case T_List:
			foreach(lc, (List *) node)
				if (user_literal_walker(lfirst(lc), found))
					return true;
			return false;
		default:
			break;
	}
	return raw_expression_tree_walker(node, user_literal_walker, (void *) found);
}

/*
 * stored_user_literal: a Const of a user_owned_type() in one of relid's
 * stored expressions (defaults, constraints, index and statistics
 * expressions and predicates): ALTER COLUMN ... TYPE reads them again from
 * their text, through the type's input.
 */
static bool
stored_const_walker(Node *node, Oid *found)
{
	if (node == NULL)
		return false;
	if (IsA(node, Const) && user_owned_type(((Const *) node)->consttype, 0))
	{
		*found = ((Const *) node)->consttype;
		return true;
	}
	return expression_tree_walker(node, stored_const_walker, (void *) found);
}

/* user_partition_key: the first type of relid's partition key that user_owned_type() names */
static Oid
user_partition_key(Oid relid)
{
	Relation	rel;
	PartitionKey key;
	Oid			found = InvalidOid;
	int			i;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		return InvalidOid;
	rel = relation_open(relid, AccessShareLock);
	key = RelationGetPartitionKey(rel);
	for (i = 0; key != NULL && i < key->partnatts && !OidIsValid(found); i++)
		if (user_owned_type(key->parttypid[i], 0))
			found = key->parttypid[i];
	relation_close(rel, AccessShareLock);
	return found;
}

/*
 * stored_expressions_find: walker over the stored expressions of rels
 * (column defaults when defaults, CHECK constraints, index expressions and
 * predicates, statistics expressions), as stored (the relation cache would
 * fold them), until it finds something; *found, or InvalidOid.
 */
static Oid
stored_expressions_find(List *rels, bool defaults, bool (*walker) (Node *, Oid *))
{
	Oid			found = InvalidOid;
	Oid			argtypes[2] = {OIDARRAYOID, BOOLOID};
	Datum		values[2];
	Datum	   *oids = palloc(sizeof(Datum) * Max(list_length(rels), 1));
	ListCell   *lc;
	uint64		i;

	foreach(lc, rels)
		oids[foreach_current_index(lc)] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, list_length(rels), OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = BoolGetDatum(defaults);
	SPI_connect();
	if (SPI_execute_with_args("SELECT d.adbin::pg_catalog.text FROM pg_catalog.pg_attrdef d"
							  "  WHERE $2 AND d.adrelid OPERATOR(pg_catalog.=) ANY ($1)"
							  " UNION ALL SELECT c.conbin::pg_catalog.text FROM pg_catalog.pg_constraint c"
							  "  WHERE c.conrelid OPERATOR(pg_catalog.=) ANY ($1) AND c.conbin IS NOT NULL"
							  " UNION ALL SELECT x.e::pg_catalog.text FROM pg_catalog.pg_index i,"
							  "  LATERAL (VALUES (i.indexprs), (i.indpred)) x(e) WHERE i.indrelid OPERATOR(pg_catalog.=) ANY ($1) AND x.e IS NOT NULL"
							  " UNION ALL SELECT s.stxexprs::pg_catalog.text FROM pg_catalog.pg_statistic_ext s"
							  "  WHERE s.stxrelid OPERATOR(pg_catalog.=) ANY ($1) AND s.stxexprs IS NOT NULL",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read stored expressions");
	for (i = 0; i < SPI_processed && !OidIsValid(found); i++)
	{
		Node	   *expr = (Node *) stringToNode(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));

		fix_opfuncids(expr);
		walker(expr, &found);
	}
	SPI_finish();
	return found;
}

static Oid
stored_user_literal(Oid relid)
{
	return stored_expressions_find(list_make1_oid(relid), true, stored_const_walker);
}

/*
 * sql_body_literal: user_literal_walker over a function's statements (a
 * RETURN, the statements of BEGIN ATOMIC or of a parsed string body): the
 * queries among them; the rest reads no value in parse analysis here.
 */
static bool
sql_body_literal(Node *node, Oid *found)
{
	ListCell   *lc;

	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_List:
			foreach(lc, (List *) node)
				if (sql_body_literal(lfirst(lc), found))
					return true;
			return false;
		case T_RawStmt:
			return sql_body_literal(((RawStmt *) node)->stmt, found);
		case T_ReturnStmt:
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
			return user_literal_walker(node, found);
		default:
			return false;
	}
}

/* sql_function_body: the string body of a LANGUAGE sql function's options, or NULL */
static char *
sql_function_body(List *options)
{
	ListCell   *lc;
	char	   *body = NULL;
	bool		sql = false;

	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "language") == 0)
			sql = pg_strcasecmp(defGetString(d), "sql") == 0;
		else if (strcmp(d->defname, "as") == 0 && IsA(d->arg, List) && list_length((List *) d->arg) == 1)
			body = strVal(linitial((List *) d->arg));
	}
	return sql ? body : NULL;
}

/*
 * refuse_superuser_literals: on a Citus node, a superuser's DDL that parse
 * analysis would read a literal of a type another role made through (see
 * user_literal_walker; the same hole as refuse_superuser_initcond's):
 * Citus sends such DDL over its superuser connections (a shard split's
 * CREATE TABLE, a metadata sync, a superuser's column change of a
 * distributed table, which crm_purge asks for on protected tables), and
 * the role's code ran as the superuser.  A column's type change reads the
 * table's stored expressions again: their constants count too.
 */
static void
refuse_superuser_literals(Node *parsetree)
{
	Oid			found = InvalidOid;
	Oid			relid = InvalidOid;

	if (!superuser() || !crm_purge_citus_present())
		return;
	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
		case T_CreateForeignTableStmt:	/* (a CreateStmt first) */
			{
				CreateStmt *create = (CreateStmt *) parsetree;

				user_literal_walker((Node *) create->tableElts, &found);
				if (!OidIsValid(found))
					user_literal_walker((Node *) create->constraints, &found);
				if (!OidIsValid(found))
					user_literal_walker((Node *) create->partspec, &found);
				if (!OidIsValid(found))
					user_literal_walker((Node *) create->partbound, &found);
				/* a partition's bound is read as its parent's key */
				if (!OidIsValid(found) && create->partbound != NULL && create->inhRelations != NIL)
					found = user_partition_key(RangeVarGetRelid(linitial_node(RangeVar, create->inhRelations),
																NoLock, true));
				break;
			}
		case T_IndexStmt:
			user_literal_walker((Node *) ((IndexStmt *) parsetree)->indexParams, &found);
			if (!OidIsValid(found))
				user_literal_walker(((IndexStmt *) parsetree)->whereClause, &found);
			break;
		case T_CreateStatsStmt:
			user_literal_walker((Node *) ((CreateStatsStmt *) parsetree)->exprs, &found);
			break;

			/*
			 * (and the other objects Citus makes again on a node it adds or
			 * activates, over a superuser's connection: a function's default
			 * arguments, a view, a policy, a trigger's WHEN, a rule; review
			 * round 49, C49-3)
			 */
		case T_CreateFunctionStmt:
			{
				CreateFunctionStmt *fn = (CreateFunctionStmt *) parsetree;
				ListCell   *lc;

				/*
				 * its SQL-standard body (RETURN, BEGIN ATOMIC), parsed
				 * whatever check_function_bodies says, or a LANGUAGE sql
				 * string body parsed when it is on (review round 50, C50-1)
				 */
				if (fn->sql_body != NULL)
					sql_body_literal(fn->sql_body, &found);
				else if (check_function_bodies && sql_function_body(fn->options) != NULL)
					sql_body_literal((Node *) raw_parser(sql_function_body(fn->options), RAW_PARSE_DEFAULT),
									 &found);
				foreach(lc, fn->parameters)
				{
					FunctionParameter *fp = lfirst_node(FunctionParameter, lc);
					Oid			typid = LookupTypeNameOid(NULL, fp->argType, true);

					/* an untyped default is read as the parameter's type */
					if (fp->defexpr != NULL && OidIsValid(typid) && user_owned_type(typid, 0))
						found = typid;
					else
						user_literal_walker(fp->defexpr, &found);
					if (OidIsValid(found))
						break;
				}
				break;
			}
		case T_ViewStmt:
			user_literal_walker(((ViewStmt *) parsetree)->query, &found);
			break;
		case T_CreateTableAsStmt:
			user_literal_walker(((CreateTableAsStmt *) parsetree)->query, &found);
			break;

			/*
			 * a domain's default and CHECKs (an untyped default is read as
			 * its base type), made again on a node by Citus too
			 */
		case T_CreateDomainStmt:
			{
				CreateDomainStmt *dom = (CreateDomainStmt *) parsetree;
				Oid			typid = LookupTypeNameOid(NULL, dom->typeName, true);
				ListCell   *lc;

				foreach(lc, dom->constraints)
				{
					Constraint *c = lfirst_node(Constraint, lc);

					if (c->contype == CONSTR_DEFAULT && c->raw_expr != NULL &&
						OidIsValid(typid) && user_owned_type(typid, 0))
						found = typid;
					else
						user_literal_walker(c->raw_expr, &found);
					if (OidIsValid(found))
						break;
				}
				break;
			}
		case T_AlterDomainStmt:
			{
				AlterDomainStmt *dom = (AlterDomainStmt *) parsetree;
				Oid			typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(dom->typeName), true);

				if (dom->subtype == 'T' && dom->def != NULL && OidIsValid(typid) && user_owned_type(typid, 0))
					found = typid;
				else if (dom->subtype == 'T' || dom->subtype == 'C')
					user_literal_walker(dom->def, &found);
				break;
			}
		case T_CreatePublicationStmt:
		case T_AlterPublicationStmt:
			{
				List	   *objects = IsA(parsetree, CreatePublicationStmt) ?
				((CreatePublicationStmt *) parsetree)->pubobjects : ((AlterPublicationStmt *) parsetree)->pubobjects;
				ListCell   *lc;

				foreach(lc, objects)
				{
					PublicationObjSpec *obj = lfirst_node(PublicationObjSpec, lc);

					if (obj->pubtable != NULL && user_literal_walker(obj->pubtable->whereClause, &found))
						break;
				}
				break;
			}
		case T_CreatePolicyStmt:
			if (!user_literal_walker(((CreatePolicyStmt *) parsetree)->qual, &found))
				user_literal_walker(((CreatePolicyStmt *) parsetree)->with_check, &found);
			break;
		case T_AlterPolicyStmt:
			if (!user_literal_walker(((AlterPolicyStmt *) parsetree)->qual, &found))
				user_literal_walker(((AlterPolicyStmt *) parsetree)->with_check, &found);
			break;
		case T_CreateTrigStmt:
			user_literal_walker(((CreateTrigStmt *) parsetree)->whenClause, &found);
			break;
		case T_RuleStmt:
			{
				ListCell   *lc;

				user_literal_walker(((RuleStmt *) parsetree)->whereClause, &found);
				foreach(lc, ((RuleStmt *) parsetree)->actions)
					if (!OidIsValid(found) &&
						(IsA(lfirst(lc), InsertStmt) || IsA(lfirst(lc), UpdateStmt) ||
						 IsA(lfirst(lc), DeleteStmt) || IsA(lfirst(lc), SelectStmt)))
						user_literal_walker(lfirst(lc), &found);
				break;
			}
		case T_AlterTableStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					/* (the subcommands with expressions; the others' def is no expression) */
					if ((cmd->subtype == AT_AddColumn || cmd->subtype == AT_AddColumnToView ||
						 cmd->subtype == AT_ColumnDefault || cmd->subtype == AT_AddConstraint ||
						 cmd->subtype == AT_AlterColumnType || cmd->subtype == AT_AttachPartition) &&
						user_literal_walker(cmd->def, &found))
						break;
					if (cmd->subtype == AT_AttachPartition && !OidIsValid(relid) &&
						((AlterTableStmt *) parsetree)->relation != NULL &&
						OidIsValid(found = user_partition_key(RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation,
																			  NoLock, true))))
						break;
					if (cmd->subtype == AT_AlterColumnType && !OidIsValid(relid) &&
						((AlterTableStmt *) parsetree)->relation != NULL)
					{
						relid = RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true);
						if (OidIsValid(relid) && OidIsValid(found = stored_user_literal(relid)))
							break;
					}
				}
				break;
			}
		default:
			return;
	}
	if (OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a superuser may not run DDL that reads a value of type %s on a Citus node",
						format_type_be_qualified(found)),
				 errdetail("Reading the value runs code of the role that made the type (a domain's CHECK) as the superuser; Citus sends such DDL over superuser connections (shard splits, metadata syncs, column changes)."),
				 errhint("Have the type's owner make the change, or write the value without that type.")));
}

/* user_function: is funcid a function of a role that is not a superuser? */
static bool
user_function(Oid funcid, void *context)
{
	HeapTuple	tup;
	bool		result = false;

	if (funcid < FirstNormalObjectId)
		return false;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (HeapTupleIsValid(tup))
	{
		result = !superuser_arg(((Form_pg_proc) GETSTRUCT(tup))->proowner);
		if (result)
			*(Oid *) context = funcid;
		ReleaseSysCache(tup);
	}
	return result;
}

/* user_immutable_function: user_function() when funcid is IMMUTABLE: planning may run it */
static bool
user_immutable_function(Oid funcid, void *context)
{
	return func_volatile(funcid) == PROVOLATILE_IMMUTABLE && user_function(funcid, context);
}

static bool
user_code_walker(Node *node, Oid *found)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, user_immutable_function, (void *) found))
		return true;
	return expression_tree_walker(node, user_code_walker, (void *) found);
}

/*
 * stored_user_code: the first IMMUTABLE function of a role that is not a
 * superuser that relid's (or a partition's or child's) index expressions
 * and predicates, statistics expressions or CHECK constraints call, or
 * InvalidOid: the relation cache and the planner fold them (a call with
 * constant arguments is run).
 */
static Oid
stored_user_code(Oid relid)
{
	return stored_expressions_find(find_all_inheritors(relid, NoLock, NULL), false, user_code_walker);
}

/*
 * refuse_superuser_citus_alter: a superuser's ALTER TABLE of a Citus table
 * whose stored expressions call a role's function (stored_user_code):
 * Citus checks a new constraint or column against the table's indexes on
 * the coordinator, through the relation cache, which folds the index
 * expressions: the role's IMMUTABLE function ran as the superuser (review
 * round 43, C43-1).  crm_purge asks for a superuser to change the columns
 * of a protected distributed table.  Changes that read no row (owner,
 * trigger switches, storage settings) are let through.
 */
static void
refuse_superuser_citus_alter(AlterTableStmt *stmt)
{
	Oid			relid;
	Oid			found;

	if (!superuser() || !crm_purge_citus_present() || stmt->relation == NULL ||
		!crm_purge_alter_reads_rows(stmt))
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || !crm_purge_citus_distributed(relid))
		return;
	found = stored_user_code(relid);
	if (OidIsValid(found))
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(found));
		Oid			owner = HeapTupleIsValid(tup) ? ((Form_pg_proc) GETSTRUCT(tup))->proowner : InvalidOid;

		if (HeapTupleIsValid(tup))
			ReleaseSysCache(tup);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a superuser may not change Citus table %s: its stored expressions call IMMUTABLE function %s of role %s",
						crm_purge_relname(relid), format_procedure_qualified(found),
						crm_purge_role_name(owner)),
				 errdetail("Citus folds the table's index expressions while checking the change (PostgreSQL its constraints), running such a function as the superuser."),
				 errhint("Have the owner drop the index, statistics or constraint that calls it for the change, and make it again afterwards.")));
	}
}

/* truncated_tables: the tables a TRUNCATE empties: partitions and children unless ONLY, and what CASCADE reaches */
static List *
truncated_tables(TruncateStmt *stmt)
{
	List	   *rels = NIL;
	ListCell   *lc;

	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (OidIsValid(relid))
			rels = list_concat_unique_oid(rels, rv->inh ? find_all_inheritors(relid, NoLock, NULL)
										  : list_make1_oid(relid));
	}
	if (stmt->behavior == DROP_CASCADE)
	{
		List	   *more = rels;

		while ((more = list_difference_oid(heap_truncate_find_FKs(more), rels)) != NIL)
			rels = list_concat(rels, more);
	}
	return rels;
}

/*
 * refuse_shard_truncate: on a Citus worker node, a TRUNCATE reaching a
 * protected table's shard (named, an inheritance child, or through
 * CASCADE), unless by a superuser: Citus gives shards no TRUNCATE trigger,
 * so the rows would skip the trash, the history and the coordinator's
 * legal holds.  (Citus's own connections cannot be told from a role's:
 * anyone may name itself citus_internal.)
 */
static bool protected_shard(Oid relid);
static bool refuse_temporary_dependency(Oid relid);
static List *refuse_temporary_objects(void);

static void
refuse_shard_truncate(TruncateStmt *stmt)
{
	List	   *rels;
	ListCell   *lc;

	/* (the coordinator too: it may hold shards, review round 71, C71-2) */
	if (crm_purge_citus_group() < 0 || superuser())
		return;
	rels = truncated_tables(stmt);
	foreach(lc, rels)
	{
		Oid			relid = lfirst_oid(lc);

		if (protected_shard(relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot truncate %s: it is a shard of a table protected by crm_purge",
							crm_purge_relname(relid)),
					 errdetail("Its rows would skip the trash and the legal holds."),
					 errhint("DELETE from the distributed table on the coordinator (a superuser may TRUNCATE it there, with crm_purge.allow_truncate).")));
	}
}

/*
 * refuse_superuser_truncate_code: on a Citus node, a superuser's TRUNCATE
 * of a Citus table with a TRUNCATE trigger whose function a role that is
 * not a superuser owns: the trigger fires in the superuser's session, as
 * the superuser (review round 43, C43-2).  crm_purge lets only superusers
 * truncate a protected distributed table; the owner makes such a trigger
 * with citus.enable_unsafe_triggers, a setting anyone may change.  (A
 * shard's TRUNCATE triggers run as its owner: statement.c.)
 */
/*
 * refuse_superuser_truncate_trigger: relid, truncated by a superuser on a
 * Citus node, has a TRUNCATE trigger of a role's (or a WHEN clause, or
 * arguments of the owner's): refused, it would run as the superuser.
 * Also from the object access hook (OAT_TRUNCATE), which every truncation
 * passes, Citus's own ExecuteTruncate() calls too
 * (truncate_local_data_after_distributing_table: review round 72, C72-1).
 */
static void
refuse_superuser_truncate_trigger(Oid relid)
{
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			found = InvalidOid;

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (!OidIsValid(found) && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tup);

		if (!TRIGGER_FOR_TRUNCATE(t->tgtype))
			continue;
		user_function(t->tgfoid, &found);
		/*
		 * (a WHEN clause is the owner's code too, whatever function it
		 * calls, and so are a built-in trigger function's arguments:
		 * only crm_purge's and Citus's own triggers run; review round
		 * 60, C60-5)
		 */
		if (!OidIsValid(found) && !superuser_arg(crm_purge_rel_owner(relid)) &&
			t->tgfoid != crm_purge_trash_trigger_fn() &&
			(get_func_name(t->tgfoid) == NULL || strcmp(get_func_name(t->tgfoid), "citus_truncate_trigger") != 0))
			found = t->tgfoid;
		if (!OidIsValid(found) && !superuser_arg(crm_purge_rel_owner(relid)) &&
			!heap_attisnull(tup, Anum_pg_trigger_tgqual, RelationGetDescr(tgrel)))
			found = t->tgfoid;
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	if (OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a superuser may not truncate %s %s: a TRUNCATE trigger of its owner on it calls function %s",
						crm_purge_citus_distributed(relid) ? "Citus table" : "table",
						crm_purge_relname(relid), format_procedure_qualified(found)),
				 errdetail("The trigger would run as the superuser."),
				 errhint("Have the owner drop that trigger first.")));
}

static void
refuse_superuser_truncate_code(TruncateStmt *stmt)
{
	ListCell   *lc;
	Oid			runs_as = InvalidOid;

	if (!superuser() || !crm_purge_citus_present())
		return;
	/*
	 * (a role's shard named, or on a worker node a role's table it does not
	 * know, is truncated as its owner: utility_run_as)
	 */
	foreach(lc, stmt->relations)
	{
		Oid			named = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);

		if (OidIsValid(named) && !crm_purge_superuser_like(crm_purge_rel_owner(named)) &&
			(OidIsValid(crm_purge_citus_shard_logical(named)) ||
			 (crm_purge_citus_group() > 0 && !crm_purge_citus_distributed(named))))
			runs_as = crm_purge_rel_owner(named);
	}
	foreach(lc, truncated_tables(stmt))
	{
		Oid			relid = lfirst_oid(lc);

		/*
		 * (every table it reaches, but those of the role it runs as: Citus
		 * truncates shards and the coordinator's copy of a reference table
		 * with CASCADE, which reached a role's table referencing them, its
		 * TRUNCATE trigger with it, as the superuser: review rounds 70 and
		 * 71, C70-1, C71-1)
		 */
		if (!crm_purge_citus_distributed(relid) && OidIsValid(runs_as) && crm_purge_rel_owner(relid) == runs_as)
			continue;
		refuse_superuser_truncate_trigger(relid);
	}
}

/*
 * trash_uses: does a column of a relation in crm_trash (a trash, its
 * shards and segments) use objid, a type (or its array) or a collation?  Read from pg_depend
 * (Citus hides shards from queries of pg_class).
 */
static bool
trash_uses(Oid classid, Oid objid)
{
	Oid			trash_nsp = get_namespace_oid(CRM_TRASH_SCHEMA, true);
	Oid			types[2] = {objid, classid == TypeRelationId ? get_array_type(objid) : InvalidOid};
	bool		found = false;
	int			i;

	if (!OidIsValid(trash_nsp))
		return false;
	for (i = 0; i < 2 && !found; i++)
	{
		Relation	dep;
		ScanKeyData key[2];
		SysScanDesc scan;
		HeapTuple	tup;

		if (!OidIsValid(types[i]))
			continue;
		dep = table_open(DependRelationId, AccessShareLock);
		ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(classid));
		ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(types[i]));
		scan = systable_beginscan(dep, DependReferenceIndexId, true, NULL, 2, key);
		while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);

			found = d->classid == RelationRelationId && d->objsubid > 0 &&
				get_rel_namespace(d->objid) == trash_nsp;
		}
		systable_endscan(scan);
		table_close(dep, AccessShareLock);
	}
	return found;
}

/*
 * refuse_worker_trash_type_change: on a Citus worker node, a role's own
 * change of a type a trash column uses (a label renamed, the type renamed
 * or moved and another made under its name, dropped with its columns): the
 * coordinator checks such changes against the legal holds, which a worker
 * node does not have, and a trash shard made later from DDL text would
 * take whatever type has the name there.  Made on the coordinator, Citus
 * sends it on as the superuser.
 */
static void
refuse_worker_trash_type_change(Node *parsetree)
{
	List	   *names = NIL;
	ListCell   *lc;

	if (!crm_purge_citus_present() || crm_purge_citus_group() <= 0 || superuser())
		return;
	if (IsA(parsetree, AlterEnumStmt))
		names = list_make1(makeTypeNameFromNameList(((AlterEnumStmt *) parsetree)->typeName));
	else if (IsA(parsetree, AlterDomainStmt))
		names = list_make1(makeTypeNameFromNameList(((AlterDomainStmt *) parsetree)->typeName));
	else if (IsA(parsetree, RenameStmt) &&
			 (((RenameStmt *) parsetree)->renameType == OBJECT_TYPE ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_DOMAIN ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_ATTRIBUTE))
	{
		RenameStmt *r = (RenameStmt *) parsetree;

		if (r->relation != NULL)
			names = list_make1(makeTypeNameFromNameList(r->relation->schemaname ?
														 list_make2(makeString(r->relation->schemaname),
																	makeString(r->relation->relname)) :
														 list_make1(makeString(r->relation->relname))));
		else if (r->object != NULL && IsA(r->object, List))
			names = list_make1(makeTypeNameFromNameList((List *) r->object));
	}
	else if (IsA(parsetree, AlterObjectSchemaStmt) &&
			 (((AlterObjectSchemaStmt *) parsetree)->objectType == OBJECT_TYPE ||
			  ((AlterObjectSchemaStmt *) parsetree)->objectType == OBJECT_DOMAIN) &&
			 IsA(((AlterObjectSchemaStmt *) parsetree)->object, List))
		names = list_make1(makeTypeNameFromNameList((List *) ((AlterObjectSchemaStmt *) parsetree)->object));
	else if (IsA(parsetree, AlterTypeStmt))
		names = list_make1(makeTypeNameFromNameList(((AlterTypeStmt *) parsetree)->typeName));
	else if (IsA(parsetree, DropStmt) &&
			 (((DropStmt *) parsetree)->removeType == OBJECT_TYPE ||
			  ((DropStmt *) parsetree)->removeType == OBJECT_DOMAIN))
		names = ((DropStmt *) parsetree)->objects;
	/* a collation: renamed and another made under its name, a moved shard's trash compares otherwise */
	{
		List	   *coll = NIL;

		if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_COLLATION)
			coll = list_make1(((RenameStmt *) parsetree)->object);
		else if (IsA(parsetree, AlterObjectSchemaStmt) &&
				 ((AlterObjectSchemaStmt *) parsetree)->objectType == OBJECT_COLLATION)
			coll = list_make1(((AlterObjectSchemaStmt *) parsetree)->object);
		else if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_COLLATION)
			coll = ((DropStmt *) parsetree)->objects;
		foreach(lc, coll)
		{
			Oid			collid = IsA(lfirst(lc), List) ? get_collation_oid((List *) lfirst(lc), true) : InvalidOid;

			if (OidIsValid(collid) && trash_uses(CollationRelationId, collid))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change collation %s on a Citus worker node: a crm_purge trash uses it",
								NameListToString((List *) lfirst(lc))),
						 errdetail("The coordinator checks such changes against the legal holds; a worker node does not have them."),
						 errhint("Make the change on the coordinator, with DDL propagation on.")));
		}
	}
	foreach(lc, names)
	{
		TypeName   *tn = lfirst(lc);
		Oid			typid;

		if (tn == NULL || !IsA(tn, TypeName))
			continue;
		typid = LookupTypeNameOid(NULL, tn, true);
		if (OidIsValid(typid) && trash_uses(TypeRelationId, typid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot change type %s on a Citus worker node: a crm_purge trash uses it",
							format_type_be_qualified(typid)),
					 errdetail("The coordinator checks such changes against the legal holds; a worker node does not have them."),
					 errhint("Make the change on the coordinator, with DDL propagation on.")));
	}
}

/*
 * refuse_local_table_key: on a Citus coordinator, a foreign key between a
 * protected table that is not distributed and a Citus table: Citus would
 * turn the protected table into a Citus local table (renaming it into a
 * shard under a new shell), which crm_purge does not follow: its trash
 * would never expire and its rows could not be restored by table or
 * erased.
 */
static void
refuse_local_table_key(AlterTableStmt *stmt)
{
	const char *convert;
	Oid			relid;
	ListCell   *lc;

	if (crm_purge_citus_group() != 0 || stmt->relation == NULL)
		return;
	convert = GetConfigOption("citus.enable_local_reference_table_foreign_keys", true, false);
	if (convert == NULL || strcmp(convert, "on") != 0)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *c = (Constraint *) cmd->def;
		Oid			pk;
		Oid			local = InvalidOid;

		if (cmd->subtype != AT_AddConstraint || c == NULL || !IsA(c, Constraint) ||
			c->contype != CONSTR_FOREIGN || c->pktable == NULL)
			continue;
		pk = RangeVarGetRelid(c->pktable, NoLock, true);
		if (!OidIsValid(pk))
			continue;
		if (OidIsValid(crm_purge_trash_of(relid)) && !crm_purge_citus_distributed(relid) &&
			crm_purge_citus_distributed(pk))
			local = relid;
		else if (OidIsValid(crm_purge_trash_of(pk)) && !crm_purge_citus_distributed(pk) &&
				 crm_purge_citus_distributed(relid))
			local = pk;
		if (OidIsValid(local))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot add a foreign key between protected table %s and Citus table %s",
							crm_purge_relname(local), crm_purge_relname(local == relid ? pk : relid)),
					 errdetail("Citus would make %s a Citus local table, which crm_purge does not support: its trash would never expire, and its rows could not be restored or erased by table.",
							   crm_purge_relname(local)),
					 errhint("Distribute the table first (create_distributed_table), or unprotect it.")));
	}
}

/*
 * refuse_role_changes: role and privilege changes inside a
 * security-restricted operation, unless by the extension owner (its own
 * work).  crm_purge runs a filter as its creator restricted, and the
 * table's owner's code (an index expression) may run there with the
 * creator's rights: PostgreSQL lets it grant a role the creator holds
 * WITH ADMIN OPTION (crm_purge_admin, another owner's role) or the
 * creator's privileges WITH GRANT OPTION.
 */
static void
refuse_role_changes(Node *parsetree)
{
	Oid			ext;

	if (!InSecurityRestrictedOperation())
		return;
	if (!(IsA(parsetree, GrantRoleStmt) || IsA(parsetree, GrantStmt) || IsA(parsetree, CreateRoleStmt) ||
		  IsA(parsetree, AlterRoleStmt) || IsA(parsetree, AlterRoleSetStmt) || IsA(parsetree, DropRoleStmt) ||
		  IsA(parsetree, AlterDefaultPrivilegesStmt) || IsA(parsetree, ReassignOwnedStmt) ||
		  IsA(parsetree, AlterOwnerStmt)))
		return;
	ext = get_extension_oid("crm_purge", true);
	if (!OidIsValid(ext) || GetUserId() == crm_purge_extension_owner())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot change roles or privileges inside a security-restricted operation"),
			 errdetail("Code run on another role's behalf (a table owner's expression reached by crm_purge's work, VACUUM, ANALYZE) may not grant the rights it runs with.")));
}

/*
 * refuse_on_behalf: a utility statement of a table owner's code running
 * with another role's rights for crm_purge (crm_purge_on_behalf): it could
 * make that role's rights its own (a SECURITY DEFINER function, a GRANT,
 * ALTER DATABASE ... SET search_path, ALTER ... OWNER).  crm_purge's own
 * statements there run as the extension owner, or lock tables.
 */
static void
refuse_on_behalf(Node *parsetree, ProcessUtilityContext context)
{
	if (IsA(parsetree, LockStmt) || crm_purge_citus_propagating() ||
		!crm_purge_on_behalf(context != PROCESS_UTILITY_TOPLEVEL))
		return;
	/*
	 * SET CONSTRAINTS: crm_purge's own, firing an owner's deferred triggers
	 * as the owner; or the admin's, in its own code later in the
	 * transaction.  The owner's code there could defer its trigger past the
	 * write, to fire at commit as the admin.
	 */
	if (IsA(parsetree, ConstraintsSetStmt) && (crm_purge_firing_deferred() || !crm_purge_on_behalf(false)))
		return;
	if (!OidIsValid(get_extension_oid("crm_purge", true)) || GetUserId() == crm_purge_extension_owner())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot run %s on another role's behalf", GetCommandTagName(CreateCommandTag(parsetree))),
			 errdetail("A table owner's code (an expression, constraint or trigger) reached by an admin's request, hold, restore or erase runs with that admin's rights, and may not keep them; in a transaction with an admin's restore or erase, only statements at top level run."),
			 errhint("Run it at top level, or in a transaction of its own.")));
}

/*
 * extension_lookup: the text of sql ($1 = arg, of type argtype), run as the
 * extension owner on this node's catalogs, or NULL (none, or fn, a
 * crm_purge function of 1.1, is missing: a database not yet updated).
 */
static char *
extension_lookup(const char *fn, const char *sql, Oid argtype, Datum arg)
{
	CrmPurgeIdentity id;
	char	   *found = NULL;
	MemoryContext caller = CurrentMemoryContext;

	SPI_connect();
	crm_purge_become_owner_local(&id);
	if (SPI_execute_with_args("SELECT 1 WHERE pg_catalog.to_regprocedure($1) IS NOT NULL", 1,
							  (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(fn)}, NULL, true, 0) == SPI_OK_SELECT &&
		SPI_processed == 1 &&
		SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 1) == SPI_OK_SELECT && SPI_processed == 1)
		found = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	crm_purge_unbecome(&id);
	/* (in the caller's memory: SPI_finish frees the SPI context's) */
	if (found != NULL)
		found = MemoryContextStrdup(caller, found);
	SPI_finish();
	return found;
}

/* held_around: the first legal hold in force on relid or around it (crm_purge._held_around), or NULL */
static char *
held_around(Oid relid)
{
	return extension_lookup("crm_purge._held_around(regclass)", "SELECT crm_purge._held_around($1)",
					   REGCLASSOID, ObjectIdGetDatum(relid));
}

/* tables_of: the tables (and partitioned tables) in namespace nsp, or owned by role owner */
static List *
tables_of(Oid nsp, Oid owner)
{
	List	   *rels = NIL;
	Relation	pg_class = table_open(RelationRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (OidIsValid(nsp))
		ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(nsp));
	else
		ScanKeyInit(&key, Anum_pg_class_relowner, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(owner));
	scan = systable_beginscan(pg_class, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);

		if (c->relkind == RELKIND_RELATION || c->relkind == RELKIND_PARTITIONED_TABLE)
			rels = lappend_oid(rels, c->oid);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return rels;
}

/*
 * refuse_losing_held: DROP TABLE (SCHEMA, OWNED), TRUNCATE, DETACH PARTITION
 * (CONCURRENTLY too) or NO INHERIT of a table under a legal hold (its own, an ancestor's or a
 * partition's): its held rows would go, or leave the hold's reach.  Read
 * before the statement runs: once dropped or detached, the tree that ties
 * a partition to its parent's hold is gone.
 */
static void
refuse_losing_held(Node *parsetree)
{
	List	   *rels = NIL;
	const char *what = "drop";
	ListCell   *lc;

	if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_TABLE)
	{
		foreach(lc, ((DropStmt *) parsetree)->objects)
			rels = lappend_oid(rels, RangeVarGetRelid(makeRangeVarFromNameList(lfirst(lc)), NoLock, true));
	}
	/* (a partition or child elsewhere than its held parent: once dropped, nothing ties it to the hold) */
	else if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_SCHEMA &&
			 OidIsValid(get_extension_oid("crm_purge", true)))
	{
		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			Oid			nsp = get_namespace_oid(strVal(lfirst(lc)), true);

			if (OidIsValid(nsp))
				rels = list_concat(rels, tables_of(nsp, InvalidOid));
		}
	}
	/* (one the trigger of a protected table does not see: its CASCADE, an unprotected table) */
	else if (IsA(parsetree, TruncateStmt) && OidIsValid(get_extension_oid("crm_purge", true)))
	{
		rels = truncated_tables((TruncateStmt *) parsetree);
		what = "truncate";
	}
	else if (IsA(parsetree, DropOwnedStmt) && OidIsValid(get_extension_oid("crm_purge", true)))
	{
		foreach(lc, roleSpecsToIds(((DropOwnedStmt *) parsetree)->roles))
			rels = list_concat(rels, tables_of(InvalidOid, lfirst_oid(lc)));
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if ((cmd->subtype == AT_DetachPartition || cmd->subtype == AT_DetachPartitionFinalize) &&
				cmd->def != NULL && IsA(cmd->def, PartitionCmd))
			{
				rels = lappend_oid(rels, RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true));
				what = "detach";
			}
			else if (cmd->subtype == AT_DropInherit && stmt->relation != NULL)
			{
				rels = lappend_oid(rels, RangeVarGetRelid(stmt->relation, NoLock, true));
				what = "disinherit";
			}
		}
	}
	if (rels == NIL || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, rels)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *hold;

		if (!OidIsValid(relid))
			continue;
		hold = held_around(relid);
		if (hold != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot %s table %s: legal hold %s keeps rows of it, of a table it belongs to or of one of its partitions",
							what, crm_purge_relname(relid), hold),
					 errdetail("The held rows would be lost, or leave the hold's reach."),
					 errhint("Release the hold with crm_purge_release first.")));
	}
}

static Oid	trash_triggers_changed(Oid relid, const char *name);

/*
 * trigger_changed: the table whose trigger parsetree drops, replaces,
 * renames, disables, makes fire in replica mode only, or ties to an
 * extension, or InvalidOid; *name: that trigger, or NULL for all of them
 * (DISABLE TRIGGER ALL or USER).
 */
static Oid
trigger_changed(Node *parsetree, const char **name)
{
	*name = NULL;
	if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_TRIGGER)
	{
		ListCell   *lc;

		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			List	   *names = lfirst(lc);
			Oid			relid;

			if (list_length(names) < 2)
				continue;
			relid = RangeVarGetRelid(makeRangeVarFromNameList(list_truncate(list_copy(names), list_length(names) - 1)),
									 NoLock, true);
			if (OidIsValid(relid) && crm_purge_trash_trigger_named(relid, strVal(llast(names))))
			{
				*name = strVal(llast(names));
				return relid;
			}
		}
	}
	/* (CREATE OR REPLACE TRIGGER: another function, or none firing; review round 56, B56-1) */
	else if (IsA(parsetree, CreateTrigStmt) && ((CreateTrigStmt *) parsetree)->replace &&
			 ((CreateTrigStmt *) parsetree)->relation != NULL)
	{
		*name = ((CreateTrigStmt *) parsetree)->trigname;
		return RangeVarGetRelid(((CreateTrigStmt *) parsetree)->relation, NoLock, true);
	}
	else if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_TRIGGER &&
			 ((RenameStmt *) parsetree)->relation != NULL)
	{
		*name = ((RenameStmt *) parsetree)->subname;
		return RangeVarGetRelid(((RenameStmt *) parsetree)->relation, NoLock, true);
	}
	else if (IsA(parsetree, AlterObjectDependsStmt) &&
			 ((AlterObjectDependsStmt *) parsetree)->objectType == OBJECT_TRIGGER &&
			 ((AlterObjectDependsStmt *) parsetree)->relation != NULL &&
			 IsA(((AlterObjectDependsStmt *) parsetree)->object, List))
	{
		*name = strVal(llast((List *) ((AlterObjectDependsStmt *) parsetree)->object));
		return RangeVarGetRelid(((AlterObjectDependsStmt *) parsetree)->relation, NoLock, true);
	}
	else if (IsA(parsetree, AlterTableStmt) && ((AlterTableStmt *) parsetree)->relation != NULL)
	{
		ListCell   *lc;
		Oid			relid = InvalidOid;

		/*
		 * every subcommand: the first one may be of another trigger
		 * (review round 58, A58-1); one of crm_purge's, or all, wins
		 */
		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype != AT_DisableTrigAll && cmd->subtype != AT_DisableTrigUser &&
				cmd->subtype != AT_DisableTrig && cmd->subtype != AT_EnableReplicaTrig)
				continue;
			if (!OidIsValid(relid))
				relid = RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true);
			if (!OidIsValid(relid))
				return InvalidOid;
			*name = (cmd->subtype == AT_DisableTrig || cmd->subtype == AT_EnableReplicaTrig) ? cmd->name : NULL;
			if (OidIsValid(trash_triggers_changed(relid, *name)))
				return relid;
		}
		return relid;
	}
	return InvalidOid;
}

/*
 * trash_triggers_changed: a table of relid's tree (it and its inheritors:
 * DISABLE TRIGGER ALL recurses) whose crm_purge trash trigger name (NULL:
 * any) the statement changes, or InvalidOid.
 */
static Oid
trash_triggers_changed(Oid relid, const char *name)
{
	ListCell   *lc;

	if (name != NULL)
		return crm_purge_trash_trigger_named(relid, name) ? relid : InvalidOid;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		if (crm_purge_trash_trigger_named(lfirst_oid(lc), NULL))
			return lfirst_oid(lc);
	return InvalidOid;
}

static bool protected_table(Oid relid);
static bool in_tree_of(Oid relid, bool (*pred) (Oid));

/*
 * refuse_trash_trigger_change: a role's change to crm_purge's trash
 * triggers of a protected table (or of a partition of one): its owner
 * switched the recycle bin off and deleted held rows for good, under a
 * hold (review round 55, C55-4) or before one (review round 57, A57-1,
 * B57-3, A57-5, A57-6).  Known by function, whatever their name.  On a
 * Citus worker node, which knows no protected table, of any table that
 * carries them (a shard, whatever its name: C57-3).  crm_purge_unprotect
 * is the way (refused under a hold).
 */
static void
refuse_trash_trigger_change(Node *parsetree)
{
	Oid			relid;
	const char *name;
	char	   *hold;

	if (superuser() || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	relid = trigger_changed(parsetree, &name);
	if (!OidIsValid(relid) || !OidIsValid(relid = trash_triggers_changed(relid, name)))
		return;
	if (crm_purge_citus_group() > 0 || (crm_purge_citus_group() == 0 && crm_purge_citus_known_shard(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot change crm_purge's triggers on %s: it is a shard of a table protected by crm_purge",
						crm_purge_relname(relid)),
				 errdetail("The coordinator checks such changes against the legal holds; a worker node does not have them."),
				 errhint("Run crm_purge_unprotect on the coordinator.")));
	if (!in_tree_of(relid, protected_table))
		return;
	hold = held_around(relid);
	if (hold != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot change crm_purge's triggers on table %s: legal hold %s keeps rows of it, of a table it belongs to or of one of its partitions",
						crm_purge_relname(relid), hold),
				 errdetail("Rows deleted without them would skip the trash, held ones too."),
				 errhint("Release the hold first; crm_purge_unprotect then removes them.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("cannot change crm_purge's triggers on table %s: it is protected by crm_purge",
					crm_purge_relname(relid)),
			 errdetail("Rows deleted without them would skip the trash."),
			 errhint("crm_purge_unprotect removes them.")));
}

/*
 * held_drop_hook: any drop of a table under a legal hold (its own, an
 * ancestor's or a partition's), whatever statement reached it: a table
 * made a member of an extension goes with DROP EXTENSION (or DROP SCHEMA
 * of the extension's schema), one using an access method or a server with
 * DROP ... CASCADE of those.  Called before the table is gone, while its
 * tree still ties it to the hold (the sql_drop event trigger sees the
 * table alone).  refuse_losing_held refuses the statements it knows first.
 */
static object_access_hook_type prev_object_access = NULL;

/*
 * The objects the statements of this transaction made or changed, not yet
 * checked by refuse_temporary_objects (pairs of class and object ids, in
 * the transaction's memory; forgotten at its end).
 */
static List *changed_objects = NIL;
static bool changed_callback = false;

static void
forget_changed_objects(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		changed_objects = NIL;
}

/* note_changed_object: remembers an object a statement made or changed (once) */
static void
note_changed_object(Oid classId, Oid objectId)
{
	MemoryContext old;
	ListCell   *lc;

	foreach(lc, changed_objects)
		if (linitial_oid(lfirst(lc)) == classId && lsecond_oid(lfirst(lc)) == objectId)
			return;
	if (!changed_callback)
	{
		RegisterXactCallback(forget_changed_objects, NULL);
		changed_callback = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	changed_objects = lappend(changed_objects, list_make2_oid(classId, objectId));
	MemoryContextSwitchTo(old);
}

/*
 * The owners of the last tables dropped, for crm_purge._dropped_owner: the
 * sql_drop event trigger sees a dropped table's name, not its owner, and a
 * guard takes a dropped table's tombstones over only for a table of the
 * same owner (review round 57, A57-3).
 */
#define DROPPED_OWNERS 256
static Oid	dropped_rel[DROPPED_OWNERS];
static Oid	dropped_owner[DROPPED_OWNERS];
static int	dropped_next = 0;

PG_FUNCTION_INFO_V1(crm_purge_dropped_owner);
Datum
crm_purge_dropped_owner(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int			i;

	for (i = 0; i < DROPPED_OWNERS; i++)
		if (dropped_rel[i] == relid && OidIsValid(relid))
			PG_RETURN_OID(dropped_owner[i]);
	PG_RETURN_NULL();
}

static void
held_drop_hook(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	char		relkind;
	char	   *hold;
	Oid			nsp;

	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
	if ((access == OAT_POST_CREATE || access == OAT_POST_ALTER) && IsTransactionState() && !creating_extension)
		note_changed_object(classId, objectId);
	/* (every truncation, the ones Citus makes without a TRUNCATE statement too) */
	if (access == OAT_TRUNCATE && IsTransactionState() && superuser() && crm_purge_citus_present() &&
		OidIsValid(get_extension_oid("crm_purge", true)))
		refuse_superuser_truncate_trigger(objectId);
	if (access == OAT_DROP && classId == RelationRelationId && subId == 0 && IsTransactionState())
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));

		if (HeapTupleIsValid(tup))
		{
			dropped_rel[dropped_next] = objectId;
			dropped_owner[dropped_next] = ((Form_pg_class) GETSTRUCT(tup))->relowner;
			dropped_next = (dropped_next + 1) % DROPPED_OWNERS;
			ReleaseSysCache(tup);
		}
	}
	if (access != OAT_DROP || classId != RelationRelationId ||
		(arg != NULL && (((ObjectAccessDrop *) arg)->dropflags & PERFORM_DELETION_INTERNAL)) ||
		!IsTransactionState())
		return;
	/*
	 * A trash's column goes only with its trash: crm_purge sets a column
	 * aside, never drops it; a drop of its type, collation or schema with
	 * CASCADE (on a Citus worker node with DDL propagation off too) took
	 * the trashed values with it
	 */
	if (subId > 0)
	{
		if (get_rel_namespace(objectId) == get_namespace_oid(CRM_TRASH_SCHEMA, true) &&
			OidIsValid(get_extension_oid("crm_purge", true)))
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop column %s of trash %s: its trashed values would be lost",
							quote_identifier(get_attname(objectId, subId, false)), crm_purge_relname(objectId)),
					 errhint("Give the table's column another type or collation first (ALTER TABLE ... ALTER COLUMN ... TYPE), or drop the trash with crm_purge_unprotect.")));
		return;
	}
	relkind = get_rel_relkind(objectId);
	if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
		get_rel_persistence(objectId) == RELPERSISTENCE_TEMP)
		return;
	nsp = get_rel_namespace(objectId);
	if (nsp == get_namespace_oid(CRM_TRASH_SCHEMA, true) || nsp == get_namespace_oid(CRM_PURGE_SCHEMA, true) ||
		!OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	hold = held_around(objectId);
	if (hold != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot drop table %s: legal hold %s keeps rows of it, of a table it belongs to or of one of its partitions",
						crm_purge_relname(objectId), hold),
				 errdetail("The held rows would be lost, or leave the hold's reach."),
				 errhint("Release the hold with crm_purge_release first.")));
}

/* crm_purge_drop_hook_init: from _PG_init */
void
crm_purge_drop_hook_init(void)
{
	prev_object_access = object_access_hook;
	object_access_hook = held_drop_hook;
}

/* in_tree_of: does pred hold for relid or a table it is a partition of? */
static bool
in_tree_of(Oid relid, bool (*pred) (Oid))
{
	ListCell   *lc;

	if (pred(relid))
		return true;
	if (get_rel_relispartition(relid))
		foreach(lc, get_partition_ancestors(relid))
			if (pred(lfirst_oid(lc)))
				return true;
	return false;
}

static bool
protected_table(Oid relid)
{
	return OidIsValid(crm_purge_trash_of(relid));
}

/* protected_shard: on a Citus worker node, is relid a shard of a protected table (whose holds are on the coordinator)? */
static bool
protected_shard(Oid relid)
{
	int64		shardid = 0;

	/*
	 * (by its trash triggers too: a shard renamed away is none by name;
	 * review round 57, C57-3.  On the coordinator, a shard it holds
	 * (shouldhaveshards): review round 71, C71-2)
	 */
	if (crm_purge_citus_group() == 0)
		return crm_purge_citus_known_shard(relid) && OidIsValid(crm_purge_citus_shard_trash(relid, &shardid));
	return crm_purge_citus_group() > 0 &&
		(OidIsValid(crm_purge_citus_shard_trash(relid, &shardid)) || crm_purge_trash_trigger_named(relid, NULL));
}

/*
 * refuse_attaching_protected: ATTACH PARTITION of a protected or guarded
 * table under a table that is not (nor a table above it).  A DELETE on the
 * parent fires no statement trigger of the partition: its rows were gone,
 * never trashed; an erase through the parent filed its tombstones under the
 * parent, which the partition's guard never reads: the erased key came back.
 */
static void
refuse_attaching_protected(AlterTableStmt *stmt)
{
	ListCell   *lc;
	Oid			parent;

	/* (ALTER INDEX ... ATTACH PARTITION, as pg_dump writes partitioned keys, attaches no table) */
	if (stmt->relation == NULL || stmt->objtype != OBJECT_TABLE || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Oid			child;

		if (cmd->subtype != AT_AttachPartition || cmd->def == NULL || !IsA(cmd->def, PartitionCmd))
			continue;
		parent = RangeVarGetRelid(stmt->relation, NoLock, true);
		child = RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true);
		if (!OidIsValid(parent) || !OidIsValid(child))
			continue;
		if (protected_table(child) && !in_tree_of(parent, protected_table))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot attach protected table %s as a partition of table %s, which is not protected",
							crm_purge_relname(child), crm_purge_relname(parent)),
					 errdetail("A DELETE on the partitioned table would remove its rows without putting them into its trash."),
					 errhint("Protect the partitioned table first (crm_purge_protect), or unprotect the table.")));
		if (crm_purge_guarded(child) && !in_tree_of(parent, crm_purge_guarded))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot attach guarded table %s as a partition of table %s, which is not guarded",
							crm_purge_relname(child), crm_purge_relname(parent)),
					 errdetail("An erase through the partitioned table would file tombstones the table's guard does not read."),
					 errhint("Guard the partitioned table (crm_purge_guard), and attach a table that is not guarded.")));
	}
}

/*
 * refuse_trash_publication: Citus moves, copies and splits shards online by
 * logical replication, with a publication on the source node and one
 * subscription per table owner.  A protected table's shards and its trash's
 * (the extension owner's) are colocated, so two subscriptions: writes made
 * to one of them during the move were lost (deleted rows came back, trash
 * rows vanished).  Citus names every shard schema-qualified.
 */
static void
refuse_trash_publication(CreatePublicationStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->pubobjects)
	{
		PublicationObjSpec *o = lfirst_node(PublicationObjSpec, lc);
		const char *schema = o->pubtable != NULL && o->pubtable->relation != NULL ?
			o->pubtable->relation->schemaname : o->name;

		if (schema != NULL && strcmp(schema, CRM_TRASH_SCHEMA) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot publish crm_purge's trash for logical replication"),
					 errdetail("Citus moves, copies and splits shards online with one subscription per table owner: writes made meanwhile to a protected table or to its trash would be lost."),
					 errhint("Move, copy or split the shards of protected tables with shard_transfer_mode => 'block_writes'.")));
	}
}

/*
 * type_referenced: does anything use type typid (or its array type) but
 * that array type itself?  A table's row type is rarely a column's: its
 * ALTER TABLE then reads no crm_purge catalog.
 */
static bool
type_referenced(Oid typid)
{
	Oid			array = get_array_type(typid);
	Oid			types[2] = {typid, array};
	bool		used = false;
	Relation	rel = table_open(DependRelationId, AccessShareLock);
	int			i;

	for (i = 0; i < 2 && !used; i++)
	{
		ScanKeyData key[2];
		SysScanDesc scan;
		HeapTuple	tup;

		if (!OidIsValid(types[i]))
			continue;
		ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(TypeRelationId));
		ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(types[i]));
		scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, key);
		while (!used && HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);

			used = !(d->classid == TypeRelationId && d->objid == array);
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
	return used;
}

/*
 * row_types_reached: the row types an ALTER of relid changes that some
 * column may use: relid's, its inheritors' (the change recurses to them),
 * and for a composite type the tables made OF it (ALTER TYPE ... CASCADE);
 * review round 46, B46-4.
 */
/* typed_tables: the tables made OF composite type relid, and their inheritors (no index on reloftype: a scan) */
static List *
typed_tables(Oid relid)
{
	List	   *rels = NIL;
	Relation	rel = table_open(RelationRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	Oid			typid = get_rel_type_id(relid);

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		if (((Form_pg_class) GETSTRUCT(tup))->reloftype == typid)
			rels = list_concat_unique_oid(rels,
										  find_all_inheritors(((Form_pg_class) GETSTRUCT(tup))->oid, NoLock, NULL));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return rels;
}

static List *
row_types_reached(Oid relid)
{
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);
	List	   *types = NIL;
	ListCell   *lc;

	if (get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE)
		rels = list_concat_unique_oid(rels, typed_tables(relid));
	foreach(lc, rels)
	{
		Oid			typid = get_rel_type_id(lfirst_oid(lc));

		if (OidIsValid(typid) && (lfirst_oid(lc) == relid || type_referenced(typid)))
			types = lappend_oid(types, typid);
	}
	return types;
}

/*
 * refuse_altering_typed: ALTER TYPE ... ADD, DROP, ALTER or RENAME ATTRIBUTE
 * (CASCADE) of a composite type that a protected, guarded or held table is
 * made OF: it changes the table's columns as ALTER TABLE would, past every
 * check crm_purge makes of ALTER TABLE (a held column renamed, a guarded
 * key retyped, a trash not following; review round 55, A55-1, A55-3,
 * A55-4).
 */
/* altered_composite: the composite type (its relation) whose attributes parsetree changes, or InvalidOid */
static Oid
altered_composite(Node *parsetree)
{
	RangeVar   *type = NULL;
	Oid			relid;

	if (IsA(parsetree, AlterTableStmt) && ((AlterTableStmt *) parsetree)->objtype == OBJECT_TYPE)
		type = ((AlterTableStmt *) parsetree)->relation;
	else if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_ATTRIBUTE)
		type = ((RenameStmt *) parsetree)->relation;
	if (type == NULL || !OidIsValid(relid = RangeVarGetRelid(type, NoLock, true)) ||
		get_rel_relkind(relid) != RELKIND_COMPOSITE_TYPE)
		return InvalidOid;
	return relid;
}

static void
refuse_altering_typed(Node *parsetree)
{
	Oid			relid;
	ListCell   *lc;

	if (!OidIsValid(relid = altered_composite(parsetree)) || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, typed_tables(relid))
	{
		Oid			tbl = lfirst_oid(lc);
		const char *why = NULL;
		char	   *hold;

		if (OidIsValid(crm_purge_trash_of(tbl)))
			why = "is protected by crm_purge";
		else if (crm_purge_guarded(tbl))
			why = "is guarded by crm_purge";
		else if ((hold = held_around(tbl)) != NULL)
			why = psprintf("is under legal hold %s", hold);
		if (why != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot alter type %s: table %s, made OF it, %s",
							format_type_be(get_rel_type_id(relid)), crm_purge_relname(tbl), why),
					 errdetail("The change would reach the table's columns past crm_purge's checks of ALTER TABLE (its trash, tombstones and holds would not follow)."),
					 errhint("Run ALTER TABLE %s NOT OF first, then change its columns with ALTER TABLE.",
							 crm_purge_relname(tbl))));
	}
}

/*
 * refuse_retyping_held: a change to a type that a held trash's column is
 * made of (ALTER TYPE ... RENAME VALUE of an enum, ALTER TYPE ... DROP,
 * ALTER or RENAME ATTRIBUTE of a composite, DROP TYPE or DOMAIN ... CASCADE)
 * would change held trashed values: refused while the hold is on.
 */
static void
refuse_retyping_held(Node *parsetree)
{
	List	   *types = NIL;
	ListCell   *lc;

	if (IsA(parsetree, AlterEnumStmt) && ((AlterEnumStmt *) parsetree)->oldVal != NULL)
		types = list_make1_oid(typenameTypeId(NULL, makeTypeNameFromNameList(((AlterEnumStmt *) parsetree)->typeName)));
	else if (IsA(parsetree, AlterTableStmt) && ((AlterTableStmt *) parsetree)->objtype == OBJECT_TYPE)
	{
		Oid			relid = RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true);

		/*
		 * (an attribute added changes every value too: (Paris,75001) becomes
		 * (Paris,75001,), no longer IS NOT NULL; review round 45, B45-2)
		 */
		if (OidIsValid(relid))
			types = row_types_reached(relid);
	}
	/* (a table's row type, another table's trash column) */
	/* (a view's row type changes with CREATE OR REPLACE VIEW: review round 48, B48-2) */
	else if (IsA(parsetree, ViewStmt) && ((ViewStmt *) parsetree)->replace)
	{
		Oid			relid = RangeVarGetRelid(((ViewStmt *) parsetree)->view, NoLock, true);

		if (OidIsValid(relid) && type_referenced(get_rel_type_id(relid)))
			types = list_make1_oid(get_rel_type_id(relid));
	}
	else if (IsA(parsetree, AlterTableStmt) && (((AlterTableStmt *) parsetree)->objtype == OBJECT_TABLE ||
												((AlterTableStmt *) parsetree)->objtype == OBJECT_FOREIGN_TABLE ||
												((AlterTableStmt *) parsetree)->objtype == OBJECT_VIEW))
	{
		bool		changes = false;
		Oid			relid;

		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			changes |= lfirst_node(AlterTableCmd, lc)->subtype == AT_DropColumn ||
				lfirst_node(AlterTableCmd, lc)->subtype == AT_AddColumn ||
				lfirst_node(AlterTableCmd, lc)->subtype == AT_AlterColumnType;
		relid = changes ? RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true) : InvalidOid;
		if (OidIsValid(relid))
			types = row_types_reached(relid);
		/* (the table's own row type only when a column uses it: no crm_purge catalog read otherwise) */
		if (types != NIL && !type_referenced(linitial_oid(types)))
			types = list_delete_first(types);
	}
	/* (a column renamed: a hold's filter on (addr).city reads another; review round 46, B46-5) */
	else if (IsA(parsetree, RenameStmt) &&
			 (((RenameStmt *) parsetree)->renameType == OBJECT_ATTRIBUTE ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN) &&
			 ((RenameStmt *) parsetree)->relation != NULL)
	{
		Oid			relid = RangeVarGetRelid(((RenameStmt *) parsetree)->relation, NoLock, true);

		/*
		 * (a held table's column renamed: its hold's filter, kept as text,
		 * would read a column added under the old name; review round 50,
		 * B50-2)
		 */
		if (OidIsValid(relid) && ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN &&
			OidIsValid(get_extension_oid("crm_purge", true)))
		{
			char	   *held = held_around(relid);

			if (held != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_IN_USE),
						 errmsg("cannot rename a column of table %s: legal hold %s is in force on it",
								crm_purge_relname(relid), held),
						 errdetail("A hold's filter names columns; another column could take the old name."),
						 errhint("Release the hold first.")));
		}
		if (OidIsValid(relid))
			types = row_types_reached(relid);
		if (types != NIL && ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN &&
			!type_referenced(linitial_oid(types)))
			types = list_delete_first(types);
	}
	else if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->behavior == DROP_CASCADE &&
			 (((DropStmt *) parsetree)->removeType == OBJECT_TYPE || ((DropStmt *) parsetree)->removeType == OBJECT_DOMAIN))
	{
		foreach(lc, ((DropStmt *) parsetree)->objects)
		{
			Oid			typid = LookupTypeNameOid(NULL, lfirst_node(TypeName, lc), true);

			if (OidIsValid(typid))
				types = lappend_oid(types, typid);
		}
	}
	if (types == NIL || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, types)
	{
		char	   *found;

		if (!OidIsValid(lfirst_oid(lc)))
			continue;
		found = extension_lookup("crm_purge._held_trash_using(oid)", "SELECT crm_purge._held_trash_using($1)::pg_catalog.text",
							OIDOID, ObjectIdGetDatum(lfirst_oid(lc)));
		if (found != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot change type %s: a legal hold keeps trashed rows of table %s that use it",
							format_type_be(lfirst_oid(lc)), found),
					 errdetail("The held trashed values would change."),
					 errhint("Release the hold first (an enum's ALTER TYPE ... ADD VALUE changes no value and is allowed).")));
	}
}

/*
 * refuse_resharding_drop: Citus's alter_distributed_table (or
 * alter_table_set_access_method), called in any form, drops the table it
 * made again: refused for a protected table or a trash (see
 * crm_purge_citus_refuse_reshard for why), before anything is dropped.
 */
static void
refuse_resharding_drop(Node *parsetree)
{
	ListCell   *lc;
	Oid			trash_schema;

	if (!crm_purge_citus_resharding() || !IsA(parsetree, DropStmt) ||
		((DropStmt *) parsetree)->removeType != OBJECT_TABLE)
		return;
	trash_schema = get_namespace_oid(CRM_TRASH_SCHEMA, true);
	foreach(lc, ((DropStmt *) parsetree)->objects)
	{
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(lfirst(lc)), NoLock, true);

		if (OidIsValid(relid) &&
			(OidIsValid(crm_purge_trash_of(relid)) || (OidIsValid(trash_schema) && get_rel_namespace(relid) == trash_schema)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot reshard table %s: it is protected by crm_purge, or a trash", crm_purge_relname(relid)),
					 errdetail("Citus would copy the trash's rows with their deleters' role OIDs, which name other roles on other nodes."),
					 errhint("Make a new distributed table with the shape you need and move the rows into it, then protect it.")));
	}
}

/*
 * same_key_text: does a key column's change from one type to another keep
 * every value's text?  Not to a shorter varchar: the cast cuts trailing
 * spaces, and 'a@x  ' becomes 'a@x'.
 */
static bool
same_key_text(Oid from, int32 frommod, Oid to, int32 tomod)
{
	if ((from == INT2OID || from == INT4OID || from == INT8OID) &&
		(to == INT2OID || to == INT4OID || to == INT8OID))
		return true;
	if (from != TEXTOID && from != VARCHAROID)
		return false;
	if (to == TEXTOID || (to == VARCHAROID && tomod < 0))
		return true;
	return to == VARCHAROID && from == VARCHAROID && frommod >= 0 && tomod >= frommod;
}

/*
 * refuse_rekeying_guarded: a guarded table with tombstones keeps the text
 * of its keys: tombstones are hashes of it.  A key column's type change
 * that writes values otherwise (date to timestamp, char(n)), a USING, or a
 * primary key dropped (a new one makes other key text) would void every
 * tombstone, and the erased records could come back.
 */
static void
refuse_rekeying_guarded(AlterTableStmt *stmt)
{
	Oid			relid;
	Relation	rel;
	AttrNumber	pk[INDEX_MAX_KEYS];
	int			npk;
	List	   *keycols = NIL;
	Oid			pkcon;
	ListCell   *lc;
	int			i;
	char	   *refused = NULL;

	if (stmt->relation == NULL || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) ||
		(get_rel_relkind(relid) != RELKIND_RELATION && get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE) ||
		!crm_purge_guarded(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	npk = crm_purge_primary_key(rel, pk, true);
	for (i = 0; i < npk; i++)
		keycols = lappend(keycols, get_attname(relid, pk[i], false));
	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *t = &rel->trigdesc->triggers[i];
		int			j;

		if (strcmp(t->tgname, "crm_purge_guard") == 0)
			for (j = 1; j < t->tgnargs; j++)
				keycols = lappend(keycols, pstrdup(t->tgargs[j]));
	}
	pkcon = OidIsValid(RelationGetPrimaryKeyIndex(rel)) ? get_index_constraint(RelationGetPrimaryKeyIndex(rel)) : InvalidOid;
	table_close(rel, AccessShareLock);

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		ListCell   *k;
		bool		keycol = false;

		foreach(k, keycols)
			keycol |= cmd->name != NULL && strcmp(cmd->name, lfirst(k)) == 0;
		if (cmd->subtype == AT_AlterColumnType && keycol)
		{
			ColumnDef  *def = (ColumnDef *) cmd->def;
			AttrNumber	att = get_attnum(relid, cmd->name);
			Oid			newtype = InvalidOid;
			int32		newmod = -1;
			Oid			oldtype = InvalidOid;
			int32		oldmod = -1;
			Oid			oldcoll;

			if (def != NULL && def->typeName != NULL)
				typenameTypeIdAndMod(NULL, def->typeName, &newtype, &newmod);
			if (att != InvalidAttrNumber)
				get_atttypetypmodcoll(relid, att, &oldtype, &oldmod, &oldcoll);
			if (att == InvalidAttrNumber || def == NULL || def->raw_default != NULL ||
				!same_key_text(oldtype, oldmod, newtype, newmod))
				refused = psprintf("The change of key column \"%s\" writes its keys otherwise", cmd->name);
		}
		else if (cmd->subtype == AT_DropColumn && keycol)
			refused = psprintf("Key column \"%s\" would be dropped", cmd->name);
		else if (cmd->subtype == AT_DropConstraint && OidIsValid(pkcon) && cmd->name != NULL &&
				 strcmp(cmd->name, get_constraint_name(pkcon)) == 0)
			refused = pstrdup("Its primary key would be dropped");
		if (refused != NULL)
			break;
	}
	if (refused == NULL ||
		extension_lookup("crm_purge._key_hash(text)", "SELECT 1 FROM crm_purge.tombstones WHERE tbl OPERATOR(pg_catalog.=) $1 LIMIT 1",
					OIDOID, ObjectIdGetDatum(relid)) == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("cannot alter guarded table %s while it has tombstones of erased records", crm_purge_relname(relid)),
			 errdetail("%s: the guard knows erased keys by a hash of their text, and the erased records could come back.", refused),
			 errhint("Keep the key as it is (integers may widen, varchar may become text or longer). To accept that erased records may come back, drop the trigger crm_purge_guard first and run crm_purge_guard again after the change.")));
}

/*
 * crm_purge_after_utility: from the ProcessUtility hook, after the
 * statement ran: the rows an ATTACH PARTITION brought under a guard.
 */
void
crm_purge_after_utility(Node *parsetree)
{
	AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
	ListCell   *lc;
	List	   *checked = NIL;
	Oid			relid;
	bool		partitions_only = true;

	/*
	 * (whatever the statement made or changed, made to depend on a
	 * temporary object: a held column of a domain, a generated column of a
	 * function or text search configuration, a column of a view's row type
	 * is dropped with it: review rounds 64 and 65, B64-3, A65-1..3)
	 */
	if (changed_objects != NIL && !creating_extension && OidIsValid(get_extension_oid("crm_purge", true)))
		checked = refuse_temporary_objects();
	if (!IsA(parsetree, AlterTableStmt) || stmt->relation == NULL ||
		(stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_TYPE) ||
		!OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, stmt->cmds)
		if (lfirst_node(AlterTableCmd, lc)->subtype != AT_AttachPartition &&
			lfirst_node(AlterTableCmd, lc)->subtype != AT_DetachPartition)
			partitions_only = false;
	/*
	 * (the table again, unless checked above or only given or rid of
	 * partitions: an attached one is checked as changed, and walking a big
	 * tree per ATTACH made attaching many partitions quadratic)
	 */
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!partitions_only && !list_member_oid(checked, relid))
		refuse_temporary_dependency(relid);
	if (stmt->objtype != OBJECT_TABLE)
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Oid			parent;
		Oid			child;

		if (cmd->subtype != AT_AttachPartition || cmd->def == NULL || !IsA(cmd->def, PartitionCmd))
			continue;
		parent = RangeVarGetRelid(stmt->relation, NoLock, true);
		child = RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true);
		if (OidIsValid(parent) && OidIsValid(child))
			crm_purge_guard_check_attached(child, parent);
	}
}

/*
 * refuse_temporary_objects: no permanent object the statements made or
 * changed may depend on a temporary one: the session's end (or DISCARD
 * TEMP) drops it with CASCADE, and with it everything depending on it, a
 * held table's column of a domain, of a view's row type, generated by a
 * function, an aggregate or a text search configuration.  Relations go to
 * refuse_temporary_dependency (a table may, unless protected, held, or of
 * a row type some column uses); anything else is refused, unless it is
 * temporary itself, or belongs to what is (a rule of a temporary view).
 */
static List *
refuse_temporary_objects(void)
{
	ListCell   *lc;
	List	   *relations = NIL;

	/*
	 * (forgotten only once all passed: a nested statement's refusal caught
	 * by the owner's code leaves them for the outer statement's check,
	 * review round 66, B66-2)
	 */
	foreach(lc, changed_objects)
	{
		Oid			classid = linitial_oid(lfirst(lc));
		Oid			objid = lsecond_oid(lfirst(lc));
		char	   *found;

		/* (a relation's row type and an array type go with what they belong to) */
		if (classid == TypeRelationId)
		{
			HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(objid));
			bool		array;
			Oid			typrelid;

			if (!HeapTupleIsValid(tup))
				continue;
			array = IsTrueArrayType((Form_pg_type) GETSTRUCT(tup));
			typrelid = ((Form_pg_type) GETSTRUCT(tup))->typrelid;
			ReleaseSysCache(tup);
			if (array)
				continue;
			if (OidIsValid(typrelid))
			{
				classid = RelationRelationId;
				objid = typrelid;
			}
		}
		/* (an inheritance or partition link: its objid is the child) */
		if (classid == InheritsRelationId)
			classid = RelationRelationId;
		/* (a constraint, default, trigger, policy or rule goes with its relation) */
		if (classid != RelationRelationId)
		{
			char	   *rel = extension_lookup("crm_purge._temporary_dependency_from(oid,oid[])",
											   psprintf("WITH RECURSIVE up(classid, objid) AS ("
														" SELECT %u::pg_catalog.oid, $1"
														" UNION SELECT d.refclassid, d.refobjid FROM up JOIN pg_catalog.pg_depend d"
														" ON d.classid OPERATOR(pg_catalog.=) up.classid AND d.objid OPERATOR(pg_catalog.=) up.objid"
														" AND d.deptype IN ('a', 'i'))"
														" SELECT up.objid::pg_catalog.text FROM up"
														" WHERE up.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass LIMIT 1",
														classid),
											   OIDOID, ObjectIdGetDatum(objid));

			if (rel != NULL)
			{
				classid = RelationRelationId;
				objid = (Oid) strtoul(rel, NULL, 10);
			}
		}
		/*
		 * (a relation: refused as protected, held, composite or a used row
		 * type in words of its own first; then, like anything else, if it
		 * is permanent: a view or table depending on a temporary object is
		 * dropped with it, and so is whatever depends on that at any
		 * depth, a held column of a view's row type over it: B66-1)
		 */
		if (classid == RelationRelationId)
		{
			if (get_rel_relkind(objid) == '\0' || list_member_oid(relations, objid))
				continue;
			relations = lappend_oid(relations, objid);
			/* (nothing temporary reached from it and its partitions: nor from it alone) */
			if (!refuse_temporary_dependency(objid))
				continue;
		}
		found = extension_lookup("crm_purge._temporary_dependency_from(oid,oid[])",
								 psprintf("WITH RECURSIVE up(classid, objid) AS ("
										  " SELECT %u::pg_catalog.oid, $1"
										  " UNION SELECT d.refclassid, d.refobjid FROM up JOIN pg_catalog.pg_depend d"
										  " ON d.classid OPERATOR(pg_catalog.=) up.classid AND d.objid OPERATOR(pg_catalog.=) up.objid"
										  " AND d.deptype IN ('a', 'i'))"
										  " SELECT pg_catalog.format('%%s depend on temporary %%s', pg_catalog.pg_describe_object(%u, $1, 0), t.found)"
										  " FROM crm_purge._temporary_dependency_from(%u, ARRAY[$1]) t(found)"
										  " WHERE t.found IS NOT NULL AND NOT EXISTS (SELECT FROM up JOIN pg_catalog.pg_depend d"
										  " ON d.classid OPERATOR(pg_catalog.=) up.classid AND d.objid OPERATOR(pg_catalog.=) up.objid"
										  " AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass"
										  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) d.refobjid"
										  " WHERE n.nspname OPERATOR(pg_catalog.~) '^pg_(toast_)?temp_')",
										  classid, classid, classid),
								 OIDOID, ObjectIdGetDatum(objid));
		if (found != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot make %s", found),
					 errdetail("The session's end drops the temporary object with CASCADE, and with it this one and every table's column that depends on it."),
					 errhint("Use objects that are not temporary.")));
	}
	changed_objects = NIL;
	return relations;
}

/*
 * refuse_temporary_dependency: an ALTER TABLE (OF a type, a column's type)
 * left a protected or held table depending on a temporary type, collation
 * or table, or an ALTER TYPE a permanent composite type:
 * the session's end drops that with CASCADE, the table or its column with
 * it, rows and all, out of reach of every check (review round 62, B62-1).
 * Returns whether relid (or a partition) depends on a temporary object.
 */
static bool
refuse_temporary_dependency(Oid relid)
{
	char	   *temporary;
	char	   *hold = NULL;
	char	   *user;

	/* (pg_depend first: an ALTER of a table crm_purge does not protect reads none of its catalogs) */
	if (!OidIsValid(relid) || isAnyTempNamespace(get_rel_namespace(relid)) ||
		(temporary = extension_lookup("crm_purge._temporary_dependency(regclass)", "SELECT crm_purge._temporary_dependency($1)",
								 REGCLASSOID, ObjectIdGetDatum(relid))) == NULL)
		return false;
	/*
	 * a permanent composite type given an attribute of a temporary type: a
	 * protected or held table's column of it loses its values at the
	 * session's end (review round 63, B63-1)
	 */
	if (get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot make type %s depend on temporary %s", format_type_be(get_rel_type_id(relid)), temporary),
				 errdetail("The session's end drops it, and the attribute with it, from every table that has a column of this type."),
				 errhint("Use a type that is not temporary.")));
	/* ... nor a table's row type that is some column's type (review round 64, B64-3) */
	user = extension_lookup("crm_purge._temporary_dependency_from(oid,oid[])",
							"SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_catalog.pg_depend d"
							" JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) $1"
							" WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass"
							" AND d.refobjid IN (t.oid, t.typarray) AND d.deptype OPERATOR(pg_catalog.=) 'n' ORDER BY 1 LIMIT 1",
							OIDOID, ObjectIdGetDatum(get_rel_type_id(relid)));
	if (user != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot make table %s depend on temporary %s: its row type is used by %s", crm_purge_relname(relid), temporary, user),
				 errdetail("The session's end drops it, and the column with it from every value of the row type."),
				 errhint("Use a type or table that is not temporary.")));
	if (in_tree_of(relid, protected_table) || in_tree_of(relid, protected_shard) || (hold = held_around(relid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot make table %s depend on temporary %s: it is %s", crm_purge_relname(relid), temporary,
						hold ? "under a legal hold" : "protected by crm_purge"),
				 errdetail("The session's end drops it, and the table or its column with it, rows and all."),
				 errhint("Use a type or table that is not temporary.")));
	return true;
}

/*
 * refuse_unlogged_under: doing (a table made unlogged, or an unlogged part
 * given to it) is refused when relid is protected (or in a protected tree)
 * or held: a crash would empty the unlogged table, past trash and holds.
 */
static void
refuse_unlogged_under(Oid relid, const char *doing, bool part)
{
	char	   *hold;

	/* (on a worker node a shard of a held table is neither protected nor held there: review round 44, C44-1) */
	if (in_tree_of(relid, protected_table) || in_tree_of(relid, protected_shard))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s: it is protected by crm_purge", doing),
				 errdetail("A crash would empty an unlogged table, its rows never reaching the trash."),
				 errhint(part ? "Make the table logged." : "Run crm_purge_unprotect first.")));
	hold = held_around(relid);
	if (hold != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot %s: legal hold %s keeps its rows", doing, hold),
				 errdetail("A crash would empty an unlogged table."),
				 errhint(part ? "Make the table logged." : "Release the hold first (crm_purge_release).")));
}

/* any_unlogged: is relid, or a partition or child of it at any depth, unlogged? */
static bool
any_unlogged(Oid relid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		if (get_rel_persistence(lfirst_oid(lc)) == RELPERSISTENCE_UNLOGGED)
			return true;
	return false;
}

/*
 * refuse_unlogged: ALTER TABLE ... SET UNLOGGED of a protected table (or a
 * partition of one) or a held one: a crash would empty it, past its trash
 * and its holds.
 */
static void
refuse_unlogged(AlterTableStmt *stmt)
{
	ListCell   *lc;
	Oid			relid;
	bool		attaching = false;

	if (stmt->relation == NULL || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_SetUnLogged)
			break;
		/* an unlogged table attached under a protected or held one (or one with an unlogged part): the same */
		if (cmd->subtype == AT_AttachPartition && cmd->def != NULL && IsA(cmd->def, PartitionCmd))
		{
			Oid			child = RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true);

			if (OidIsValid(child) && any_unlogged(child))
			{
				attaching = true;
				break;
			}
		}
		/* and one made a child (INHERIT): the parent is the one protected or held */
		if (cmd->subtype == AT_AddInherit && cmd->def != NULL && IsA(cmd->def, RangeVar))
		{
			Oid			child = RangeVarGetRelid(stmt->relation, NoLock, true);
			Oid			parent = RangeVarGetRelid((RangeVar *) cmd->def, NoLock, true);

			if (OidIsValid(child) && OidIsValid(parent) && any_unlogged(child))
				refuse_unlogged_under(parent, psprintf("make an unlogged table a child of table %s",
													   crm_purge_relname(parent)), true);
		}
	}
	if (lc == NULL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) ||
		(get_rel_relkind(relid) != RELKIND_RELATION && get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE))
		return;
	refuse_unlogged_under(relid, attaching ? psprintf("attach an unlogged table to table %s", crm_purge_relname(relid)) :
						  psprintf("make table %s unlogged", crm_purge_relname(relid)), false);
}

/*
 * refuse_unlogged_part: CREATE UNLOGGED TABLE ... PARTITION OF (or
 * INHERITS) a protected or held table: a crash would empty that part.
 */
static void
refuse_unlogged_part(CreateStmt *stmt)
{
	ListCell   *lc;

	if (stmt->relation == NULL || stmt->relation->relpersistence != RELPERSISTENCE_UNLOGGED ||
		stmt->inhRelations == NIL || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	foreach(lc, stmt->inhRelations)
	{
		Oid			parent = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);

		if (!OidIsValid(parent))
			continue;
		refuse_unlogged_under(parent, psprintf("make an unlogged part of table %s", crm_purge_relname(parent)), true);
	}
}

/* reserved_name: is name one of crm_purge's function names (crm_purge_...)? */
static bool
reserved_name(const char *name)
{
	return name != NULL && strncmp(name, "crm_purge", 9) == 0;
}

/*
 * refuse_shadowing: a function named crm_purge_... that is not the
 * extension's.  An overload (crm_purge_erase(text, text, text) in public,
 * where a database's owner may create) wins over crm_purge's for the
 * documented calls with string literals, and runs with the caller's rights.
 */
static void
refuse_shadowing(Node *parsetree)
{
	const char *name = NULL;
	const char *kind = "function";

	if (creating_extension && CurrentExtensionObject == get_extension_oid("crm_purge", true))
		return;
	if (IsA(parsetree, CreateFunctionStmt))
	{
		name = strVal(llast(((CreateFunctionStmt *) parsetree)->funcname));
		kind = ((CreateFunctionStmt *) parsetree)->is_procedure ? "procedure" : "function";
	}
	else if (IsA(parsetree, DefineStmt) && ((DefineStmt *) parsetree)->kind == OBJECT_AGGREGATE)
	{
		name = strVal(llast(((DefineStmt *) parsetree)->defnames));
		kind = "aggregate";
	}
	else if (IsA(parsetree, RenameStmt) &&
			 (((RenameStmt *) parsetree)->renameType == OBJECT_FUNCTION ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_PROCEDURE ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_ROUTINE ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_AGGREGATE))
		name = ((RenameStmt *) parsetree)->newname;
	else if (IsA(parsetree, CreateRangeStmt))
	{
		/*
		 * Nor a type whose functions take its name: a range type's
		 * constructors (and its multirange's)
		 */
		ListCell   *lc;

		name = strVal(llast(((CreateRangeStmt *) parsetree)->typeName));
		kind = "type";
		foreach(lc, ((CreateRangeStmt *) parsetree)->params)
		{
			DefElem    *d = lfirst_node(DefElem, lc);

			if (strcmp(d->defname, "multirange_type_name") == 0 && !reserved_name(name))
				name = strVal(llast(defGetQualifiedName(d)));
		}
	}
	else if (IsA(parsetree, RenameStmt) &&
			 (((RenameStmt *) parsetree)->renameType == OBJECT_TYPE ||
			  ((RenameStmt *) parsetree)->renameType == OBJECT_DOMAIN))
	{
		name = ((RenameStmt *) parsetree)->newname;
		kind = "type";
	}
	else if (IsA(parsetree, CompositeTypeStmt) || IsA(parsetree, CreateEnumStmt) ||
			 IsA(parsetree, CreateDomainStmt) ||
			 (IsA(parsetree, DefineStmt) && ((DefineStmt *) parsetree)->kind == OBJECT_TYPE))
	{
		name = IsA(parsetree, CompositeTypeStmt) ? ((CompositeTypeStmt *) parsetree)->typevar->relname :
			IsA(parsetree, CreateEnumStmt) ? strVal(llast(((CreateEnumStmt *) parsetree)->typeName)) :
			IsA(parsetree, CreateDomainStmt) ? strVal(llast(((CreateDomainStmt *) parsetree)->domainname)) :
			strVal(llast(((DefineStmt *) parsetree)->defnames));
		kind = "type";
	}
	else
	{
		/*
		 * Nor a relation: a view crm_purge_overview in a schema ahead on a
		 * superuser's path ("$user") read in place of crm_purge's.  crm_purge
		 * makes its own in crm_purge and crm_trash, where only it creates.
		 */
		RangeVar   *rv = NULL;

		if (IsA(parsetree, CreateStmt))
			rv = ((CreateStmt *) parsetree)->relation;
		else if (IsA(parsetree, CreateForeignTableStmt))
			rv = ((CreateForeignTableStmt *) parsetree)->base.relation;
		else if (IsA(parsetree, ViewStmt))
			rv = ((ViewStmt *) parsetree)->view;
		else if (IsA(parsetree, CreateTableAsStmt))
			rv = ((CreateTableAsStmt *) parsetree)->into->rel;
		else if (IsA(parsetree, CreateSeqStmt))
			rv = ((CreateSeqStmt *) parsetree)->sequence;
		else if (IsA(parsetree, RenameStmt) &&
				 (((RenameStmt *) parsetree)->renameType == OBJECT_TABLE ||
				  ((RenameStmt *) parsetree)->renameType == OBJECT_VIEW ||
				  ((RenameStmt *) parsetree)->renameType == OBJECT_MATVIEW ||
				  ((RenameStmt *) parsetree)->renameType == OBJECT_FOREIGN_TABLE ||
				  ((RenameStmt *) parsetree)->renameType == OBJECT_SEQUENCE ||
				  /* (ALTER INDEX ... RENAME renames any relation) */
				  ((RenameStmt *) parsetree)->renameType == OBJECT_INDEX))
		{
			name = ((RenameStmt *) parsetree)->newname;
			rv = ((RenameStmt *) parsetree)->relation;
		}
		if (rv == NULL ||
			(rv->schemaname != NULL &&
			 (strcmp(rv->schemaname, CRM_PURGE_SCHEMA) == 0 || strcmp(rv->schemaname, CRM_TRASH_SCHEMA) == 0)))
			return;
		if (name == NULL)
			name = rv->relname;
		kind = "relation";
	}
	if (!reserved_name(name))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_RESERVED_NAME),
			 errmsg("cannot make %s \"%s\": names starting with crm_purge are crm_purge's", kind, name),
			 errdetail("Another %s of that name (in a schema on the search_path) would be used in place of crm_purge's by whoever calls it.", kind),
			 errhint("Choose another name.")));
}

/*
 * column_change_target: the table whose columns parsetree renames, adds,
 * drops or retypes (*inh: its inheritors too), or InvalidOid.  And the
 * table it renames, moves to another schema, makes OF a type or an
 * inheritor: on a Citus worker node, a shard so renamed away (back
 * afterwards) is none by name to the checks, and one made OF a type has
 * its columns changed by ALTER TYPE ... CASCADE (review round 57, C57-1,
 * C57-2).
 */
static bool relation_kind(ObjectType type);

static Oid
column_change_target(Node *parsetree, bool *inh)
{
	RangeVar   *rel = NULL;
	bool		whole = false;
	Oid			relid;

	if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN)
		rel = ((RenameStmt *) parsetree)->relation;
	/* (ALTER INDEX, VIEW, SEQUENCE ... RENAME TO takes a table too: review round 58, C58-1) */
	else if (IsA(parsetree, RenameStmt) && relation_kind(((RenameStmt *) parsetree)->renameType))
		rel = ((RenameStmt *) parsetree)->relation, whole = true;
	else if (IsA(parsetree, AlterObjectSchemaStmt) && relation_kind(((AlterObjectSchemaStmt *) parsetree)->objectType))
		rel = ((AlterObjectSchemaStmt *) parsetree)->relation, whole = true;
	else if (IsA(parsetree, AlterTableStmt) && ((AlterTableStmt *) parsetree)->objtype == OBJECT_TABLE)
	{
		ListCell   *lc;

		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		{
			AlterTableType t = lfirst_node(AlterTableCmd, lc)->subtype;

			if (t == AT_AddColumn || t == AT_DropColumn || t == AT_AlterColumnType)
				rel = ((AlterTableStmt *) parsetree)->relation;
			else if ((t == AT_AddOf || t == AT_DropOf || t == AT_AddInherit || t == AT_DropInherit) && rel == NULL)
				rel = ((AlterTableStmt *) parsetree)->relation, whole = true;
		}
	}
	if (rel == NULL)
		return InvalidOid;
	*inh = rel->inh && !whole;
	relid = RangeVarGetRelid(rel, NoLock, true);
	/* (a real index, view or sequence: no table's columns or name) */
	if (whole && OidIsValid(relid) && get_rel_relkind(relid) != RELKIND_RELATION &&
		get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE && get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return InvalidOid;
	return relid;
}

/* relation_kind: an ALTER of this object type names a relation of any kind */
static bool
relation_kind(ObjectType type)
{
	return type == OBJECT_TABLE || type == OBJECT_FOREIGN_TABLE || type == OBJECT_INDEX ||
		type == OBJECT_SEQUENCE || type == OBJECT_VIEW || type == OBJECT_MATVIEW;
}

/* columns_changed: does parsetree change columns (not only a table's name, schema, type or parent)? */
static bool
columns_changed(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, RenameStmt))
		return ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN;
	if (!IsA(parsetree, AlterTableStmt))
		return false;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
	{
		AlterTableType t = lfirst_node(AlterTableCmd, lc)->subtype;

		if (t == AT_AddColumn || t == AT_DropColumn || t == AT_AlterColumnType)
			return true;
	}
	return false;
}

/*
 * citus_typed_shard: on a Citus worker node, a Citus table or shard (or a
 * table with crm_purge's trash triggers) made OF the composite type that
 * parsetree, an ALTER TYPE ... ATTRIBUTE, changes, or InvalidOid: CASCADE
 * changes its columns, and the coordinator hands out no tag for that
 * (review round 57, C57-1).
 */
static Oid
citus_typed_shard(Node *parsetree)
{
	Oid			relid;
	ListCell   *lc;

	if (!OidIsValid(relid = altered_composite(parsetree)))
		return InvalidOid;
	foreach(lc, typed_tables(relid))
		if (crm_purge_citus_known_shard(lfirst_oid(lc)) || crm_purge_citus_distributed(lfirst_oid(lc)) ||
			crm_purge_trash_trigger_named(lfirst_oid(lc), NULL))
			return lfirst_oid(lc);
	return InvalidOid;
}

/*
 * citus_column_change: a role's change of a Citus table's columns.  On the
 * coordinator, once checked, it hands the worker nodes its tags; on a
 * worker node, a change reaching a shard or table (through a parent of the
 * role's too: review round 56, C56-1) that no tag names is refused: the
 * role changed its shards' columns there, where no hold is recorded, and a
 * request deleted held rows (review round 55, C55-2).
 */
static void
citus_column_change(Node *parsetree)
{
	Oid			relid;
	Oid			refused;
	bool		inh = true;

	if (superuser() || !crm_purge_citus_present() || !OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	if (crm_purge_citus_group() > 0 && OidIsValid(refused = citus_typed_shard(parsetree)) && crm_purge_have_secret())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the columns of %s on a Citus worker node", crm_purge_relname(refused)),
				 errdetail("It is made OF the type, and the coordinator checks changes of its columns against the legal holds; a worker node does not have them."),
				 errhint("Make the change on the coordinator, with DDL propagation on.")));
	/*
	 * (nor a table of the role's made a child of a Citus table or shard
	 * there: a superuser's change of the table then reached its rows, and
	 * checked its CHECKs as the superuser: review round 69, C69-2; Citus
	 * has no inheritance of its tables)
	 */
	if (crm_purge_citus_group() >= 0 && IsA(parsetree, AlterTableStmt))
	{
		ListCell   *lc;

		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
			Oid			parent;

			if (cmd->subtype != AT_AddInherit || cmd->def == NULL || !IsA(cmd->def, RangeVar))
				continue;
			parent = RangeVarGetRelid((RangeVar *) cmd->def, NoLock, true);
			if (OidIsValid(parent) && (crm_purge_citus_distributed(parent) || crm_purge_citus_known_shard(parent) ||
									   crm_purge_trash_trigger_named(parent, NULL)))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot make a table a child of %s on a Citus node", crm_purge_relname(parent)),
						 errdetail("It is a Citus table or shard; a change of it would reach the child's rows."),
						 errhint("Citus tables have no inheritance children.")));
		}
	}
	if (!OidIsValid(relid = column_change_target(parsetree, &inh)))
		return;
	/* (a shard the coordinator holds is checked as a worker node's: review round 71, C71-2) */
	if (crm_purge_citus_group() == 0 && !crm_purge_citus_known_shard(relid))
		crm_purge_citus_hand_out_ddl(relid, inh, parsetree);
	else if (crm_purge_have_secret() && OidIsValid(refused = crm_purge_citus_ddl_refused(relid, inh, parsetree)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 !columns_changed(parsetree) ?
				 errmsg("cannot rename, move or change the type or parent of %s on a Citus worker node", crm_purge_relname(refused)) :
				 errmsg("cannot change the columns of %s on a Citus worker node", crm_purge_relname(refused)),
				 errdetail("The coordinator checks such changes against the legal holds; a worker node does not have them."),
				 errhint("Make the change on the coordinator, with DDL propagation on.")));
}

static void refuse_swallowing_trigger(Node *parsetree);
static bool moves_rows(Oid relid, Bitmapset *updated);
static bool swallows_inserts(Oid relid);

/*
 * crm_purge_before_utility: from the ProcessUtility hook, before the statement
 * runs: the checks above.
 */
void
crm_purge_before_utility(Node *parsetree, ProcessUtilityContext context)
{
	refuse_resharding_drop(parsetree);
	refuse_shadowing(parsetree);
	if (IsA(parsetree, CreateStmt))
		refuse_unlogged_part((CreateStmt *) parsetree);
	if (drops_this_extension(parsetree))
	{
		drop_cron_jobs();
		/* (its worker, mid-tick, would take the tables' locks in another order: a deadlock) */
		crm_purge_release_database(MyDatabaseId);
	}
	release_databases(parsetree);
	if (IsA(parsetree, TruncateStmt))
	{
		refuse_shard_truncate((TruncateStmt *) parsetree);
		refuse_superuser_truncate_code((TruncateStmt *) parsetree);
	}
	if (IsA(parsetree, DefineStmt))
		refuse_superuser_initcond((DefineStmt *) parsetree);
	refuse_superuser_literals(parsetree);
	refuse_worker_trash_type_change(parsetree);
	if (IsA(parsetree, AlterTableStmt))
	{
		refuse_superuser_citus_alter((AlterTableStmt *) parsetree);
		refuse_local_table_key((AlterTableStmt *) parsetree);
		refuse_attaching_protected((AlterTableStmt *) parsetree);
		refuse_rekeying_guarded((AlterTableStmt *) parsetree);
		refuse_unlogged((AlterTableStmt *) parsetree);
	}
	if (!drops_this_extension(parsetree))
		refuse_losing_held(parsetree);
	refuse_trash_trigger_change(parsetree);
	refuse_swallowing_trigger(parsetree);
	if (IsA(parsetree, CreatePublicationStmt))
		refuse_trash_publication((CreatePublicationStmt *) parsetree);
	refuse_altering_typed(parsetree);
	refuse_retyping_held(parsetree);
	refuse_role_changes(parsetree);
	refuse_on_behalf(parsetree, context);
	citus_column_change(parsetree);
}

/*
 * moves_rows: may an UPDATE setting updated (attnums offset by
 * FirstLowInvalidHeapAttributeNumber) of partitioned relid move rows?  Yes
 * when it sets a partition key column of any level, or when a BEFORE UPDATE
 * row trigger may set one (review round 58, A58-2).
 */
static bool
moves_rows(Oid relid, Bitmapset *updated)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Relation	rel;
		PartitionKey key;
		int			i;
		bool		moves = false;

		rel = relation_open(lfirst_oid(lc), AccessShareLock);
		if (rel->trigdesc != NULL && rel->trigdesc->trig_update_before_row)
		{
			relation_close(rel, AccessShareLock);
			return true;
		}
		if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		{
			relation_close(rel, AccessShareLock);
			continue;
		}
		key = RelationGetPartitionKey(rel);
		for (i = 0; i < key->partnatts && !moves; i++)
		{
			AttrNumber	att = key->partattrs[i];

			/* (an expression: any column may move a row; a lower level's column, by name) */
			if (att == 0)
				moves = true;
			else
			{
				AttrNumber	top = lfirst_oid(lc) == relid ? att :
					get_attnum(relid, NameStr(TupleDescAttr(RelationGetDescr(rel), att - 1)->attname));

				moves = top == InvalidAttrNumber ||
					bms_is_member(top - FirstLowInvalidHeapAttributeNumber, updated);
			}
		}
		relation_close(rel, AccessShareLock);
		if (moves)
			return true;
	}
	return false;
}

/* swallows_inserts: has a table of relid's tree a BEFORE INSERT row trigger (which may return NULL)? */
static bool
swallows_inserts(Oid relid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Relation	rel = relation_open(lfirst_oid(lc), AccessShareLock);
		bool		swallows = rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row;

		relation_close(rel, AccessShareLock);
		if (swallows)
			return true;
	}
	return false;
}

/*
 * refuse_swallowing_trigger: under a hold, a new BEFORE INSERT or BEFORE
 * UPDATE row trigger on a table of a partition tree: made by the owner's
 * code during an UPDATE (after crm_purge_refuse_swallowing_move looked), it
 * swallowed the rows moved to its partition (review round 58, A58-3).
 */
static void
refuse_swallowing_trigger(Node *parsetree)
{
	CreateTrigStmt *stmt;
	Oid			relid;
	char	   *hold;

	/* (nor attached with one: the UPDATE routes rows to a partition attached meanwhile) */
	if (IsA(parsetree, AlterTableStmt) && ((AlterTableStmt *) parsetree)->relation != NULL &&
		!superuser() && OidIsValid(get_extension_oid("crm_purge", true)))
	{
		ListCell   *lc;

		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
			Oid			parent;
			Oid			child;

			if (cmd->subtype != AT_AttachPartition || cmd->def == NULL || !IsA(cmd->def, PartitionCmd) ||
				!OidIsValid(parent = RangeVarGetRelid(((AlterTableStmt *) parsetree)->relation, NoLock, true)) ||
				!OidIsValid(child = RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true)) ||
				get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE ||
				(!swallows_inserts(child) && !moves_rows(child, NULL)) || (hold = held_around(parent)) == NULL)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot attach table %s to table %s: legal hold %s keeps rows of it, and the table has a BEFORE INSERT or UPDATE row trigger",
							crm_purge_relname(child), crm_purge_relname(parent), hold),
					 errdetail("A row moved to another partition is deleted from its own; a trigger that skips its insert would lose it."),
					 errhint("Attach it after the hold is released.")));
		}
		return;
	}
	if (!IsA(parsetree, CreateTrigStmt))
		return;
	stmt = (CreateTrigStmt *) parsetree;
	if (!stmt->row || stmt->timing != TRIGGER_TYPE_BEFORE || stmt->relation == NULL ||
		(stmt->events & (TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE)) == 0 ||
		superuser() || !OidIsValid(get_extension_oid("crm_purge", true)) ||
		!OidIsValid(relid = RangeVarGetRelid(stmt->relation, NoLock, true)) ||
		(get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE && !get_rel_relispartition(relid)) ||
		(hold = held_around(relid)) == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("cannot create a BEFORE INSERT or UPDATE row trigger on table %s: legal hold %s keeps rows of its partitioned table",
					crm_purge_relname(relid), hold),
			 errdetail("A row moved to another partition is deleted from its own; a trigger that skips its insert would lose it."),
			 errhint("Create the trigger after the hold is released.")));
}

/*
 * crm_purge_refuse_swallowing_move: an UPDATE (or MERGE) that may move rows
 * between partitions of a held table, when a partition has a BEFORE INSERT
 * row trigger: a moved row is deleted from its partition, and an insert
 * the trigger skips (returning NULL) loses it; crm_purge's triggers see no
 * deletion (review round 57, A57-4).
 */
void
crm_purge_refuse_swallowing_move(PlannedStmt *stmt)
{
	ListCell   *lc;

	if (stmt->resultRelations == NIL || stmt->commandType == CMD_UTILITY)
		return;
	/*
	 * every result relation: an UPDATE in a WITH of another statement too
	 * (review round 59, B59-1); one with updated columns is an UPDATE's (or
	 * an upsert's, which moves no row: counted all the same)
	 */
	foreach(lc, stmt->resultRelations)
	{
		RangeTblEntry *rte = rt_fetch(lfirst_int(lc), stmt->rtable);
		char	   *hold;

		if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_PARTITIONED_TABLE ||
			(stmt->commandType != CMD_MERGE && bms_is_empty(rte->updatedCols)) ||
			(stmt->commandType != CMD_MERGE && !moves_rows(rte->relid, rte->updatedCols)) ||
			!swallows_inserts(rte->relid) || !OidIsValid(get_extension_oid("crm_purge", true)) ||
			(hold = held_around(rte->relid)) == NULL)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot move rows between partitions of table %s: legal hold %s keeps rows of it, and a partition has a BEFORE INSERT row trigger",
						crm_purge_relname(rte->relid), hold),
				 errdetail("A moved row is deleted from its partition; a trigger that skips its insert would lose it, held or not."),
				 errhint("Update the partition key columns after the hold is released, or drop the BEFORE INSERT trigger.")));
	}
}

/* pin_rangevar: rv (an existing relation) named with its schema; true when changed */
static bool
pin_rangevar(RangeVar *rv)
{
	Oid			relid;

	if (rv == NULL || rv->schemaname != NULL || rv->catalogname != NULL)
		return false;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return false;
	rv->schemaname = get_namespace_name(get_rel_namespace(relid));
	return rv->schemaname != NULL;
}

/*
 * crm_purge_pin_names: a copy of parsetree whose relation names are
 * qualified with the schemas they name now, or NULL when none needed it:
 * ALTER TABLE (its partitions and parents too), RENAME, SET SCHEMA,
 * CREATE TABLE's parents and CREATE TRIGGER.
 */
Node *
crm_purge_pin_names(Node *parsetree)
{
	Node	   *copy;
	bool		changed = false;
	ListCell   *lc;

	if (!IsA(parsetree, AlterTableStmt) && !IsA(parsetree, RenameStmt) && !IsA(parsetree, AlterObjectSchemaStmt) &&
		!IsA(parsetree, CreateStmt) && !IsA(parsetree, CreateTrigStmt))
		return NULL;
	if (!IsTransactionState() || !OidIsValid(get_extension_oid("crm_purge", true)))
		return NULL;
	copy = copyObject(parsetree);
	if (IsA(copy, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) copy;

		changed |= pin_rangevar(stmt->relation);
		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if ((cmd->subtype == AT_AttachPartition || cmd->subtype == AT_DetachPartition ||
				 cmd->subtype == AT_DetachPartitionFinalize) && cmd->def != NULL && IsA(cmd->def, PartitionCmd))
				changed |= pin_rangevar(((PartitionCmd *) cmd->def)->name);
			else if ((cmd->subtype == AT_AddInherit || cmd->subtype == AT_DropInherit) &&
					 cmd->def != NULL && IsA(cmd->def, RangeVar))
				changed |= pin_rangevar((RangeVar *) cmd->def);
		}
	}
	else if (IsA(copy, RenameStmt))
		changed |= pin_rangevar(((RenameStmt *) copy)->relation);
	else if (IsA(copy, AlterObjectSchemaStmt))
		changed |= pin_rangevar(((AlterObjectSchemaStmt *) copy)->relation);
	else if (IsA(copy, CreateStmt))
	{
		foreach(lc, ((CreateStmt *) copy)->inhRelations)
			changed |= pin_rangevar(lfirst_node(RangeVar, lc));
	}
	else if (IsA(copy, CreateTrigStmt))
		changed |= pin_rangevar(((CreateTrigStmt *) copy)->relation);
	return changed ? copy : NULL;
}

/* crm_purge_attaches: is parsetree an ALTER TABLE ... ATTACH PARTITION (1) or not (0)? */
int
crm_purge_attaches(Node *parsetree)
{
	ListCell   *lc;

	if (!IsA(parsetree, AlterTableStmt))
		return 0;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		if (lfirst_node(AlterTableCmd, lc)->subtype == AT_AttachPartition)
			return 1;
	return 0;
}

/*
 * crm_purge_refuse_attach_tricks: an ATTACH PARTITION names its partition
 * before it runs the owner's partition bound, and PostgreSQL opens the
 * partition by that name after: a bound that created a table under a name
 * that did not exist, or renamed a protected or held table to it, attached
 * a table no check looked at (review round 60, A60-2, A60-3).  The
 * partition must exist when the statement starts, and no table is made,
 * renamed or moved while one runs.
 */
void
crm_purge_refuse_attach_tricks(Node *parsetree, bool in_attach)
{
	ListCell   *lc;

	if (!OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	if (in_attach && (IsA(parsetree, CreateStmt) || IsA(parsetree, CreateTableAsStmt) ||
					  (IsA(parsetree, RenameStmt) && relation_kind(((RenameStmt *) parsetree)->renameType)) ||
					  (IsA(parsetree, AlterObjectSchemaStmt) &&
					   relation_kind(((AlterObjectSchemaStmt *) parsetree)->objectType))))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot make, rename or move a table while ALTER TABLE ... ATTACH PARTITION runs"),
				 errdetail("The partition is named before its bound runs and opened after: the table attached could be another than the one checked."),
				 errhint("Make the change before or after the ATTACH.")));
	if (!crm_purge_attaches(parsetree))
		return;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AttachPartition && cmd->def != NULL && IsA(cmd->def, PartitionCmd) &&
			!OidIsValid(RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" does not exist", ((PartitionCmd *) cmd->def)->name->relname)));
	}
}
