/*
 * outcome.c - what a DELETE crm_purge ran really did to a table's rows.
 *
 * A DELETE's foreign keys' actions run table owners' code in the middle of
 * it: UPDATE triggers of ON DELETE SET NULL tables, SET DEFAULT defaults,
 * casts and operators of the keys' types, statement triggers that fire
 * between levels of the cascade.  Such code moved a held row under a row
 * removed next, or an exported row out of the way (review rounds 70 to
 * 73); no list of kinds of code is ever complete.  So the DELETE's outcome
 * is read back in its own transaction: the fate of given rows (their
 * versions followed to the newest), and the transaction's own counts of
 * rows a table had inserted, updated and deleted (PostgreSQL's statistics
 * counters, which count every row whatever did it).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "crm_purge.h"

/*
 * crm_purge_row_counts: rows relid had inserted, updated and deleted by
 * this backend, this transaction's (subtransactions') counts included: a
 * difference of two readings in one transaction is what happened in
 * between.  False when the server counts nothing (track_counts off).
 */
bool
crm_purge_row_counts(Oid relid, CrmPurgeRowCounts *c)
{
	PgStat_TableStatus *t;
	PgStat_TableXactStatus *x;

	memset(c, 0, sizeof(*c));
	if (!pgstat_track_counts)
		return false;
	t = find_tabstat_entry(relid);
	if (t == NULL)
		return true;
	c->inserted = t->t_counts.t_tuples_inserted;
	c->updated = t->t_counts.t_tuples_updated;
	c->deleted = t->t_counts.t_tuples_deleted;
	for (x = t->trans; x != NULL; x = x->upper)
	{
		c->inserted += x->tuples_inserted;
		c->updated += x->tuples_updated;
		c->deleted += x->tuples_deleted;
	}
	return true;
}

/*
 * crm_purge_row_fate: what this transaction did to the row version at tid of
 * rel (a heap), its newer versions followed to the newest (however many:
 * they are this transaction's): deleted, updated (its newest version
 * lives), moved to another partition (not followed), untouched, or changed
 * by another transaction; unknown when a version cannot be read.
 * *updates: the versions on the way.
 */
CrmPurgeRowFate
crm_purge_row_fate(Relation rel, ItemPointer tid, int *updates)
{
	ItemPointerData cur = *tid;

	*updates = 0;
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		return ROW_FATE_NOT_HEAP;
	for (;;)
	{
		HeapTupleData tuple;
		Buffer		buf;
		uint16		infomask;
		TransactionId xmax;
		ItemPointerData next;
		bool		moved;

		CHECK_FOR_INTERRUPTS();
		tuple.t_self = cur;
		if (!heap_fetch(rel, SnapshotAny, &tuple, &buf, false))
			return ROW_FATE_UNKNOWN;
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		infomask = tuple.t_data->t_infomask;
		if ((infomask & HEAP_XMAX_INVALID) || HEAP_XMAX_IS_LOCKED_ONLY(infomask))
		{
			UnlockReleaseBuffer(buf);
			return *updates > 0 ? ROW_FATE_UPDATED : ROW_FATE_UNTOUCHED;
		}
		xmax = HeapTupleHeaderGetUpdateXid(tuple.t_data);
		next = tuple.t_data->t_ctid;
		moved = HeapTupleHeaderIndicatesMovedPartitions(tuple.t_data);
		UnlockReleaseBuffer(buf);
		if (!TransactionIdIsCurrentTransactionId(xmax))
			return ROW_FATE_OTHERS;
		/* (deleted here, inserted into another partition) */
		if (moved)
			return ROW_FATE_MOVED;
		if (ItemPointerEquals(&next, &cur))
			return ROW_FATE_DELETED;
		(*updates)++;
		cur = next;
	}
}
