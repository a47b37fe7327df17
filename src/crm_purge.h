/*
 * crm_purge.h - declarations shared by the crm_purge source files: schema
 * and role names, the settings, and the functions and types each file
 * exports to the others, grouped by the file that defines them.  The CSV
 * and processing window parts, which the fuzz targets build too, have
 * headers of their own (requests/csv.h, requests/window.h).
 */
#ifndef CRM_PURGE_H
#define CRM_PURGE_H

#include "postgres.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "requests/csv.h"
#include "requests/window.h"

/*
 * Every SPI connection of crm_purge runs with search_path pinned to
 * pg_catalog, pg_temp (module.c): an operator, function or type written
 * unqualified in its SQL (IN, CASE, ::text) would otherwise be looked up in
 * the caller's search_path, which a database owner sets for every session
 * (review round 50, A50-1).
 */
extern int	crm_purge_spi_connect(void);
extern int	crm_purge_spi_finish(void);
#ifndef CRM_PURGE_SPI_WRAPPER
#define SPI_connect() crm_purge_spi_connect()
#define SPI_finish() crm_purge_spi_finish()
#endif

#define CRM_PURGE_SCHEMA		"crm_purge"
#define CRM_TRASH_SCHEMA		"crm_trash"
#define CRM_PURGE_ADMIN_ROLE	"crm_purge_admin"

/* settings (module.c) */
extern int	crm_purge_trash_retention;	/* seconds */
extern int	crm_purge_max_rows_per_request;
extern int	crm_purge_max_queued_rows;
extern int	crm_purge_pending_period;	/* seconds */
extern int	crm_purge_export_retention; /* seconds */
extern char *crm_purge_export_directory;
extern int	crm_purge_export_storage;
extern int	crm_purge_batch_size;
extern int	crm_purge_idle_batch_size;
extern int	crm_purge_busy_batch_size;
extern int	crm_purge_batch_scale;	/* the worker's: 1, or more while the database is idle */
extern int	crm_purge_batch_rows(void);
extern int	crm_purge_batch_delay;	/* milliseconds */
extern int	crm_purge_max_replica_lag;	/* milliseconds */
extern char *crm_purge_processing_window;
extern int	crm_purge_naptime;		/* seconds */
extern int	crm_purge_step_timeout;	/* ms */
extern int	crm_purge_trash_segment_size;	/* kB */
extern int	crm_purge_trash_segment_age;	/* seconds */
extern char *crm_purge_databases;
extern char *crm_purge_fault_point;	/* tests only */
extern bool crm_purge_allow_truncate;	/* test databases */
extern int	crm_purge_deletion_scope;
extern int	crm_purge_citus_set_propagation;
extern int	crm_purge_worker_nice;	/* nice of the per-database workers */
extern int	crm_purge_app_yield;	/* % of a batch's time to pause while applications work */
extern char *crm_purge_citus_deletion;	/* the initiator's deletion id, on Citus */
extern char *crm_purge_citus_run_as;	/* crm_purge.citus_run_as */
extern char *crm_purge_citus_ddl;	/* crm_purge.citus_ddl */
extern char *crm_purge_citus_metadata;	/* crm_purge.citus_metadata */
extern char *crm_purge_actor;	/* the application's user, "" = none */
extern char *crm_purge_reason;

typedef enum CrmPurgeDeletionScope
{
	DELETION_SCOPE_STATEMENT,
	DELETION_SCOPE_TRANSACTION
} CrmPurgeDeletionScope;

typedef enum CrmPurgeCitusSetPropagation
{
	CITUS_SET_PROPAGATION_SUPERUSER,
	CITUS_SET_PROPAGATION_ALL
} CrmPurgeCitusSetPropagation;

typedef enum CrmPurgeExportStorage
{
	EXPORT_STORAGE_DIRECTORY,
	EXPORT_STORAGE_DATABASE
} CrmPurgeExportStorage;

/* worker.c (worker/): guard counters in shared memory */
extern void crm_purge_guard_count(Oid relid, int64 rows);

/* module.c */
extern void crm_purge_fault(const char *point);

/* statement.c */
extern uint64 crm_purge_top_level_statement(void);
extern const char *crm_purge_top_level_metadata_command(void);
extern bool crm_purge_merge_running(void);
extern void crm_purge_statement_hooks_init(void);

/* utility.c */
extern void crm_purge_after_utility(Node *parsetree);
extern char *crm_purge_eq_operator(Oid typid);
extern void crm_purge_before_utility(Node *parsetree, ProcessUtilityContext context);

/* security.c: the one privilege boundary */
typedef struct CrmPurgeIdentity
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
	int			prev_base;		/* marked_base (security.c) to restore */
	Oid			prev_owner_work;	/* owner_work_relid (security.c) to restore */
	int			prev_owner_work_level;
	Oid			prev_marked_role;	/* marked_role (security.c) to restore */
} CrmPurgeIdentity;

extern void crm_purge_become(Oid role, CrmPurgeIdentity *save);
extern void crm_purge_become_with(Oid role, int sec_flags, CrmPurgeIdentity *save);
extern void crm_purge_become_owner(CrmPurgeIdentity *save);
/* an admin's write to another role's table, as its owner (crm_purge_foreign_write_begin) */
typedef struct CrmPurgeForeignWrite
{
	Oid			relid;
	bool		as_owner;
	bool		as_itself;		/* an admin's write as itself, with a third role's code refused */
	bool		marked;			/* counted as work on another role's behalf */
	Oid			owner;
	List	   *pending_before; /* tables with a user's deferred trigger pending before the write */
	List	   *held;			/* a DELETE's: rows legal holds keep where it reaches (held_watch) */
	Oid			prev_for;
	Oid			prev_as;
	Oid			prev_relid;
	Oid			prev_owner_work;
	int			prev_owner_work_level;
	Oid			prev_itself;	/* itself_caller (security.c) to restore */
	CrmPurgeIdentity id;
} CrmPurgeForeignWrite;

extern void crm_purge_foreign_write_begin(Oid relid, AclMode need, CrmPurgeForeignWrite *w);
extern void crm_purge_held_watch_picked(CrmPurgeForeignWrite *w, Datum parts, Datum tids);
extern void crm_purge_held_watch_update(CrmPurgeForeignWrite *w);
extern void crm_purge_relink_write_begin(Oid relid, CrmPurgeForeignWrite *w);
extern void crm_purge_refuse_foreign_code(Oid relid, AclMode need);
extern Oid	crm_purge_code_of_only(Oid role);
extern bool crm_purge_superuser_like(Oid role);
extern bool crm_purge_wide_rights(Oid role);
extern bool crm_purge_guarded(Oid relid);
extern Oid crm_purge_foreign_key_named(Oid relid, const char *conname);
extern void crm_purge_refuse_owner_code(Oid relid, Oid role);
extern void crm_purge_refuse_hidden_owner_code(Oid relid, Oid reader);
extern Oid	crm_purge_function_owner(Oid fn);
extern bool crm_purge_trusted_code(Oid owner, Oid role);
extern Oid	crm_purge_asker;
extern char *crm_purge_key_match_array(Oid relid, ArrayType *cols, Oid srctype);
extern void crm_purge_foreign_write_end(CrmPurgeForeignWrite *w);
extern void crm_purge_foreign_write_abort(CrmPurgeForeignWrite *w);
extern Oid	crm_purge_deleting_user(Oid relid);
extern bool crm_purge_owner_work_on(Oid live);
extern bool crm_purge_firing_deferred(void);
extern void crm_purge_refuse_nested_distributed(struct PlannedStmt *stmt, const char *source, int level);
extern int	crm_purge_nesting_level(void);
extern void crm_purge_citus_mark_on_behalf(void);
extern bool crm_purge_citus_propagating(void);
extern void crm_purge_connection_hooks_init(void);
extern void crm_purge_drop_hook_init(void);
extern void crm_purge_citus_refuse_trash_code(Oid relid);
extern bool crm_purge_on_behalf(bool nested);
extern void crm_purge_refuse_foreign_tables(List *rels);
extern void crm_purge_refuse_swallowing_move(struct PlannedStmt *stmt);
extern Node *crm_purge_pin_names(Node *parsetree);
extern int	crm_purge_attaches(Node *parsetree);
extern void crm_purge_refuse_attach_tricks(Node *parsetree, bool in_attach);
extern bool crm_purge_citus_internal_session(void);
extern bool crm_purge_citus_resharding(void);
extern bool crm_purge_superuser_moving_rows(void);
extern void crm_purge_citus_secrecy_init(void);
extern char *crm_purge_citus_metadata_command(const char *source, int location, int len);
extern bool crm_purge_citus_command_calls(const char *command, Oid fn);
extern const char *crm_purge_show_handed_out(void);
extern void crm_purge_citus_propagate_settings(int n, const char *const *names, const char *const *values);
extern void crm_purge_superuser_ddl_enter(Node *stmt);
extern void crm_purge_superuser_ddl_exit(void);
extern void crm_purge_refuse_superuser_row_move(List *rels, bool writes);
extern Oid	crm_purge_other_owner_inheritor(Oid relid, Oid role);
extern void crm_purge_mark_foreign_work(void);
extern void crm_purge_become_owner_local(CrmPurgeIdentity *save);
extern void crm_purge_become_creator(Oid creator, Oid relid, CrmPurgeIdentity *save);
extern void crm_purge_become_picker(Oid creator, Oid relid, CrmPurgeIdentity *save);
extern void crm_purge_become_restricted(Oid role, Oid relid, CrmPurgeIdentity *save);
extern void crm_purge_pin_filter_settings(void);
/* a crm_purge_become_with() flag, not a security context one (those are small bits) */
#define CRM_PURGE_LOCAL_ONLY 0x40000000
/* (crm_purge_become_with) keep the session's search_path: a DDL statement's names resolve as sent */
#define CRM_PURGE_KEEP_PATH 0x20000000
extern void crm_purge_unbecome(CrmPurgeIdentity *save);
extern bool crm_purge_is_admin(Oid roleid);
extern void crm_purge_require_admin(const char *action);
extern Oid	crm_purge_extension_owner(void);
extern bool crm_purge_alter_reads_rows(AlterTableStmt *alter);
extern void crm_purge_refuse_shard_rules(Oid relid);
extern void crm_purge_refuse_delete_rules(Oid relid);
extern void crm_purge_require_extension_owner(const char *what);
extern ErrorData *crm_purge_in_subtransaction(void (*fn) (void *), void *arg);
extern int	crm_purge_work_timeout;
extern const char *crm_purge_role_name(Oid roleid);
extern int	crm_purge_pin_output_settings(void);
extern bool crm_purge_policies_would_run(Oid relid, Oid role);

/* sequence.c (trash/): sequence floors */
extern void crm_purge_raise_sequence(Oid seqid);
extern void crm_purge_sequences_before(const char *src);
extern void crm_purge_sequences_after(void);
extern void crm_purge_sequences_after_utility(Node *parsetree);

/* citus.c: crm_purge on Citus */
extern bool crm_purge_citus_present(void);
struct VariableSetStmt;
extern void crm_purge_citus_before_set(struct VariableSetStmt *stmt, bool top_level);
extern void crm_purge_citus_switching(void);
extern void crm_purge_citus_relcache_changed(Oid relid);
extern struct VariableSetStmt *crm_purge_citus_foreign_temp_path(struct VariableSetStmt *stmt);
extern void crm_purge_citus_forget(void);
extern int32 crm_purge_citus_group(void);
extern void crm_purge_citus_hand_out_ddl(Oid relid, bool inh, struct Node *parsetree);
extern Oid	crm_purge_citus_ddl_refused(Oid relid, bool inh, struct Node *parsetree);
extern void crm_purge_citus_hand_out_metadata(void);
extern bool crm_purge_citus_metadata_tagged(void);
extern bool crm_purge_citus_known_shard(Oid relid);
extern void crm_purge_require_coordinator(const char *what);
extern Oid	crm_purge_citus_shard_trash(Oid relid, int64 *shardid);
extern int64 crm_purge_citus_deletion_id(void);
extern void crm_purge_citus_issue_deletion(uint64 stmt);
extern int	crm_purge_citus_run_as_begin(Oid role, Oid relid);
extern void crm_purge_citus_run_as_end(int nest);
extern Oid	crm_purge_citus_run_as_role(void);
extern Oid	crm_purge_citus_planning_role(void);
extern int	crm_purge_owner_calls;
extern int64 crm_purge_citus_issued_deletion(uint64 stmt);
struct PlannedStmt;
extern bool crm_purge_citus_plan(struct PlannedStmt *plan);
extern bool crm_purge_citus_plan_deletes(struct PlannedStmt *plan);
extern bool crm_purge_citus_distributed(Oid relid);
extern bool crm_purge_citus_plan_anywhere(struct PlannedStmt *plan);
struct QueryDesc;
extern void crm_purge_citus_refuse_foreign_domains(PlannedStmt *stmt);
extern void crm_purge_citus_roles_by_name(struct QueryDesc *queryDesc);
struct Query;
extern void crm_purge_citus_refuse_reshard(struct Query *parse);
extern Oid	crm_purge_citus_live_of_trash_shard(Oid trashid);
extern Oid	crm_purge_citus_shard_logical(Oid relid);
extern char *crm_purge_citus_placement(const char *name);
extern char *crm_purge_citus_table_key(Oid logical);

/* catalog.c */
extern const char *crm_purge_relname(Oid relid);
extern const char *crm_purge_relname_only(Oid relid);
extern Oid	crm_purge_rel_owner(Oid relid);
struct RelationData;
extern int	crm_purge_primary_key(struct RelationData *rel, AttrNumber *keys, bool missing_ok);
extern char *crm_purge_key_match(Oid relid, const AttrNumber *cols, int n, Oid srctype);
extern char *crm_purge_primary_key_match(Oid relid);
extern Oid	crm_purge_table_of_trash(Oid trashid);
extern int32 crm_purge_young_segment(Oid trashid, Datum age);
typedef struct CrmPurgeProtected
{
	Oid			relid;
	Oid			trashid;
	Datum		retention;		/* interval (crm_purge_protected_tables only) */
	char	   *name;			/* schema-qualified (crm_purge_protected_tables only) */
} CrmPurgeProtected;
extern List *crm_purge_protected_tables(int default_retention);
extern List *crm_purge_protected_parents_first(void);
extern List *crm_purge_floored_tables(void);
extern char *crm_purge_trash_rows_named(const char *alias, int param);
extern void crm_purge_record_history(const char *action, Oid relid, int64 rows, Oid actor,
									 int64 request_id, int64 purge_id, int64 deletion_id);

/* filter.c: user-supplied SQL conditions */
extern void crm_purge_check_filter(const char *filter);
extern char *crm_purge_plain_condition(Oid relid, const char *cond);

/* trash.c (trash/) */
extern int64 crm_purge_current_deletion_id(void);
extern int64 crm_purge_new_deletion_id(void);
extern Oid	crm_purge_trash_of(Oid relid);
extern Oid	crm_purge_trash_trigger_fn(void);
extern bool crm_purge_trash_trigger_named(Oid relid, const char *name);
/* rows that skip the trash: a request's batch, an erase; set in C only */
extern void crm_purge_bypass_rows(Oid relid, Datum tids);
extern void crm_purge_bypass_table(Oid relid);
extern void crm_purge_bypass_end(void);
extern bool crm_purge_bypass_active(void);
extern char *crm_purge_key_expression(Oid relid);
extern bool crm_purge_key_text_settled(Oid typid);

/* caches dropped when the extension is dropped or made again */
extern void crm_purge_trash_forget(void);
/* from crm_purge's one relcache callback (module.c) */
extern void crm_purge_trash_relcache_changed(Oid relid);
extern void crm_purge_tombstone_relcache_changed(Oid relid);
extern void crm_purge_tombstone_forget(void);
extern void crm_purge_batch_forget(void);

/* holds.c (erase/) */
typedef struct CrmPurgeHoldHit
{
	int64		id;
	char	   *reason;
	List	   *tids;			/* ItemPointer of each held row (trash: int64[2]) */
} CrmPurgeHoldHit;

extern char *crm_purge_citus_hold_condition(Oid relid);
extern void crm_purge_lock_holds(Oid relid, int mode);
extern List *crm_purge_hold_hits(Oid relid, Oid scanrel, const char *cond, int nargs,
								 Oid *argtypes, Datum *values);
extern Datum crm_purge_hold_tid_array(List *hits);
extern List *crm_purge_hold_rows(Oid relid);
extern void crm_purge_trash_held(Oid relid, Oid trashid, Datum ids, Datum rows,
								 Datum *held_ids, Datum *held_rows);
extern bool crm_purge_has_holds(Oid relid);
extern void crm_purge_guard_skips_reset(void);
extern int64 crm_purge_guard_skips_total(void);
extern void *crm_purge_guard_skips_save(void);
extern void crm_purge_guard_skips_restore(void *saved);
struct HeapTupleData;
struct Trigger;
extern bool crm_purge_guard_keeps(struct RelationData *rel, struct Trigger *trigger, struct HeapTupleData *row);
extern void crm_purge_guard_skips_report(void);

/* guard_copy.c (erase/): COPY FROM into a guarded table */
struct CopyStmt;
struct QueryCompletion;
struct QueryEnvironment;
extern bool crm_purge_guarded_copy(struct CopyStmt *stmt, const char *queryString,
								   struct QueryEnvironment *queryEnv, struct QueryCompletion *qc);

/* export.c (requests/) */
typedef struct CrmPurgeExportPart
{
	char	   *path;			/* NULL with export_storage = database */
	bytea	   *data;			/* set with export_storage = database */
	int64		bytes;
	char		sha256[65];
} CrmPurgeExportPart;

struct SPITupleTable;
extern void crm_purge_csv_header(StringInfo buf, TupleDesc tupdesc);
extern void crm_purge_csv_rows(StringInfo buf, struct SPITupleTable *tt, uint64 n);
struct _DestReceiver;
extern struct _DestReceiver *crm_purge_csv_receiver(StringInfo buf);
typedef void (*CrmPurgeCsvFlush) (void *arg, StringInfo buf, uint64 rows);
extern struct _DestReceiver *crm_purge_csv_parts_receiver(StringInfo buf, CrmPurgeCsvFlush flush, void *arg,
														  uint64 part_rows, Size part_bytes);
extern char *crm_purge_export_dir(void);
extern void crm_purge_export_write_part(int64 request_id, int part, Oid table, int64 placement, StringInfo csv,
										CrmPurgeExportPart *out);
extern void crm_purge_export_write_part_unsynced(int64 request_id, int part, Oid table, int64 placement,
												 StringInfo csv, CrmPurgeExportPart *out);
extern void crm_purge_export_sync_parts(List *parts);

/* a part written as its rows come: see crm_purge_export_part_open */
typedef struct CrmPurgePartFile
{
	int			fd;
	char	   *path;
	struct pg_cryptohash_ctx *hash;
	int64		bytes;
} CrmPurgePartFile;
extern bool crm_purge_export_part_open(int64 request_id, int part, Oid table, int64 placement, CrmPurgePartFile *f);
extern void crm_purge_export_remove_unrecorded(int64 request_id, int64 placement, int recorded);
extern void crm_purge_export_part_append(CrmPurgePartFile *f, const char *data, size_t len);
extern void crm_purge_export_part_finish(CrmPurgePartFile *f, bool sync, CrmPurgeExportPart *out);
extern void crm_purge_export_part_abandon(CrmPurgePartFile *f);
extern struct _DestReceiver *crm_purge_csv_stream_receiver(StringInfo buf, CrmPurgePartFile *f);
extern int64 crm_purge_expire_exports(void);

/* cascade.c (requests/): rows a request's DELETE removes through ON DELETE CASCADE */
/* outcome.c: what a DELETE crm_purge ran did */
typedef struct CrmPurgeRowCounts
{
	int64		inserted;
	int64		updated;
	int64		deleted;
} CrmPurgeRowCounts;

typedef enum CrmPurgeRowFate
{
	ROW_FATE_UNTOUCHED,
	ROW_FATE_DELETED,
	ROW_FATE_UPDATED,			/* its newest version lives */
	ROW_FATE_MOVED,				/* to another partition: not followed */
	ROW_FATE_OTHERS,			/* another transaction changed it */
	ROW_FATE_NOT_HEAP,			/* not a heap table: nothing known */
	ROW_FATE_UNKNOWN			/* a version that cannot be read */
} CrmPurgeRowFate;

extern bool crm_purge_row_counts(Oid relid, CrmPurgeRowCounts *c);
extern CrmPurgeRowFate crm_purge_row_fate(Relation rel, ItemPointer tid, int *updates);

typedef struct CrmPurgeCascadeTable
{
	Oid			relid;
	Datum		tids;			/* tid[] of its rows the cascade removes */
	int64		rows;
	StringInfo	csv;			/* with export: their contents */
	int			part;			/* its export part's number, 0: none */
	CrmPurgeExportPart written;
} CrmPurgeCascadeTable;

extern List *crm_purge_cascade_edges_of_part(Oid relid, Oid heap);
extern List *crm_purge_cascade_edges(Oid relid);
extern List *crm_purge_cascade_watch(Oid root, Oid top, Datum top_tids, List *edges, List *tables);
extern void crm_purge_cascade_watch_start(List *watch);
extern void crm_purge_cascade_check(List *watch, Oid relid);
extern void crm_purge_refuse_cascade_code(Oid relid);
extern bool crm_purge_cascade_removes(List *edges);
extern void crm_purge_refuse_shard_actions(Oid shard);
extern Datum crm_purge_cascade_prepare(Oid relid, List *edges, Datum top, bool export,
									   List **tables, int64 *kept);

/* tombstone.c (erase/) */
extern uint64 crm_purge_siphash24(const unsigned char key[16], const unsigned char *data,
								  size_t len);
extern int64 crm_purge_key_hash(const char *key, size_t len);
extern void crm_purge_guard_check_attached(Oid relid, Oid parent);
extern bool crm_purge_have_secret(void);
extern uint64 crm_purge_deletion_mac(int64 deletion_id, int32 node, int64 number, int64 stamp);
extern bool crm_purge_secret_exists(void);
struct RelationData;
struct HeapTupleData;
struct FmgrInfo;
extern char *crm_purge_row_key_text(struct RelationData *rel, struct HeapTupleData *tuple, int nkeys,
									const AttrNumber *keys, struct FmgrInfo *outfuncs, bool cast);

/* tick.c (duework/): the due work, shared by the worker and crm_purge_tick() */
typedef struct CrmPurgeTickCounts
{
	int64		trash_expired;	/* trash rows removed after their retention */
	int64		batches;		/* batch transactions run */
	int64		request_rows;	/* rows deleted by requests */
	int64		requests_finished;
	int64		requests_failed;
	int64		exports_expired;	/* export files removed */
	int64		purge_batches;	/* batches of a due permanent purge */
	bool		trash_pending;	/* trash expiry had a full batch */
	bool		started;		/* the first step of a tick has run */
	TimestampTz periodic_at;	/* when expiry and upkeep last ran */
} CrmPurgeTickCounts;

extern bool crm_purge_tick_step(CrmPurgeTickCounts *counts);
extern int	crm_purge_task_failed(const char *task, Oid relid, ErrorData *edata);
extern void crm_purge_task_succeeded(const char *task, Oid relid);
extern Jsonb *crm_purge_tick_counts_jsonb(CrmPurgeTickCounts *counts);

/* requests/batch.c */
extern bool crm_purge_request_batch(CrmPurgeTickCounts *counts);
extern void crm_purge_request_forget_plans(void);
extern void crm_purge_request_step_failed(ErrorData *edata);
extern int64 crm_purge_request_in_step;
extern int64 crm_purge_request_of_step;

/* worker.c (worker/) */
extern void crm_purge_worker_init(void);	/* from _PG_init when preloaded */
extern void crm_purge_wake_launcher(void);
extern void crm_purge_release_database(Oid dboid);

#endif							/* CRM_PURGE_H */
