/*
 * restore.c - crm_purge_restore and crm_purge_restore_deletion.
 *
 * The rows are read from the trash and inserted into the live table by one
 * statement run as the caller: the filter, the trash's row-level security
 * (own rows, or all for admins), the live table's privileges, policies and
 * triggers all apply to the caller.  Only removing the restored rows from the
 * trash runs as the extension owner, who owns the trash.  After rows are
 * restored, the child rows ON DELETE SET NULL unlinked from them
 * (crm_purge.unlinks, see crm_purge.unlink_trigger in trash.c) are linked
 * back to them.
 */
#include "postgres.h"

#include "catalog/pg_inherits.h"

#include "catalog/namespace.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "crm_purge.h"


/* protected_trash: the trash of a protected table; an error if it is not protected. */
static Oid
protected_trash(Oid relid)
{
	Oid			trashid = crm_purge_trash_of(relid);

	if (!OidIsValid(trashid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not protected by crm_purge", crm_purge_relname(relid)),
				 errhint("Protect it with crm_purge_protect first; only rows deleted since then can be restored.")));
	return trashid;
}

/* int8_arrays_result: the two int8[] a one-row SPI result holds, or false when NULL. */
static bool
int8_arrays_result(Datum *first, Datum *second)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	if (isnull)
		return false;
	*first = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
	*second = PointerGetDatum(PG_DETOAST_DATUM_COPY(SPI_getbinval(SPI_tuptable->vals[0],
																  SPI_tuptable->tupdesc, 2, &isnull)));
	return true;
}

static void restore_done(Oid relid, Oid trashid, Datum *ids, Datum *nums, int64 n, int64 deletion,
						 List **links);
static void check_citus_restorer(Oid relid);
static void relink_children(List *links);


/*
 * The restoring statement runs in a subtransaction so that a key conflict
 * can be reported as what it is for the user.
 */
typedef struct RestoreQuery
{
	const char *sql;
	int			nargs;
	Oid		   *argtypes;
	Datum	   *values;
	bool		batch;			/* several rows: each must come back as it was */
	bool		changed;		/* one came back changed: rolled back */
} RestoreQuery;

/*
 * run_restore_query: the restoring statement, run by
 * crm_purge_in_subtransaction().  Its rows: the trash row's names, whether
 * a row came back under its key, and whether exactly as it was.
 */
static void
run_restore_query(void *arg)
{
	RestoreQuery *q = arg;
	int			rc = SPI_execute_with_args(q->sql, q->nargs, q->argtypes, q->values, NULL, false, 0);
	uint64		k;

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "restore query failed: %s", SPI_result_code_string(rc));
	/*
	 * Several rows in one statement are matched to what came back by key:
	 * a trigger (any, made or dropped during the statement, on a Citus
	 * shard too) could skip one row and write another under its key.  A
	 * row back under its key but changed rolls the statement back; they go
	 * again one per statement (review round 68, A68-1, C68-1).
	 */
	for (k = 0; q->batch && k < SPI_processed; k++)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 3, &isnull)) &&
			!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 4, &isnull)))
		{
			q->changed = true;
			elog(ERROR, "a restored row came back changed");
		}
	}
}

/*
 * execute_restore: runs the restoring statement in a subtransaction; a key,
 * foreign key, NOT NULL or CHECK violation becomes an error that says what
 * to do, anything else is thrown again.  false: a batch's row came back
 * changed, and the statement was rolled back.
 */
static bool
execute_restore(const char *sql, int nargs, Oid *argtypes, Datum *values,
				Oid relid, bool batch)
{
	RestoreQuery q = {sql, nargs, argtypes, values, batch, false};
	ErrorData  *edata = crm_purge_in_subtransaction(run_restore_query, &q);

	if (edata == NULL)
		return true;
	if (q.changed)
	{
		FreeErrorData(edata);
		return false;
	}
	if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("cannot restore into table %s: a live row has the same key",
						crm_purge_relname(relid)),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("Nothing was restored. Use on_conflict => 'skip' to restore the other rows, or remove the live row first.")));
	if (edata->sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("cannot restore into table %s: a row refers to a row that is not there", crm_purge_relname(relid)),
				 errdetail_internal("%s%s%s", edata->message, edata->detail ? " " : "", edata->detail ? edata->detail : ""),
				 errhint("Nothing was restored. Restore the referenced rows first: crm_purge_restore_deletion(deletion_id) restores a whole deletion, parents first.")));
	/* a partitioned table without a partition for the row (detached, dropped) */
	if (edata->sqlerrcode == ERRCODE_CHECK_VIOLATION && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE &&
		strncmp(edata->message, "no partition of relation ", 25) == 0)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("cannot restore into table %s: no partition takes a trashed row", crm_purge_relname(relid)),
				 errdetail_internal("%s%s%s", edata->message, edata->detail ? " " : "", edata->detail ? edata->detail : ""),
				 errhint("Nothing was restored. Create or attach the partition for it (or a default partition), or restore the other rows with a narrower filter.")));
	if (edata->sqlerrcode == ERRCODE_NOT_NULL_VIOLATION || edata->sqlerrcode == ERRCODE_CHECK_VIOLATION)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("cannot restore into table %s: a trashed row does not fit the table as it is now", crm_purge_relname(relid)),
				 errdetail_internal("%s%s%s", edata->message, edata->detail ? " " : "", edata->detail ? edata->detail : ""),
				 errhint("Nothing was restored. A column or constraint added since the row was deleted refuses it: give the column a DEFAULT, relax the constraint, or restore the other rows with a narrower filter.")));
	ReThrowError(edata);
}

/* the trash rows a restore's statements put back (ids, nums), of rows tried */
typedef struct Restored
{
	Datum	   *ids;
	Datum	   *nums;
	int64		n;
	int64		size;
	uint64		rows;
} Restored;

/* collect_restored: adds the last restore statement's restored rows (SPI_tuptable) to done */
static void
collect_restored(Restored *done)
{
	uint64		k;

	for (k = 0; k < SPI_processed; k++)
	{
		bool		isnull;

		done->rows++;
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 3, &isnull)))
			continue;
		if (done->n == done->size)
		{
			done->size = Max(16, done->size * 2);
			done->ids = done->ids ? repalloc(done->ids, sizeof(Datum) * done->size) : palloc(sizeof(Datum) * done->size);
			done->nums = done->nums ? repalloc(done->nums, sizeof(Datum) * done->size) : palloc(sizeof(Datum) * done->size);
		}
		done->ids[done->n] = SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull);
		done->nums[done->n] = SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2, &isnull);
		done->n++;
	}
}

/*
 * user_before_insert_trigger: has relid (or a partition of it) a BEFORE
 * INSERT row trigger not crm_purge's?  Only to spare a batch that would be
 * rolled back: what came back is checked anyway (a Citus shard's triggers
 * are not seen here).
 */
static bool
user_before_insert_trigger(Oid relid)
{
	/* (pg_partition_tree has no row for a table that is not partitioned) */
	return SPI_execute_with_args("SELECT 1 FROM (SELECT $1::pg_catalog.oid AS relid UNION SELECT r.relid FROM pg_catalog.pg_partition_tree($1) r) p"
								 " JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) p.relid"
								 " JOIN pg_catalog.pg_proc f ON f.oid OPERATOR(pg_catalog.=) t.tgfoid"
								 " WHERE NOT t.tgisinternal AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 7) OPERATOR(pg_catalog.=) 7"
								 " AND f.pronamespace OPERATOR(pg_catalog.<>) 'crm_purge'::pg_catalog.regnamespace LIMIT 1",
								 1, (Oid[]) {REGCLASSOID}, (Datum[]) {ObjectIdGetDatum(relid)}, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1;
}

/*
 * restore_rows: restores the newest trashed copy of each key matching the
 * filter (and, if deletion is non-zero, that deletion); with skip, rows
 * whose key is live stay in the trash.  Returns the rows restored.  Expects
 * SPI to be connected.
 *
 * Trash rows are named by (deletion_id, trash_row) from one statement to
 * the next, never by ctid (which names a row of one segment only).
 */
static int64
restore_rows(Oid relid, Oid trashid, const char *filter, int64 deletion, bool skip, List **links)
{
	Relation	live;
	TupleDesc	tupdesc;
	AttrNumber	pk[INDEX_MAX_KEYS];
	int			npk;
	StringInfoData cols,
				tcols,
				scols,
				aliases,
				ialiases,
				pkcols,
				retcols,
				pkjoin,
				chosen,
				sql;
	int			i,
				ncols = 0;
	bool		one_by_one;
	Restored	done = {NULL, NULL, 0, 0, 0};
	CrmPurgeForeignWrite w;
	int64		guard_skips_before;
	Oid			argtypes[4] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, OIDARRAYOID};
	Datum		values[4] = {Int64GetDatum(deletion), (Datum) 0, (Datum) 0, (Datum) 0};
	int64		n;
	CrmPurgeIdentity id;
	const char *named = crm_purge_trash_rows_named("t", 2);
	bool		citus = crm_purge_citus_distributed(trashid);
	Oid			restorer = InvalidOid;
	int			nest = 0;

	live = table_open(relid, AccessShareLock);
	tupdesc = RelationGetDescr(live);
	/*
	 * The statement's own names for everything (crm_purge_s, crm_purge_c1,
	 * ...): a column named like one of them (i, crm_purge_id) once changed
	 * what it read (review round 68, B68-2).
	 */
	initStringInfo(&cols);
	initStringInfo(&tcols);
	initStringInfo(&scols);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(tupdesc, i);

		if (a->attisdropped || a->attgenerated)
			continue;
		ncols++;
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", quote_identifier(NameStr(a->attname)));
		appendStringInfo(&tcols, "%st.%s", tcols.len ? ", " : "", quote_identifier(NameStr(a->attname)));
		appendStringInfo(&scols, "%ss.crm_purge_c%d", scols.len ? ", " : "", ncols);
	}
	npk = crm_purge_primary_key(live, pk, false);
	initStringInfo(&pkcols);
	initStringInfo(&retcols);
	initStringInfo(&pkjoin);
	initStringInfo(&aliases);
	initStringInfo(&ialiases);
	appendStringInfoString(&aliases, "crm_purge_id, crm_purge_row");
	for (i = 0; i < npk; i++)
	{
		Form_pg_attribute a = TupleDescAttr(tupdesc, pk[i] - 1);
		const char *col = quote_identifier(NameStr(a->attname));

		/* (a generated key too: it is in the trash, and comes back computed again, B68-1) */
		appendStringInfo(&pkcols, "%st.%s", i ? ", " : "", col);
		appendStringInfo(&aliases, ", crm_purge_k%d", i + 1);
		appendStringInfo(&ialiases, "crm_purge_k%d, ", i + 1);
		/*
		 * A domain's key comes back as its base type: on Citus the coordinator
		 * reads the RETURNING rows as the extension owner, and reading a
		 * domain runs its CHECK (its owner's code).
		 */
		if (get_typtype(a->atttypid) == TYPTYPE_DOMAIN)
		{
			int32		typmod = a->atttypmod;
			Oid			base = getBaseTypeAndTypmod(a->atttypid, &typmod);

			appendStringInfo(&retcols, "%s::%s, ", col,
							 format_type_extended(base, typmod, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
		}
		else
			appendStringInfo(&retcols, "%s, ", col);
		/* (the key's own equality: "=" is not looked up in the caller's search_path) */
		appendStringInfo(&pkjoin, "%ss.crm_purge_k%d %s i.crm_purge_k%d", i ? " AND " : "", i + 1,
						 crm_purge_eq_operator(a->atttypid), i + 1);
	}
	for (i = 1; i <= ncols; i++)
		appendStringInfo(&aliases, ", crm_purge_c%d", i);
	appendStringInfoString(&aliases, ", crm_purge_image");
	table_close(live, AccessShareLock);

	/* the candidates, as the caller: the filter and the trash's policy apply */
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pg_catalog.array_agg(t.deletion_id), pg_catalog.array_agg(t.trash_row)"
					 " FROM %s t WHERE (%s\n)%s",
					 crm_purge_relname(trashid), filter ? filter : "true",
					 deletion ? " AND t.deletion_id OPERATOR(pg_catalog.=) $1" : "");
	if (citus)
	{
		/*
		 * On Citus all of it runs as the extension owner, the worker nodes
		 * running the inserts as the table's owner (check_citus_restorer),
		 * even this read when no filter needs the caller's rights (a
		 * deletion's tables after the first): the trash's policy then as a
		 * condition.
		 */
		restorer = crm_purge_extension_owner();
		/*
		 * A plain user restores the rows it deleted, by name: a worker node
		 * wrote its own OID of the role (roles have their names on every
		 * node).  With a filter too: the table's owner reads every row of a
		 * distributed trash (the worker nodes read it as the owner).
		 */
		if (!crm_purge_is_admin(GetUserId()))
			appendStringInfo(&sql, " AND pg_catalog.pg_get_userbyid(t.deleted_by) OPERATOR(pg_catalog.=) %s::pg_catalog.name",
							 quote_literal_cstr(GetUserNameFromId(GetUserId(), false)));
		if (filter == NULL)
		{
			if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
				return 0;
			crm_purge_become(restorer, &id);
			nest = crm_purge_citus_run_as_begin(crm_purge_rel_owner(relid), relid);
		}
	}
	/*
	 * The caller's filter, restricted: the trash has the table's column
	 * types, and casts or operators of the owner's run reading it.  An
	 * admin's as crm_purge_become_picker runs it; a plain user's as itself.
	 */
	if (!(citus && filter == NULL))
	{
		if (crm_purge_is_admin(GetUserId()))
			crm_purge_become_picker(GetUserId(), relid, &id);
		else
			crm_purge_become_restricted(GetUserId(), relid, &id);
	}
	if (SPI_execute_with_args(sql.data, deletion ? 1 : 0, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the trash of %s", crm_purge_relname(relid));
	if (citus && filter == NULL)
		crm_purge_citus_run_as_end(nest);
	crm_purge_unbecome(&id);
	if (!int8_arrays_result(&values[1], &values[2]))
		return 0;
	/* rows to restore: the caller may insert them? */
	if (citus)
		check_citus_restorer(relid);

	/*
	 * Lock the candidate trash rows first, as the owner: an erase or purge
	 * that deletes them either finished before (the rows are gone) or waits
	 * for this restore.  Then read them again under a new snapshot.
	 *
	 * Not on Citus: there the caller could not read a placement the owner
	 * changed in this transaction.  An erase locks the live table against
	 * writers first, so the restoring INSERT waits for it and then finds
	 * the erased rows gone from the trash.
	 */
	if (!citus)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "SELECT pg_catalog.array_agg(deletion_id), pg_catalog.array_agg(trash_row)"
						 " FROM (SELECT t.deletion_id, t.trash_row FROM %s t WHERE %s FOR UPDATE) l",
						 crm_purge_relname(trashid), named);
		crm_purge_become_owner(&id);
		if (SPI_execute_with_args(sql.data, 3, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not lock the trash of %s", crm_purge_relname(relid));
		crm_purge_unbecome(&id);
		if (!int8_arrays_result(&values[1], &values[2]))
			return 0;
	}

	/* the rows were picked: by their names alone now, no text of the caller's runs as the owner */
	filter = NULL;
	initStringInfo(&chosen);
	appendStringInfo(&chosen,
					 "SELECT DISTINCT ON (%s) t.deletion_id, t.trash_row, %s, %s, ROW(%s)::pg_catalog.text"
					 " FROM %s t WHERE (%s\n)%s AND %s"
					 " ORDER BY %s, t.deleted_at DESC, t.deletion_id DESC, t.trash_row DESC",
					 pkcols.data, pkcols.data, tcols.data, tcols.data, crm_purge_relname(trashid),
					 filter ? filter : "true",
					 deletion ? " AND t.deletion_id OPERATOR(pg_catalog.=) $1" : " AND $1 IS NOT NULL", named,
					 pkcols.data);
	/*
	 * What came back: its key, and its text (a trigger's change shows; on
	 * Citus the coordinator reads text, never the owner's domains), made
	 * where the trash row's is, with the same settings (TimeZone,
	 * extra_float_digits: on Citus the worker nodes')
	 */
	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "WITH crm_purge_s(%s) AS (%s),"
					 " crm_purge_i(%scrm_purge_image, crm_purge_rel) AS (INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM crm_purge_s s%s"
					 " RETURNING %sROW(%s)::pg_catalog.text, %s)"
					 " SELECT s.crm_purge_id, s.crm_purge_row, i.crm_purge_here IS TRUE,"
					 " i.crm_purge_here IS TRUE AND i.crm_purge_image COLLATE pg_catalog.\"C\" OPERATOR(pg_catalog.=) s.crm_purge_image"
					 " FROM crm_purge_s s LEFT JOIN (SELECT i.*, pg_catalog.cardinality($4) OPERATOR(pg_catalog.=) 0"
					 "   OR i.crm_purge_rel OPERATOR(pg_catalog.=) ANY ($4) AS crm_purge_here FROM crm_purge_i i) i ON %s",
					 aliases.data, chosen.data,
					 ialiases.data, crm_purge_relname(relid), cols.data, scols.data,
					 skip ? " ON CONFLICT DO NOTHING" : "", retcols.data, cols.data,
					 citus ? "NULL::pg_catalog.oid" : "tableoid", pkjoin.data);
	/*
	 * (and into the table itself: the owner's trigger may rename it and
	 * make another of its name, or give it a rule, between two statements
	 * of a restore row by row: review round 69, B69-1, B69-3; on Citus a
	 * worker node refuses a shard's rule at each statement)
	 */
	values[3] = PointerGetDatum(construct_empty_array(OIDOID));
	if (!citus)
	{
		List	   *tree = find_all_inheritors(relid, NoLock, NULL);
		Datum	   *oids = palloc(sizeof(Datum) * list_length(tree));
		ListCell   *lc;
		int			k = 0;

		foreach(lc, tree)
			oids[k++] = ObjectIdGetDatum(lfirst_oid(lc));
		values[3] = PointerGetDatum(construct_array(oids, k, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	}
	/* (a user's BEFORE INSERT row trigger would change the batch's rows: one per statement at once) */
	one_by_one = user_before_insert_trigger(relid);
	if (OidIsValid(restorer))
	{
		crm_purge_become(restorer, &id);
		nest = crm_purge_citus_run_as_begin(crm_purge_rel_owner(relid), relid);
	}
	/* as the owner (on Citus the nodes run it as the owner): its triggers never run with the caller's rights */
	crm_purge_foreign_write_begin(OidIsValid(restorer) ? InvalidOid : relid, ACL_INSERT, &w);
	guard_skips_before = crm_purge_guard_skips_total();
	PG_TRY();
	{
		void	   *skips = crm_purge_guard_skips_save();

		if (!one_by_one && execute_restore(sql.data, 4, argtypes, values, relid, true))
			collect_restored(&done);
		else
		{
			/*
			 * A trigger may skip a row and write another under its key:
			 * matched by key, the skipped row would count as restored and
			 * lose its trash copy (review round 66, C66-1).  One statement
			 * per row: a row written under another key restores none, a
			 * row changed under its own (updated_at) is restored.
			 */
			Datum		one[4];
			uint64		k,
						chosen_rows;
			int64	   *chosen_ids,
					   *chosen_nums;

			/* (a rolled-back batch's skips by the guard did not happen) */
			crm_purge_guard_skips_restore(skips);

			if (SPI_execute_with_args(chosen.data, 3, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read the trash of %s", crm_purge_relname(relid));
			chosen_rows = SPI_processed;
			chosen_ids = palloc(sizeof(int64) * Max(chosen_rows, 1));
			chosen_nums = palloc(sizeof(int64) * Max(chosen_rows, 1));
			for (k = 0; k < chosen_rows; k++)
			{
				bool		isnull;

				chosen_ids[k] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));
				chosen_nums[k] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2, &isnull));
			}
			one[0] = values[0];
			one[3] = values[3];
			for (k = 0; k < chosen_rows; k++)
			{
				Datum		id = Int64GetDatum(chosen_ids[k]);
				Datum		num = Int64GetDatum(chosen_nums[k]);

				one[1] = PointerGetDatum(construct_array(&id, 1, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
				one[2] = PointerGetDatum(construct_array(&num, 1, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
				/* (a rule the owner's trigger made since: review round 69, B69-1) */
				if (!citus)
					crm_purge_refuse_shard_rules(relid);
				(void) execute_restore(sql.data, 4, argtypes, one, relid, false);
				collect_restored(&done);
			}
		}
	}
	PG_CATCH();
	{
		crm_purge_foreign_write_abort(&w);
		PG_RE_THROW();
	}
	PG_END_TRY();
	crm_purge_foreign_write_end(&w);
	if (OidIsValid(restorer))
	{
		crm_purge_citus_run_as_end(nest);
		crm_purge_unbecome(&id);
	}
	n = done.n;
	{
		uint64		rows = done.rows;
		uint64		guarded;

		/* (rows the guard skipped: its own NOTICE says so) */
		guarded = (uint64) Max(crm_purge_guard_skips_total() - guard_skips_before, 0);
		if (rows - (uint64) n > guarded)
			ereport(NOTICE,
					(errmsg("crm_purge_restore skipped " UINT64_FORMAT " rows of table %s: a live row has the same key, or the table's trigger or rule kept them out",
							rows - (uint64) n - guarded, crm_purge_relname(relid)),
					 errhint("They stay in the trash; remove the live rows and restore again to bring them back.")));
		if (n > 0)
			restore_done(relid, trashid, done.ids, done.nums, n, deletion, links);
	}
	return n;
}

/*
 * unlink_keys: the foreign keys to relid that have unlink records (of the
 * deletions ids, or of any when ids is NULL), one row each: the child, the
 * key's name, its width, and the condition matching a record u to its
 * parent's trash row t.  A key matches as text, each value through its
 * type's output function, the way the unlink trigger wrote it (the caller
 * pins the output settings).
 *
 * (the unlink trigger wrote the child's text of the value: a parent's key
 * of a built-in type, numeric 1 for a child's 1.0 or a numeric(10,2) 1.00,
 * is compared as the foreign key compares, with its own equality, to the
 * child's value read back from that text; a cast of the parent's key to
 * the child's type failed on keys the child's type cannot hold and
 * truncated others: review rounds 68, 69 and 74, B68-3, B69-2, B74-5; a
 * role's types by their text, as before: their casts would run here as the
 * extension owner)
 */
static SPITupleTable *
unlink_keys(Oid relid, Datum ids, bool all, uint64 *n)
{
	Oid			argtypes[2] = {INT8ARRAYOID, OIDOID};
	Datum		args[2] = {ids, ObjectIdGetDatum(relid)};

	if (SPI_execute_with_args("SELECT c.conrelid, c.conname::text, pg_catalog.count(*)::pg_catalog.text,"
							  " pg_catalog.string_agg(CASE WHEN a.atttypid >= 16384 OR ca.atttypid >= 16384"
							  "   THEN pg_catalog.format('u.parent_ref[%s] OPERATOR(pg_catalog.=) pg_catalog.format(''%%s'', t.%I)', k.ord, a.attname)"
							  "   ELSE pg_catalog.format('t.%I OPERATOR(%I.%s) (u.parent_ref[%s])::%s', a.attname, opn.nspname, op.oprname, k.ord,"
							  "     pg_catalog.format_type(ca.atttypid, ca.atttypmod)) END, ' AND ' ORDER BY k.ord)"
							  " FROM pg_catalog.pg_constraint c"
							  " CROSS JOIN LATERAL pg_catalog.unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)"
							  " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum"
							  " JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = c.conkey[k.ord]"
							  " JOIN pg_catalog.pg_operator op ON op.oid = c.conpfeqop[k.ord]"
							  " JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace"
							  " WHERE c.confrelid = $2 AND c.contype = 'f'"
							  "   AND EXISTS (SELECT FROM crm_purge.unlinks u WHERE u.child = c.conrelid"
							  "               AND u.constraint_name = c.conname AND ($1 IS NULL OR u.deletion_id = ANY ($1)))"
							  " GROUP BY c.oid, c.conrelid, c.conname ORDER BY c.conrelid, c.conname",
							  2, argtypes, args, all ? "n " : "  ", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the foreign keys to %s", crm_purge_relname(relid));
	*n = SPI_processed;
	return SPI_tuptable;
}

/*
 * forget_unlinks_of_gone_keys: the unlink records (of the deletions ids, an
 * int8[], or of all when 0) whose foreign key is gone: nothing can link
 * them back.  SPI connected.
 */
static void
forget_unlinks_of_gone_keys(Datum ids)
{
	Oid			argtypes[1] = {INT8ARRAYOID};

	if (SPI_execute_with_args("DELETE FROM crm_purge.unlinks u WHERE ($1 IS NULL OR u.deletion_id OPERATOR(pg_catalog.=) ANY ($1))"
							  " AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) u.child"
							  " AND c.conname OPERATOR(pg_catalog.=) u.constraint_name AND c.contype OPERATOR(pg_catalog.=) 'f')",
							  1, argtypes, &ids, ids ? " " : "n", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not clean crm_purge.unlinks");
}

/*
 * take_unlinks: the unlinks (crm_purge.unlinks) whose parent is one of the
 * restored trash rows (named by values), taken out of crm_purge.unlinks and
 * appended to *links as SPI tuple tables (child, constraint_name,
 * child_key, parent_ref), for relink_children.  Only these are linked back:
 * never a child to another row that has its parent's key now.  As the
 * extension owner; not on Citus (its shards record unlinks on their own
 * nodes).
 */
static void
take_unlinks(Oid relid, Oid trashid, Datum *values, List **links)
{
	Oid			argtypes[4] = {INT8ARRAYOID, INT8ARRAYOID, OIDOID, TEXTOID};
	Datum		args[4] = {values[0], values[1], (Datum) 0, (Datum) 0};
	SPITupleTable *keys;
	uint64		nkeys,
				k;
	int			nestlevel;

	keys = unlink_keys(relid, values[0], false, &nkeys);
	/* the key text as the unlink trigger wrote it */
	nestlevel = crm_purge_pin_output_settings();
	for (k = 0; k < nkeys; k++)
	{
		bool		isnull;

		args[2] = SPI_getbinval(keys->vals[k], keys->tupdesc, 1, &isnull);
		args[3] = CStringGetTextDatum(SPI_getvalue(keys->vals[k], keys->tupdesc, 2));
		if (SPI_execute_with_args(psprintf("DELETE FROM crm_purge.unlinks u USING %s t"
										   " WHERE %s AND u.deletion_id OPERATOR(pg_catalog.=) t.deletion_id"
										   " AND u.child OPERATOR(pg_catalog.=) $3::pg_catalog.regclass"
										   " AND u.constraint_name OPERATOR(pg_catalog.=) $4::pg_catalog.name"
										   " AND pg_catalog.cardinality(u.parent_ref) OPERATOR(pg_catalog.=) %s AND %s"
										   " RETURNING u.child::pg_catalog.oid, u.constraint_name::pg_catalog.text, u.child_key, u.parent_ref, u.deletion_id",
										   crm_purge_relname(trashid), crm_purge_trash_rows_named("t", 1),
										   SPI_getvalue(keys->vals[k], keys->tupdesc, 3),
										   SPI_getvalue(keys->vals[k], keys->tupdesc, 4)),
								  4, argtypes, args, NULL, false, 0) != SPI_OK_DELETE_RETURNING)
			elog(ERROR, "could not read crm_purge.unlinks");
		if (SPI_processed > 0)
			*links = lappend(*links, SPI_tuptable);
	}
	AtEOXact_GUC(false, nestlevel);
}

/*
 * crm_purge_forget_orphan_unlinks: crm_purge._forget_orphan_unlinks(tbl),
 * at an erase of tbl: the unlink records of foreign keys to tbl whose
 * parent row is no longer in tbl's trash (it expired, was purged or erased,
 * while other rows of its deletion stayed: review round 71, B71-2), and
 * those of foreign keys gone (dropped, or made again under another name):
 * nothing can link them back, and they hold the parents' referenced values,
 * an e-mail say.  The extension owner only; not on Citus.
 */
PG_FUNCTION_INFO_V1(crm_purge_forget_orphan_unlinks);
Datum
crm_purge_forget_orphan_unlinks(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			trashid = crm_purge_trash_of(relid);
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2];
	SPITupleTable *keys;
	uint64		nkeys,
				k;
	int			nestlevel;

	crm_purge_require_extension_owner("crm_purge._forget_orphan_unlinks");
	if (OidIsValid(trashid) && crm_purge_citus_distributed(trashid))
		PG_RETURN_VOID();
	SPI_connect();
	forget_unlinks_of_gone_keys((Datum) 0);
	keys = unlink_keys(relid, (Datum) 0, true, &nkeys);
	nestlevel = crm_purge_pin_output_settings();
	for (k = 0; k < nkeys; k++)
	{
		bool		isnull;

		args[0] = SPI_getbinval(keys->vals[k], keys->tupdesc, 1, &isnull);
		args[1] = CStringGetTextDatum(SPI_getvalue(keys->vals[k], keys->tupdesc, 2));
		if (SPI_execute_with_args(psprintf("DELETE FROM crm_purge.unlinks u"
										   " WHERE u.child OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
										   " AND u.constraint_name OPERATOR(pg_catalog.=) $2::pg_catalog.name%s",
										   !OidIsValid(trashid) ? "" :
										   psprintf(" AND (pg_catalog.cardinality(u.parent_ref) OPERATOR(pg_catalog.<>) %s"
													" OR NOT EXISTS (SELECT FROM %s t WHERE t.deletion_id OPERATOR(pg_catalog.=) u.deletion_id AND %s))",
													SPI_getvalue(keys->vals[k], keys->tupdesc, 3),
													crm_purge_relname(trashid),
													SPI_getvalue(keys->vals[k], keys->tupdesc, 4))),
								  2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not clean crm_purge.unlinks");
	}
	AtEOXact_GUC(false, nestlevel);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * crm_purge_forget_unlinks: crm_purge._forget_unlinks(tbl, ids, rows): an
 * erase removes these rows of tbl's trash for good; the records of the
 * children unlinked from them (which hold the rows' referenced values, an
 * e-mail say) go with them.  The extension owner only.
 */
PG_FUNCTION_INFO_V1(crm_purge_forget_unlinks);
Datum
crm_purge_forget_unlinks(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Datum		values[2] = {PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)};
	Oid			trashid = crm_purge_trash_of(relid);
	List	   *links = NIL;

	crm_purge_require_extension_owner("crm_purge._forget_unlinks");
	if (!OidIsValid(trashid) || crm_purge_citus_distributed(trashid))
		PG_RETURN_VOID();
	SPI_connect();
	take_unlinks(relid, trashid, values, &links);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * restore_done: removes the restored rows from the trash, as the extension
 * owner, who owns the trash, taking the unlinks of their children into
 * *links, and records the restore, the restorer as the actor.
 */
static void
restore_done(Oid relid, Oid trashid, Datum *ids, Datum *nums, int64 n, int64 deletion,
			 List **links)
{
	Oid			argtypes[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[2];
	CrmPurgeIdentity id;
	Oid			restorer = GetUserId();

	values[0] = PointerGetDatum(construct_array(ids, (int) n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(nums, (int) n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	crm_purge_become_owner(&id);
	if (!crm_purge_citus_distributed(trashid))
	{
		take_unlinks(relid, trashid, values, links);
		/* and forgets those of these deletions whose foreign key is gone */
		forget_unlinks_of_gone_keys(values[0]);
	}
	if (SPI_execute_with_args(psprintf("DELETE FROM %s t WHERE %s", crm_purge_relname(trashid),
									   crm_purge_trash_rows_named("t", 1)),
							  2, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not remove restored rows from the trash");
	crm_purge_unbecome(&id);
	crm_purge_become_owner(&id);
	crm_purge_record_history("restore", relid, n, restorer, 0, 0, deletion);
	crm_purge_unbecome(&id);
}

/*
 * check_citus_restorer: on Citus, a restore of relid inserts and removes its
 * rows as the extension owner (Citus refuses two roles changing colocated
 * shards in one transaction), whose inserts the worker nodes run as the
 * table's owner (crm_purge_citus_run_as_begin): its triggers and
 * constraints never run with the extension owner's rights.  The caller
 * picked the rows (filter and the trash's policy as the caller) and must be
 * allowed to insert them.
 */
static void
check_citus_restorer(Oid relid)
{
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", crm_purge_relname(relid)),
				 errdetail("Restoring rows needs INSERT on the table.")));
	if (crm_purge_policies_would_run(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot restore into table %s: it is a Citus distributed table with row-level security",
						crm_purge_relname(relid)),
				 errhint("Its owner may restore; its policies could not apply to you on Citus.")));
}

/*
 * restore_refuse_on_behalf: a restore is anyone's, and writes as others
 * (the table's owner, on Citus the extension owner): never from code run
 * on another role's behalf (an owner's index expression run by ANALYZE or
 * autovacuum, a trigger reached by an admin's work or a request's batch).
 */
static void
restore_refuse_on_behalf(const char *action)
{
	if ((InSecurityRestrictedOperation() || crm_purge_on_behalf(false)) &&
		GetUserId() != crm_purge_extension_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s cannot run on another role's behalf", action),
				 errdetail("Code run on another role's behalf (a table owner's expression or trigger reached by an admin's work, a request, ANALYZE or VACUUM) does not restore rows."),
				 errhint("Call it directly, in a transaction of its own.")));
}

/*
 * crm_purge_restore: crm_purge_restore(tbl, filter, on_conflict): restores
 * trashed rows of tbl matching filter; on_conflict 'error' restores nothing
 * when a key is live, 'skip' leaves those rows in the trash.  The caller
 * needs SELECT and INSERT on the table.
 */
PG_FUNCTION_INFO_V1(crm_purge_restore);
Datum
crm_purge_restore(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *filter = NULL;
	char	   *on_conflict;
	bool		skip;
	Oid			trashid;
	int64		n;
	List	   *links = NIL;
	Oid			prev_asker;

	crm_purge_require_coordinator("crm_purge_restore");
	restore_refuse_on_behalf("crm_purge_restore");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be NULL")));
	relid = PG_GETARG_OID(0);
	if (!PG_ARGISNULL(1))
		filter = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("on_conflict must not be NULL"),
				 errhint("Use 'error' or 'skip'.")));
	on_conflict = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(on_conflict, "error") == 0)
		skip = false;
	else if (strcmp(on_conflict, "skip") == 0)
		skip = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown on_conflict \"%s\"", on_conflict),
				 errhint("Use 'error' (restore nothing if a key is live) or 'skip' (leave those rows in the trash).")));
	if (get_rel_relkind(relid) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	crm_purge_check_filter(filter);
	/* trash rows are visible only with SELECT on the table; say so */
	/* (each on its own: a mask of two passes on either) */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", crm_purge_relname(relid)),
				 errdetail("Restoring needs SELECT and INSERT on the table.")));

	SPI_connect();
	trashid = protected_trash(relid);
	prev_asker = crm_purge_asker;
	crm_purge_asker = GetUserId();
	PG_TRY();
	{
		n = restore_rows(relid, trashid, filter, 0, skip, &links);
	}
	PG_FINALLY();
	{
		crm_purge_asker = prev_asker;
	}
	PG_END_TRY();
	relink_children(links);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/*
 * Re-linking: each child row an ON DELETE SET NULL unlinked from a restored
 * row gets its reference back by an UPDATE of the child table
 * (crm_purge_relink_write_begin): as the child's owner, refused where a
 * third role's code would run; a superuser's table as the restorer, who
 * then needs UPDATE on it.  One RelinkQuery serves every row of one
 * foreign key.
 */
typedef struct RelinkQuery
{
	Oid			child;
	char	   *sql;
	char	   *row;			/* the condition naming the child's row, as unlinked */
	int			nargs;			/* the reference's columns, then the child's key's */
	Oid			argtypes[2 * INDEX_MAX_KEYS];	/* base types */
	Datum		values[2 * INDEX_MAX_KEYS];
	Datum		parent_ref;		/* text[] */
	Datum		child_key;		/* text[] */
} RelinkQuery;

/*
 * relink_values: the text values of a (text[]) into q->values from first
 * on, through the input functions of their base types, under the settings
 * the unlink trigger wrote them with (crm_purge_pin_output_settings).
 */
static void
relink_values(RelinkQuery *q, Datum a, int first, int n)
{
	Datum	   *texts;
	bool	   *nulls;
	int			count,
				i;

	deconstruct_array(DatumGetArrayTypeP(a), TEXTOID, -1, false, TYPALIGN_INT, &texts, &nulls, &count);
	if (count != n)
		elog(ERROR, "an unlink record has %d values, the key %d columns", count, n);
	for (i = 0; i < n; i++)
	{
		Oid			input,
					ioparam;

		if (nulls[i])
			elog(ERROR, "an unlink record has a NULL value");
		getTypeInputInfo(q->argtypes[first + i], &input, &ioparam);
		q->values[first + i] = OidInputFunctionCall(input, TextDatumGetCString(texts[i]), ioparam, -1);
	}
}

/*
 * run_relink: one row's UPDATE (a deferred trigger of the owner's it queues
 * fires at its end, see crm_purge_foreign_write_end).
 */
static void
run_relink(void *arg)
{
	RelinkQuery *q = arg;
	CrmPurgeForeignWrite w;
	int			nestlevel;
	int			nfk = q->nargs - ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(q->child_key)),
												ARR_DIMS(DatumGetArrayTypeP(q->child_key)));
	int			rc;

	nestlevel = crm_purge_pin_output_settings();
	relink_values(q, q->parent_ref, 0, nfk);
	relink_values(q, q->child_key, nfk, q->nargs - nfk);
	AtEOXact_GUC(false, nestlevel);
	/*
	 * a held row stays as it is, unlinked (erase and requests refuse to
	 * unlink one; review round 71, B71-4): the caller keeps its record
	 */
	{
		List	   *hits = crm_purge_hold_hits(q->child, q->child, q->row, q->nargs, q->argtypes, q->values);

		if (hits != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("legal hold %lld keeps it as it is (%s)",
							(long long) ((CrmPurgeHoldHit *) linitial(hits))->id,
							((CrmPurgeHoldHit *) linitial(hits))->reason ? ((CrmPurgeHoldHit *) linitial(hits))->reason : "")));
	}
	crm_purge_relink_write_begin(q->child, &w);
	PG_TRY();
	{
		rc = SPI_execute_with_args(q->sql, q->nargs, q->argtypes, q->values, NULL, false, 0);
	}
	PG_CATCH();
	{
		crm_purge_foreign_write_abort(&w);
		PG_RE_THROW();
	}
	PG_END_TRY();
	crm_purge_foreign_write_end(&w);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not link a child row back");
}

/*
 * relink_argtype: the base type of attribute a, as a parameter's type;
 * InvalidOid unless its text comes back through built-in input functions
 * alone (a domain's CHECK, say inside an array, is its owner's code).
 */
static Oid
relink_argtype(Form_pg_attribute a)
{
	Oid			base = getBaseType(a->atttypid);
	char		typtype = get_typtype(base);
	Oid			elem = get_element_type(base);

	if (typtype == TYPTYPE_ENUM ||
		(typtype == TYPTYPE_BASE && (!OidIsValid(elem) || get_typtype(elem) == TYPTYPE_BASE ||
									 get_typtype(elem) == TYPTYPE_ENUM)))
		return base;
	return InvalidOid;
}

/* refuse_relink_type: relink_argtype's refusal, raised once nothing is held (try_relink_statement catches it) */
static void
refuse_relink_type(const char *column, Oid type)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("column %s has type %s, which crm_purge does not link back by",
					quote_identifier(column), format_type_be_qualified(type))));
}

/*
 * relink_statement: the UPDATE that links a row of child back through its
 * foreign key conname, into q; false when the key or the child's primary key
 * is gone.  Keeps the child locked until the end of the transaction.
 */
static bool
relink_statement(Oid child, const char *conname, RelinkQuery *q)
{
	Oid			conoid;
	AttrNumber	pk[INDEX_MAX_KEYS];
	int			npk;
	Relation	rel;
	TupleDesc	td;
	HeapTuple	tup;
	ArrayType  *conkey;
	bool		isnull;
	int16	   *fk;
	int			nfk,
				i;
	StringInfoData sql,
				setcols,
				setvals,
				where;

	if (get_rel_relkind(child) == '\0')
		return false;			/* the child is gone */
	/*
	 * (the key looked up once the child is locked: another session's
	 * ALTER waits then; looked up before, it could be dropped in between,
	 * and its tuple read gone: review round 71, A71-1)
	 */
	rel = try_table_open(child, AccessShareLock);
	if (rel == NULL)
		return false;
	conoid = crm_purge_foreign_key_named(child, conname);
	if (!OidIsValid(conoid))
	{
		table_close(rel, AccessShareLock);
		return false;			/* its key is gone */
	}
	td = RelationGetDescr(rel);
	npk = crm_purge_primary_key(rel, pk, true);
	if (npk == 0)
	{
		table_close(rel, NoLock);
		return false;
	}
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	if (!HeapTupleIsValid(tup))
	{
		table_close(rel, NoLock);
		return false;
	}
	conkey = DatumGetArrayTypeP(SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conkey, &isnull));
	nfk = ARR_DIMS(conkey)[0];
	fk = (int16 *) ARR_DATA_PTR(conkey);
	initStringInfo(&setcols);
	initStringInfo(&setvals);
	initStringInfo(&where);
	for (i = 0; i < nfk; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, fk[i] - 1);

		q->argtypes[i] = relink_argtype(a);
		/* (released first: the error is caught without a subtransaction, review round 75, A75-1) */
		if (!OidIsValid(q->argtypes[i]))
		{
			char	   *column = pstrdup(NameStr(a->attname));
			Oid			type = a->atttypid;

			ReleaseSysCache(tup);
			table_close(rel, NoLock);
			refuse_relink_type(column, type);
		}
		appendStringInfo(&setcols, "%s%s", i ? ", " : "", quote_identifier(NameStr(a->attname)));
		appendStringInfo(&setvals, "%s$%d", i ? ", " : "", i + 1);
		appendStringInfo(&where, " AND %s IS NULL", quote_identifier(NameStr(a->attname)));
	}
	ReleaseSysCache(tup);
	for (i = 0; i < npk; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, pk[i] - 1);

		q->argtypes[nfk + i] = relink_argtype(a);
		if (!OidIsValid(q->argtypes[nfk + i]))
		{
			char	   *column = pstrdup(NameStr(a->attname));
			Oid			type = a->atttypid;

			table_close(rel, NoLock);
			refuse_relink_type(column, type);
		}
		appendStringInfo(&where, " AND %s OPERATOR(pg_catalog.=) $%d",
						 quote_identifier(NameStr(a->attname)), nfk + i + 1);
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE %s SET (%s) = ROW(%s) WHERE true%s",
					 crm_purge_relname(child), setcols.data, setvals.data, where.data);
	q->sql = sql.data;
	q->row = psprintf("true%s", where.data);
	q->nargs = nfk + npk;
	q->child = child;
	table_close(rel, NoLock);
	return true;
}

/* relink_statement, an error turned into false and a NOTICE */
static bool
try_relink_statement(Oid child, const char *conname, RelinkQuery *q)
{
	volatile bool usable = false;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		usable = relink_statement(child, conname, q);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->sqlerrcode != ERRCODE_FEATURE_NOT_SUPPORTED)
			ReThrowError(edata);
		ereport(NOTICE,
				(errmsg("rows of table %s are not linked back: %s", crm_purge_relname(child), edata->message),
				 errhint("Set their references again by hand if they should point to the restored rows.")));
	}
	PG_END_TRY();
	return usable;
}

/*
 * relink_children: links the child rows in links (see take_unlinks), which
 * ON DELETE SET NULL unlinked from parents this call restored, back to
 * them, where they still point nowhere.  A row that cannot be linked back
 * gets a NOTICE and its record back.
 */
static void
relink_children(List *links)
{
	Oid			prev_child = InvalidOid;
	char	   *prev_conname = NULL;
	bool		usable = false;
	RelinkQuery q;
	ListCell   *lc;

	foreach(lc, links)
	{
		SPITupleTable *tt = lfirst(lc);
		uint64		k;

		for (k = 0; k < tt->numvals; k++)
		{
			bool		isnull;
			Oid			child = DatumGetObjectId(SPI_getbinval(tt->vals[k], tt->tupdesc, 1, &isnull));
			char	   *conname = SPI_getvalue(tt->vals[k], tt->tupdesc, 2);
			ErrorData  *edata;

			if (child != prev_child || strcmp(conname, prev_conname) != 0)
			{
				usable = try_relink_statement(child, conname, &q);
				prev_child = child;
				prev_conname = conname;
			}
			if (!usable)
				continue;
			q.child_key = SPI_getbinval(tt->vals[k], tt->tupdesc, 3, &isnull);
			q.parent_ref = SPI_getbinval(tt->vals[k], tt->tupdesc, 4, &isnull);
			edata = crm_purge_in_subtransaction(run_relink, &q);
			if (edata != NULL)
			{
				Oid			argtypes[5] = {INT8OID, OIDOID, NAMEOID, TEXTARRAYOID, TEXTARRAYOID};
				Datum		values[5] = {SPI_getbinval(tt->vals[k], tt->tupdesc, 5, &isnull),
					ObjectIdGetDatum(child), DirectFunctionCall1(namein, CStringGetDatum(conname)),
				q.child_key, q.parent_ref};
				CrmPurgeIdentity id;

				/* a row that cannot be linked back stays unlinked, remembered; the restore goes on */
				ereport(NOTICE,
						(errmsg("a row of table %s was not linked back: %s",
								crm_purge_relname(child), edata->message),
						 errhint("Set its reference again by hand if it should point to the restored row.")));
				crm_purge_become_owner(&id);
				if (SPI_execute_with_args("INSERT INTO crm_purge.unlinks (deletion_id, child, constraint_name, child_key, parent_ref)"
										  " VALUES ($1, $2, $3, $4, $5)", 5, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
					elog(ERROR, "could not keep an unlink record");
				crm_purge_unbecome(&id);
			}
		}
	}
}

/* deletion_touched: has the trash rows of this deletion?  Read as the extension owner, its own table, no value but a count. */
static bool
deletion_touched(Oid trashid, int64 deletion)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(deletion)};
	CrmPurgeIdentity id;
	int			rc;

	crm_purge_become_owner(&id);
	rc = SPI_execute_with_args(psprintf("SELECT 1 FROM %s WHERE deletion_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
										crm_purge_relname(trashid)), 1, argtypes, values, NULL, true, 1);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the trash %s", crm_purge_relname(trashid));
	return SPI_processed > 0;
}

/*
 * crm_purge_restore_deletion: crm_purge_restore_deletion(deletion_id):
 * restores the rows of one deletion in every protected table, parents
 * before the children that reference them, then links unlinked children
 * back.  Returns the rows restored.
 */
PG_FUNCTION_INFO_V1(crm_purge_restore_deletion);
Datum
crm_purge_restore_deletion(PG_FUNCTION_ARGS)
{
	int64		deletion;
	int64		total = 0;
	ListCell   *lc;
	List	   *links = NIL;
	Oid			prev_asker;

	crm_purge_require_coordinator("crm_purge_restore_deletion");
	restore_refuse_on_behalf("crm_purge_restore_deletion");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("deletion_id must not be NULL")));
	deletion = PG_GETARG_INT64(0);
	if (deletion <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("deletion_id must be positive, not " INT64_FORMAT, deletion)));
	SPI_connect();
	/* protected tables, parents before the children that reference them */
	foreach(lc, crm_purge_protected_parents_first())
	{
		CrmPurgeProtected *p = lfirst(lc);

		/*
		 * a table the deletion left alone is not checked: its rules (on
		 * Citus), an owner with wide rights or a partition of another owner
		 * would refuse every deletion (review round 52, A52-2)
		 */
		if (!deletion_touched(p->trashid, deletion))
			continue;
		prev_asker = crm_purge_asker;
		crm_purge_asker = GetUserId();
		PG_TRY();
		{
			total += restore_rows(p->relid, p->trashid, NULL, deletion, false, &links);
		}
		PG_FINALLY();
		{
			crm_purge_asker = prev_asker;
		}
		PG_END_TRY();
	}
	relink_children(links);
	SPI_finish();
	PG_RETURN_INT64(total);
}
