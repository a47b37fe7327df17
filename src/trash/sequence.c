/*
 * sequence.c - sequence floors: a sequence owned by a column of a protected
 * or guarded table never hands out again a key that is in the trash or was
 * erased.  After setval(), ALTER SEQUENCE ... RESTART, ALTER TABLE ... ALTER
 * COLUMN ... RESTART and TRUNCATE ... RESTART IDENTITY (Django's loaddata,
 * sqlsequencereset and flush send these) such a sequence is raised to its
 * floor: the highest key of that column in the trash, or erased
 * (crm_purge.key_floors keeps erased keys as a number, never the row).
 *
 * setval() is a function, not a statement, and built-in functions bypass
 * the fmgr hook: around a top-level statement whose text names setval
 * (statement.c), the floored sequences' states are compared.  A function
 * that calls setval() inside a statement that does not name it is not seen.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "crm_purge.h"


static void raise_sequence(Oid seqid, bool after_erase);

/*
 * sequence_floor: the floor of the column that owns seqid, or false when it
 * has none (not owned, not an integer column, nothing trashed or erased).
 */
static bool
sequence_floor(Oid seqid, Oid *relid, int64 *floor)
{
	int32		col;
	Oid			nsp = get_namespace_oid(CRM_PURGE_SCHEMA, true);
	Oid			floors;
	Oid			trashid;
	Oid			typid;
	char	   *colname;
	StringInfoData sql;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	CrmPurgeIdentity id;
	bool		found = false;
	bool		is_pk;

	if (!OidIsValid(nsp) || !OidIsValid(get_extension_oid("crm_purge", true)))
		return false;
	floors = get_relname_relid("key_floors", nsp);
	if (!OidIsValid(floors))
		return false;			/* a 1.0 database */
	if (!sequenceIsOwned(seqid, DEPENDENCY_AUTO, relid, &col) &&
		!sequenceIsOwned(seqid, DEPENDENCY_INTERNAL, relid, &col))
		return false;
	typid = get_atttype(*relid, (AttrNumber) col);
	if (typid != INT2OID && typid != INT4OID && typid != INT8OID)
		return false;
	colname = get_attname(*relid, (AttrNumber) col, false);
	trashid = crm_purge_trash_of(*relid);
	{
		Relation	rel = table_open(*relid, AccessShareLock);
		AttrNumber	pk[INDEX_MAX_KEYS];

		/* erased keys are kept for a one-column primary key */
		is_pk = crm_purge_primary_key(rel, pk, true) == 1 && pk[0] == col;
		table_close(rel, AccessShareLock);
	}

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT GREATEST(%s",
					 is_pk ? "(SELECT f.floor FROM crm_purge.key_floors f WHERE f.tbl = $1)" : "NULL::pg_catalog.int8");
	if (OidIsValid(trashid) && get_attnum(trashid, colname) != InvalidAttrNumber &&
		get_atttype(trashid, get_attnum(trashid, colname)) == typid)
		appendStringInfo(&sql, ", (SELECT pg_catalog.max(%s)::pg_catalog.int8 FROM %s)",
						 quote_identifier(colname), crm_purge_relname(trashid));
	appendStringInfoChar(&sql, ')');
	values[0] = ObjectIdGetDatum(*relid);

	SPI_connect();
	crm_purge_become_owner(&id);
	if (SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the key floor of %s", crm_purge_relname(*relid));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			*floor = DatumGetInt64(d);
			found = true;
		}
	}
	crm_purge_unbecome(&id);
	SPI_finish();
	return found;
}

/* read_state: a sequence's last_value and is_called.  SPI connected, as the owner. */
static void
read_state(Oid seqid, int64 *last, bool *called)
{
	bool		isnull;

	if (SPI_execute(psprintf("SELECT last_value, is_called FROM %s", crm_purge_relname(seqid)),
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read sequence %s", crm_purge_relname(seqid));
	*last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/*
 * crm_purge_raise_sequence: raises seqid to its floor when its next value
 * would not be above it.  Runs as the caller, who just set the sequence.
 */
void
crm_purge_raise_sequence(Oid seqid)
{
	raise_sequence(seqid, false);
}

/*
 * raise_sequence: after_erase names no key (the floor is an erased one) in
 * its NOTICE.
 */
static void
raise_sequence(Oid seqid, bool after_erase)
{
	Oid			relid;
	int64		floor;
	int64		next;
	HeapTuple	tup;
	int64		increment;
	bool		is_called;
	int64		last;

	if (!sequence_floor(seqid, &relid, &floor))
		return;
	tup = SearchSysCache1(SEQRELID, ObjectIdGetDatum(seqid));
	if (!HeapTupleIsValid(tup))
		return;
	increment = ((Form_pg_sequence) GETSTRUCT(tup))->seqincrement;
	ReleaseSysCache(tup);
	if (increment <= 0)
		return;					/* a descending sequence never reaches old keys */

	/* the sequence's state as nextval would see it */
	{
		CrmPurgeIdentity id;

		SPI_connect();
		crm_purge_become_owner(&id);
		read_state(seqid, &last, &is_called);
		crm_purge_unbecome(&id);
		SPI_finish();
	}
	next = is_called ? last + increment : last;
	if (next > floor)
		return;
	DirectFunctionCall3(setval3_oid, ObjectIdGetDatum(seqid), Int64GetDatum(floor), BoolGetDatum(true));
	if (after_erase)
	{
		ereport(NOTICE,
				(errmsg("crm_purge raised sequence %s past the keys erased from table %s",
						crm_purge_relname(seqid), crm_purge_relname(relid)),
				 errhint("The sequence would have handed out an erased key, which the guard refuses.")));
		return;
	}
	ereport(NOTICE,
			(errmsg("crm_purge raised sequence %s to " INT64_FORMAT ": keys up to it of table %s are in its trash or were erased",
					crm_purge_relname(seqid), floor, crm_purge_relname(relid)),
			 errdetail("The sequence would have handed out " INT64_FORMAT " next, a key already used.", next),
			 errhint("crm_purge never hands out a trashed or erased key again; restores would conflict and tombstones would refuse the rows.")));
}

/*
 * all_floored_sequences: sequences owned by columns of protected tables, or
 * of tables with an erased-key floor.  SPI connected, as the extension owner.
 */
static List *
all_floored_sequences(void)
{
	List	   *tables = crm_purge_floored_tables();
	List	   *seqs = NIL;
	ListCell   *lc;

	foreach(lc, tables)
		if (get_rel_relkind(lfirst_oid(lc)) != '\0')
			seqs = list_concat_unique_oid(seqs, getOwnedSequences(lfirst_oid(lc)));
	return seqs;
}

/* the floored sequences' states before a statement that may call setval() */
typedef struct SequenceState
{
	Oid			seqid;
	int64		last_value;
	bool		is_called;
} SequenceState;

static SequenceState *seq_states = NULL;
static int	seq_nstates = 0;
static bool seq_watching = false;
static bool seq_reading = false;	/* our own queries are statements too */

/* names_setval: does a statement's text name setval, in any case? */
static bool
names_setval(const char *src)
{
	const char *p;

	if (src == NULL)
		return false;
	for (p = src; *p; p++)
		if ((*p == 's' || *p == 'S') && pg_strncasecmp(p, "setval", 6) == 0)
			return true;
	return false;
}

/*
 * crm_purge_sequences_before: a top-level statement starts.  When its text
 * names setval (SELECT setval(...), a DO block, a prepared statement), the
 * floored sequences' states are noted, to be compared when it ends: nothing
 * of the statement is evaluated again, whatever form the call takes.
 */
void
crm_purge_sequences_before(const char *src)
{
	CrmPurgeIdentity id;
	List	   *seqs;
	ListCell   *lc;
	int			i = 0;
	bool		snap = false;

	if (seq_reading)
		return;
	seq_watching = false;
	if (!names_setval(src) || !IsTransactionState() ||
		!OidIsValid(get_extension_oid("crm_purge", true)) ||
		!OidIsValid(get_relname_relid("key_floors", get_namespace_oid(CRM_PURGE_SCHEMA, false))))
		return;
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		snap = true;
	}
	seq_reading = true;
	PG_TRY();
	{
		SPI_connect();
		crm_purge_become_owner(&id);
		seqs = all_floored_sequences();
		if (seq_states != NULL)
			pfree(seq_states);
		seq_states = MemoryContextAlloc(TopMemoryContext, sizeof(SequenceState) * Max(list_length(seqs), 1));
		foreach(lc, seqs)
		{
			if (get_rel_relkind(lfirst_oid(lc)) != RELKIND_SEQUENCE)
				continue;
			seq_states[i].seqid = lfirst_oid(lc);
			read_state(seq_states[i].seqid, &seq_states[i].last_value, &seq_states[i].is_called);
			i++;
		}
		crm_purge_unbecome(&id);
		SPI_finish();
	}
	PG_FINALLY();
	{
		seq_reading = false;
	}
	PG_END_TRY();
	if (snap)
		PopActiveSnapshot();
	seq_nstates = i;
	seq_watching = i > 0;
}

/*
 * crm_purge_sequences_after: the top-level statement ended: a floored
 * sequence it changed is raised to its floor (as the caller, who changed it).
 */
void
crm_purge_sequences_after(void)
{
	CrmPurgeIdentity id;
	Oid		   *changed;
	int			nchanged = 0;
	bool		snap = false;
	int			i;

	if (!seq_watching || seq_reading)
		return;
	seq_watching = false;
	if (!IsTransactionState())
		return;
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		snap = true;
	}
	/* outside SPI's memory, which SPI_finish frees */
	changed = palloc(sizeof(Oid) * seq_nstates);
	seq_reading = true;
	PG_TRY();
	{
		SPI_connect();
		crm_purge_become_owner(&id);
		for (i = 0; i < seq_nstates; i++)
		{
			int64		last;
			bool		called;

			if (get_rel_relkind(seq_states[i].seqid) != RELKIND_SEQUENCE)
				continue;
			read_state(seq_states[i].seqid, &last, &called);
			if (last != seq_states[i].last_value || called != seq_states[i].is_called)
				changed[nchanged++] = seq_states[i].seqid;
		}
		crm_purge_unbecome(&id);
		SPI_finish();
	}
	PG_FINALLY();
	{
		seq_reading = false;
	}
	PG_END_TRY();
	for (i = 0; i < nchanged; i++)
		crm_purge_raise_sequence(changed[i]);
	if (snap)
		PopActiveSnapshot();
}

/*
 * crm_purge_sequences_after_utility: after ALTER SEQUENCE ... RESTART, ALTER
 * TABLE ... ALTER COLUMN ... RESTART and TRUNCATE ... RESTART IDENTITY; and
 * after a sequence is given to a column (CREATE or ALTER SEQUENCE ... OWNED
 * BY, ADD GENERATED ... AS IDENTITY): it starts below the floor.
 */
void
crm_purge_sequences_after_utility(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, AlterSeqStmt))
	{
		AlterSeqStmt *stmt = (AlterSeqStmt *) parsetree;
		Oid			seqid;

		/* (OWNED BY: a sequence given to a key column later starts below its floor) */
		foreach(lc, stmt->options)
			if (strcmp(((DefElem *) lfirst(lc))->defname, "restart") == 0 ||
				strcmp(((DefElem *) lfirst(lc))->defname, "owned_by") == 0)
				break;
		if (lc == NULL)
			return;
		seqid = RangeVarGetRelid(stmt->sequence, NoLock, true);
		if (OidIsValid(seqid))
			crm_purge_raise_sequence(seqid);
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		bool		restart = false;
		Oid			relid;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (cmd->subtype == AT_SetIdentity || cmd->subtype == AT_AddIdentity)
				restart = true;
		}
		if (!restart)
			return;
		relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		if (OidIsValid(relid))
			foreach(lc, getOwnedSequences(relid))
				crm_purge_raise_sequence(lfirst_oid(lc));
	}
	else if (IsA(parsetree, CreateSeqStmt))
	{
		CreateSeqStmt *stmt = (CreateSeqStmt *) parsetree;
		Oid			seqid;

		foreach(lc, stmt->options)
			if (strcmp(((DefElem *) lfirst(lc))->defname, "owned_by") == 0)
				break;
		if (lc == NULL)
			return;
		seqid = RangeVarGetRelid(stmt->sequence, NoLock, true);
		if (OidIsValid(seqid))
			crm_purge_raise_sequence(seqid);
	}
	else if (IsA(parsetree, TruncateStmt) && ((TruncateStmt *) parsetree)->restart_seqs)
	{
		foreach(lc, ((TruncateStmt *) parsetree)->relations)
		{
			Oid			relid = RangeVarGetRelid(lfirst(lc), NoLock, true);
			ListCell   *s;

			if (OidIsValid(relid))
				foreach(s, getOwnedSequences(relid))
					crm_purge_raise_sequence(lfirst_oid(s));
		}
	}
}

/*
 * crm_purge._raise_key_sequences(tbl): after an erase, as the extension
 * owner: the sequences of tbl's columns are raised past the erased keys
 * (and the trash's), so that no new row draws an erased key.
 */
PG_FUNCTION_INFO_V1(crm_purge_raise_key_sequences);
Datum
crm_purge_raise_key_sequences(PG_FUNCTION_ARGS)
{
	ListCell   *lc;

	foreach(lc, getOwnedSequences(PG_GETARG_OID(0)))
		raise_sequence(lfirst_oid(lc), true);
	PG_RETURN_VOID();
}
