/*
 * tombstone.c - keyed hashes of erased keys, and the guard trigger that
 * keeps a sync from re-importing them.
 *
 * A tombstone holds SipHash-2-4 of the key's text under a per-database
 * secret: a keyed pseudo-random function, so the key cannot be read back
 * without the secret, and cheap enough to check on every row of a bulk load.
 * Each backend keeps the tombstones of a guarded table in memory; a change
 * to crm_purge.tombstones sends a relcache invalidation (see
 * crm_purge._tombstones_changed) that drops those caches everywhere.
 *
 * SQL functions here: crm_purge.guard_trigger(), crm_purge._key_hash,
 * _new_secret, _tombstones_changed and _live_now.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "catalog/pg_inherits.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "parser/parse_coerce.h"
#include "parser/parse_relation.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "crm_purge.h"

/* SipHash-2-4, written from the specification (Aumasson and Bernstein, 2012) */
#define ROTL64(x, b) (uint64) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32); \
		v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32); \
	} while (0)

/* load_le64: 8 bytes as a little-endian integer, as SipHash reads them. */
static uint64
load_le64(const unsigned char *p)
{
	return (uint64) p[0] | ((uint64) p[1] << 8) | ((uint64) p[2] << 16) |
		((uint64) p[3] << 24) | ((uint64) p[4] << 32) | ((uint64) p[5] << 40) |
		((uint64) p[6] << 48) | ((uint64) p[7] << 56);
}

/* crm_purge_siphash24: SipHash-2-4 of data under a 16-byte key. */
uint64
crm_purge_siphash24(const unsigned char key[16], const unsigned char *data, size_t len)
{
	uint64		k0 = load_le64(key);
	uint64		k1 = load_le64(key + 8);
	uint64		v0 = k0 ^ UINT64CONST(0x736f6d6570736575);
	uint64		v1 = k1 ^ UINT64CONST(0x646f72616e646f6d);
	uint64		v2 = k0 ^ UINT64CONST(0x6c7967656e657261);
	uint64		v3 = k1 ^ UINT64CONST(0x7465646279746573);
	uint64		b = ((uint64) len) << 56;
	size_t		i;
	size_t		full = len - (len % 8);

	for (i = 0; i < full; i += 8)
	{
		uint64		m = load_le64(data + i);

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < len % 8; i++)
		b |= ((uint64) data[full + i]) << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* the per-database secret, read once per backend */
static bool have_secret = false;
static unsigned char secret[16];

/*
 * load_secret: reads crm_purge.secret (16 bytes) as the extension owner,
 * unless already loaded.  With missing_ok, false when the coordinator has
 * none yet (nothing was ever guarded, erased or protected on Citus).
 */
static bool
load_secret(bool missing_ok)
{
	CrmPurgeIdentity id;
	bool		isnull;
	bytea	   *b;

	if (have_secret)
		return true;
	/* this node's own table, or its placement of the reference table */
	crm_purge_become_owner_local(&id);
	SPI_connect();
	/* a Citus worker node: the coordinator's secret, copied to every node */
	if (crm_purge_citus_group() > 0)
	{
		char	   *placement = crm_purge_citus_placement("crm_purge_secret");

		if (placement == NULL && missing_ok)
		{
			SPI_finish();
			crm_purge_unbecome(&id);
			return false;
		}
		if (placement == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the tombstone secret of the Citus coordinator is missing on this node"),
					 errhint("On the coordinator, run crm_purge_guard or crm_purge_protect on the table again.")));
		if (SPI_execute(psprintf("SELECT secret FROM %s", placement), true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not read %s", placement);
	}
	else if (SPI_execute("SELECT secret FROM crm_purge.secret", true, 1) != SPI_OK_SELECT ||
			 SPI_processed != 1)
	{
		if (missing_ok)
		{
			SPI_finish();
			crm_purge_unbecome(&id);
			return false;
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crm_purge.secret is missing"),
				 errhint("Restore the table from a dump of this database: without it, tombstones cannot be checked.")));
	}
	b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(b) != 16)
		elog(ERROR, "crm_purge.secret must hold 16 bytes");
	memcpy(secret, VARDATA_ANY(b), 16);
	SPI_finish();
	crm_purge_unbecome(&id);
	have_secret = true;
	return true;
}

/* crm_purge_have_secret: does this node have the tombstone secret (on Citus: the coordinator's)? */
bool
crm_purge_have_secret(void)
{
	return load_secret(true);
}

/*
 * crm_purge_deletion_mac: the secret's tag of a deletion id the Citus
 * initiator hands its worker nodes, bound to its distributed transaction
 * (initiating node, number, start).  The message starts with a zero byte,
 * which no key text holds, so no tombstone hash is ever a tag.
 */
uint64
crm_purge_deletion_mac(int64 deletion_id, int32 node, int64 number, int64 stamp)
{
	unsigned char msg[1 + 3 * sizeof(int64) + sizeof(int32)];
	unsigned char *p = msg + 1;

	load_secret(false);
	msg[0] = 0;
	memcpy(p, &deletion_id, sizeof(int64));
	p += sizeof(int64);
	memcpy(p, &node, sizeof(int32));
	p += sizeof(int32);
	memcpy(p, &number, sizeof(int64));
	p += sizeof(int64);
	memcpy(p, &stamp, sizeof(int64));
	return crm_purge_siphash24(secret, msg, sizeof(msg));
}

/* crm_purge_secret_exists: has this database a tombstone secret (made at its first guard, erase or Citus protect)? */
bool
crm_purge_secret_exists(void)
{
	return load_secret(true);
}

/* crm_purge_key_hash: the tombstone hash of a key text under this database's secret. */
int64
crm_purge_key_hash(const char *key, size_t len)
{
	load_secret(false);
	return (int64) crm_purge_siphash24(secret, (const unsigned char *) key, len);
}

/* crm_purge_key_hash_sql: crm_purge._key_hash(key) */
PG_FUNCTION_INFO_V1(crm_purge_key_hash_sql);
Datum
crm_purge_key_hash_sql(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);

	/*
	 * Not for code run on an admin's behalf (an owner's index expression:
	 * an oracle on every table's erased keys and on hashed values); an
	 * owner's write hashes in C (security.c, hashed_values)
	 */
	crm_purge_require_admin("crm_purge._key_hash");

	PG_RETURN_INT64(crm_purge_key_hash(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)));
}

/* crm_purge_new_secret: crm_purge._new_secret(): 16 strong random bytes for crm_purge.secret. */
PG_FUNCTION_INFO_V1(crm_purge_new_secret);
Datum
crm_purge_new_secret(PG_FUNCTION_ARGS)
{
	bytea	   *b = palloc(VARHDRSZ + 16);

	if (!pg_strong_random(VARDATA(b), 16))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random secret")));
	SET_VARSIZE(b, VARHDRSZ + 16);
	PG_RETURN_BYTEA_P(b);
}

/* tombstones of one table, in memory */
typedef struct TombstoneSet
{
	Oid			relid;			/* hash key */
	bool		valid;
	bool		per_statement;	/* a Citus shard's: read by each statement */
	uint64		statement;		/* the statement that read it */
	HTAB	   *hashes;			/* of int64 */
} TombstoneSet;

static HTAB *tombstone_sets = NULL;
static Oid	tombstones_relid = InvalidOid;

/*
 * tombstones_invalidate: relcache callback; an invalidation of
 * crm_purge.tombstones (or of everything) marks every table's set stale and
 * drops the secret.
 */
static void
tombstones_invalidate(Oid relid)
{
	HASH_SEQ_STATUS status;
	TombstoneSet *s;

	if (tombstone_sets == NULL)
		return;
	if (OidIsValid(relid) && relid != tombstones_relid)
		return;
	hash_seq_init(&status, tombstone_sets);
	while ((s = hash_seq_search(&status)) != NULL)
		s->valid = false;
	have_secret = false;		/* a restore may have brought another */
}

static void guard_keys_invalidate(Oid relid);

/* crm_purge_tombstone_relcache_changed: from the relcache callback (module.c) */
void
crm_purge_tombstone_relcache_changed(Oid relid)
{
	tombstones_invalidate(relid);
	guard_keys_invalidate(relid);
}

/*
 * crm_purge_tombstone_forget: the extension was dropped or made again: its
 * tables and secret are new.
 */
void
crm_purge_tombstone_forget(void)
{
	tombstones_invalidate(InvalidOid);
	tombstones_relid = InvalidOid;
	have_secret = false;
}

/*
 * crm_purge_tombstones_changed: crm_purge._tombstones_changed(): a relcache
 * invalidation of crm_purge.tombstones.
 */
PG_FUNCTION_INFO_V1(crm_purge_tombstones_changed);
Datum
crm_purge_tombstones_changed(PG_FUNCTION_ARGS)
{
	Oid			relid = get_relname_relid("tombstones", get_namespace_oid(CRM_PURGE_SCHEMA, false));

	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}

/*
 * tombstone_set: the tombstones of relid in memory, read again (as the
 * extension owner) when stale.
 */
static TombstoneSet *
tombstone_set(Oid relid)
{
	TombstoneSet *s;
	bool		found;

	if (tombstone_sets == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TombstoneSet);
		tombstone_sets = hash_create("crm_purge tombstones", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	if (!OidIsValid(tombstones_relid))
		tombstones_relid = get_relname_relid("tombstones", get_namespace_oid(CRM_PURGE_SCHEMA, false));
	s = hash_search(tombstone_sets, &relid, HASH_ENTER, &found);
	if (!found)
	{
		s->valid = false;
		s->per_statement = false;
		s->hashes = NULL;
	}
	if (s->valid && s->per_statement && s->statement != crm_purge_top_level_statement())
		s->valid = false;
	if (!s->valid)
	{
		HASHCTL		ctl;
		Datum		values[1] = {ObjectIdGetDatum(relid)};
		CrmPurgeIdentity id;
		uint64		i;

		if (s->hashes)
			hash_destroy(s->hashes);
		s->hashes = NULL;
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(int64);
		ctl.hcxt = CacheMemoryContext;
		crm_purge_become_owner(&id);
		SPI_connect();

		/*
		 * The newest committed tombstones, whatever the transaction's
		 * snapshot: under REPEATABLE READ an older one would miss an erase
		 * that committed while this transaction waited to insert.
		 */
		{
			const char *sql = "SELECT key_hash FROM crm_purge.tombstones WHERE tbl = $1";
			Oid			types[1] = {OIDOID};
			Datum		args[1] = {values[0]};
			SPIPlanPtr	plan;

			/*
			 * A shard of a Citus table (on any node): the tombstones of its
			 * distributed table, by name, in this node's placement of the
			 * coordinator's copy (read anew by each statement: no
			 * invalidation comes here).
			 */
			Oid			logical = crm_purge_citus_shard_logical(relid);

			/*
			 * A table with a guard trigger that is neither guarded here nor
			 * a shard this node can name (its metadata not synced, a name
			 * Citus shortened): refuse rather than check against nothing.
			 */
			if (!OidIsValid(logical) && crm_purge_citus_present())
			{
				Oid			gtypes[1] = {OIDOID};

				if (SPI_execute_with_args("SELECT FROM crm_purge.guards WHERE tbl OPERATOR(pg_catalog.=) $1",
										  1, gtypes, values, NULL, true, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not read crm_purge.guards");
				if (SPI_processed == 0)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("table %s has a crm_purge guard but is not guarded on this node", get_rel_name(relid)),
							 errhint("On the Citus coordinator, run crm_purge_guard on its table again.")));
			}
			/* (a shard placed on the coordinator too) */
			if (OidIsValid(logical))
			{
				char	   *placement;
				char	   *key;

				/*
				 * An INSERT sent to the shard itself takes no lock on its
				 * table, which an erase locks on every node: it would wait on
				 * the key, then miss the tombstone.  Taken as a write to the
				 * table would.
				 */
				LockRelationOid(logical, RowExclusiveLock);
				placement = crm_purge_citus_placement("crm_purge_tombstones");
				key = crm_purge_citus_table_key(logical);

				if (placement == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("the tombstones of guarded table %s are missing on this node",
									get_rel_name(relid)),
							 errhint("On the coordinator, run crm_purge_guard or crm_purge_protect on the table again.")));
				sql = psprintf("SELECT key_hash FROM %s WHERE tbl OPERATOR(pg_catalog.=) $1", placement);
				types[0] = TEXTOID;
				args[0] = CStringGetTextDatum(key ? key : "");
				s->statement = crm_purge_top_level_statement();
				s->per_statement = true;
			}
			plan = SPI_prepare(sql, 1, types);
			if (plan == NULL ||
				SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
									 true, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read the tombstones");
			/*
			 * the copy marks a table copied whole (key_hash 0): without it the
			 * guard refuses (an erase after a split filed only its own under
			 * the new key; review round 46, C46-1)
			 */
			if (OidIsValid(logical))
			{
				bool		marker = false;

				for (i = 0; i < SPI_processed && !marker; i++)
				{
					bool		isnull;

					marker = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)) == 0;
				}
				if (!marker)
					ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the tombstones of guarded table %s are missing on this node",
								crm_purge_relname(logical)),
						 errdetail("The table was distributed after crm_purge_guard, or its shards were split."),
						 errhint("On the coordinator, run crm_purge_guard or crm_purge_protect on the table again.")));
			}
		}
		s->hashes = hash_create("crm_purge tombstone hashes", Max(SPI_processed, 16), &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int64		h = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));

			hash_search(s->hashes, &h, HASH_ENTER, NULL);
		}
		SPI_finish();
		crm_purge_unbecome(&id);
		s->valid = true;
	}
	return s;
}

/*
 * crm_purge_row_key_text: the key text of a row: the primary key's value,
 * or ROW(...)::text of a composite key, as crm_purge._key_expr() writes it
 * in SQL.  NULL for a one-column key that is NULL.
 */
char *
crm_purge_row_key_text(Relation rel, HeapTuple tuple, int nkeys, const AttrNumber *keys,
					   FmgrInfo *outfuncs, bool cast)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	StringInfoData buf;
	int			i;

	if (nkeys == 1)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, keys[0], tupdesc, &isnull);

		if (isnull)
			return NULL;
		return cast ? TextDatumGetCString(FunctionCall1Coll(&outfuncs[0], DEFAULT_COLLATION_OID, d))
			: OutputFunctionCall(&outfuncs[0], d);
	}
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	for (i = 0; i < nkeys; i++)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, keys[i], tupdesc, &isnull);

		/* (a key with a NULL part is no key: a unique index never finds two equal; review round 47, B47-1) */
		if (isnull)
		{
			pfree(buf.data);
			return NULL;
		}
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		crm_purge_record_field(&buf, OutputFunctionCall(&outfuncs[i], d));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* what a natural key's tombstone hashes: crm_purge._natural_key_text() */
#define NATURAL_KEY_PREFIX "natural key\x1f"

/*
 * per guarded table: its primary key's columns, its natural key's (the
 * trigger's arguments after the mode), and their output functions
 */
typedef struct GuardKey
{
	Oid			relid;
	Oid			guarded;		/* whose tombstones: guarded_table */
	bool		pin_settings;	/* a key type's text depends on DateStyle & co. */
	int			nkeys;
	AttrNumber	keys[INDEX_MAX_KEYS];
	FmgrInfo	out[INDEX_MAX_KEYS];
	bool		key_cast;		/* out[0] is a cast to text (key_output) */
	int			nnatural;		/* 0: none */
	AttrNumber	natural[INDEX_MAX_KEYS];
	FmgrInfo	natural_out[INDEX_MAX_KEYS];
	bool		natural_cast;
} GuardKey;

static HTAB *guard_keys = NULL;

/* guard_keys_invalidate: relcache callback; forgets the key columns of relid, or of every table. */
static void
guard_keys_invalidate(Oid relid)
{
	if (guard_keys != NULL && OidIsValid(relid))
		hash_search(guard_keys, &relid, HASH_REMOVE, NULL);
	else if (guard_keys != NULL)
	{
		hash_destroy(guard_keys);
		guard_keys = NULL;
	}
}

/*
 * key_output: how a key column is written: as crm_purge._key_expr() writes
 * it in SQL, ::text for the one column of a key of a built-in type (*cast:
 * out is that cast's function, e.g. char(n) without its trailing blanks,
 * inet with its mask), else the type's output function.  Returns whether
 * the text depends on settings.
 */
static bool
key_output(Relation rel, AttrNumber attno, FmgrInfo *out, bool single, bool *cast)
{
	Oid			func;
	bool		varlena;
	Oid			typid = getBaseType(TupleDescAttr(RelationGetDescr(rel), attno - 1)->atttypid);

	*cast = false;
	if (single && typid < FirstNormalObjectId &&
		find_coercion_pathway(TEXTOID, typid, COERCION_EXPLICIT, &func) == COERCION_PATH_FUNC &&
		get_func_nargs(func) == 1)
		*cast = true;
	else
		getTypeOutputInfo(typid, &func, &varlena);
	fmgr_info_cxt(func, out, CacheMemoryContext);
	return !crm_purge_key_text_settled(typid);
}

/*
 * guard_type_check: an error unless a guard can compare column att of rel
 * by its text: types whose equal values have one text (integers, text,
 * uuid, dates and times, booleans, enums), with a deterministic collation.
 * Checked whenever the guard's key is read (the column may change after
 * crm_purge_guard); crm_purge._guard_impl says the same when it is made.
 */
static void
guard_type_check(Relation rel, AttrNumber att, bool multi)
{
	Form_pg_attribute a = TupleDescAttr(RelationGetDescr(rel), att - 1);
	int32		typmod = a->atttypmod;
	Oid			base = getBaseTypeAndTypmod(a->atttypid, &typmod);
	bool		ok;

	/* (computed after BEFORE triggers: the guard would read no key) */
	if (a->attgenerated)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the crm_purge guard of table %s cannot check column \"%s\": it is generated",
						crm_purge_relname(RelationGetRelid(rel)), NameStr(a->attname)),
				 errdetail("A generated column gets its value after the guard has read the row."),
				 errhint("Key the table by a column that is not generated, then run crm_purge_guard again.")));
	/* ('k' and 'k ' are equal, and a key of several columns keeps the spaces in its text) */
	if (multi && base == BPCHAROID && typmod < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the crm_purge guard of table %s cannot check column \"%s\" of type %s in a key of several columns",
						crm_purge_relname(RelationGetRelid(rel)), NameStr(a->attname), format_type_be(a->atttypid)),
				 errdetail("Equal values of character without a length can be written with trailing spaces or without."),
				 errhint("Give the column a length (character(n)) or the type text, then run crm_purge_guard again.")));

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case UUIDOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case BOOLOID:
		case INETOID:
		case CIDROID:
			ok = true;
			break;
		default:
			ok = type_is_enum(base);
	}
	if (ok && OidIsValid(a->attcollation) && !get_collation_isdeterministic(a->attcollation))
		ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the crm_purge guard of table %s cannot check column \"%s\" of type %s",
						crm_purge_relname(RelationGetRelid(rel)), NameStr(a->attname), format_type_be(a->atttypid)),
				 errdetail("The guard compares a key's text; equal values of this column can be written differently."),
				 errhint("Give the column a type of integers, text with a deterministic collation, uuid or dates again, or run crm_purge_guard on a table keyed so.")));
}

/*
 * guarded_table: the table whose tombstones rel's guard checks: a
 * partition's guard trigger, cloned from a partitioned table's, checks
 * that table's (an erase of a partitioned table files them under it).
 */
static Oid
guarded_table(Relation rel, Trigger *trigger)
{
	ListCell   *lc;

	if (!trigger->tgisclone || !rel->rd_rel->relispartition)
		return RelationGetRelid(rel);
	/* nearest first: the first whose trigger of that name is its own */
	foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
	{
		Relation	anc = table_open(lfirst_oid(lc), AccessShareLock);
		bool		own = false;
		int			i;

		for (i = 0; anc->trigdesc != NULL && i < anc->trigdesc->numtriggers; i++)
			if (strcmp(anc->trigdesc->triggers[i].tgname, trigger->tgname) == 0 &&
				!anc->trigdesc->triggers[i].tgisclone)
				own = true;
		table_close(anc, AccessShareLock);
		if (own)
			return lfirst_oid(lc);
	}
	return RelationGetRelid(rel);
}

/*
 * guard_key: the cached key columns and output functions of a guarded
 * table; an error when it has no primary key, or a natural key column of
 * the trigger is gone.
 */
static GuardKey *
guard_key(Relation rel, Trigger *trigger)
{
	Oid			relid = RelationGetRelid(rel);
	GuardKey   *g;
	bool		found;
	AttrNumber	keys[INDEX_MAX_KEYS];
	Oid			guarded;
	AttrNumber	natural[INDEX_MAX_KEYS];
	int			nkeys;
	int			nnatural;
	int			i;

	if (guard_keys == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(GuardKey);
		ctl.hcxt = CacheMemoryContext;
		guard_keys = hash_create("crm_purge guard keys", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	g = hash_search(guard_keys, &relid, HASH_FIND, &found);
	if (found)
		return g;

	/* read before the entry exists: a table without a key leaves none behind */
	nkeys = crm_purge_primary_key(rel, keys, false);
	for (i = 0; i < nkeys; i++)
		guard_type_check(rel, keys[i], nkeys > 1);
	nnatural = Min(trigger->tgnargs - 1, INDEX_MAX_KEYS);
	for (i = 0; i < nnatural; i++)
	{
		natural[i] = attnameAttNum(rel, trigger->tgargs[i + 1], false);
		if (natural[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the crm_purge guard of table %s checks column \"%s\", which is gone",
							crm_purge_relname(relid), trigger->tgargs[i + 1]),
					 errhint("Run crm_purge_guard again with the natural key's columns as they are now.")));
		guard_type_check(rel, natural[i], nnatural > 1);
	}
	guarded = guarded_table(rel, trigger);
	g = hash_search(guard_keys, &relid, HASH_ENTER, NULL);
	g->guarded = guarded;
	g->nkeys = nkeys;
	memcpy(g->keys, keys, sizeof(AttrNumber) * nkeys);
	g->nnatural = nnatural;
	memcpy(g->natural, natural, sizeof(AttrNumber) * nnatural);
	g->pin_settings = false;
	for (i = 0; i < g->nkeys; i++)
		g->pin_settings |= key_output(rel, g->keys[i], &g->out[i], g->nkeys == 1, &g->key_cast);
	for (i = 0; i < g->nnatural; i++)
		g->pin_settings |= key_output(rel, g->natural[i], &g->natural_out[i], g->nnatural == 1, &g->natural_cast);
	return g;
}

/* key_unchanged: do an update's old and new row have the same key (these columns)? */
static bool
key_unchanged(Relation rel, int nkeys, const AttrNumber *keys, HeapTuple oldtup, HeapTuple newtup)
{
	TupleDesc	td = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, keys[i] - 1);
		bool		oldnull,
					newnull;
		Datum		o = heap_getattr(oldtup, keys[i], td, &oldnull);
		Datum		n = heap_getattr(newtup, keys[i], td, &newnull);

		if (oldnull != newnull)
			return false;
		if (!oldnull && !datumIsEqual(o, n, a->attbyval, a->attlen))
			return false;
	}
	return true;
}

/*
 * Rows the guard skipped in the running top-level statement, per table:
 * reported to the client as one NOTICE when the statement ends (statement.c),
 * since a skipped row is otherwise silent (RETURNING and COPY just show fewer).
 */
#define GUARD_SKIP_TABLES 8
static struct
{
	Oid			relid;
	int64		rows;
}			guard_skips[GUARD_SKIP_TABLES];
static int	guard_skip_tables = 0;

static void
guard_count_skip(Oid relid)
{
	int			i;

	for (i = 0; i < guard_skip_tables; i++)
		if (guard_skips[i].relid == relid)
			break;
	if (i == guard_skip_tables)
	{
		/* past the last slot, counted with the last table */
		if (i == GUARD_SKIP_TABLES)
			i--;
		else
		{
			guard_skips[i].relid = relid;
			guard_skips[i].rows = 0;
			guard_skip_tables++;
		}
	}
	guard_skips[i].rows++;
}

/* crm_purge_guard_skips_total: rows the guard skipped so far in this top-level statement */
int64
crm_purge_guard_skips_total(void)
{
	int64		n = 0;
	int			i;

	for (i = 0; i < guard_skip_tables; i++)
		n += guard_skips[i].rows;
	return n;
}

/*
 * crm_purge_guard_skips_save, _restore: the counts before work that may be
 * rolled back (a restore's batch tried again row by row): its skips did
 * not happen.
 */
void *
crm_purge_guard_skips_save(void)
{
	int		   *saved = palloc(sizeof(int) + sizeof(guard_skips));

	saved[0] = guard_skip_tables;
	memcpy(saved + 1, guard_skips, sizeof(guard_skips));
	return saved;
}

void
crm_purge_guard_skips_restore(void *saved)
{
	guard_skip_tables = ((int *) saved)[0];
	memcpy(guard_skips, ((int *) saved) + 1, sizeof(guard_skips));
}

/* crm_purge_guard_skips_reset: a top-level statement starts. */
void
crm_purge_guard_skips_reset(void)
{
	guard_skip_tables = 0;
}

/* crm_purge_guard_skips_report: a top-level statement ended; one NOTICE per table. */
void
crm_purge_guard_skips_report(void)
{
	int			i;

	for (i = 0; i < guard_skip_tables; i++)
		crm_purge_guard_count(guard_skips[i].relid, guard_skips[i].rows);
	for (i = 0; i < guard_skip_tables; i++)
		ereport(NOTICE,
				(errmsg_plural("crm_purge guard skipped %lld row of table %s: its key belongs to an erased record",
							   "crm_purge guard skipped %lld rows of table %s: their keys belong to erased records",
							   guard_skips[i].rows, (long long) guard_skips[i].rows,
							   crm_purge_relname(guard_skips[i].relid)),
				 errhint("Guard mode 'error' refuses such a statement instead; use it when the application reads back what it wrote (INSERT ... RETURNING, ORMs).")));
	guard_skip_tables = 0;
}

/*
 * erased_key: does row carry an erased key: its primary key (check_pk), its
 * natural key (check_natural)?
 */
static bool
erased_key(Relation rel, GuardKey *g, TombstoneSet *s, HeapTuple row, bool check_pk, bool check_natural)
{
	char	   *key;
	int64		h;
	bool		found = false;
	int			nestlevel = g->pin_settings ? crm_purge_pin_output_settings() : -1;

	if (check_pk)
	{
		key = crm_purge_row_key_text(rel, row, g->nkeys, g->keys, g->out, g->key_cast);
		if (key != NULL)
		{
			h = crm_purge_key_hash(key, strlen(key));
			pfree(key);
			hash_search(s->hashes, &h, HASH_FIND, &found);
		}
	}
	if (!found && check_natural)
	{
		key = crm_purge_row_key_text(rel, row, g->nnatural, g->natural, g->natural_out, g->natural_cast);
		if (key != NULL)
		{
			char	   *text = psprintf("%s%s", NATURAL_KEY_PREFIX, key);

			h = crm_purge_key_hash(text, strlen(text));
			pfree(text);
			pfree(key);
			hash_search(s->hashes, &h, HASH_FIND, &found);
		}
	}
	if (nestlevel >= 0)
		AtEOXact_GUC(false, nestlevel);
	return found;
}

/*
 * guard_blocks: does row (inserted, or oldrow's new version) carry an erased
 * key, primary or natural?  In 'error' mode it raises the error instead.
 * The error names no key: it would reach the log.
 */
static bool
guard_blocks(Relation rel, Trigger *trigger, HeapTuple row, HeapTuple oldrow)
{
	TombstoneSet *s;
	GuardKey   *g;
	bool		check_pk;
	bool		check_natural;

	g = guard_key(rel, trigger);
	s = tombstone_set(g->guarded);
	if (hash_get_num_entries(s->hashes) == 0)
		return false;

	/* an update that keeps a key cannot bring an erased one back */
	check_pk = oldrow == NULL || !key_unchanged(rel, g->nkeys, g->keys, oldrow, row);
	check_natural = g->nnatural > 0 &&
		(oldrow == NULL || !key_unchanged(rel, g->nnatural, g->natural, oldrow, row));
	if (!check_pk && !check_natural)
		return false;
	if (!erased_key(rel, g, s, row, check_pk, check_natural))
		return false;
	if (strcmp(trigger->tgargs[0], "error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
				 errmsg("cannot %s table \"%s\": the row's key belongs to an erased record",
						oldrow != NULL ? "update" : "insert into",
						RelationGetRelationName(rel)),
				 errdetail("The record was erased with crm_purge_erase; a tombstone keeps it from coming back."),
				 errhint("If it must come back, an administrator can lift the tombstone with crm_purge_forget."),
		/* the statement (INSERT ... VALUES) and COPY's context line hold the erased person's data */
				 errhidestmt(true), errhidecontext(true)));
	guard_count_skip(RelationGetRelid(rel));
	return true;
}

/*
 * crm_purge_guard_check_attached: after ATTACH PARTITION of relid.  Its
 * rows (every leaf's) that a guard checks now were never checked (a staging
 * table, loaded and then attached, the usual bulk load): one with an erased
 * key refuses the ATTACH, whatever the guard's mode (no row can be skipped).
 */
void
crm_purge_guard_check_attached(Oid relid, Oid parent)
{
	ListCell   *lc;
	Oid			nsp = get_namespace_oid(CRM_PURGE_SCHEMA, true);

	if (!OidIsValid(nsp))
		return;
	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		Trigger    *guard = NULL;
		int64		n = 0;
		int			i;

		for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *t = &rel->trigdesc->triggers[i];
			char	   *fname = get_func_name(t->tgfoid);

			/* by its function, not its name: anyone can name a trigger */
			if (strcmp(t->tgname, "crm_purge_guard") == 0 && t->tgnargs >= 1 &&
				fname != NULL && strcmp(fname, "guard_trigger") == 0 && get_func_namespace(t->tgfoid) == nsp)
				guard = t;
		}
		if (guard != NULL && RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		{
			GuardKey   *g = guard_key(rel, guard);
			TombstoneSet *s = tombstone_set(g->guarded);

			if (hash_get_num_entries(s->hashes) > 0)
			{
				Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
				TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
				TupleTableSlot *slot = table_slot_create(rel, NULL);

				while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
				{
					bool		should_free;
					HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, &should_free);

					if (erased_key(rel, g, s, tup, true, g->nnatural > 0))
						n++;
					if (should_free)
						heap_freetuple(tup);
					CHECK_FOR_INTERRUPTS();
				}
				ExecDropSingleTupleTableSlot(slot);
				table_endscan(scan);
				UnregisterSnapshot(snap);
			}
		}
		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
					 errmsg("cannot attach table %s as a partition of table %s: " INT64_FORMAT " of its rows have keys of erased records",
							crm_purge_relname(relid), crm_purge_relname(parent), n),
					 errdetail("Table %s is guarded by crm_purge: tombstones keep erased records from coming back.",
							   crm_purge_relname(parent)),
					 errhint("Delete those rows first (an INSERT into the partitioned table skips or refuses them), or have an administrator lift the tombstones with crm_purge_forget.")));
		table_close(rel, AccessShareLock);
	}
}

/*
 * crm_purge_guard_keeps: for COPY FROM (guard_copy.c): may this row go in?
 * false: skip it (counted); 'error' mode raises instead.
 */
bool
crm_purge_guard_keeps(Relation rel, Trigger *trigger, HeapTuple row)
{
	return !guard_blocks(rel, trigger, row, NULL);
}

/*
 * crm_purge_guard_trigger: crm_purge.guard_trigger('skip' or 'error',
 * natural key columns...), BEFORE INSERT OR UPDATE FOR EACH ROW: a row whose
 * key was erased is dropped ('skip') or refused ('error').
 */
PG_FUNCTION_INFO_V1(crm_purge_guard_trigger);
Datum
crm_purge_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	bool		update;
	HeapTuple	row;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm_purge.guard_trigger() must be fired BEFORE INSERT OR UPDATE FOR EACH ROW with a mode")));
	update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	/* the row as it would be: inserted, or the new version of an update */
	row = update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (guard_blocks(trigdata->tg_relation, trigdata->tg_trigger, row,
					 update ? trigdata->tg_trigtuple : NULL))
		return PointerGetDatum(NULL);
	return PointerGetDatum(row);
}

/*
 * crm_purge_live_now: crm_purge._live_now(tbl, keys): live rows of tbl whose
 * primary key text is in keys, counted under the newest snapshot.
 * crm_purge_erase locks the table against writers first; a row its own
 * (REPEATABLE READ) snapshot cannot see, inserted before the lock, still shows
 * here, and the erase refuses to end with an erased key live.
 */
PG_FUNCTION_INFO_V1(crm_purge_live_now);
Datum
crm_purge_live_now(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1] = {PG_GETARG_DATUM(1)};
	SPIPlanPtr	plan;
	int64		n;
	bool		isnull;
	CrmPurgeIdentity id;
	char	   *sql;

	crm_purge_require_admin("crm_purge_erase");
	sql = psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s",
				   crm_purge_relname(relid), crm_purge_primary_key_match(relid));
	SPI_connect();
	/* (the owner's code, a cast in the key's text, runs as the erase's picks do: never as the caller, unmarked) */
	crm_purge_become_picker(GetUserId(), relid, &id);
	plan = SPI_prepare(sql, 1, argtypes);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count live rows");
	crm_purge_unbecome(&id);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(n);
}
