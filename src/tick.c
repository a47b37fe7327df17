/*
 * tick.c - the due work, done one batch at a time.
 *
 * crm_purge_tick_step() does one bounded batch in the current transaction.
 * The worker runs each step in a transaction of its own; crm_purge_tick()
 * runs the steps in the caller's transaction until nothing is due.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "crm_purge.h"

/*
 * Removes at most batch_size expired rows from each trash table.  Returns
 * true when some table had a full batch, so more may be due.
 */
static bool
expire_trash(CrmPurgeTickCounts *counts)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		values[2];
	SPITupleTable *tables;
	uint64		ntables,
				k;
	bool		more = false;

	values[0] = Int32GetDatum(crm_purge_trash_retention);
	values[1] = Int32GetDatum(crm_purge_batch_size);
	if (SPI_execute_with_args("SELECT tbl::text, trash::text, "
							  "coalesce(retention, pg_catalog.make_interval(secs => $1)) "
							  "FROM crm_purge.protected_tables ORDER BY tbl",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm_purge.protected_tables");
	tables = SPI_tuptable;
	ntables = SPI_processed;

	for (k = 0; k < ntables; k++)
	{
		char	   *tbl = SPI_getvalue(tables->vals[k], tables->tupdesc, 1);
		char	   *trash = SPI_getvalue(tables->vals[k], tables->tupdesc, 2);
		bool		isnull;
		Datum		retention = SPI_getbinval(tables->vals[k], tables->tupdesc, 3, &isnull);
		Oid			dargtypes[2] = {INTERVALOID, INT4OID};
		Datum		dvalues[2] = {retention, Int32GetDatum(crm_purge_batch_size)};
		char	   *sql;
		uint64		n;

		/* regclass output is already quoted and qualified as needed */
		sql = psprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY("
					   "SELECT ctid FROM %s WHERE deleted_at < pg_catalog.now() - $1 LIMIT $2))",
					   trash, trash);
		if (SPI_execute_with_args(sql, 2, dargtypes, dvalues, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not expire trash of %s", tbl);
		n = SPI_processed;
		if (n > 0)
		{
			Oid			hargtypes[2] = {TEXTOID, INT8OID};
			Datum		hvalues[2] = {CStringGetTextDatum(tbl), Int64GetDatum((int64) n)};

			if (SPI_execute_with_args("INSERT INTO crm_purge.history (action, table_name, rows) "
									  "VALUES ('trash expiry', $1, $2)",
									  2, hargtypes, hvalues, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not write crm_purge.history");
			counts->trash_expired += n;
		}
		if (n >= (uint64) crm_purge_batch_size)
			more = true;
	}
	return more;
}

bool
crm_purge_tick_step(CrmPurgeTickCounts *counts)
{
	bool		more;

	if (RecoveryInProgress())
		return false;
	SPI_connect();
	more = expire_trash(counts);
	SPI_finish();
	counts->batches++;
	return more;
}

Jsonb *
crm_purge_tick_counts_jsonb(CrmPurgeTickCounts *counts)
{
	char	   *s;

	s = psprintf("{\"standby\": %s, \"batches\": " INT64_FORMAT ", \"trash_expired\": " INT64_FORMAT "}",
				 RecoveryInProgress() ? "true" : "false",
				 counts->batches, counts->trash_expired);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

PG_FUNCTION_INFO_V1(crm_purge_tick);
Datum
crm_purge_tick(PG_FUNCTION_ARGS)
{
	CrmPurgeTickCounts counts = {0};
	Oid			save_userid;
	int			save_sec_context;

	crm_purge_require_admin("crm_purge_tick");
	crm_purge_switch_to_owner(&save_userid, &save_sec_context);
	while (crm_purge_tick_step(&counts))
		CHECK_FOR_INTERRUPTS();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	PG_RETURN_JSONB_P(crm_purge_tick_counts_jsonb(&counts));
}
