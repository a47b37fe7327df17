/*
 * compat.h - the PostgreSQL version differences crm_purge deals with, in
 * one place: ownership checks and BulkInsertState set-up.  Built and tested
 * against PostgreSQL 15.  (worker.c tests DATCONNLIMIT_INVALID_DB where it
 * skips partly dropped databases.)
 */
#ifndef CRM_PURGE_COMPAT_H
#define CRM_PURGE_COMPAT_H

#include "access/heapam.h"
#include "access/hio.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"

/* ownership checks: one function per object class until 16 */
#if PG_VERSION_NUM >= 160000
#define crm_purge_extension_ownercheck(extoid, roleid) \
	object_ownercheck(ExtensionRelationId, (extoid), (roleid))
#else
#define crm_purge_extension_ownercheck(extoid, roleid) \
	pg_extension_ownercheck((extoid), (roleid))
#endif

#if PG_VERSION_NUM >= 160000
#define crm_purge_class_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define crm_purge_class_ownercheck(relid, roleid) \
	pg_class_ownercheck((relid), (roleid))
#endif

#if PG_VERSION_NUM >= 160000
#define crm_purge_database_ownercheck(dboid, roleid) \
	object_ownercheck(DatabaseRelationId, (dboid), (roleid))
#else
#define crm_purge_database_ownercheck(dboid, roleid) \
	pg_database_ownercheck((dboid), (roleid))
#endif

/*
 * crm_purge_bulk_insert_state_init: a BulkInsertState without a ring buffer
 * (trash pages stay in shared buffers, as any INSERT's do).  16 adds fields
 * for extending relations by several blocks at once.
 */
static inline void
crm_purge_bulk_insert_state_init(BulkInsertState bistate)
{
	memset(bistate, 0, sizeof(BulkInsertStateData));
	bistate->strategy = NULL;
	bistate->current_buf = InvalidBuffer;
#if PG_VERSION_NUM >= 160000
	bistate->next_free = InvalidBlockNumber;
	bistate->last_free = InvalidBlockNumber;
	bistate->already_extended_by = 0;
#endif
}

#endif							/* CRM_PURGE_COMPAT_H */
