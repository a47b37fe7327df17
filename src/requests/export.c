/*
 * export.c - CSV export parts: written COPY-style, made durable before the
 * batch that deleted their rows commits, read back (crm_purge_export_read),
 * searched for erased keys (crm_purge._parts_with_keys), expired.  The
 * value-level CSV is in csv.c.
 *
 * A batch's own part is numbered the request's committed part count plus
 * one, so a batch redone after a crash rewrites the same file, and every
 * deleted row is in the export exactly once.  The parts of rows its cascade
 * removed, one per table, are numbered after it.
 */
#include "postgres.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/file_perm.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "common/string.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "tcop/dest.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "funcapi.h"
#include "utils/tuplestore.h"
#include "utils/hsearch.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "crm_purge.h"

/* table_suffix: "_schema.table" for a part of rows a cascade removed, "" for the request's own */
static const char *
table_suffix(Oid table)
{
	char	   *name;
	char	   *c;

	if (!OidIsValid(table))
		return "";
	if (get_rel_name(table) == NULL)
		return psprintf("_%u", table);
	name = psprintf("_%s.%s", get_namespace_name(get_rel_namespace(table)), get_rel_name(table));
	for (c = name + 1; *c; c++)
		if (!(isalnum((unsigned char) *c) || *c == '_' || *c == '.'))
			*c = '_';
	return name;
}

/* crm_purge_csv_header: the header line: the column names, dropped columns left out. */
void
crm_purge_csv_header(StringInfo buf, TupleDesc tupdesc)
{
	int			i;
	bool		first = true;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(tupdesc, i);

		if (a->attisdropped)
			continue;
		if (!first)
			appendStringInfoCharMacro(buf, ',');
		crm_purge_csv_value(buf, NameStr(a->attname), tupdesc->natts == 1);
		first = false;
	}
	appendStringInfoCharMacro(buf, '\n');
}

/* csv_output_functions: the output function of each column (dropped ones left out) */
static FmgrInfo *
csv_output_functions(TupleDesc tupdesc)
{
	FmgrInfo   *out = palloc(sizeof(FmgrInfo) * Max(tupdesc->natts, 1));
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Oid			func;
		bool		varlena;

		if (TupleDescAttr(tupdesc, i)->attisdropped)
			continue;
		getTypeOutputInfo(TupleDescAttr(tupdesc, i)->atttypid, &func, &varlena);
		fmgr_info(func, &out[i]);
	}
	return out;
}

/* csv_row: one row as a CSV line; NULL is an empty unquoted field */
static void
csv_row(StringInfo buf, TupleDesc tupdesc, FmgrInfo *out, Datum *values, bool *nulls)
{
	bool		first = true;
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i)->attisdropped)
			continue;
		if (!first)
			appendStringInfoCharMacro(buf, ',');
		first = false;
		if (!nulls[i])
			crm_purge_csv_value(buf, OutputFunctionCall(&out[i], values[i]), tupdesc->natts == 1);
	}
	appendStringInfoCharMacro(buf, '\n');
}

/*
 * The CSV receiver: the executor's rows written as CSV as they come, the
 * way COPY ... TO does it, with no tuple formed or copied into an SPI
 * result.  For the RETURNING rows of a request's batch.
 */
typedef struct CsvReceiver
{
	DestReceiver pub;
	StringInfo	buf;
	FmgrInfo   *out;
	TupleDesc	tupdesc;
	int			nestlevel;
	MemoryContext rowcxt;		/* the output functions' strings, reset per row */
	uint64		rows;			/* in buf */
	/* optional: parts of at most part_rows rows or part_bytes bytes go to flush */
	CrmPurgeCsvFlush flush;
	void	   *flush_arg;
	uint64		part_rows;
	Size		part_bytes;
	/* optional: the rows go on into this file, a chunk at a time */
	CrmPurgePartFile *file;
	uint64		file_rows;
} CsvReceiver;

/* what a streamed part holds in memory at most (a row more) */
#define CSV_STREAM_CHUNK	(1024 * 1024)

static void
csv_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	CsvReceiver *c = (CsvReceiver *) self;

	c->out = csv_output_functions(typeinfo);
	c->tupdesc = typeinfo;
	crm_purge_csv_header(c->buf, typeinfo);
	c->nestlevel = crm_purge_pin_output_settings();
	c->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "crm_purge csv row", ALLOCSET_DEFAULT_SIZES);
}

static bool
csv_receive(TupleTableSlot *slot, DestReceiver *self)
{
	CsvReceiver *c = (CsvReceiver *) self;

	MemoryContext old;

	slot_getallattrs(slot);
	old = MemoryContextSwitchTo(c->rowcxt);
	csv_row(c->buf, slot->tts_tupleDescriptor, c->out, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	MemoryContextReset(c->rowcxt);
	c->rows++;
	if (c->file != NULL && (Size) c->buf->len >= CSV_STREAM_CHUNK)
	{
		crm_purge_export_part_append(c->file, c->buf->data, c->buf->len);
		resetStringInfo(c->buf);
		c->file_rows += c->rows;
		c->rows = 0;
	}
	else if (c->flush != NULL && (c->rows >= c->part_rows || (Size) c->buf->len >= c->part_bytes))
	{
		c->flush(c->flush_arg, c->buf, c->rows);
		resetStringInfo(c->buf);
		crm_purge_csv_header(c->buf, c->tupdesc);
		c->rows = 0;
	}
	return true;
}

static void
csv_shutdown(DestReceiver *self)
{
	CsvReceiver *c = (CsvReceiver *) self;

	AtEOXact_GUC(true, c->nestlevel);
	MemoryContextDelete(c->rowcxt);
	if (c->flush != NULL && c->rows > 0)
		c->flush(c->flush_arg, c->buf, c->rows);
	/* the rest; nothing (not even the header) when no row came */
	if (c->file != NULL && c->file_rows + c->rows > 0 && c->buf->len > 0)
	{
		crm_purge_export_part_append(c->file, c->buf->data, c->buf->len);
		resetStringInfo(c->buf);
	}
}

static void
csv_destroy(DestReceiver *self)
{
	pfree(self);
}

/*
 * crm_purge_csv_receiver: a DestReceiver appending the rows it gets to buf
 * as CSV, header first.  With flush, each part of at most part_rows rows or
 * part_bytes bytes is handed to flush(arg, buf, rows), the last one at the
 * end; buf then starts again with the header.
 */
DestReceiver *
crm_purge_csv_parts_receiver(StringInfo buf, CrmPurgeCsvFlush flush, void *arg,
							 uint64 part_rows, Size part_bytes)
{
	CsvReceiver *c = (CsvReceiver *) crm_purge_csv_receiver(buf);

	c->flush = flush;
	c->flush_arg = arg;
	c->part_rows = part_rows;
	c->part_bytes = part_bytes;
	return &c->pub;
}

/*
 * crm_purge_csv_stream_receiver: as crm_purge_csv_receiver, the CSV
 * appended to the part file f each time buf holds a chunk, and at the end.
 */
DestReceiver *
crm_purge_csv_stream_receiver(StringInfo buf, CrmPurgePartFile *f)
{
	CsvReceiver *c = (CsvReceiver *) crm_purge_csv_receiver(buf);

	c->file = f;
	return &c->pub;
}

DestReceiver *
crm_purge_csv_receiver(StringInfo buf)
{
	CsvReceiver *c = palloc0(sizeof(CsvReceiver));

	c->pub.receiveSlot = csv_receive;
	c->pub.rStartup = csv_startup;
	c->pub.rShutdown = csv_shutdown;
	c->pub.rDestroy = csv_destroy;
	c->pub.mydest = DestNone;
	c->buf = buf;
	return &c->pub;
}

/*
 * crm_purge_csv_rows: appends the first n rows of an SPI result, each value
 * in its type's output format with the output settings pinned; NULL is an
 * empty unquoted field.
 */
void
crm_purge_csv_rows(StringInfo buf, SPITupleTable *tt, uint64 n)
{
	TupleDesc	tupdesc = tt->tupdesc;
	FmgrInfo   *out = csv_output_functions(tupdesc);
	Datum	   *values = palloc(sizeof(Datum) * Max(tupdesc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(tupdesc->natts, 1));
	uint64		r;
	int			nestlevel = crm_purge_pin_output_settings();

	for (r = 0; r < n; r++)
	{
		heap_deform_tuple(tt->vals[r], tupdesc, values, nulls);
		csv_row(buf, tupdesc, out, values, nulls);
	}
	AtEOXact_GUC(true, nestlevel);
	pfree(out);
	pfree(values);
	pfree(nulls);
}

/*
 * crm_purge_export_dir: crm_purge.export_directory, or crm_purge_exports in
 * the data directory when empty.
 */
char *
crm_purge_export_dir(void)
{
	if (crm_purge_export_directory && crm_purge_export_directory[0] != '\0')
		return crm_purge_export_directory;
	return psprintf("%s/crm_purge_exports", DataDir);
}

/*
 * export_path_ok: is path an export part's file, directly in the export
 * directory?  Part paths are read back from crm_purge's catalogs, which a
 * role with pg_write_all_data may write: the server reads and removes no
 * other file for it.
 */
static bool
export_path_ok(const char *path)
{
	const char *dir = crm_purge_export_dir();
	size_t		len = strlen(dir);

	return path != NULL && strncmp(path, dir, len) == 0 && path[len] == '/' &&
		strchr(path + len + 1, '/') == NULL && strncmp(path + len + 1, "db", 2) == 0 &&
		pg_str_endswith(path, ".csv");
}

/* digest_hex: a SHA-256 digest as 64 hex digits, NUL-terminated, into hex */
static void
digest_hex(const uint8 *digest, char *hex)
{
	int			i;

	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	hex[64] = '\0';
}

/* hash_fail: a SHA-256 computation failed (out of memory) */
static void
pg_attribute_noreturn()
hash_fail(void)
{
	elog(ERROR, "could not compute SHA-256 of an export part");
}

/* sha256_hex: SHA-256 of data as 64 hex digits, NUL-terminated, into hex. */
static void
sha256_hex(const char *data, size_t len, char *hex)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		hash_fail();
	pg_cryptohash_free(ctx);
	digest_hex(digest, hex);
}

/*
 * crm_purge_export_part_open: starts part number part of a request as a
 * file that the rows are appended to as they come (the file's memory is a
 * chunk, its writeback runs while the batch goes on); false with
 * export_storage = database, where a part is kept whole for the catalog.
 */
bool
crm_purge_export_part_open(int64 request_id, int part, Oid table, int64 placement, CrmPurgePartFile *f)
{
	char	   *dir;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (crm_purge_export_storage == EXPORT_STORAGE_DATABASE)
		return false;
	dir = crm_purge_export_dir();
	if (MakePGDirectory(dir) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create export directory \"%s\": %m", dir),
				 errhint("Create it, writable by the server, or set crm_purge.export_directory.")));
	/* a Citus placement's: its id too, unique in the cluster (nodes may share the directory) */
	f->path = psprintf("%s/db%u_request" INT64_FORMAT "_part%05d%s%s.csv",
					   dir, MyDatabaseId, request_id, part, table_suffix(table),
					   placement ? psprintf("_p" INT64_FORMAT, placement) : "");
	f->hash = pg_cryptohash_create(PG_SHA256);
	if (f->hash == NULL || pg_cryptohash_init(f->hash) < 0)
		hash_fail();
	f->fd = OpenTransientFile(f->path, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (f->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create export file \"%s\": %m", f->path)));
	return true;
}

/* crm_purge_export_part_append: data appended to the part's file and hash, its writeback started */
void
crm_purge_export_part_append(CrmPurgePartFile *f, const char *data, size_t len)
{
	size_t		done = 0;

	if (pg_cryptohash_update(f->hash, (const uint8 *) data, len) < 0)
		hash_fail();
	while (done < len)
	{
		ssize_t		n;

		errno = 0;
		n = write(f->fd, data + done, len - done);
		if (n <= 0)
		{
			if (errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write export file \"%s\": %m", f->path),
					 errdetail("Nothing of this batch was deleted."),
					 errhint("Free space in crm_purge.export_directory, or point it elsewhere.")));
		}
		done += n;
	}
	pg_flush_data(f->fd, f->bytes, len);
	f->bytes += len;
}

/*
 * crm_purge_export_part_finish: the part's file closed, with sync made
 * durable (file, then directory; else see crm_purge_export_sync_parts),
 * and described in out.
 */
void
crm_purge_export_part_finish(CrmPurgePartFile *f, bool sync, CrmPurgeExportPart *out)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (sync && pg_fsync(f->fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync export file \"%s\": %m", f->path)));
	if (CloseTransientFile(f->fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close export file \"%s\": %m", f->path)));
	f->fd = -1;
	if (sync)
		fsync_fname(crm_purge_export_dir(), true);
	if (pg_cryptohash_final(f->hash, digest, sizeof(digest)) < 0)
		hash_fail();
	pg_cryptohash_free(f->hash);
	f->hash = NULL;
	digest_hex(digest, out->sha256);
	out->bytes = f->bytes;
	out->path = f->path;
	out->data = NULL;
}

/*
 * crm_purge_export_remove_unrecorded: the files of request's parts numbered
 * after recorded (of this Citus placement, 0: none) removed.  Only an
 * attempt that did not commit wrote them: a crash between a batch's parts
 * and its commit.  Its next attempt rewrites its own part, but a cascade's
 * part under a table's name stayed when the cascade reached nothing then,
 * holding rows never deleted, listed nowhere, never expired (review round
 * 55, B55-3).
 */
void
crm_purge_export_remove_unrecorded(int64 request_id, int64 placement, int recorded)
{
	char	   *dir;
	DIR		   *d;
	struct dirent *de;
	char	   *prefix;
	char	   *suffix;
	size_t		plen;

	if (crm_purge_export_storage == EXPORT_STORAGE_DATABASE)
		return;
	dir = crm_purge_export_dir();
	d = AllocateDir(dir);
	if (d == NULL)
		return;
	prefix = psprintf("db%u_request" INT64_FORMAT "_part", MyDatabaseId, request_id);
	plen = strlen(prefix);
	suffix = psprintf("%s.csv", placement ? psprintf("_p" INT64_FORMAT, placement) : "");
	while ((de = ReadDirExtended(d, dir, LOG)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		char	   *end;
		long		part;

		if (strncmp(de->d_name, prefix, plen) != 0 || !isdigit((unsigned char) de->d_name[plen]) ||
			len < strlen(suffix) || strcmp(de->d_name + len - strlen(suffix), suffix) != 0)
			continue;
		part = strtol(de->d_name + plen, &end, 10);
		if (part <= recorded || (*end != '_' && *end != '.'))
			continue;
		if (unlink(psprintf("%s/%s", dir, de->d_name)) == 0)
			ereport(LOG,
					(errmsg("crm_purge removed export file \"%s/%s\" of request " INT64_FORMAT ": no batch recorded it",
							dir, de->d_name, request_id)));
	}
	FreeDir(d);
}

/* crm_purge_export_part_abandon: a part whose batch wrote no row, or failed: its file removed */
void
crm_purge_export_part_abandon(CrmPurgePartFile *f)
{
	if (f->hash != NULL)
		pg_cryptohash_free(f->hash);
	f->hash = NULL;
	if (f->fd >= 0)
		CloseTransientFile(f->fd);
	f->fd = -1;
	if (f->path != NULL)
		(void) unlink(f->path);
}

/*
 * write_part: writes a part and, with sync, makes it durable (file, then
 * directory), or keeps it for the catalog with export_storage = database.
 * Errors (a full disk) abort the batch, so nothing is deleted whose export was
 * not written.
 */
static void
write_part(int64 request_id, int part, Oid table, int64 placement, StringInfo csv, CrmPurgeExportPart *out,
		   bool sync)
{
	CrmPurgePartFile f;

	if (crm_purge_export_part_open(request_id, part, table, placement, &f))
	{
		crm_purge_export_part_append(&f, csv->data, csv->len);
		crm_purge_export_part_finish(&f, sync, out);
		return;
	}
	out->bytes = csv->len;
	sha256_hex(csv->data, csv->len, out->sha256);
	out->path = NULL;
	out->data = (bytea *) palloc(VARHDRSZ + csv->len);
	SET_VARSIZE(out->data, VARHDRSZ + csv->len);
	memcpy(VARDATA(out->data), csv->data, csv->len);
}

/* crm_purge_export_write_part: writes a part and makes it durable (file, then directory) */
void
crm_purge_export_write_part(int64 request_id, int part, Oid table, int64 placement, StringInfo csv, CrmPurgeExportPart *out)
{
	write_part(request_id, part, table, placement, csv, out, true);
}

/*
 * crm_purge_export_write_part_unsynced: writes a part and starts its
 * writeback without waiting; crm_purge_export_sync_parts makes the parts
 * durable before the batch that deleted their rows commits.  Disk and CPU
 * then work at once on a large export.
 */
void
crm_purge_export_write_part_unsynced(int64 request_id, int part, Oid table, int64 placement, StringInfo csv,
									 CrmPurgeExportPart *out)
{
	write_part(request_id, part, table, placement, csv, out, false);
}

/* crm_purge_export_sync_parts: the files of parts (CrmPurgeExportPart *) made durable, then their directory */
void
crm_purge_export_sync_parts(List *parts)
{
	ListCell   *lc;
	bool		any = false;

	foreach(lc, parts)
	{
		CrmPurgeExportPart *part = lfirst(lc);
		int			fd;

		if (part->path == NULL)
			continue;
		fd = OpenTransientFile(part->path, O_RDWR | PG_BINARY);
		if (fd < 0 || pg_fsync(fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not fsync export file \"%s\": %m", part->path)));
		CloseTransientFile(fd);
		any = true;
	}
	if (any)
		fsync_fname(crm_purge_export_dir(), true);
}

/*
 * crm_purge_expire_exports: removes the files of finished requests' exports
 * past their retention, clears the data of parts kept in the catalog, and
 * marks the exports expired with a history row; returns the files removed
 * (or found gone).
 */
int64
crm_purge_expire_exports(void)
{
	SPITupleTable *tt;
	uint64		n,
				i;
	int64		removed = 0;

	if (SPI_execute("SELECT p.path FROM crm_purge.export_parts p JOIN crm_purge.requests r ON r.id = p.request_id"
					" WHERE NOT r.export_expired AND r.export_expires_at < pg_catalog.now()"
					" AND r.status NOT IN ('queued', 'in_progress') AND p.path IS NOT NULL AND p.node_group IS NULL",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.export_parts");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		char	   *path = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);

		if (!export_path_ok(path))
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("not removing \"%s\": it is not an export file in crm_purge.export_directory", path)));
		else if (unlink(path) < 0 && errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove expired export file \"%s\": %m", path)));
		else
			removed++;
	}
	/* parts on Citus nodes: removed there; a request whose node is down waits */
	if (SPI_execute("SELECT crm_purge._citus_expire_exports()", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not expire exports on the Citus nodes");
	{
		bool		isnull;
		Datum		waiting = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		Oid			argtypes[1] = {INT8ARRAYOID};

		if (SPI_execute_with_args("WITH e AS (UPDATE crm_purge.requests r SET export_expired = true"
								  " WHERE NOT r.export_expired AND r.export_expires_at < pg_catalog.now()"
								  " AND r.status NOT IN ('queued', 'in_progress') AND r.id <> ALL ($1) RETURNING r.id, r.tbl)"
								  " , p AS (UPDATE crm_purge.export_parts p SET data = NULL FROM e WHERE p.request_id = e.id)"
								  " SELECT crm_purge._record_history('export expired', e.tbl, 0, request_id => e.id) FROM e",
								  1, argtypes, &waiting, isnull ? "n" : " ", false, 0) < 0)
			elog(ERROR, "could not expire exports");
	}
	return removed;
}

/*
 * read_part_file: the whole of an export part's file; with missing_ok,
 * NULL when it cannot be opened (gone already: it holds nothing).
 */
static text *
read_part_file(const char *path, bool missing_ok)
{
	struct stat st;
	int			fd;
	off_t		done = 0;
	text	   *result;

	if (!export_path_ok(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export part \"%s\" is not a file in crm_purge.export_directory", path),
				 errhint("The part's file was written under another crm_purge.export_directory: set it back to read it.")));
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0 && missing_ok)
		return NULL;
	if (fd < 0 || fstat(fd, &st) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open export file \"%s\": %m", path)));
	result = (text *) palloc(VARHDRSZ + st.st_size);
	while (done < st.st_size)
	{
		int			n = read(fd, VARDATA(result) + done, st.st_size - done);

		if (n <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read export file \"%s\": %m", path)));
		done += n;
	}
	CloseTransientFile(fd);
	SET_VARSIZE(result, VARHDRSZ + st.st_size);
	return result;
}

/*
 * remote_part: a part a Citus shard placement's batch wrote on its node
 * (found by group: its address may have changed), read there by
 * crm_purge._citus_shard_part as the extension owner.
 */
static text *
remote_part(int32 node_group, int64 request_id, int64 placementid, int32 shard_part, int32 part)
{
	Oid			argtypes[2] = {INT4OID, TEXTOID};
	Datum		values[2];
	CrmPurgeIdentity id;
	bool		isnull;
	bool		ok;
	text	   *result;

	values[0] = Int32GetDatum(node_group);
	values[1] = CStringGetTextDatum(psprintf("SELECT crm_purge._citus_shard_part(" INT64_FORMAT ", " INT64_FORMAT ", %d)",
											 request_id, placementid, shard_part));
	SPI_connect();
	crm_purge_become_owner(&id);
	if (SPI_execute_with_args("SELECT w.success, w.result, n.nodename || ':' || n.nodeport"
							  " FROM pg_catalog.pg_dist_node n,"
							  " LATERAL pg_catalog.master_run_on_worker(ARRAY[n.nodename::text], ARRAY[n.nodeport], ARRAY[$2], false) w"
							  " WHERE n.groupid = $1 AND n.noderole = 'primary'",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not ask node group %d for export part %d", node_group, part);
	crm_purge_unbecome(&id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("export part %d of request " INT64_FORMAT " was written on Citus node group %d, which is no longer in the cluster",
						part, request_id, node_group)));
	ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read export part %d of request " INT64_FORMAT " on Citus node %s", part, request_id,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)),
				 errdetail("%s", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
				 errhint("The part was written on the node holding the shard; try again once that node is up.")));
	result = (text *) SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull), false, -1);
	SPI_finish();
	return result;
}

/*
 * crm_purge_citus_shard_part: crm_purge._citus_shard_part(request_id,
 * shardid, part): on a Citus node, the text of a part a shard's batch
 * wrote here.  The extension owner's: crm_purge_export_read asks it.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_shard_part);
Datum
crm_purge_citus_shard_part(PG_FUNCTION_ARGS)
{
	Oid			argtypes[3] = {INT8OID, INT8OID, INT4OID};
	Datum		values[3] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)};
	text	   *result = NULL;
	char	   *path = NULL;
	bool		isnull;

	crm_purge_require_extension_owner("crm_purge._citus_shard_part");
	SPI_connect();
	if (SPI_execute_with_args("SELECT path, data FROM crm_purge.shard_parts WHERE request_id = $1 AND placementid = $2 AND part = $3",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.shard_parts");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("this node has no export part %d of placement " INT64_FORMAT " of request " INT64_FORMAT,
						DatumGetInt32(values[2]), DatumGetInt64(values[1]), DatumGetInt64(values[0])),
				 errdetail("Its export expired, or the node's data was restored from an older backup.")));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
			result = (text *) SPI_datumTransfer(d, false, -1);
		else
			path = MemoryContextStrdup(TopTransactionContext, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	}
	SPI_finish();
	if (result == NULL && path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("export part %d of placement " INT64_FORMAT " has no data", DatumGetInt32(values[2]), DatumGetInt64(values[1]))));
	PG_RETURN_TEXT_P(result ? result : read_part_file(path, false));
}

/*
 * crm_purge_citus_shard_expire: crm_purge._citus_shard_expire(request_ids):
 * on a Citus node, removes the export files of these requests' shards and
 * forgets their parts and positions.  The extension owner's: the
 * coordinator's export expiry asks it.  Returns the files removed.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_shard_expire);
Datum
crm_purge_citus_shard_expire(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1] = {PG_GETARG_DATUM(0)};
	int64		removed = 0;
	uint64		i;

	crm_purge_require_extension_owner("crm_purge._citus_shard_expire");
	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM crm_purge.shard_parts WHERE request_id = ANY ($1) RETURNING path",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not expire crm_purge.shard_parts");
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *path = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (path == NULL)
			continue;
		if (!export_path_ok(path))
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("not removing \"%s\": it is not an export file in crm_purge.export_directory", path)));
			continue;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove expired export file \"%s\": %m", path)));
		removed++;
	}
	if (SPI_execute_with_args("DELETE FROM crm_purge.shard_requests WHERE request_id = ANY ($1)",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not expire crm_purge.shard_requests");
	/* and the files of batches that never committed (a node stopped between a part and its commit) */
	{
		ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(0);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(ids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
		for (int k = 0; k < n; k++)
			if (!nulls[k])
				crm_purge_export_remove_unrecorded(DatumGetInt64(elems[k]), 0, 0);
	}
	SPI_finish();
	PG_RETURN_INT64(removed);
}

/*
 * crm_purge_export_read: crm_purge_export_read(request_id, part): the text
 * of one export part, from the catalog or its file.  Admins only.
 */
PG_FUNCTION_INFO_V1(crm_purge_export_read);
Datum
crm_purge_export_read(PG_FUNCTION_ARGS)
{
	int64		request_id;
	int32		part;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];
	text	   *result = NULL;
	char	   *path = NULL;
	bool		remote = false;
	int32		node_group = 0;
	int64		placementid = 0;
	int32		shard_part = 0;
	bool		isnull;

	crm_purge_require_admin("crm_purge_export_read");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("request_id and part must not be NULL")));
	request_id = PG_GETARG_INT64(0);
	part = PG_GETARG_INT32(1);
	values[0] = Int64GetDatum(request_id);
	values[1] = Int32GetDatum(part);

	SPI_connect();
	/*
	 * As the caller: the export must exist, and the part be of a table they
	 * may read (row-level security on export_parts hides the others).
	 */
	SPI_execute_with_args("SELECT crm_purge._check_export($1)", 1, argtypes, values, NULL, false, 0);
	if (SPI_execute_with_args("SELECT path, data, node_group, placementid, shard_part FROM crm_purge.export_parts WHERE request_id = $1 AND part = $2",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.export_parts");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("request " INT64_FORMAT " has no export part %d", request_id, part),
				 errhint("crm_purge_export_files(request_id) lists the parts.")));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
			result = (text *) SPI_datumTransfer(d, false, -1);
		else
			path = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		node_group = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &remote));
		remote = !remote;
		if (remote)
		{
			placementid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
			shard_part = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
		}
	}
	if (path != NULL)
		path = MemoryContextStrdup(TopTransactionContext, path);
	SPI_finish();

	if (result == NULL && remote)
		result = remote_part(node_group, request_id, placementid, shard_part, part);
	else if (result == NULL)
	{
		if (path == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("export part %d of request " INT64_FORMAT " has no data", part, request_id)));
		result = read_part_file(path, false);
	}
	PG_RETURN_TEXT_P(result);
}

#define MAX_CSV_FIELDS 1664		/* MaxTupleAttributeNumber */

/* A set of key texts of any length: by 64-bit hash, compared in full. */
typedef struct KeySetEntry
{
	uint64		hash;
	List	   *keys;
} KeySetEntry;

/* key_set_add: adds key (kept, not copied) to the set. */
static void
key_set_add(HTAB *set, char *key)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	bool		found;
	KeySetEntry *e = hash_search(set, &h, HASH_ENTER, &found);

	if (!found)
		e->keys = NIL;
	e->keys = lappend(e->keys, key);
}

/* key_set_contains: is key in the set? */
static bool
key_set_contains(HTAB *set, const char *key)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	KeySetEntry *e = hash_search(set, &h, HASH_FIND, NULL);
	ListCell   *lc;

	if (e == NULL)
		return false;
	foreach(lc, e->keys)
		if (strcmp((char *) lfirst(lc), key) == 0)
			return true;
	return false;
}

/*
 * cast_text: a field of an export part (the column's output, as COPY
 * writes it) as a key of one column of type base reads (its cast to text,
 * key_expression()): the built-in casts that write otherwise (a boolean's
 * true, a padded character's trimmed text, a host's inet with its mask).
 */
static char *
cast_text(Oid base, char *field)
{
	if (base == BOOLOID && strcmp(field, "t") == 0)
		return "true";
	if (base == BOOLOID && strcmp(field, "f") == 0)
		return "false";
	if (base == BPCHAROID)
	{
		char	   *trimmed = pstrdup(field);
		int			n = strlen(trimmed);

		while (n > 0 && trimmed[n - 1] == ' ')
			trimmed[--n] = '\0';
		return trimmed;
	}
	if (base == INETOID && strchr(field, '/') == NULL)
		return psprintf("%s/%d", field, strchr(field, ':') ? 128 : 32);
	return field;
}

/*
 * crm_purge_parts_with_keys: crm_purge._parts_with_keys(tbl, keys,
 * key_columns): the (request_id, part) of unexpired export parts of a table
 * that hold any of the given keys, found by the key columns named in each
 * part's header: crm_purge_erase names them, since an export is a copy the
 * database cannot take back.
 */
PG_FUNCTION_INFO_V1(crm_purge_parts_with_keys);
Datum
crm_purge_parts_with_keys(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	ArrayType  *keys = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *keycols = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *kd,
			   *cd;
	bool	   *kn,
			   *cn;
	int			nk,
				nc,
				i;
	HTAB	   *set;
	HASHCTL		ctl;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	uint64		r;
	uint64		nparts;
	SPITupleTable *tt;
	char	  **fields = palloc(sizeof(char *) * MAX_CSV_FIELDS);
	Oid			base = InvalidOid;

	InitMaterializedSRF(fcinfo, 0);
	deconstruct_array(keys, TEXTOID, -1, false, TYPALIGN_INT, &kd, &kn, &nk);
	deconstruct_array(keycols, TEXTOID, -1, false, TYPALIGN_INT, &cd, &cn, &nc);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(KeySetEntry);
	ctl.hcxt = CurrentMemoryContext;
	set = hash_create("crm_purge erased keys", Max(nk, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < nk; i++)
		if (!kn[i])
			key_set_add(set, TextDatumGetCString(kd[i]));
	if (nc == 1 && !cn[0])
	{
		AttrNumber	att = get_attnum(relid, TextDatumGetCString(cd[0]));

		if (att != InvalidAttrNumber)
			base = getBaseType(get_atttype(relid, att));
	}

	SPI_connect();
	if (SPI_execute_with_args("SELECT p.request_id, p.part, p.path, p.data, p.node_group, p.placementid, p.shard_part"
							  " FROM crm_purge.export_parts p JOIN crm_purge.requests r ON r.id = p.request_id"
							  " WHERE coalesce(p.tbl, r.tbl) = $1 AND NOT r.export_expired ORDER BY 1, 2",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.export_parts");
	tt = SPI_tuptable;
	nparts = SPI_processed;
	for (r = 0; r < nparts; r++)
	{
		bool		isnull;
		Datum		data = SPI_getbinval(tt->vals[r], tt->tupdesc, 4, &isnull);
		char	   *content = NULL;
		size_t		len = 0;
		size_t		pos = 0;
		int			idx[INDEX_MAX_KEYS];
		int			nf;
		bool		hit = false;

		if (!isnull)
		{
			bytea	   *b = DatumGetByteaPP(data);

			content = VARDATA_ANY(b);
			len = VARSIZE_ANY_EXHDR(b);
		}
		else if (SPI_getvalue(tt->vals[r], tt->tupdesc, 5) != NULL)
		{
			/* written on a Citus node: read there */
			text	   *t = remote_part(DatumGetInt32(SPI_getbinval(tt->vals[r], tt->tupdesc, 5, &isnull)),
										DatumGetInt64(SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &isnull)),
										DatumGetInt64(SPI_getbinval(tt->vals[r], tt->tupdesc, 6, &isnull)),
										DatumGetInt32(SPI_getbinval(tt->vals[r], tt->tupdesc, 7, &isnull)),
										DatumGetInt32(SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &isnull)));

			content = VARDATA_ANY(t);
			len = VARSIZE_ANY_EXHDR(t);
		}
		else
		{
			char	   *path = SPI_getvalue(tt->vals[r], tt->tupdesc, 3);
			text	   *t = path ? read_part_file(path, true) : NULL;

			if (t == NULL)
				continue;		/* gone already: holds nothing */
			content = VARDATA_ANY(t);
			len = VARSIZE_ANY_EXHDR(t);
		}
		nf = crm_purge_csv_parse_record(content, len, &pos, fields, MAX_CSV_FIELDS);
		for (i = 0; i < nc && i < INDEX_MAX_KEYS; i++)
		{
			char	   *col = TextDatumGetCString(cd[i]);
			int			j;

			idx[i] = -1;
			for (j = 0; j < Min(nf, MAX_CSV_FIELDS); j++)
				if (fields[j] && strcmp(fields[j], col) == 0)
					idx[i] = j;
			/* a key column renamed since the export: the part may hold the keys */
			hit |= idx[i] < 0;
		}
		while (!hit && (nf = crm_purge_csv_parse_record(content, len, &pos, fields, MAX_CSV_FIELDS)) >= 0)
		{
			StringInfoData key;

			initStringInfo(&key);
			if (nc == 1)
			{
				if (idx[0] >= 0 && idx[0] < nf && fields[idx[0]])
					appendStringInfoString(&key, cast_text(base, fields[idx[0]]));
			}
			else
			{
				appendStringInfoChar(&key, '(');
				for (i = 0; i < nc; i++)
				{
					if (i > 0)
						appendStringInfoChar(&key, ',');
					if (idx[i] >= 0 && idx[i] < nf && fields[idx[i]])
						crm_purge_record_field(&key, fields[idx[i]]);
				}
				appendStringInfoChar(&key, ')');
			}
			if (key.len > 0)
				hit = key_set_contains(set, key.data);
			pfree(key.data);
		}
		if (hit)
		{
			Datum		out[2];
			bool		nulls[2] = {false, false};

			out[0] = SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &isnull);
			out[1] = SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &isnull);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
		}
	}
	SPI_finish();
	return (Datum) 0;
}
