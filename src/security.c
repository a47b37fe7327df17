/*
 * security.c - the one privilege boundary.
 *
 * Every piece of crm_purge that runs as another role (the extension owner
 * for catalogs and trash tables, a request's or hold's creator for their
 * filters) goes through crm_purge_become(): it switches the user, pins
 * search_path to pg_catalog, pg_temp (so no operator, function or cast
 * lookup can reach a schema the caller controls) and sets
 * SECURITY_RESTRICTED_OPERATION, as VACUUM and index builds do.
 * crm_purge_unbecome() undoes all of it; an error does so through
 * (sub)transaction abort, which restores the user and pops the GUC level.
 *
 * The privileged SQL API goes through crm_purge_privileged(): one C entry
 * point, declared for every internal function that writes catalogs, that
 * takes the actor from the session before the switch and hands it to the
 * matching <name>_impl function, which only the extension owner may run.
 * No identity, SQL text or count ever crosses from the caller.
 *
 * Also here: the admin checks (crm_purge_is_admin, crm_purge_require_admin
 * and their SQL faces crm_purge._check_admin, _is_admin, _require_admin),
 * crm_purge_in_subtransaction(), crm_purge_pin_output_settings() and
 * crm_purge_policies_would_run().
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/parallel.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/partition.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "rewrite/rowsecurity.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "commands/extension.h"
#include "common/string.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "libpq/libpq-be.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "executor/executor.h"
#include "utils/typcache.h"
#include "catalog/pg_authid.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/fmgroids.h"
#include "access/stratnum.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/timeout.h"

#include "crm_purge.h"

/*
 * A security context bit of crm_purge's own: a filter runs as its creator
 * on another role's table (crm_purge_on_behalf).  PostgreSQL keeps the
 * bits it does not know through its own switches and takes the context
 * back on (sub)transaction abort, so no error path leaves it set.
 */
#define CRM_PURGE_SECURITY_ON_BEHALF 0x100

/*
 * marked_base: the statement nesting level (crm_purge_nesting_level) of
 * crm_purge's own statement in the code marked as on another role's behalf
 * that runs now; -1 when none.  A statement below it is the owner's code.
 * remote_marked: this session is a Citus node's, for a statement sent by a
 * coordinator in such code (crm_purge.citus_on_behalf, set there for the
 * transaction): the statements the coordinator sends are crm_purge's,
 * anything below them is the owner's code on the shards.
 */
static int	marked_base = -1;
static bool remote_marked = false;
/* the role whose filter runs now on another role's table (marked), or InvalidOid */
static Oid	marked_role = InvalidOid;

static bool in_marked_reader(void);
static void refresh_domain_checks(void);
/* the table crm_purge works on as its owner for an admin now (crm_purge_owner_work_on) */
static Oid	owner_work_relid = InvalidOid;
/* the nesting level it was set at: crm_purge's statements run one deeper, the owner's code below */
static int	owner_work_level = 0;

/* crm_purge_become: becomes role as described above; save is what crm_purge_unbecome() restores. */
void
crm_purge_become(Oid role, CrmPurgeIdentity *save)
{
	crm_purge_become_with(role, 0, save);
}

/*
 * crm_purge_become_with: crm_purge_become() with more security context
 * flags (SECURITY_NOFORCE_RLS: the role's forced row-level security off, as
 * PostgreSQL's own foreign key actions run).
 */
void
crm_purge_become_with(Oid role, int sec_flags, CrmPurgeIdentity *save)
{
	bool		keep_path = (sec_flags & CRM_PURGE_KEEP_PATH) != 0;

	if (!(sec_flags & CRM_PURGE_LOCAL_ONLY))
		crm_purge_citus_switching();
	sec_flags &= ~(CRM_PURGE_LOCAL_ONLY | CRM_PURGE_KEEP_PATH);
	/* the Citus worker nodes' sessions of this transaction are marked too (crm_purge_on_behalf) */
	if (sec_flags & CRM_PURGE_SECURITY_ON_BEHALF)
		crm_purge_citus_mark_on_behalf();
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	save->prev_base = marked_base;
	save->prev_owner_work = owner_work_relid;
	save->prev_owner_work_level = owner_work_level;
	save->prev_marked_role = marked_role;
	if (sec_flags & CRM_PURGE_SECURITY_ON_BEHALF)
	{
		marked_base = crm_purge_nesting_level();
		marked_role = role;
	}
	save->nestlevel = NewGUCNestLevel();
	SetUserIdAndSecContext(role, save->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | sec_flags);
	if (!keep_path)
		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/*
 * crm_purge_become_owner_local: crm_purge_become_owner() for statements that
 * read this node's own catalogs only, never a Citus table: no Citus
 * connection is opened as the owner, so settings sent to the worker nodes
 * in this transaction cannot reach one (crm_purge_citus_switching).
 */
void
crm_purge_become_owner_local(CrmPurgeIdentity *save)
{
	crm_purge_become_with(crm_purge_extension_owner(), CRM_PURGE_LOCAL_ONLY, save);
}

/*
 * superuser_like: a superuser, or a role whose rights reach as far: it may
 * make itself a member of other roles (CREATEROLE), run programs or write
 * files as the server, or is a member of a superuser role or of the
 * extension owner.  Its code is trusted as a superuser's.
 */
bool
crm_purge_superuser_like(Oid role)
{
	HeapTuple	tup;
	bool		createrole = false;

	if (superuser_arg(role))
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	if (HeapTupleIsValid(tup))
	{
		createrole = ((Form_pg_authid) GETSTRUCT(tup))->rolcreaterole;
		ReleaseSysCache(tup);
	}
	if (createrole || has_privs_of_role(role, ROLE_PG_EXECUTE_SERVER_PROGRAM) ||
		has_privs_of_role(role, ROLE_PG_WRITE_SERVER_FILES) ||
		has_privs_of_role(role, crm_purge_extension_owner()))
		return true;
	/* a member of a superuser role (GRANT postgres TO dba) */
	{
		Relation	authid = table_open(AuthIdRelationId, AccessShareLock);
		SysScanDesc scan = systable_beginscan(authid, InvalidOid, false, NULL, 0, NULL);
		HeapTuple	tup;
		bool		found = false;

		while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_authid a = (Form_pg_authid) GETSTRUCT(tup);

			found = a->rolsuper && is_member_of_role(role, a->oid);
		}
		systable_endscan(scan);
		table_close(authid, AccessShareLock);
		return found;
	}
}

/* crm_purge_other_owner_inheritor: a partition or inheritance child of relid not owned by role, or InvalidOid */
Oid
crm_purge_other_owner_inheritor(Oid relid, Oid role)
{
	ListCell   *lc;

	if (!has_subclass(relid))
		return InvalidOid;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		if (crm_purge_rel_owner(lfirst_oid(lc)) != role)
			return lfirst_oid(lc);
	return InvalidOid;
}

/*
 * server_function_granted: may role run a built-in function PUBLIC may
 * not, through a grant made after initdb (lo_export, pg_read_file,
 * pg_reload_conf, pg_stat_reset...)?  Their effects reach past the
 * transaction and the tables (the server's files, settings, WAL,
 * statistics), and built-in functions pass no fmgr hook, so code run on
 * role's behalf cannot be refused them one by one.  The grants initdb
 * makes (pg_monitor's) do not count.  Read once per transaction and role.
 */
static bool
server_function_granted(Oid role)
{
	static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
	static Oid	cached_role = InvalidOid;
	static bool cached = false;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(role)};

	if (cached_lxid == MyProc->lxid && cached_role == role)
		return cached;
	SPI_connect();
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a"
							  " WHERE p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace"
							  " AND p.proacl IS NOT NULL AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'"
							  " AND a.grantee OPERATOR(pg_catalog.<>) 0"
							  " AND NOT pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')"
							  " AND pg_catalog.pg_has_role($1, a.grantee, 'USAGE')"
							  " AND NOT EXISTS (SELECT FROM pg_catalog.pg_init_privs i, pg_catalog.aclexplode(i.initprivs) b"
							  "  WHERE i.objoid OPERATOR(pg_catalog.=) p.oid"
							  "  AND i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
							  "  AND b.grantee OPERATOR(pg_catalog.=) a.grantee AND b.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE')"
							  " LIMIT 1", 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the grants of built-in functions");
	cached = SPI_processed > 0;
	SPI_finish();
	cached_lxid = MyProc->lxid;
	cached_role = role;
	return cached;
}

/*
 * crm_purge_wide_rights: superuser-like, or a role that reads or writes
 * every table (crm_purge's catalogs, holds and tombstones among them),
 * reads the server's files, or passes every row-level security policy
 * (BYPASSRLS: every trash), or acts past the transaction: replication
 * slots (REPLICATION: they outlive a rollback; a logical slot reads every
 * change), other sessions (pg_signal_backend), a superuser's function
 * granted to it (server_function_granted).  Such a role is neither
 * trusted as a superuser
 * nor acted as: its code must not run with a superuser's or an admin's
 * rights, and no one's text may run with its rights.
 */
bool
crm_purge_wide_rights(Oid role)
{
	return has_privs_of_role(role, ROLE_PG_READ_ALL_DATA) ||
		has_privs_of_role(role, ROLE_PG_WRITE_ALL_DATA) ||
		has_privs_of_role(role, ROLE_PG_READ_SERVER_FILES) ||
		has_bypassrls_privilege(role) ||
		has_rolreplication(role) ||
		has_privs_of_role(role, ROLE_PG_SIGNAL_BACKEND) ||
		server_function_granted(role) ||
		crm_purge_superuser_like(role);
}

/* untrusted_wide: a wide-rights role whose code is not trusted (not superuser-like, not the extension owner) */
static bool
untrusted_wide(Oid role)
{
	return role != crm_purge_extension_owner() && crm_purge_wide_rights(role) &&
		!crm_purge_superuser_like(role);
}

/*
 * refuse_code_of: an error when code of an owner of relid (or of a
 * partition or inheritance child) would run with role's rights that must
 * not: an owner of untrusted wide rights, whose code would get an admin's
 * or superuser's rights (and acting as it would give role's text its
 * rights); with reads (role's filter reads the table, the owner's code
 * running as role), any owner role may not act as, if role has wide rights.
 */
static void
refuse_code_of(Oid relid, Oid role, bool reads)
{
	List	   *rels = has_subclass(relid) ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	bool		role_wide = crm_purge_wide_rights(role) && !crm_purge_superuser_like(role);
	ListCell   *lc;

	foreach(lc, rels)
	{
		Oid			o = crm_purge_rel_owner(lfirst_oid(lc));

		if (o == role || o == crm_purge_extension_owner() || crm_purge_superuser_like(o))
			continue;
		if (untrusted_wide(o) && (crm_purge_is_admin(role) || crm_purge_wide_rights(role)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot work on table %s for role %s: its owner %s has rights over every table or the server",
							crm_purge_relname(relid), crm_purge_role_name(role), crm_purge_role_name(o)),
					 errdetail("The owner has pg_read_all_data, pg_write_all_data, pg_read_server_files, pg_signal_backend, BYPASSRLS, REPLICATION or a superuser's function and is no superuser: crm_purge neither runs its code with an admin's or a superuser's rights nor acts as it."),
					 errhint("Give the table an owner without those rights (ALTER TABLE ... OWNER TO), or take them from the owner.")));
		if (reads && role_wide && !has_privs_of_role(role, o))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot read table %s by the filter of role %s: that role has rights over every table or the server",
							crm_purge_relname(relid), crm_purge_role_name(role)),
					 errdetail("The code of the table's owner %s would run with the rights of pg_read_all_data, pg_write_all_data, pg_read_server_files, pg_signal_backend, BYPASSRLS, REPLICATION or a superuser's function.",
							   crm_purge_role_name(o)),
					 errhint("Act from a role without those rights, or from a member of the owner's role.")));
	}
}

/* crm_purge_refuse_owner_code: refuse_code_of() for a write of relid for role, or a read as it (Citus) */
void
crm_purge_refuse_owner_code(Oid relid, Oid role)
{
	refuse_code_of(relid, role, false);
}

/* picks_as_owner: does crm_purge_become_picker() run creator's filter on relid as its owner? */
static bool
picks_as_owner(Oid creator, Oid owner)
{
	return creator != owner && (crm_purge_superuser_like(creator) || has_privs_of_role(creator, owner)) &&
		owner != crm_purge_extension_owner() && !crm_purge_wide_rights(owner);
}

static void refuse_foreign_code(Oid relid, Oid owner, AclMode need);

/*
 * refuse_citus_reader: an admin's filter read on the coordinator, by a
 * distributed statement of the admin's, would run the owner's code on the
 * worker nodes as the admin, in sessions crm_purge's marks do not reliably
 * reach (autocommit, savepoints): on another role's distributed table only
 * as its owner (crm_purge_become_picker), or refused.
 */
static void
refuse_citus_reader(Oid creator, Oid relid)
{
	Oid			owner = crm_purge_rel_owner(relid);

	/* (a partition's owner's code would run as whoever reads: even the top table's owner) */
	if (crm_purge_citus_distributed(relid) && OidIsValid(crm_purge_other_owner_inheritor(relid, owner)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read Citus table %s by a filter: a partition of it has another owner",
						crm_purge_relname(relid)),
				 errdetail("The partition's owner's code on the worker nodes would run with the reader's rights."),
				 errhint("Give the partitions the table's owner.")));

	/* (a third role's code there would run as the reader on the worker nodes, out of reach of the marks) */
	if (creator != owner && crm_purge_citus_distributed(relid))
		refuse_foreign_code(relid, owner, ACL_INSERT);
	if (creator != owner && owner != crm_purge_extension_owner() && !picks_as_owner(creator, owner) &&
		crm_purge_citus_distributed(relid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot read Citus table %s by your filter: you are not a member of its owner's role %s",
						crm_purge_relname(relid), crm_purge_role_name(owner)),
				 errdetail("On Citus crm_purge reads another role's distributed table by an admin's filter only as its owner: the owner's code on the worker nodes would run with your rights."),
				 errhint("GRANT %s TO %s, or ask the table's owner.", crm_purge_role_name(owner),
						 crm_purge_role_name(creator))));
}

/*
 * become_marked: as reader, restricted and marked as on another role's
 * behalf, to read relid (of another owner) by reader's filter.  A third
 * role's function called then is refused (connection_hook); the code the
 * fmgr hook does not see is looked for first, after the table is locked
 * (crm_purge_refuse_hidden_owner_code).
 */
static void
become_marked(Oid reader, Oid relid, CrmPurgeIdentity *save)
{
	crm_purge_refuse_hidden_owner_code(relid, reader);
	crm_purge_become_with(reader, CRM_PURGE_SECURITY_ON_BEHALF, save);
	refresh_domain_checks();
}

/*
 * crm_purge_become_creator: crm_purge_become() as the creator of a request,
 * policy or legal hold on relid (the relation read: a partition has its own
 * owner), to run its filter.  Reading a table runs
 * its owner's code (index and statistics expressions while planning, on
 * every Citus node), which the owner may add at any time: the filter of a
 * superuser, or a creator whose rights reach as far (superuser_like), runs
 * as the table's owner instead, every row in sight, as PostgreSQL's foreign
 * keys read.  (Such a creator could become the owner anyway.)
 */
void
crm_purge_become_creator(Oid creator, Oid relid, CrmPurgeIdentity *save)
{
	crm_purge_become_picker(creator, relid, save);
	crm_purge_pin_filter_settings();
}

/*
 * crm_purge_become_picker: crm_purge_become_creator() without the pinned
 * filter settings: an admin's own filter, run now in the admin's session
 * (an erase's or delete's rows, picked before they are written as the
 * owner).
 */
void
crm_purge_become_picker(Oid creator, Oid relid, CrmPurgeIdentity *save)
{
	Oid			owner = crm_purge_rel_owner(relid);

	refuse_code_of(relid, creator, true);

	/*
	 * (a trash is the extension owner's: no one else's code runs reading it;
	 * a superuser owner's code may run as anyone, and the creator's text
	 * never runs as a superuser it is not)  A creator who may act as the
	 * owner anyway (superuser-like, or a member of the owner's role) runs
	 * it as the owner: the owner's code then never runs with more rights
	 * than the owner's.
	 */
	if (picks_as_owner(creator, owner))
	{
		Oid			part = crm_purge_other_owner_inheritor(relid, owner);

		/*
		 * (a partition of another owner: its code would run with the table
		 * owner's rights; a member of the owner's role picks as itself,
		 * marked, below; a superuser not at all)
		 */
		if (OidIsValid(part) && crm_purge_superuser_like(creator))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot read table %s for you: its partition or child %s has another owner",
							crm_purge_relname(relid), crm_purge_relname(part)),
					 errdetail("A superuser reads a table as its owner, and the other owner's code would run with the table owner's rights."),
					 errhint("Give the partition the table's owner (ALTER TABLE ... OWNER TO), or have an admin who is not a superuser do it.")));
		if (!OidIsValid(part))
		{
			crm_purge_become_with(owner, SECURITY_NOFORCE_RLS, save);
			/* (an admin's: it reads the trash whole, as the admin would) */
			if (crm_purge_is_admin(creator))
			{
				owner_work_relid = relid;
				owner_work_level = crm_purge_nesting_level();
			}
			return;
		}
	}
	/* the owner's code (a partition's owner's too) may run here with the creator's rights (crm_purge_on_behalf) */
	if (creator != owner || OidIsValid(crm_purge_other_owner_inheritor(relid, creator)))
		become_marked(creator, relid, save);
	else
		crm_purge_become_with(creator, 0, save);
}

/*
 * crm_purge_become_restricted: as role, restricted, marked as on another
 * role's behalf on relid of another owner: a plain user's own filter
 * (restore), never run as the owner.
 */
void
crm_purge_become_restricted(Oid role, Oid relid, CrmPurgeIdentity *save)
{
	if (role != crm_purge_rel_owner(relid))
		become_marked(role, relid, save);
	else
		crm_purge_become_with(role, 0, save);
}

/*
 * crm_purge_pin_filter_settings: the settings a filter that runs later (a
 * request's, policy's, hold's) is read with, when it is counted or tried
 * and wherever it runs: its text then parses and evaluates the same in the
 * creator's session, the worker and every Citus node ('2026-11-15 00:00',
 * '1 mon', 'C:\x', x = NULL, to_tsvector(note), f::text, to_char(n)).
 * Taken back with the GUC level around it (crm_purge_unbecome).
 */
void
crm_purge_pin_filter_settings(void)
{
	static const char *const pinned[][2] = {
		{"timezone", "UTC"},
		/* ('... IST' is +02 under Default, +05:30 under India) */
		{"timezone_abbreviations", "Default"},
		{"datestyle", "ISO, YMD"},
		{"intervalstyle", "postgres"},
		{"standard_conforming_strings", "on"},
		{"backslash_quote", "safe_encoding"},
		{"transform_null_equals", "off"},
		{"array_nulls", "on"},
		{"default_text_search_config", "pg_catalog.simple"},
		{"extra_float_digits", "1"},
		{"bytea_output", "hex"},
		{"lc_monetary", "C"},
		{"lc_numeric", "C"},
		{"lc_time", "C"},
		{"xmloption", "content"},
		{"xmlbinary", "base64"},
		/* (a GIN index scan returning fewer rows than match: a hold's check saw few of its rows) */
		{"gin_fuzzy_search_limit", "0"},
	};
	int			i;

	for (i = 0; i < lengthof(pinned); i++)
		(void) set_config_option(pinned[i][0], pinned[i][1], PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * An admin's restore, erase or delete writes to other roles' tables.  It
 * writes as each table's owner (crm_purge_foreign_write_begin): the
 * owner's triggers, defaults, constraints and index expressions are the
 * owner's code and run with the owner's rights, as PostgreSQL runs a
 * foreign key's actions, never with the admin's (which that code could use
 * through a new connection: dblink, Citus's run_command_on_*).  The rows
 * are picked before, as the admin, by the admin's filter; no text of the
 * admin's runs as the owner.  Not a security-restricted operation: that
 * refuses every deferred trigger, foreign keys' included.  Instead, while
 * it runs and in triggers later in that transaction (crm_purge_on_behalf):
 * no crm_purge admin function and no utility statement (a temporary object
 * would outlast it), settings undone when it ends, and no deferred trigger
 * of a user's left to fire at commit with the admin's rights.
 */
static int	foreign_writes = 0;
static bool firing_deferred = false;

typedef struct PendingTrigger
{
	Oid			relid;
	char	   *constraint_name;	/* qualified, quoted */
	char	   *conname;
	Oid			connamespace;
	Oid			fn;				/* the trigger's function */
} PendingTrigger;
static bool constraint_name_shared(PendingTrigger *p, Oid owner);
static List *pending_user_triggers(void);
static bool trusted_function(Oid fn);
static LocalTransactionId foreign_writes_lxid = InvalidLocalTransactionId;
/* the admin a foreign write runs for, and the owner it runs as (crm_purge_deleting_user) */
static Oid	foreign_write_for = InvalidOid;
static Oid	foreign_write_as = InvalidOid;
static Oid	foreign_write_relid = InvalidOid;
/*
 * The admin of a write as itself under way (or InvalidOid): no function of
 * a third role may run there (connection_needs_hook), whatever reached it
 * (a superuser's policy function or view reading that role's relations, a
 * superuser's trigger writing that role's table; review round 46, A46-1).
 */
static Oid	itself_caller = InvalidOid;

/*
 * refuse_rules: a rule on relid for one of the write's commands (need, a mask) would do
 * something else than the write, which crm_purge would report done.
 */
static void
refuse_rules(Oid relid, AclMode need)
{
	Relation	rel = table_open(relid, AccessShareLock);
	int			i;

	for (i = 0; rel->rd_rules != NULL && i < rel->rd_rules->numLocks; i++)
	{
		CmdType		event = rel->rd_rules->rules[i]->event;

		if ((event == CMD_INSERT && (need & ACL_INSERT)) || (event == CMD_UPDATE && (need & ACL_UPDATE)) ||
			(event == CMD_DELETE && (need & ACL_DELETE)))
		{
			table_close(rel, AccessShareLock);
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to table %s: it has a rule for %s",
							crm_purge_relname(relid), event == CMD_INSERT ? "INSERT" : event == CMD_UPDATE ? "UPDATE" : "DELETE"),
					 errdetail("The rule would do something else than crm_purge's write, which would be reported done."),
					 errhint("Drop the rule (DROP RULE), or write the rows yourself.")));
		}
	}
	table_close(rel, AccessShareLock);
}


/*
 * written_tables: relid, its partitions and inheritance children, and the
 * tables foreign keys' actions write from there (ON DELETE, ON UPDATE:
 * their triggers and rules run as the writing role), theirs too.
 */
static List *
written_tables(Oid relid, AclMode need)
{
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);
	List	   *children = NIL;
	List	   *parents = NIL;
	Relation	con;
	SysScanDesc scan;
	HeapTuple	tup;
	int			i;
	ListCell   *c,
			   *p;

	/* (an insert runs no foreign key's action) */
	if (need == ACL_INSERT)
		return rels;
	/* the foreign keys whose actions write their table (ON DELETE, ON UPDATE), read once */
	con = table_open(ConstraintRelationId, AccessShareLock);
	scan = systable_beginscan(con, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint f = (Form_pg_constraint) GETSTRUCT(tup);

		if (f->contype == CONSTRAINT_FOREIGN &&
			((f->confdeltype != FKCONSTR_ACTION_NOACTION && f->confdeltype != FKCONSTR_ACTION_RESTRICT) ||
			 (f->confupdtype != FKCONSTR_ACTION_NOACTION && f->confupdtype != FKCONSTR_ACTION_RESTRICT)))
		{
			children = lappend_oid(children, f->conrelid);
			parents = lappend_oid(parents, f->confrelid);
		}
	}
	systable_endscan(scan);
	table_close(con, AccessShareLock);
	/* (every table, however many: a held one past a cap went unwatched, review round 74, A74-4) */
	for (i = 0; i < list_length(rels); i++)
	{
		Oid			parent = list_nth_oid(rels, i);

		forboth(c, children, p, parents)
			if (lfirst_oid(p) == parent && !list_member_oid(rels, lfirst_oid(c)))
				rels = list_concat_unique_oid(rels, find_all_inheritors(lfirst_oid(c), NoLock, NULL));
	}
	return rels;
}

/*
 * refuse_foreign_code: the code the write runs as the writer, as the
 * table's owner in crm_purge's write (triggers, CHECK constraints,
 * defaults and generated columns, index expressions, domains and their
 * checks, operators, of every table written, cascades included), must be
 * the owner's, a superuser's or crm_purge's: a third role's would get the
 * owner's rights (a domain CHECK of someone else's on a superuser's table;
 * a cascade child's trigger).
 */
static void
refuse_foreign_code(Oid relid, Oid owner, AclMode need)
{
	List	   *rels = written_tables(relid, need);
	Datum	   *elems = palloc(sizeof(Datum) * list_length(rels));
	ListCell   *lc;
	int			n = 0;
	Oid			argtypes[5] = {OIDARRAYOID, OIDOID, OIDOID, OIDOID, OIDOID};
	Datum		values[5];

	foreach(lc, rels)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = ObjectIdGetDatum(owner);
	values[2] = ObjectIdGetDatum(crm_purge_extension_owner());
	values[3] = ObjectIdGetDatum(relid);
	/* (the caller's own TRIGGER right: its triggers are its own code) */
	values[4] = ObjectIdGetDatum(OidIsValid(crm_purge_asker) ? crm_purge_asker : GetUserId());
	SPI_connect();
	if (SPI_execute_with_args(
							  /* the columns' types and the types inside them: domains' bases, arrays' elements, ranges' subtypes, composites' fields */
							  "WITH RECURSIVE d(t) AS ("
							  " SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) ANY ($1)"
							  " AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
							  " UNION SELECT x.t FROM d JOIN pg_catalog.pg_type y ON y.oid OPERATOR(pg_catalog.=) d.t,"
							  " LATERAL (SELECT y.typbasetype WHERE y.typtype OPERATOR(pg_catalog.=) 'd'"
							  " UNION ALL SELECT y.typelem WHERE y.typelem OPERATOR(pg_catalog.<>) 0"
							  " AND y.typsubscript OPERATOR(pg_catalog.=) 'pg_catalog.array_subscript_handler'::pg_catalog.regproc"
							  " UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid OPERATOR(pg_catalog.=) y.oid"
							  " UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid OPERATOR(pg_catalog.=) y.oid"
							  " UNION ALL SELECT fa.atttypid FROM pg_catalog.pg_attribute fa WHERE y.typtype OPERATOR(pg_catalog.=) 'c'"
							  " AND fa.attrelid OPERATOR(pg_catalog.=) y.typrelid AND fa.attnum OPERATOR(pg_catalog.>) 0 AND NOT fa.attisdropped) x(t)),"
							  " objs(classid, objid, what) AS ("
							  " SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, c.oid, 'constraint ' OPERATOR(pg_catalog.||) c.conname::pg_catalog.text"
							  " FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) ANY ($1)"
							  " OR c.contypid IN (SELECT t FROM d)"
							  " UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, i.indexrelid, 'index ' OPERATOR(pg_catalog.||) i.indexrelid::pg_catalog.regclass::pg_catalog.text"
							  " FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) ANY ($1)"
							  " UNION ALL SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, ad.oid, 'a column default'"
							  " FROM pg_catalog.pg_attrdef ad WHERE ad.adrelid OPERATOR(pg_catalog.=) ANY ($1)"
							  " UNION ALL SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass, tg.oid, 'trigger ' OPERATOR(pg_catalog.||) tg.tgname::pg_catalog.text"
							  " FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid OPERATOR(pg_catalog.=) ANY ($1) AND NOT tg.tgisinternal"
							  /* a partition key's expressions (the table's own dependencies) and extended statistics' (both folded while planning) */
							  " UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, k.rel, 'the partition key of ' OPERATOR(pg_catalog.||) k.rel::pg_catalog.regclass::pg_catalog.text"
							  " FROM pg_catalog.unnest($1) k(rel)"
							  " UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, st.oid, 'statistics ' OPERATOR(pg_catalog.||) st.stxname::pg_catalog.text"
							  " FROM pg_catalog.pg_statistic_ext st WHERE st.stxrelid OPERATOR(pg_catalog.=) ANY ($1)"
							  /* row-level security policies (applied to a write as the admin: review round 44, A44-3) */
							  " UNION ALL SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, pol.oid, 'policy ' OPERATOR(pg_catalog.||) pol.polname::pg_catalog.text"
							  " FROM pg_catalog.pg_policy pol WHERE pol.polrelid OPERATOR(pg_catalog.=) ANY ($1)),"
							  " code(owner, what) AS ("
							  " SELECT p.proowner, o.what FROM objs o JOIN pg_catalog.pg_depend dp ON dp.classid OPERATOR(pg_catalog.=) o.classid"
							  " AND dp.objid OPERATOR(pg_catalog.=) o.objid"
							  " JOIN pg_catalog.pg_proc p ON dp.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
							  " AND p.oid OPERATOR(pg_catalog.=) dp.refobjid"
							  " UNION ALL SELECT p.proowner, o.what FROM objs o JOIN pg_catalog.pg_depend dp ON dp.classid OPERATOR(pg_catalog.=) o.classid"
							  " AND dp.objid OPERATOR(pg_catalog.=) o.objid"
							  " JOIN pg_catalog.pg_operator op ON dp.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass"
							  " AND op.oid OPERATOR(pg_catalog.=) dp.refobjid JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) op.oprcode"
							  " UNION ALL SELECT y.typowner, 'the type ' OPERATOR(pg_catalog.||) y.oid::pg_catalog.regtype::pg_catalog.text"
							  " FROM d JOIN pg_catalog.pg_type y ON y.oid OPERATOR(pg_catalog.=) d.t"
							  /* a type an expression names (a cast to a domain in a CHECK) */
							  " UNION ALL SELECT y.typowner, 'the type ' OPERATOR(pg_catalog.||) y.oid::pg_catalog.regtype::pg_catalog.text"
							  " OPERATOR(pg_catalog.||) ' in ' OPERATOR(pg_catalog.||) o.what"
							  " FROM objs o JOIN pg_catalog.pg_depend dp ON dp.classid OPERATOR(pg_catalog.=) o.classid"
							  " AND dp.objid OPERATOR(pg_catalog.=) o.objid"
							  " JOIN pg_catalog.pg_type y ON dp.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass"
							  " AND y.oid OPERATOR(pg_catalog.=) dp.refobjid"
							  " UNION ALL SELECT p.proowner, 'the range type ' OPERATOR(pg_catalog.||) r.rngtypid::pg_catalog.regtype::pg_catalog.text"
							  " FROM d JOIN pg_catalog.pg_range r ON r.rngtypid OPERATOR(pg_catalog.=) d.t"
							  " JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) r.rngsubdiff OR p.oid OPERATOR(pg_catalog.=) r.rngcanonical"
							  /* a relation a policy reads: a view's query, another table's policies run as the reader (review round 45, A45-1) */
							  " UNION ALL SELECT c.relowner, o.what OPERATOR(pg_catalog.||) ' reads ' OPERATOR(pg_catalog.||) c.oid::pg_catalog.regclass::pg_catalog.text"
							  " FROM objs o JOIN pg_catalog.pg_depend dp ON dp.classid OPERATOR(pg_catalog.=) o.classid"
							  " AND dp.objid OPERATOR(pg_catalog.=) o.objid AND o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass"
							  " JOIN pg_catalog.pg_class c ON dp.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
							  " AND c.oid OPERATOR(pg_catalog.=) dp.refobjid"
							  " UNION ALL SELECT $2, 'rule ' OPERATOR(pg_catalog.||) rw.rulename::pg_catalog.text OPERATOR(pg_catalog.||) ' on '"
							  " OPERATOR(pg_catalog.||) rw.ev_class::pg_catalog.regclass::pg_catalog.text"
							  " FROM pg_catalog.pg_rewrite rw WHERE rw.ev_class OPERATOR(pg_catalog.=) ANY ($1) AND rw.ev_class OPERATOR(pg_catalog.<>) $4"
							  " AND rw.rulename OPERATOR(pg_catalog.<>) '_RETURN'"
							  /*
							   * a trigger is its table's owner's code too (a superuser's generic
							   * function, refint's or lo's, set up by a third role on its own
							   * table); a role that may add triggers to a table could add one
							   * (review round 48, A48-1)
							   */
							  " UNION ALL SELECT tc.relowner, 'trigger ' OPERATOR(pg_catalog.||) tg.tgname::pg_catalog.text OPERATOR(pg_catalog.||) ' on '"
							  " OPERATOR(pg_catalog.||) tc.oid::pg_catalog.regclass::pg_catalog.text"
							  " FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) tg.tgrelid"
							  " WHERE tg.tgrelid OPERATOR(pg_catalog.=) ANY ($1) AND NOT tg.tgisinternal"
							  " UNION ALL SELECT g.grantee, 'a trigger its TRIGGER privilege may add to ' OPERATOR(pg_catalog.||) gc.oid::pg_catalog.regclass::pg_catalog.text"
							  " FROM pg_catalog.pg_class gc, pg_catalog.aclexplode(gc.relacl) g"
							  " WHERE gc.oid OPERATOR(pg_catalog.=) ANY ($1) AND g.privilege_type OPERATOR(pg_catalog.=) 'TRIGGER'"
							  " AND g.grantee OPERATOR(pg_catalog.<>) gc.relowner AND g.grantee OPERATOR(pg_catalog.<>) $5"
							  /* (an admin's, trusted with crm_purge's writes: a common GRANT ALL) */
							  " AND NOT CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN false"
							  " ELSE pg_catalog.pg_has_role(g.grantee, 'crm_purge_admin', 'MEMBER') END)"
							  " SELECT c.owner, c.what FROM code c LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.owner"
							  " WHERE c.what OPERATOR(pg_catalog.~~) 'rule %'"
							  " OR (c.owner OPERATOR(pg_catalog.<>) $2 AND c.owner OPERATOR(pg_catalog.<>) $3"
							  " AND NOT COALESCE(r.rolsuper, false)) LIMIT 1",
							  5, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the code of %s", crm_purge_relname(relid));
	if (SPI_processed > 0)
	{
		bool		isnull;
		Oid			other = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		char	   *what = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (strncmp(what, "rule ", 5) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to table %s for you: %s, a table the write reaches, would do more than the write",
							crm_purge_relname(relid), what),
					 errhint("Drop the rule (DROP RULE), or ask the table's owner to write it.")));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to table %s for you: %s runs code of role %s, not of the table's owner",
						crm_purge_relname(relid), what, crm_purge_role_name(other)),
				 errdetail("crm_purge writes to a table as its owner; another role's code would run with the owner's rights (a table a delete cascades to counts too)."),
				 errhint("Its owner may write it, or give that code to the table's owner (ALTER ... OWNER TO).")));
	}
	SPI_finish();
}

/*
 * crm_purge_asker: the role whose crm_purge call runs now as the extension
 * owner (a privileged gate's actor, a restorer); InvalidOid: the current
 * user.  On Citus the worker nodes write a superuser-like owner's table as
 * it (crm_purge_citus_run_as_begin).
 */
Oid			crm_purge_asker = InvalidOid;

static void foreign_write_begin(Oid relid, AclMode need, bool relink, CrmPurgeForeignWrite *w);
static void require_same_owner_partitions(Oid relid, Oid owner);

/*
 * crm_purge_refuse_foreign_code: an error when a write of relid (and what
 * it reaches) as its owner would run a third role's code (see
 * refuse_foreign_code); for the worker's writes as a table's owner.
 */
/*
 * crm_purge_refuse_shard_rules: a rule on a shard, for any command: Citus
 * makes none; one the owner made on a worker node would turn a write the
 * coordinator checked for one command into something else (a restore's
 * INSERT into a side table, its trash copy deleted: review round 44,
 * C44-2).
 */
void
crm_purge_refuse_shard_rules(Oid relid)
{
	refuse_rules(relid, ACL_INSERT | ACL_UPDATE | ACL_DELETE);
}

/* crm_purge_refuse_delete_rules: a request's table, when the request is made (review round 71, B71-3) */
void
crm_purge_refuse_delete_rules(Oid relid)
{
	refuse_rules(relid, ACL_DELETE);
}

void
crm_purge_refuse_foreign_code(Oid relid, AclMode need)
{
	Oid			owner = crm_purge_rel_owner(relid);

	refuse_rules(relid, need);
	refuse_foreign_code(relid, owner, need);
	require_same_owner_partitions(relid, owner);
}

/* require_same_owner_partitions: every partition or inheritance child of relid has its owner (or an error) */
static void
require_same_owner_partitions(Oid relid, Oid owner)
{
	Oid			part = crm_purge_other_owner_inheritor(relid, owner);

	if (OidIsValid(part))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table %s, a partition or inheritance child of table %s, has another owner",
						crm_purge_relname(part), crm_purge_relname(relid)),
				 errdetail("crm_purge writes to a table as its owner; that table's owner's code would run with those rights."),
				 errhint("Give the partitions (or children) the table's owner.")));
}

/* mark_foreign_write: a foreign write that counts as work on another role's behalf starts */
static void
mark_foreign_write(CrmPurgeForeignWrite *w)
{
	if (!w->marked)
		return;
	crm_purge_mark_foreign_work();
	marked_base = crm_purge_nesting_level();
	foreign_writes++;
}

/*
 * crm_purge_foreign_write_begin: the caller (an admin) is about to write to
 * relid with privilege need (ACL_INSERT, ACL_UPDATE or ACL_DELETE), checked
 * here, as PostgreSQL would check it; the write then runs as relid's owner
 * (not for a Citus distributed table: its nodes run crm_purge's statements
 * as the owner already, crm_purge_citus_run_as_begin).  End it with
 * crm_purge_foreign_write_end() when it went through, and
 * crm_purge_foreign_write_abort() from a PG_CATCH.
 */
void
crm_purge_foreign_write_begin(Oid relid, AclMode need, CrmPurgeForeignWrite *w)
{
	foreign_write_begin(relid, need, false, w);
}

/*
 * crm_purge_relink_write_begin: the re-link of a child row (restore.c), an
 * UPDATE of relid that puts back a reference PostgreSQL's ON DELETE SET NULL
 * took away as relid's owner: written as the owner whoever restores (the
 * owner's code, never a third role's, runs), except on a superuser's table
 * (code its code reaches, a third role's trigger on a table it writes, would
 * run as the superuser): there as the caller, who then needs UPDATE.
 */
void
crm_purge_relink_write_begin(Oid relid, CrmPurgeForeignWrite *w)
{
	foreign_write_begin(relid, ACL_UPDATE, true, w);
}

/* HeldRow: a row a legal hold keeps, as a DELETE found it before it ran (held_watch) */
typedef struct HeldRow
{
	Oid			rel;
	ItemPointerData tid;
	int64		hold;
} HeldRow;

/*
 * held_watch: the rows legal holds keep in the tables a DELETE of relid
 * reaches through foreign keys' actions (written_tables), read before it
 * runs, for held_watch_check after it: the owner's code inside the DELETE
 * (an UPDATE trigger of an ON DELETE SET NULL table, a SET DEFAULT column's
 * default, a cast or operator of a key's type, a statement trigger firing
 * between two levels of the cascade) moved a held row under a row that
 * went, past every check made before (review round 73, A73-3, B73-2,
 * B73-4).  The rows the caller picked are its own to check
 * (crm_purge_held_watch_picked); the others of relid are watched too (a
 * foreign key cycle reaches them: review round 74, B74-4).  Not on Citus
 * (no ctids there).  SPI connected.
 */
static List *
held_watch(Oid relid, AclMode need)
{
	List	   *held = NIL;
	ListCell   *lc;

	foreach(lc, written_tables(relid, need))
	{
		Oid			rel = lfirst_oid(lc);
		ListCell   *h,
				   *t;

		if (get_rel_relkind(rel) != RELKIND_RELATION || crm_purge_citus_distributed(rel) ||
			!crm_purge_has_holds(rel))
			continue;
		foreach(h, crm_purge_hold_hits(rel, rel, "true", 0, NULL, NULL))
		{
			CrmPurgeHoldHit *hit = lfirst(h);

			foreach(t, hit->tids)
			{
				HeldRow    *row = palloc(sizeof(HeldRow));

				row->rel = rel;
				row->tid = *(ItemPointer) lfirst(t);
				row->hold = hit->id;
				held = lappend(held, row);
			}
		}
	}
	return held;
}

/*
 * crm_purge_citus_held_watch: crm_purge._citus_held_watch(tbl, before
 * text[]) RETURNS text[]: held_watch for an erase of a Citus table, whose
 * rows have no ctid to follow: the rows each legal hold keeps in each
 * Citus table a DELETE of tbl reaches through foreign keys' actions, as
 * "table:hold:row" (the text of all its columns); given those read before
 * the DELETE, an error when one of them is gone or changed (the owner's
 * cast of a key's type, run on a worker node inside the DELETE, moved a
 * held row under a row that went: review round 73, B73-4; counted, or
 * compared by key, a row it made in its place hid it: rounds 74 and 75,
 * C74-2, B75-1, B75-2).  The extension owner only.
 */
PG_FUNCTION_INFO_V1(crm_purge_citus_held_watch);
Datum
crm_purge_citus_held_watch(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	List	   *now = NIL;
	ListCell   *lc;
	Datum	   *elems;
	int			n = 0;

	/* own false: tbl's rows are the caller's to check (a delete to the trash of held rows it picked) */
	List	   *own = PG_NARGS() > 2 && !PG_ARGISNULL(2) && !PG_GETARG_BOOL(2) ?
		find_all_inheritors(relid, NoLock, NULL) : NIL;

	crm_purge_require_extension_owner("crm_purge._citus_held_watch");
	SPI_connect();
	foreach(lc, written_tables(relid, ACL_DELETE))
	{
		Oid			rel = lfirst_oid(lc);
		ListCell   *h,
				   *k;

		if (!crm_purge_citus_distributed(rel) || list_member_oid(own, rel) || !crm_purge_has_holds(rel))
			continue;
		foreach(h, crm_purge_hold_rows(rel))
		{
			CrmPurgeHoldHit *hit = lfirst(h);

			foreach(k, hit->tids)
				now = lappend(now, psprintf("%u:" INT64_FORMAT ":%s", rel, hit->id, (char *) lfirst(k)));
		}
	}
	SPI_finish();
	if (!PG_ARGISNULL(1))
	{
		Datum	   *before;
		bool	   *nulls;
		int			nbefore,
					i;

		/* (each taken once: two identical held rows, one deleted, review round 76, C76-1) */
		List	   *unmatched = list_copy(now);

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &before, &nulls, &nbefore);
		for (i = 0; i < nbefore; i++)
		{
			char	   *entry = TextDatumGetCString(before[i]);
			Oid			rel;
			int64		hold;
			int			at = 0;
			bool		kept = false;

			if (sscanf(entry, "%u:" INT64_FORMAT ":%n", &rel, &hold, &at) < 2 || at == 0)
				elog(ERROR, "malformed held row entry \"%s\"", entry);
			foreach(lc, unmatched)
				if (strcmp(lfirst(lc), entry) == 0)
				{
					unmatched = foreach_delete_current(unmatched, lc);
					kept = true;
					break;
				}
			if (!kept)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_IN_USE),
						 errmsg("cannot delete rows of table %s: legal hold " INT64_FORMAT " keeps rows of table %s that the DELETE removed",
								crm_purge_relname(relid), hold, crm_purge_relname(rel)),
						 errdetail("Code of a table's owner that ran inside the DELETE (a trigger, a column default, a cast or operator of a key's type) moved or changed them."),
						 errhint("Nothing was deleted. Find that code on the tables the foreign keys' actions reach, or release the hold with crm_purge_release.")));
		}
	}
	elems = palloc(sizeof(Datum) * Max(list_length(now), 1));
	foreach(lc, now)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* crm_purge_held_watch_update: held_watch for a write that updates relid (an erase's unlink: ON UPDATE actions) */
void
crm_purge_held_watch_update(CrmPurgeForeignWrite *w)
{
	w->held = held_watch(w->relid, ACL_UPDATE);
}

/*
 * crm_purge_held_watch_picked: the write deletes these rows of its table
 * (partitions parts[i], ctids tids[i]), which the caller checked against
 * the holds itself (held ones of a protected table go to its trash): not
 * watched.
 */
void
crm_purge_held_watch_picked(CrmPurgeForeignWrite *w, Datum parts, Datum tids)
{
	Datum	   *p,
			   *t;
	bool	   *pn,
			   *tn;
	int			np,
				nt,
				i;
	ListCell   *lc;

	if (w->held == NIL)
		return;
	deconstruct_array(DatumGetArrayTypeP(parts), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &p, &pn, &np);
	deconstruct_array(DatumGetArrayTypeP(tids), TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT, &t, &tn, &nt);
	foreach(lc, w->held)
	{
		HeldRow    *row = lfirst(lc);

		for (i = 0; i < np && i < nt; i++)
			if (DatumGetObjectId(p[i]) == row->rel && ItemPointerEquals((ItemPointer) DatumGetPointer(t[i]), &row->tid))
			{
				w->held = foreach_delete_current(w->held, lc);
				break;
			}
	}
}

/* held_watch_check: an error when the write deleted a row of held (held_watch) */
static void
held_watch_check(Oid relid, List *held)
{
	ListCell   *lc;

	foreach(lc, held)
	{
		HeldRow    *row = lfirst(lc);
		Relation	rel = try_table_open(row->rel, AccessShareLock);
		int			updates;
		CrmPurgeRowFate fate;

		if (rel == NULL)
			continue;
		fate = crm_purge_row_fate(rel, &row->tid, &updates);
		table_close(rel, AccessShareLock);
		/*
		 * (changed too: crm_purge changes no held row, and a foreign key's
		 * SET NULL or ON UPDATE action on one moved under a row that went
		 * would; moved to another partition, or lost: not followed, so not
		 * known kept; review round 74, A74-1, B74-1, B74-6, B74-10)
		 */
		if (fate != ROW_FATE_UNTOUCHED && fate != ROW_FATE_OTHERS && fate != ROW_FATE_NOT_HEAP)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot write rows of table %s: legal hold " INT64_FORMAT " keeps a row of table %s that the write %s",
							crm_purge_relname(relid), row->hold, crm_purge_relname(row->rel),
							fate == ROW_FATE_UPDATED ? "changed" : "removed"),
					 errdetail("Code of a table's owner that ran inside it (a trigger, a column default, a cast or operator of a key's type) moved the row under one that went or changed."),
					 errhint("Nothing was deleted. Find that code on the tables the foreign keys' actions reach, or release the hold with crm_purge_release.")));
	}
}

static void
foreign_write_begin(Oid relid, AclMode need, bool relink, CrmPurgeForeignWrite *w)
{
	Oid			caller = GetUserId();
	Oid			owner;
	bool		owner_writes;

	w->relid = relid;
	w->as_owner = false;
	w->as_itself = false;
	w->owner = InvalidOid;
	w->pending_before = NIL;
	w->held = NIL;
	w->prev_for = foreign_write_for;
	w->prev_as = foreign_write_as;
	w->prev_relid = foreign_write_relid;
	w->prev_owner_work = owner_work_relid;
	w->prev_owner_work_level = owner_work_level;
	w->prev_itself = itself_caller;
	GetUserIdAndSecContext(&w->id.userid, &w->id.sec_context);
	w->id.nestlevel = NewGUCNestLevel();
	w->id.prev_base = marked_base;
	/* (the owner's own write of its own table is no one's behalf) */
	w->marked = !OidIsValid(relid) || crm_purge_rel_owner(relid) != caller;
	/* (a Citus restore: the caller was checked, the extension owner writes, the nodes as the owner) */
	if (!OidIsValid(relid))
	{
		mark_foreign_write(w);
		return;
	}
	owner = crm_purge_rel_owner(relid);
	crm_purge_refuse_owner_code(relid, caller);
	owner_writes = relink && owner != caller && !crm_purge_superuser_like(owner);
	/* (rows named by ctid: picked with SELECT on the table, as PostgreSQL asks of WHERE ctid = ...) */
	if (!owner_writes &&
		((pg_class_aclcheck(relid, caller, need) != ACLCHECK_OK &&
		  (need == ACL_DELETE || pg_attribute_aclcheck_all(relid, caller, need, ACLMASK_ALL) != ACLCHECK_OK)) ||
		 (need != ACL_INSERT && pg_class_aclcheck(relid, caller, ACL_SELECT) != ACLCHECK_OK)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", crm_purge_relname(relid)),
				 errdetail("%s needs %s on the table.",
						   need == ACL_INSERT ? "Restoring rows" : relink ? "Linking rows back" :
						   need == ACL_UPDATE ? "Unlinking rows" : "Deleting rows",
						   need == ACL_INSERT ? "INSERT" : need == ACL_UPDATE ? "SELECT and UPDATE" : "SELECT and DELETE")));
	/*
	 * (a plain user's restore of its own rows runs as that user, as its
	 * DELETE did; so does a write to a superuser's table: code its owner's
	 * code reaches, a third role's trigger on a table it writes, would run
	 * as the superuser)
	 */
	w->as_owner = owner_writes ||
		(!crm_purge_citus_distributed(relid) && owner != caller && crm_purge_is_admin(caller) &&
		 !crm_purge_superuser_like(owner));
	/* policies apply to the caller, and would not to the owner */
	if (w->as_owner && !owner_writes && crm_purge_policies_would_run(relid, caller))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to table %s for you: row-level security applies to you there",
						crm_purge_relname(relid)),
				 errdetail("crm_purge writes to a table as its owner, after checking your privileges; the table's policies could not apply to you."),
				 errhint("Its owner may do it.")));
	w->owner = owner;
	w->pending_before = NIL;
	refuse_rules(relid, need);
	if (need == ACL_DELETE)
		w->held = held_watch(relid, need);
	/*
	 * An admin's or superuser's write as itself (its own table, or a
	 * superuser's): a third role's code there (a partition's owner's
	 * trigger, another role's trigger function or domain) would run with
	 * the caller's rights, a superuser's unrestricted; refused as for a
	 * write as the owner (a plain user's own restore writes as it deleted)
	 */
	if (!w->as_owner && !owner_writes && crm_purge_is_admin(caller) && !crm_purge_citus_distributed(relid))
	{
		refuse_foreign_code(relid, owner, need);
		require_same_owner_partitions(relid, owner);
		w->as_itself = true;
		itself_caller = caller;
	}
	if (w->as_owner || w->as_itself)
	{
		ListCell   *lc;

		foreach(lc, pending_user_triggers())
			w->pending_before = lappend_oid(w->pending_before, ((PendingTrigger *) lfirst(lc))->relid);
	}
	if (w->as_owner)
	{
		refuse_foreign_code(relid, owner, need);
		require_same_owner_partitions(relid, owner);
		crm_purge_citus_switching();
		/* (the owner's forced policies off, as its foreign keys' actions run: they are code too) */
		SetUserIdAndSecContext(owner, w->id.sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		foreign_write_for = caller;
		foreign_write_as = owner;
		foreign_write_relid = relid;
		owner_work_relid = relid;
		owner_work_level = crm_purge_nesting_level();
	}
	/* (last: an error above leaves nothing counted) */
	mark_foreign_write(w);
}

/* crm_purge_foreign_write_abort: for a PG_CATCH (the (sub)transaction's abort takes back the rest) */
void
crm_purge_foreign_write_abort(CrmPurgeForeignWrite *w)
{
	if (w->marked)
		foreign_writes--;
	foreign_write_for = w->prev_for;
	foreign_write_as = w->prev_as;
	foreign_write_relid = w->prev_relid;
	owner_work_relid = w->prev_owner_work;
	owner_work_level = w->prev_owner_work_level;
	itself_caller = w->prev_itself;
	marked_base = w->id.prev_base;
	SetUserIdAndSecContext(w->id.userid, w->id.sec_context);
}

/*
 * crm_purge_code_of_only: from now on, no function of a role other than
 * role, a superuser-like role or the extension owner may run (InvalidOid:
 * any again); for a request's batch, which deletes as the table's owner
 * or, on a superuser's table, as its creator (review round 47, A47-2).
 * Forgotten at the transaction's end.
 */
Oid
crm_purge_code_of_only(Oid role)
{
	Oid			prev = itself_caller;

	itself_caller = role;
	return prev;
}

/* crm_purge_function_owner: fn's owner, or InvalidOid when it is gone */
Oid
crm_purge_function_owner(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Oid			owner = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
		ReleaseSysCache(tup);
	}
	return owner;
}

/*
 * crm_purge_trusted_code: may code of owner run with role's rights: is it
 * role's own, a superuser's (or superuser-like role's), or the extension
 * owner's?
 */
bool
crm_purge_trusted_code(Oid owner, Oid role)
{
	return owner == role || owner == crm_purge_extension_owner() || crm_purge_superuser_like(owner);
}

/* third_party_code: is fn's code not trusted to run with caller's rights (crm_purge_trusted_code)? */
static bool
third_party_code(Oid fn, Oid caller)
{
	Oid			owner = crm_purge_function_owner(fn);

	if (!OidIsValid(owner))
		return false;
	return !crm_purge_trusted_code(owner, caller);
}

/*
 * crm_purge_foreign_write_end: the write went through.  A deferred trigger
 * of a user's (a constraint trigger, not a foreign key's) that it queued
 * would fire at commit as whoever is then the current user, the admin.
 * Those on the owner's tables are made IMMEDIATE, still as the owner, so
 * that they fire now with the owner's rights (and stay immediate for the
 * rest of the transaction); one on a table of another owner, queued by the
 * write (the owner's code wrote there), is refused: firing it as the owner
 * would give that other owner's code the owner's rights.  Settings the
 * owner's code made (a search_path) do not outlast the write.
 */
void
crm_purge_foreign_write_end(CrmPurgeForeignWrite *w)
{
	int			round;

	PG_TRY();
	{
		held_watch_check(w->relid, w->held);
	}
	PG_CATCH();
	{
		crm_purge_foreign_write_abort(w);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/*
	 * An admin's write as itself: a third role's deferred trigger it queued
	 * would fire at commit with the admin's rights, and could leave a
	 * setting in its session (review round 45, A45-1).  Whose code it is
	 * counts, not whose table (a role may have TRIGGER on a superuser's
	 * table: review round 46, A46-2).  The caller's own and a superuser's
	 * fire as a DELETE's would.
	 */
	if (w->as_itself)
	{
		ListCell   *lc;

		foreach(lc, pending_user_triggers())
		{
			PendingTrigger *p = lfirst(lc);

			Oid			table_owner = crm_purge_rel_owner(p->relid);

			/* (the trigger's table's owner set it up, with any function: A48-1) */
			if ((third_party_code(p->fn, w->id.userid) ||
				 (table_owner != w->id.userid && table_owner != crm_purge_extension_owner() &&
				  !crm_purge_superuser_like(table_owner))) &&
				!list_member_oid(w->pending_before, p->relid))
			{
				crm_purge_foreign_write_abort(w);
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot write to table %s for you: the write queued a deferred trigger on table %s whose function %s is another role's",
								crm_purge_relname(w->relid), crm_purge_relname(p->relid), format_procedure(p->fn)),
						 errdetail("That trigger would fire at commit with your rights."),
						 errhint("Nothing was written. Ask the owner of %s to write it.",
								 crm_purge_relname(w->relid))));
			}
		}
	}
	if (w->as_owner)
	{
		PG_TRY();
		{
			List	   *fired = NIL;

			/*
			 * (a trigger fired here may queue more: on the owner's tables
			 * they fire too, each constraint made immediate once, a few
			 * rounds at most)
			 */
			for (round = 0;; round++)
			{
				StringInfoData names;
				ListCell   *lc;

				initStringInfo(&names);
				foreach(lc, pending_user_triggers())
				{
					PendingTrigger *p = lfirst(lc);
					ListCell   *f;
					bool		done = false;

					foreach(f, fired)
						done = done || strcmp(lfirst(f), p->constraint_name) == 0;
					if (done)
						continue;
					if (crm_purge_rel_owner(p->relid) == w->owner)
					{
						/* SET CONSTRAINTS takes every constraint of that name in the schema */
						if (constraint_name_shared(p, w->owner))
							ereport(ERROR,
									(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
									 errmsg("cannot write to table %s for you: deferred constraint %s is also the name of a constraint of another owner's table",
											crm_purge_relname(w->relid), p->constraint_name),
									 errdetail("crm_purge fires the owner's deferred triggers by name, as the owner; the other one would fire with the owner's rights."),
									 errhint("Nothing was written. Rename the constraint, or ask the table's owner to write it.")));
						appendStringInfo(&names, "%s%s", names.len ? ", " : "", p->constraint_name);
						fired = lappend(fired, pstrdup(p->constraint_name));
					}
					else if (!list_member_oid(w->pending_before, p->relid))
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("cannot write to table %s for you: the write queued a deferred trigger on table %s, of another owner",
										crm_purge_relname(w->relid), crm_purge_relname(p->relid)),
								 errdetail("crm_purge writes to a table as its owner; that trigger would fire at commit with your rights."),
								 errhint("Nothing was written. Give the two tables one owner, or ask the owner of %s to write it.",
										 crm_purge_relname(w->relid))));
				}
				if (names.len == 0)
					break;
				if (round >= 8)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("cannot write to table %s for you: its owner's deferred triggers keep queueing more",
									crm_purge_relname(w->relid)),
							 errhint("Nothing was written. Ask the table's owner to write it.")));
				/* (their events, the admin's earlier ones too, fire: the constraints are immediate now) */
				firing_deferred = true;
				SPI_connect();
				if (SPI_execute(psprintf("SET CONSTRAINTS %s IMMEDIATE", names.data), false, 0) != SPI_OK_UTILITY)
					elog(ERROR, "could not fire deferred triggers");
				SPI_finish();
				firing_deferred = false;
			}
		}
		PG_CATCH();
		{
			firing_deferred = false;
			crm_purge_foreign_write_abort(w);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	crm_purge_foreign_write_abort(w);
	AtEOXact_GUC(false, w->id.nestlevel);
}

/*
 * crm_purge_firing_deferred: is this crm_purge's own SET CONSTRAINTS ...
 * IMMEDIATE (crm_purge_foreign_write_end)?  Asked once, before it runs: the
 * triggers it fires get no such leave.
 */
bool
crm_purge_firing_deferred(void)
{
	bool		own = firing_deferred;

	firing_deferred = false;
	return own;
}

/*
 * The deferrable triggers of a user's function (not a foreign key's or a
 * unique index's, which take their table owner's rights themselves), read
 * once and again after any relation's cache is invalidated (a trigger made
 * or dropped invalidates its table's).
 */
static List *user_deferrable_triggers = NIL;
static bool user_deferrable_triggers_valid = false;
static MemoryContext user_deferrable_triggers_cxt = NULL;

static void
forget_user_deferrable_triggers(Datum arg, Oid relid)
{
	user_deferrable_triggers_valid = false;
}

static List *
read_user_deferrable_triggers(void)
{
	static bool callback = false;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;

	if (user_deferrable_triggers_valid)
		return user_deferrable_triggers;
	if (!callback)
	{
		CacheRegisterRelcacheCallback(forget_user_deferrable_triggers, (Datum) 0);
		user_deferrable_triggers_cxt = AllocSetContextCreate(TopMemoryContext, "crm_purge deferrable triggers",
															 ALLOCSET_SMALL_SIZES);
		callback = true;
	}
	MemoryContextReset(user_deferrable_triggers_cxt);
	user_deferrable_triggers = NIL;
	rel = table_open(TriggerRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	old = MemoryContextSwitchTo(user_deferrable_triggers_cxt);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger t = (Form_pg_trigger) GETSTRUCT(tup);
		HeapTuple	con;
		PendingTrigger *p;

		if (!t->tgdeferrable || !OidIsValid(t->tgconstraint))
			continue;
		con = SearchSysCache1(CONSTROID, ObjectIdGetDatum(t->tgconstraint));
		if (!HeapTupleIsValid(con))
			continue;
		/*
		 * A foreign key's checks take their table owner's rights; a unique
		 * or exclusion constraint's recheck runs its index's expressions and
		 * operators, the table owner's code; a constraint trigger runs its
		 * function, unless that is crm_purge's own.
		 */
		if (((Form_pg_constraint) GETSTRUCT(con))->contype == CONSTRAINT_FOREIGN ||
			(((Form_pg_constraint) GETSTRUCT(con))->contype == CONSTRAINT_TRIGGER &&
			 trusted_function(t->tgfoid)))
		{
			ReleaseSysCache(con);
			continue;
		}
		p = palloc(sizeof(PendingTrigger));
		p->relid = t->tgrelid;
		p->fn = t->tgfoid;
		p->conname = pstrdup(NameStr(((Form_pg_constraint) GETSTRUCT(con))->conname));
		p->connamespace = ((Form_pg_constraint) GETSTRUCT(con))->connamespace;
		p->constraint_name =
			quote_qualified_identifier(get_namespace_name(((Form_pg_constraint) GETSTRUCT(con))->connamespace),
									   NameStr(((Form_pg_constraint) GETSTRUCT(con))->conname));
		ReleaseSysCache(con);
		user_deferrable_triggers = lappend(user_deferrable_triggers, p);
	}
	MemoryContextSwitchTo(old);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	user_deferrable_triggers_valid = true;
	return user_deferrable_triggers;
}

/* constraint_name_shared: is p's constraint name, in its schema, also one of a table not owner's? */
static bool
constraint_name_shared(PendingTrigger *p, Oid owner)
{
	Relation	rel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		shared = false;

	ScanKeyInit(&key[0], Anum_pg_constraint_conname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(p->conname));
	ScanKeyInit(&key[1], Anum_pg_constraint_connamespace, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(p->connamespace));
	scan = systable_beginscan(rel, ConstraintNameNspIndexId, true, NULL, 2, key);
	while (!shared && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint c = (Form_pg_constraint) GETSTRUCT(tup);

		shared = OidIsValid(c->conrelid) && crm_purge_rel_owner(c->conrelid) != owner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return shared;
}

/* pending_user_triggers: those of them on tables with trigger events pending (a List of PendingTrigger) */
static List *
pending_user_triggers(void)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, read_user_deferrable_triggers())
	{
		PendingTrigger *p = lfirst(lc);

		if (AfterTriggerPendingOnRel(p->relid))
			result = lappend(result, p);
	}
	return result;
}

/*
 * trusted_function: is fn crm_purge's own?  A superuser's is not: lo_manage
 * or refint's check_foreign_key act with the rights of whoever fires them.
 */
static bool
trusted_function(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	bool		trusted = false;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_proc p = (Form_pg_proc) GETSTRUCT(tup);

		trusted = p->proowner == crm_purge_extension_owner() &&
			p->pronamespace == get_namespace_oid(CRM_PURGE_SCHEMA, true);
		ReleaseSysCache(tup);
	}
	return trusted;
}

/*
 * crm_purge_deleting_user: the role a trash records as deleting: the admin
 * a foreign write runs for, rather than the owner it runs as.
 */
Oid
crm_purge_deleting_user(Oid relid)
{
	Oid			user = GetUserId();

	if (foreign_writes > 0 && OidIsValid(foreign_write_for) && user == foreign_write_as &&
		OidIsValid(foreign_write_relid) &&
		(relid == foreign_write_relid ||
		 (get_rel_relispartition(relid) && list_member_oid(get_partition_ancestors(relid), foreign_write_relid))))
		return foreign_write_for;
	return user;
}

/*
 * crm_purge_owner_work_on: does crm_purge's own write (or pick) on live, as
 * its owner for an admin, run now?  Then the owner reads its trash whole
 * (restore's insert reads it).
 */
bool
crm_purge_owner_work_on(Oid live)
{
	/*
	 * Only crm_purge's own statements: the owner's code they reach (a
	 * trigger, a default's or CHECK's function) runs its statements
	 * deeper, and read every other user's trashed row (review round 51,
	 * A51-1).  (Rules and the owner's policies are off in such a write.)
	 */
	return OidIsValid(owner_work_relid) && owner_work_relid == live && GetUserId() == crm_purge_rel_owner(live) &&
		crm_purge_nesting_level() <= owner_work_level + 1;
}

/* crm_purge_mark_foreign_work: an admin's erase or delete on other roles' tables runs in this transaction */
void
crm_purge_mark_foreign_work(void)
{
	foreign_writes_lxid = MyProc->lxid;
}

/* crm_purge_mark_foreign_work_sql: crm_purge._mark_foreign_work() */
PG_FUNCTION_INFO_V1(crm_purge_mark_foreign_work_sql);
Datum
crm_purge_mark_foreign_work_sql(PG_FUNCTION_ARGS)
{
	crm_purge_mark_foreign_work();
	PG_RETURN_VOID();
}

/* trigger_depth: how deep in triggers this runs (pg_trigger_depth()) */
static int
trigger_depth(void)
{
	LOCAL_FCINFO(fc, 0);

	InitFunctionCallInfoData(*fc, NULL, 0, InvalidOid, NULL, NULL);
	return DatumGetInt32(pg_trigger_depth(fc));
}

/*
 * crm_purge_on_behalf: may a table owner's code be running with another
 * role's rights for crm_purge?  Inside a filter run as its creator, a
 * write of an admin's restore or erase; and, in a transaction with such
 * an admin's work, in triggers (nested: also anything not run at top
 * level).  There it may not act as that role: no crm_purge admin function
 * (crm_purge_require_admin), no utility statement (a SECURITY DEFINER
 * function, ALTER DATABASE, a GRANT: crm_purge_before_utility).
 */
bool
crm_purge_on_behalf(bool nested)
{
	int			sec_context;
	Oid			userid;

	GetUserIdAndSecContext(&userid, &sec_context);
	return (sec_context & CRM_PURGE_SECURITY_ON_BEHALF) != 0 || foreign_writes > 0 ||
		(foreign_writes_lxid == MyProc->lxid && (nested || trigger_depth() > 0)) ||
		(remote_marked && crm_purge_nesting_level() > 0);
}

/*
 * A function that runs SQL over a new connection as the current user
 * (Citus's run_command_on_* and master_run_on_worker, dblink's): from code
 * run on another role's behalf (crm_purge_on_behalf: an admin's filter on
 * another role's table, whose owner's code runs while it is planned and
 * read; or a Citus node's session for a statement sent from another node)
 * it would act as that role in a session of its own, out of sight of every
 * check here.  Refused there, except for the extension owner, crm_purge's
 * own (and in a Citus node's session, a superuser: Citus's own work).
 */
static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

/* what connection_hook refuses of a function: nothing, opening a connection, setting Citus's transaction id */
typedef enum HookedFunction
{
	HOOKED_NONE,
	HOOKED_CONNECTS,
	HOOKED_SETS_TRANSACTION_ID,
	HOOKED_RESHARDS,
	HOOKED_UNDISTRIBUTES,
	HOOKED_CITUS_TABLE_UDF,
	HOOKED_COLOCATES,
	HOOKED_ERASE
} HookedFunction;

/* calls of crm_purge._erase running: its steps (_erased, _trash_apply) run only inside one */
static int	erasing = 0;

/* calls of Citus's alter_distributed_table / alter_table_set_access_method running */
static int	resharding = 0;

/* calls of those, undistribute_table or the schema ones by a superuser running (they copy rows as the superuser) */
static int	superuser_moving_rows = 0;

/* superuser DDL statements running on a Citus node: crm_purge_superuser_ddl_enter */
static int	superuser_ddl = 0;

/*
 * crm_purge_refuse_superuser_row_move: Citus's alter_distributed_table,
 * alter_table_set_access_method and undistribute_table copy a table's rows
 * by INSERT ... SELECT as whoever called them, on the coordinator and the
 * worker nodes: a superuser's call ran the table owner's code (CHECKs,
 * domains, defaults, triggers) as the superuser, for the table it named and
 * for every table cascade_to_colocated reached (review round 50, C50-2).
 * rels: what a statement run inside one reads or writes.
 */
/*
 * The same inside a superuser's DDL on a Citus node: dropping the last
 * foreign key from a role's table to a reference table (DROP of the
 * reference table) makes Citus undistribute the role's table from its
 * utility hook, by INSERT ... SELECT, with no function call to see
 * (review round 72, C72-2).
 */
bool
crm_purge_superuser_moving_rows(void)
{
	return superuser_moving_rows > 0 || superuser_ddl > 0;
}

void
crm_purge_refuse_superuser_row_move(List *rels, bool writes)
{
	ListCell   *lc;

	if (!crm_purge_superuser_moving_rows() || !writes || !superuser())
		return;
	foreach(lc, rels)
	{
		Oid			owner = crm_purge_rel_owner(lfirst_oid(lc));

		if (OidIsValid(owner) && !crm_purge_superuser_like(owner) && superuser_moving_rows == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("a superuser's DDL on a Citus node may not write table %s, owned by %s",
							crm_purge_relname(lfirst_oid(lc)), crm_purge_role_name(owner)),
					 errdetail("Citus copies a table's rows by INSERT ... SELECT as the caller inside some DDL (it undistributes a role's Citus local table when its last foreign key to a reference table is dropped): the owner's code (CHECKs, domains, defaults, triggers) would run as the superuser."),
					 errhint("Have the table's owner drop its foreign key or run undistribute_table first (SET ROLE), then run the statement again.")));
		if (OidIsValid(owner) && !crm_purge_superuser_like(owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("a superuser may not have Citus copy the rows of table %s, owned by %s",
							crm_purge_relname(lfirst_oid(lc)), crm_purge_role_name(owner)),
					 errdetail("alter_distributed_table, alter_table_set_access_method, undistribute_table, citus_schema_distribute, citus_schema_undistribute, citus_schema_move and remove_local_tables_from_metadata copy rows as the caller, which runs the owner's code (CHECKs, domains, defaults, triggers) as the superuser."),
					 errhint("Have the table's owner run it (SET ROLE), or leave cascade_to_colocated off when a role's table shares the colocation group.")));
	}
}

/*
 * crm_purge_citus_resharding: is one running?  It makes a table again and
 * drops the old one: that DROP of a protected table or a trash is refused
 * (utility.c), whatever form the call took (crm_purge_citus_refuse_reshard
 * sees only a top-level call with a constant table).
 */
bool
crm_purge_citus_resharding(void)
{
	return resharding > 0;
}

/*
 * hooked_function: one pg_proc lookup.  Setting the transaction id:
 * Citus's assign_distributed_transaction_id(), which Citus sends the worker
 * nodes in its own sessions, and which PUBLIC may call: crm_purge's deletion
 * ids come from that id, and a role setting its own could give its trash
 * rows another user's names (a restore or erase of its rows then reached
 * the other user's).
 */
/*
 * citus_runs_callers_code_only: Citus's functions that only evaluate what
 * their caller's own query names (aggregates, intermediate results), read
 * or return values, or are type I/O: called everywhere, opening no table.
 */
static bool
citus_runs_callers_code_only(const char *name)
{
	static const char *const names[] = {
		"worker_partition_query_result", "create_intermediate_result",
		"broadcast_intermediate_result", "read_intermediate_result",
		"read_intermediate_results", "fetch_intermediate_results",
		"worker_save_query_explain_analyze", "worker_last_saved_explain_analyze",
		"citus_truncate_trigger", "worker_hash", "citus_text_send_as_jsonb",
		"citus_extradata_container", "citus_executor_name", "citus_table_is_visible",
		"citus_version", "citus_is_coordinator", "citus_backend_gpid",
		"citus_calculate_gpid", "citus_pid_for_gpid", "get_current_transaction_id",
		"citus_get_transaction_clock", "citus_is_clock_after", "citus_server_id",
	};
	int			i;

	if (strncmp(name, "coord_combine_agg", 17) == 0 || strncmp(name, "worker_partial_agg", 18) == 0 ||
		strncmp(name, "cluster_clock_", 14) == 0)
		return true;
	for (i = 0; i < lengthof(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * citus_table_udf: a C function of Citus's library (pg_catalog,
 * citus_internal): run by a superuser, it may open a role's table, and
 * PostgreSQL folds the role's IMMUTABLE functions there (index, statistics
 * and partition key expressions), or fires its triggers
 * (truncate_local_data_after_distributing_table): counted as a superuser's
 * DDL (review round 53, C53-1, C53-2).  Every one but those above: a list
 * of the dangerous ones missed the schema functions and
 * remove_local_tables_from_metadata (review round 55, C55-1).
 */
static bool
citus_table_udf(HeapTuple tup)
{
	Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);
	bool		isnull;
	Datum		bin;

	if (proc->prolang != ClanguageId ||
		(proc->pronamespace != PG_CATALOG_NAMESPACE &&
		 proc->pronamespace != get_namespace_oid("citus_internal", true)))
		return false;
	bin = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull);
	if (isnull || strstr(TextDatumGetCString(bin), "citus") == NULL)
		return false;
	return !citus_runs_callers_code_only(NameStr(proc->proname));
}

static bool
citus_table_udf_oid(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		result = citus_table_udf(tup);
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * citus_changes_tables: a function of Citus's that makes, changes or drops
 * distributed tables (create_distributed_table...): Citus then sends their
 * metadata to the worker nodes over the role's connections
 */
static bool
citus_changes_tables(Oid fn)
{
	static const char *const prefixes[] = {"create_", "alter_", "undistribute_", "citus_add_local_table",
		"update_distributed_table_colocation", "remove_local_tables", "citus_schema_", "drop_old_time_partitions",
	"truncate_local_data"};
	char	   *name;
	int			i;

	if (get_func_namespace(fn) != PG_CATALOG_NAMESPACE || (name = get_func_name(fn)) == NULL)
		return false;
	for (i = 0; i < lengthof(prefixes); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/*
 * metadata_changer: one of Citus's functions that add, delete or update
 * shard, placement, partition or colocation metadata (citus_internal.*,
 * pg_catalog.citus_internal_*, worker_drop_distributed_table), which
 * crm_purge's checks on a worker node read
 */
static bool
metadata_changer(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);
		const char *name = NameStr(proc->proname);

		result = ((proc->pronamespace == get_namespace_oid("citus_internal", true) ||
				   strncmp(name, "citus_internal_", 15) == 0) &&
				  (strstr(name, "shard_metadata") != NULL || strstr(name, "placement_metadata") != NULL ||
				   strstr(name, "partition_metadata") != NULL || strstr(name, "colocation") != NULL ||
				   /* (review round 62, C62-1, C62-2) */
				   strstr(name, "dist_table_metadata") != NULL || strstr(name, "tenant_schema") != NULL)) ||
			/* (and the one dropping a table's metadata, a table owner's to call: review round 60, C60-1, C60-2) */
			(proc->pronamespace == PG_CATALOG_NAMESPACE &&
			 (strcmp(name, "worker_drop_distributed_table") == 0 ||
			  /* (review round 63, C63-1) */
			  strcmp(name, "worker_drop_shell_table") == 0));
		ReleaseSysCache(tup);
	}
	return result;
}

static HookedFunction
hooked_function(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	HookedFunction result = HOOKED_NONE;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);
		const char *name = NameStr(proc->proname);

		if (strncmp(name, "run_command_on_", 15) == 0 || strcmp(name, "master_run_on_worker") == 0 ||
			strncmp(name, "dblink", 6) == 0)
			result = HOOKED_CONNECTS;
		/* (pg_cron's jobs run later, in a session of their own, as whoever scheduled them) */
		else if (strncmp(name, "schedule", 8) == 0 || strcmp(name, "alter_job") == 0)
		{
			char	   *nsp = get_namespace_name(proc->pronamespace);

			if (nsp != NULL && strcmp(nsp, "cron") == 0)
				result = HOOKED_CONNECTS;
		}
		else if (strcmp(name, "assign_distributed_transaction_id") == 0 &&
				 proc->pronamespace == PG_CATALOG_NAMESPACE)
			result = HOOKED_SETS_TRANSACTION_ID;
		else if ((strcmp(name, "alter_distributed_table") == 0 || strcmp(name, "alter_table_set_access_method") == 0) &&
				 proc->pronamespace == PG_CATALOG_NAMESPACE)
			result = HOOKED_RESHARDS;
		else if ((strcmp(name, "undistribute_table") == 0 || strncmp(name, "citus_schema_", 13) == 0 ||
				  strcmp(name, "remove_local_tables_from_metadata") == 0) &&
				 proc->pronamespace == PG_CATALOG_NAMESPACE)
			result = HOOKED_UNDISTRIBUTES;
		else if ((strcmp(name, "update_distributed_table_colocation") == 0 ||
				  strcmp(name, "citus_add_local_table_to_metadata") == 0 ||
				  strcmp(name, "create_reference_table") == 0 ||
				  strcmp(name, "create_distributed_table_concurrently") == 0) &&
				 proc->pronamespace == PG_CATALOG_NAMESPACE)
			result = HOOKED_COLOCATES;
		else if (strcmp(name, "_erase") == 0 && proc->pronamespace == get_namespace_oid(CRM_PURGE_SCHEMA, true))
			result = HOOKED_ERASE;
		if (result == HOOKED_NONE && citus_table_udf(tup))
			result = HOOKED_CITUS_TABLE_UDF;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * crm_purge_refuse_foreign_tables: a foreign table read (planned too: a
 * remote estimate) connects as the current user's user mapping, the same
 * new session as dblink's: refused where connection_hook refuses such a
 * function, for each relation of rels.
 */
void
crm_purge_refuse_foreign_tables(List *rels)
{
	ListCell   *lc;

	if (rels == NIL || !(crm_purge_on_behalf(false) || (crm_purge_citus_internal_session() && !superuser())) ||
		GetUserId() == crm_purge_extension_owner())
		return;
	foreach(lc, rels)
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot read foreign table %s on another role's behalf", crm_purge_relname(lfirst_oid(lc))),
					 errdetail("Its foreign server connects as the current user; code run on another role's behalf (a table owner's expression, policy or trigger reached by an admin's request, restore or erase) does not act as that role."),
					 errhint("Read the foreign table outside the table's code, or ask the admin to run it.")));
}

/*
 * itself_check_perms: in the same writes, no relation of a third role is
 * read or written either (its policy, default or trigger would run with the
 * writer's rights, even one made of built-in functions only, which never
 * reach the fmgr hook; review round 47, A47-1).
 */
static ExecutorCheckPerms_hook_type prev_check_perms_hook = NULL;

static bool
itself_check_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	/* (as another role, a foreign key's check as its table's owner, no code runs with the writer's rights) */
	if (OidIsValid(itself_caller) && GetUserId() == itself_caller)
		foreach(lc, rangeTable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			Oid			owner;

			if (rte->rtekind != RTE_RELATION)
				continue;
			owner = crm_purge_rel_owner(rte->relid);
			if (owner != itself_caller && owner != crm_purge_extension_owner() && !crm_purge_superuser_like(owner))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("cannot write for you: table %s of another role would be read or written with your rights",
								crm_purge_relname(rte->relid)),
						 errdetail("crm_purge writes as you, or as the table's owner, to that table; code reaching another role's table (a trigger, a policy, a default) would run that role's code with those rights."),
						 errhint("Nothing was written. Give that table to the table's owner, or ask the owner to write it.")));
		}
	return prev_check_perms_hook ? prev_check_perms_hook(rangeTable, ereport_on_violation) : true;
}

/*
 * superuser DDL statements running on a Citus node (crm_purge_superuser_ddl_enter):
 * Citus makes a role's objects again over superuser connections (metadata
 * syncs, shard splits, a table's dependencies), and PostgreSQL folds the
 * role's IMMUTABLE functions there (partition keys, CHECKs while attaching),
 * or reads its literals through its domains' CHECKs: a role's function ran
 * as the superuser (review rounds 49 to 51).  Whatever statement kind or
 * expression reached it, such a function is refused there.
 */
void
crm_purge_superuser_ddl_enter(Node *stmt)
{
	/* (TRUNCATE too: Citus truncates shards with CASCADE, review round 70, C70-1) */
	if (superuser_ddl > 0 ||
		(superuser() && crm_purge_citus_present() &&
		 (GetCommandLogLevel(stmt) == LOGSTMT_DDL || IsA(stmt, TruncateStmt))))
		superuser_ddl++;
}

void
crm_purge_superuser_ddl_exit(void)
{
	if (superuser_ddl > 0)
		superuser_ddl--;
}

/*
 * marked_third_party_call: would fn, called now, run a third role's code
 * with the rights of the role whose filter reads another role's table?
 * (A SECURITY DEFINER function has switched to its owner by then.)
 */
static bool
marked_third_party_call(Oid fn)
{
	return in_marked_reader() && third_party_code(fn, GetUserId());
}

/* in_marked_reader: does the role whose filter reads another role's table run now (marked)? */
static bool
in_marked_reader(void)
{
	Oid			userid;
	int			sec_context;

	if (!OidIsValid(marked_role) && !IsParallelWorker())
		return false;
	GetUserIdAndSecContext(&userid, &sec_context);
	/* (a parallel worker of the read has the leader's user and bits, not marked_role) */
	return (sec_context & CRM_PURGE_SECURITY_ON_BEHALF) != 0 && (userid == marked_role || IsParallelWorker());
}

/*
 * refresh_domain_checks: the type cache keeps domains' CHECKs planned for
 * the session, a third role's SQL function inlined where it was planned
 * unmarked (the owner's trigger in crm_purge's write as the owner, the
 * owner's SECURITY DEFINER function called in the read): back in the
 * reader's marked context only its built-ins would be left to run,
 * unhooked.  They are planned again, with the hook asked (review round
 * 64, A64-1).
 */
static void
refresh_domain_checks(void)
{
	CallSyscacheCallbacks(CONSTROID, 0);
}

static bool
connection_needs_hook(Oid fn)
{
	/* (asked before inlining too: refused when called, connection_hook) */
	if (marked_third_party_call(fn))
		return true;
	if (OidIsValid(itself_caller) && third_party_code(fn, itself_caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot write for you: function %s of another role would run with your rights",
						format_procedure(fn)),
				 errdetail("crm_purge writes as you to a table of yours or of a superuser; code a third role wrote (reached through a policy, a view, a trigger or a type) runs there with your rights."),
				 errhint("Nothing was written. Give that code to the table's owner, or ask the owner to write it.")));
	/* (called, not only prepared: connection_hook) */
	if (superuser_ddl > 0 && superuser() && third_party_code(fn, GetUserId()))
		return true;
	return (prev_needs_fmgr_hook && prev_needs_fmgr_hook(fn)) || hooked_function(fn) != HOOKED_NONE;
}

/*
 * citus_internal_session: a session a Citus node opened to this one for a
 * distributed statement (Citus names them so).  There a table owner's code
 * on a shard runs with the rights of whoever the statement came from, in a
 * session of its own, where crm_purge's marks are not: on a worker node the
 * owner's trigger or index expression on a shard of an admin's erase.
 * (A role naming its own session so only refuses itself more.)
 */
bool
crm_purge_citus_internal_session(void)
{
	/* the name the session started with: application_name may be changed since */
	const char *name = MyProcPort ? MyProcPort->application_name : NULL;

	return name != NULL && strncmp(name, "citus_internal", 14) == 0;
}

/* the session marked (remote_marked) until its transaction ends */
static bool citus_on_behalf = false;

static void
assign_citus_on_behalf(bool newval, void *extra)
{
	if (newval && crm_purge_citus_internal_session())
		remote_marked = true;
}

/*
 * A subtransaction rolled back takes back the picks and writes it began
 * (a savepoint around a failed restore): what they set here too.
 */
typedef struct SubxactMarks
{
	SubTransactionId subid;
	Oid			owner_work;
	int			owner_work_level;
	int			marked_base;
} SubxactMarks;
static List *subxact_marks = NIL;

static void
subxact_marks_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	SubxactMarks *top;

	if (event == SUBXACT_EVENT_START_SUB)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		top = palloc(sizeof(SubxactMarks));
		top->subid = mySubid;
		top->owner_work = owner_work_relid;
		top->owner_work_level = owner_work_level;
		top->marked_base = marked_base;
		subxact_marks = lcons(top, subxact_marks);
		MemoryContextSwitchTo(old);
		return;
	}
	if ((event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB) || subxact_marks == NIL)
		return;
	top = linitial(subxact_marks);
	if (top->subid != mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		owner_work_relid = top->owner_work;
		owner_work_level = top->owner_work_level;
		marked_base = top->marked_base;
	}
	subxact_marks = list_delete_first(subxact_marks);
	pfree(top);
}

static void
forget_remote_mark(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		remote_marked = false;
		itself_caller = InvalidOid;
		erasing = 0;
		marked_base = -1;
		marked_role = InvalidOid;
		owner_work_relid = InvalidOid;
		list_free_deep(subxact_marks);
		subxact_marks = NIL;
	}
}

/*
 * crm_purge_refuse_nested_distributed: from ExecutorStart, for a statement
 * of text source at nesting level level: a Citus distributed statement of the owner's code
 * run on another role's behalf would open connections as that role to the
 * worker nodes (or back to the coordinator), where the owner's code on the
 * shards runs unmarked.  crm_purge's own statement there may (its nodes'
 * sessions are marked: crm_purge_citus_mark_on_behalf).
 */
void
crm_purge_refuse_nested_distributed(PlannedStmt *stmt, const char *source, int level)
{
	int			sec_context;
	Oid			userid;

	if (marked_base < 0 && !remote_marked && foreign_writes == 0)
		return;
	GetUserIdAndSecContext(&userid, &sec_context);
	if (!((sec_context & CRM_PURGE_SECURITY_ON_BEHALF) != 0 || foreign_writes > 0 || remote_marked))
		return;
	if (level <= (remote_marked ? 0 : Max(marked_base, 0)) || !crm_purge_citus_plan_anywhere(stmt) ||
		userid == crm_purge_extension_owner())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot run a distributed statement on another role's behalf"),
			 errdetail("Code run on another role's behalf (a table owner's expression, policy or trigger reached by an admin's request, restore or erase) may not reach the Citus nodes as that role."),
			 errhint("Call it directly, as the admin, in a transaction of its own.")));
}

/*
 * refuse_separated_trash: after Citus's update_distributed_table_colocation,
 * citus_add_local_table_to_metadata, create_reference_table or
 * create_distributed_table_concurrently (whatever form the call took),
 * every protected distributed table is still colocated with its trash (its
 * shards' triggers write the trash shard of the same range on the same
 * node, and failed otherwise), and no protected or held table became a
 * Citus local or reference table.
 */
static void
refuse_separated_trash(void)
{
	CrmPurgeIdentity id;
	char	   *separated = NULL;

	if (!OidIsValid(get_extension_oid("crm_purge", true)))
		return;
	SPI_connect();
	crm_purge_become_owner_local(&id);
	/* (not read-only: a new snapshot, which sees what the call changed) */
	if (SPI_execute("SELECT p.tbl::pg_catalog.text FROM crm_purge.protected_tables p"
					" JOIN pg_catalog.pg_dist_partition l ON l.logicalrelid OPERATOR(pg_catalog.=) p.tbl"
					" JOIN pg_catalog.pg_dist_partition t ON t.logicalrelid OPERATOR(pg_catalog.=) p.trash"
					" WHERE l.colocationid OPERATOR(pg_catalog.<>) t.colocationid LIMIT 1", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the colocation of protected tables");
	if (SPI_processed == 1)
		separated = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	/*
	 * nor made a Citus local or reference table (directly, or as Citus
	 * converts a table referencing a new reference table): the table
	 * becomes a shard behind a new shell, and crm_purge's catalog and holds
	 * would name the shard
	 */
	if (separated == NULL &&
		SPI_execute("SELECT x.shard::pg_catalog.text FROM pg_catalog.pg_dist_partition d"
					" JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) d.logicalrelid"
					" JOIN pg_catalog.pg_class l ON l.oid OPERATOR(pg_catalog.=) s.logicalrelid"
					" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) l.relnamespace,"
					" LATERAL (SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', n.nspname,"
					"   l.relname OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) s.shardid::pg_catalog.text)) AS shard) x"
					" WHERE d.partmethod OPERATOR(pg_catalog.=) 'n' AND (x.shard IN (SELECT p.tbl FROM crm_purge.protected_tables p)"
					"  OR x.shard IN (SELECT h.tbl FROM crm_purge.holds h WHERE h.released_at IS NULL)) LIMIT 1",
					false, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *shard = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		crm_purge_unbecome(&id);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot make a table protected by crm_purge or under a legal hold a Citus local or reference table"),
				 errdetail("Table %s would become a shard behind a new table: its trash would never expire, and its rows could not be restored, erased or held by table.", shard),
				 errhint("Distribute it with create_distributed_table, or run crm_purge_unprotect (and release its holds) first.")));
	}
	crm_purge_unbecome(&id);
	if (separated != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the colocation of table %s: it is protected by crm_purge, and its trash would no longer be colocated with it", separated),
				 errdetail("Each shard's trigger writes the trash shard of the same hash range on the same node."),
				 errhint("Colocate the other table with this one instead, or run crm_purge_unprotect first.")));
	SPI_finish();
}

static void
connection_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *arg)
{

	HookedFunction hooked = hooked_function(flinfo->fn_oid);
	/* (one pg_proc lookup for both uses below) */
	bool		citus_udf = hooked != HOOKED_NONE && hooked != HOOKED_ERASE && citus_table_udf_oid(flinfo->fn_oid);


	/* (first: the branches below change hooked) */
	if (citus_udf && hooked != HOOKED_CONNECTS && hooked != HOOKED_SETS_TRANSACTION_ID)
	{
		/* (the same user at its start and its end) */
		if (event == FHET_START && superuser())
			superuser_ddl++;
		else if (event != FHET_START && superuser() && superuser_ddl > 0)
			superuser_ddl--;
		if (hooked == HOOKED_CITUS_TABLE_UDF)
			hooked = HOOKED_NONE;
	}

	/*
	 * A table owner's IMMUTABLE function folded while the filter is planned
	 * (an index, statistics or partition key expression), called by a
	 * domain's CHECK, an operator or a cast on the owner's types, or by the
	 * filter itself: it would run with the reader's rights (review round
	 * 62, A62-1).
	 */
	/* (back from a SECURITY DEFINER function, run as its owner, in a reader's marked context) */
	if (event != FHET_START && in_marked_reader())
		refresh_domain_checks();

	if (event == FHET_START && marked_third_party_call(flinfo->fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot run function %s of role %s with the rights of role %s",
						format_procedure_qualified(flinfo->fn_oid),
						crm_purge_role_name(crm_purge_function_owner(flinfo->fn_oid)), crm_purge_role_name(GetUserId())),
				 errdetail("crm_purge reads another role's table by %s's filter; a third role's function called there (folded in an index or statistics expression, called by a domain's CHECK, an operator, a cast or the filter) would run with %s's rights.",
						   crm_purge_role_name(GetUserId()), crm_purge_role_name(GetUserId())),
				 errhint("Make the function SECURITY DEFINER or give it to %s or a superuser, or have a member of the table owner's role do this.",
						 crm_purge_role_name(GetUserId()))));

	if (event == FHET_START && superuser_ddl > 0 && superuser() && third_party_code(flinfo->fn_oid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a superuser's DDL on a Citus node may not run function %s of another role",
						format_procedure_qualified(flinfo->fn_oid)),
				 errdetail("Citus sends a role's objects to the nodes over superuser connections; the role's code (an IMMUTABLE function folded in a partition key or CHECK, a domain's CHECK) would run as the superuser."),
				 errhint("Have the function's owner make the change, or give the function to a superuser.")));

	if (hooked == HOOKED_ERASE)
	{
		if (event == FHET_START)
			erasing++;
		else if (erasing > 0)
			erasing--;
		hooked = HOOKED_NONE;
	}

	if (hooked == HOOKED_COLOCATES)
	{
		if (event == FHET_END)
			refuse_separated_trash();
		hooked = HOOKED_NONE;
	}


	if (hooked == HOOKED_RESHARDS || hooked == HOOKED_UNDISTRIBUTES)
	{
		if (hooked == HOOKED_RESHARDS && event == FHET_START)
			resharding++;
		else if (hooked == HOOKED_RESHARDS && resharding > 0)
			resharding--;
		/* (the same user at its start and its end) */
		if (event == FHET_START && superuser())
			superuser_moving_rows++;
		else if (event != FHET_START && superuser() && superuser_moving_rows > 0)
			superuser_moving_rows--;
		hooked = HOOKED_NONE;
	}

	if (event == FHET_START && hooked == HOOKED_CONNECTS &&
		(crm_purge_on_behalf(false) || (crm_purge_citus_internal_session() && !superuser())) &&
		GetUserId() != crm_purge_extension_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("function %s cannot run on another role's behalf", get_func_name(flinfo->fn_oid)),
				 errdetail("It opens a connection as the current user; code run on another role's behalf (a table owner's expression, policy or trigger reached by an admin's request, restore or erase) does not act as that role."),
				 errhint("Call it directly, as the admin, in a transaction of its own.")));
	if (event == FHET_START && !superuser() && citus_udf && crm_purge_citus_present())
	{
		/*
		 * (on the coordinator, before Citus sends anything; on a worker node
		 * only in the coordinator's own command, not in a role's code it
		 * runs: a trigger, a function Citus delegates, a query pushed down to a
		 * shard: the statement must be Citus's metadata command calling it)
		 */
		if (crm_purge_citus_group() == 0 && citus_changes_tables(flinfo->fn_oid))
			crm_purge_citus_hand_out_metadata();
		/* (on the coordinator never: Citus changes its metadata there itself; review round 62, C62-1) */
		else if (metadata_changer(flinfo->fn_oid) &&
				 OidIsValid(get_extension_oid("crm_purge", true)) && crm_purge_have_secret() &&
				 (crm_purge_citus_group() == 0 || !crm_purge_citus_metadata_tagged() || crm_purge_nesting_level() > 1 ||
				  !crm_purge_citus_command_calls(crm_purge_top_level_metadata_command(), flinfo->fn_oid)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 crm_purge_citus_group() == 0 ?
					 errmsg("function %s may change Citus's metadata only as Citus's own command, on a worker node", get_func_name(flinfo->fn_oid)) :
					 errmsg("function %s may change Citus's metadata on a worker node only for the coordinator", get_func_name(flinfo->fn_oid)),
					 errdetail("crm_purge's checks read Citus's metadata; a role changing it (a session named citus_internal) made its shards unknown to them."),
					 errhint("Make the change with Citus's functions on the coordinator (create_distributed_table, ALTER TABLE ...).")));
	}
	/* (Citus's own sessions are named so; a superuser may) */
	if (event == FHET_START && hooked == HOOKED_SETS_TRANSACTION_ID && !crm_purge_citus_internal_session() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("function %s is for Citus's own sessions", get_func_name(flinfo->fn_oid)),
				 errdetail("crm_purge names trash rows by the distributed transaction id; a session setting its own could give its rows another user's names."),
				 errhint("Let Citus assign distributed transaction ids.")));
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, arg);
}

static row_security_policy_hook_type prev_restrictive_policy_hook = NULL;

/*
 * refuse_marked_policies: row-level security of another role's table, read
 * by the filter of the role crm_purge reads for (marked), would run its
 * policies with that role's rights.  Asked as the query is rewritten,
 * after its tables are locked: RLS switched on since crm_purge's own
 * checks is caught too (review round 63, A63-1).  crm_purge's trash and
 * a superuser's table are trusted.
 */
static List *
refuse_marked_policies(CmdType cmdtype, Relation rel)
{
	Oid			userid;
	int			sec_context;

	GetUserIdAndSecContext(&userid, &sec_context);
	if (OidIsValid(marked_role) && (sec_context & CRM_PURGE_SECURITY_ON_BEHALF) != 0 &&
		userid == marked_role && !crm_purge_trusted_code(rel->rd_rel->relowner, userid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot read table %s with the rights of role %s: its row-level security policies are role %s's code",
						crm_purge_relname(RelationGetRelid(rel)), crm_purge_role_name(userid),
						crm_purge_role_name(rel->rd_rel->relowner)),
				 errdetail("crm_purge reads another role's table by %s's filter; the policies would run with that role's rights.",
						   crm_purge_role_name(userid)),
				 errhint("Disable row-level security on the table, or have its owner or a role with BYPASSRLS do this.")));
	return prev_restrictive_policy_hook ? prev_restrictive_policy_hook(cmdtype, rel) : NIL;
}

/* crm_purge_connection_hooks_init: from _PG_init */
void
crm_purge_connection_hooks_init(void)
{
	DefineCustomBoolVariable("crm_purge.citus_on_behalf",
							 "Set by crm_purge on the Citus worker nodes: this transaction runs code on another role's behalf.",
							 "Once on in a Citus node's session, it holds to the end of the transaction.",
							 &citus_on_behalf, false, PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL,
							 NULL, assign_citus_on_behalf, NULL);
	RegisterXactCallback(forget_remote_mark, NULL);
	RegisterSubXactCallback(subxact_marks_callback, NULL);
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = connection_needs_hook;
	prev_check_perms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = itself_check_perms;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = connection_hook;
	prev_restrictive_policy_hook = row_security_policy_hook_restrictive;
	row_security_policy_hook_restrictive = refuse_marked_policies;
}

/*
 * crm_purge_pick: crm_purge._pick(tbl regclass, query text, arg text[],
 * arg2 text[]) RETURNS SETOF record: an admin's query that picks rows of
 * tbl (or its trash) by the admin's filter or keys ($1 = arg, $2 = arg2),
 * or casts them to its types, run as crm_purge_become_picker() runs it: as
 * the admin, restricted, the owner's code (index and statistics
 * expressions while planning, policies) acting as no admin; for a
 * superuser's, as the table's owner.  Admins only.
 */
PG_FUNCTION_INFO_V1(crm_purge_pick);
Datum
crm_purge_pick(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[2];
	char		nulls[2];
	CrmPurgeIdentity id;
	MemoryContext oldcxt;
	TupleDesc	desc;
	Tuplestorestate *store;
	uint64		i;
	int			rc;

	crm_purge_require_admin("crm_purge_erase");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("table and query must not be NULL")));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize) ||
		rsinfo->expectedDesc == NULL)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("crm_purge._pick must be called with a column definition list")));
	for (i = 0; i < 2; i++)
	{
		bool		null = PG_NARGS() <= i + 2 || PG_ARGISNULL(i + 2);

		values[i] = null ? (Datum) 0 : PG_GETARG_DATUM(i + 2);
		nulls[i] = null ? 'n' : ' ';
	}
	refuse_citus_reader(GetUserId(), PG_GETARG_OID(0));
	SPI_connect();
	crm_purge_become_picker(GetUserId(), PG_GETARG_OID(0), &id);
	rc = SPI_execute_with_args(text_to_cstring(PG_GETARG_TEXT_PP(1)), 2, argtypes, values, nulls, false, 0);
	crm_purge_unbecome(&id);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "crm_purge._pick: %s", SPI_result_code_string(rc));
	desc = rsinfo->expectedDesc;
	if (SPI_tuptable->tupdesc->natts != desc->natts)
		elog(ERROR, "crm_purge._pick: the query returns %d columns, %d expected", SPI_tuptable->tupdesc->natts, desc->natts);
	for (i = 0; i < (uint64) desc->natts; i++)
		if (TupleDescAttr(SPI_tuptable->tupdesc, i)->atttypid != TupleDescAttr(desc, i)->atttypid)
			elog(ERROR, "crm_purge._pick: column %d has type %s, %s expected", (int) i + 1,
				 format_type_be(TupleDescAttr(SPI_tuptable->tupdesc, i)->atttypid),
				 format_type_be(TupleDescAttr(desc, i)->atttypid));
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	desc = CreateTupleDescCopy(desc);
	store = tuplestore_begin_heap(false, false, work_mem);
	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(store, SPI_tuptable->vals[i]);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	return (Datum) 0;
}

/*
 * hashed_values: the 'hash' anonymize values of the picked rows, as text[]
 * of nhashed values per pick ordinal (NULL for a NULL value or a row not
 * found).  The values are read in the owner's write, as the owner; hashed
 * in C, so that no one's code gets the tombstone hash function.
 */
static Datum
hashed_values(Oid relid, const char *cols, int nhashed, const char *pick, const char *match, Datum *picks)
{
	int			nrows = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(picks[1])),
									   ARR_DIMS(DatumGetArrayTypeP(picks[1])));
	Datum	   *elems = palloc0(sizeof(Datum) * Max(nrows * nhashed, 1));
	bool	   *isnull = palloc(sizeof(bool) * Max(nrows * nhashed, 1));
	int			dims[1] = {nrows * nhashed};
	int			lbs[1] = {1};
	uint64		i;
	int			j;

	memset(isnull, true, sizeof(bool) * Max(nrows * nhashed, 1));
	if (SPI_execute_with_args(psprintf("SELECT crm_purge_u.crm_purge_ord::pg_catalog.int4, %s FROM %s crm_purge_t, %s WHERE %s",
									   cols, crm_purge_relname(relid), pick, match),
							  2, (Oid[]) {OIDARRAYOID, TIDARRAYOID}, picks, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the values to anonymize in %s", crm_purge_relname(relid));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		null;
		int			ord = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &null));

		if (ord < 1 || ord > nrows)
			continue;
		for (j = 0; j < nhashed; j++)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, j + 2);
			int			k = (ord - 1) * nhashed + j;

			if (v == NULL)
				continue;
			/* as lpad(to_hex(crm_purge._key_hash(v)), 16, '0') */
			elems[k] = CStringGetTextDatum(psprintf("%016" PRIx64, (uint64) crm_purge_key_hash(v, strlen(v))));
			isnull[k] = false;
		}
	}
	return PointerGetDatum(construct_md_array(elems, isnull, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * crm_purge_owner_write: crm_purge._owner_write(tbl regclass, parts oid[],
 * tids tid[], cols int2[], anonymize boolean) RETURNS int[]: an admin's
 * delete (cols NULL) or unlink (cols, a foreign key's columns, set to NULL,
 * and the child's anonymize rules applied when anonymize) of the rows of
 * tbl the admin picked, each named by its partition and ctid; as tbl's
 * owner (crm_purge_foreign_write_begin).  Returns the ordinals of the rows
 * written: a row changed since it was picked has another ctid, and stays;
 * an unlinked row a trigger gave other values than asked is not counted.
 */
PG_FUNCTION_INFO_V1(crm_purge_owner_write);
Datum
crm_purge_owner_write(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		unlink = !PG_ARGISNULL(3);
	Oid			argtypes[3] = {OIDARRAYOID, TIDARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', 'n'};
	const char *sql;
	int			nhashed = 0;
	char	   *hashed_cols = NULL;
	const char *pick = "ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]), pg_catalog.unnest($2::pg_catalog.tid[]))"
		" WITH ORDINALITY crm_purge_u(crm_purge_part, crm_purge_tid, crm_purge_ord)";
	const char *match = "crm_purge_t.tableoid OPERATOR(pg_catalog.=) crm_purge_u.crm_purge_part"
		" AND crm_purge_t.ctid OPERATOR(pg_catalog.=) crm_purge_u.crm_purge_tid";
	CrmPurgeForeignWrite w;
	Datum		result = (Datum) 0;
	bool		isnull = true;

	crm_purge_require_admin(unlink ? "crm_purge_erase" : "crm_purge_delete_where");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || (unlink && PG_ARGISNULL(4)))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("arguments must not be NULL")));
	relid = PG_GETARG_OID(0);
	if (get_rel_relkind(relid) == '\0')
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
	values[0] = PG_GETARG_DATUM(1);
	values[1] = PG_GETARG_DATUM(2);
	SPI_connect();
	if (unlink)
	{
		CrmPurgeIdentity id;
		char	   *assignments;
		char	   *written;

		/*
		 * Written from the catalogs alone (pg_catalog's functions, quoted
		 * names, literals); a 'hash' rule's values come as $3, hashed here:
		 * the owner may not compute tombstone hashes itself
		 */
		crm_purge_become_owner_local(&id);
		if (SPI_execute_with_args("SELECT crm_purge._child_assignments($1, $2, $3, '$3'),"
								  " crm_purge._child_assignments($1, $2, $3, '$3', true),"
								  " (SELECT pg_catalog.string_agg(pg_catalog.format('crm_purge_t.%I::pg_catalog.text', r.col), ', '"
								  "  ORDER BY a.attnum) FROM crm_purge.anonymize_rules r JOIN pg_catalog.pg_attribute a"
								  "  ON a.attrelid OPERATOR(pg_catalog.=) r.tbl AND a.attname OPERATOR(pg_catalog.=) r.col"
								  "  WHERE $3 AND r.tbl OPERATOR(pg_catalog.=) $1 AND r.strategy OPERATOR(pg_catalog.=) 'hash'),"
								  " (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM crm_purge.anonymize_rules r JOIN pg_catalog.pg_attribute a"
								  "  ON a.attrelid OPERATOR(pg_catalog.=) r.tbl AND a.attname OPERATOR(pg_catalog.=) r.col"
								  "  WHERE $3 AND r.tbl OPERATOR(pg_catalog.=) $1 AND r.strategy OPERATOR(pg_catalog.=) 'hash')", 3,
								  (Oid[]) {OIDOID, INT2ARRAYOID, BOOLOID},
								  (Datum[]) {ObjectIdGetDatum(relid), PG_GETARG_DATUM(3), PG_GETARG_DATUM(4)},
								  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the anonymize rules of %s", crm_purge_relname(relid));
		assignments = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		written = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		hashed_cols = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		{
			bool		isnull;

			nhashed = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
		}
		/* (the database's first erase hashes before it files a tombstone) */
		if (nhashed > 0 && SPI_execute("SELECT crm_purge._ensure_secret()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not make the tombstone secret");
		crm_purge_unbecome(&id);
		if (assignments == NULL || written == NULL)
			elog(ERROR, "no columns to unlink in %s", crm_purge_relname(relid));
		/* a row whose trigger kept a value was not written as asked: not counted */
		sql = psprintf("WITH crm_purge_d AS (UPDATE %s crm_purge_t SET %s FROM %s WHERE %s"
					   " RETURNING crm_purge_u.crm_purge_ord, %s AS crm_purge_written)"
					   " SELECT pg_catalog.array_agg(crm_purge_ord::pg_catalog.int4) FILTER (WHERE crm_purge_written IS TRUE)"
					   " FROM crm_purge_d",
					   crm_purge_relname(relid), assignments, pick, match, written);
	}
	else
		sql = psprintf("WITH crm_purge_d AS (DELETE FROM %s crm_purge_t USING %s WHERE %s RETURNING crm_purge_u.crm_purge_ord)"
					   " SELECT pg_catalog.array_agg(crm_purge_ord::pg_catalog.int4) FROM crm_purge_d",
					   crm_purge_relname(relid), pick, match);
	/*
	 * Held rows are never deleted past a trash, nor changed, whoever calls
	 * (the public functions check first; an admin calling this itself
	 * deleted and anonymized held rows)
	 */
	if (unlink || !OidIsValid(crm_purge_trash_of(relid)))
	{
		List	   *hits = crm_purge_hold_hits(relid, relid,
											   "EXISTS (SELECT FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]),"
											   " pg_catalog.unnest($2::pg_catalog.tid[])) AS crm_purge_h(p, t)"
											   " WHERE crm_purge_h.p OPERATOR(pg_catalog.=) tableoid"
											   " AND crm_purge_h.t OPERATOR(pg_catalog.=) ctid)",
											   2, argtypes, values);

		if (hits != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot %s rows of table %s: legal hold " INT64_FORMAT " keeps them (%s)",
							unlink ? "unlink" : "delete", crm_purge_relname(relid),
							((CrmPurgeHoldHit *) linitial(hits))->id, ((CrmPurgeHoldHit *) linitial(hits))->reason),
					 errhint("Nothing was %s. Release the hold with crm_purge_release, or narrow the filter.",
							 unlink ? "unlinked" : "deleted")));
	}
	/* nor held rows a foreign key's action reaches from deleted ones, at any depth */
	if (!unlink &&
		SPI_execute_with_args("SELECT crm_purge._fk_action_holds('delete', $1, $1,"
							  " 'ctid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.tid[]) AND tableoid OPERATOR(pg_catalog.=) ANY ('"
							  " OPERATOR(pg_catalog.||) pg_catalog.quote_literal($2::pg_catalog.text) OPERATOR(pg_catalog.||) '::pg_catalog.oid[])',"
							  " $3::pg_catalog.text[], 0)", 3,
							  (Oid[]) {REGCLASSOID, OIDARRAYOID, TIDARRAYOID},
							  (Datum[]) {ObjectIdGetDatum(relid), values[0], values[1]},
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check the legal holds foreign keys reach from %s", crm_purge_relname(relid));
	crm_purge_foreign_write_begin(relid, unlink ? ACL_UPDATE : ACL_DELETE, &w);
	if (unlink)
		crm_purge_held_watch_update(&w);
	crm_purge_held_watch_picked(&w, values[0], values[1]);
	PG_TRY();
	{
		if (nhashed > 0)
		{
			values[2] = hashed_values(relid, hashed_cols, nhashed, pick, match, values);
			nulls[2] = ' ';
		}
		if (SPI_execute_with_args(sql, 3, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not write to %s", crm_purge_relname(relid));
	}
	PG_CATCH();
	{
		crm_purge_foreign_write_abort(&w);
		PG_RE_THROW();
	}
	PG_END_TRY();
	crm_purge_foreign_write_end(&w);
	if (SPI_processed == 1)
	{
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			result = SPI_datumTransfer(result, false, -1);
	}
	SPI_finish();
	if (isnull)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(INT4OID));
	PG_RETURN_DATUM(result);
}

/* crm_purge_become_owner: crm_purge_become() as the extension owner. */
void
crm_purge_become_owner(CrmPurgeIdentity *save)
{
	crm_purge_become(crm_purge_extension_owner(), save);
}

/* crm_purge_unbecome: pops the GUC level and restores the user and security context. */
void
crm_purge_unbecome(CrmPurgeIdentity *save)
{
	AtEOXact_GUC(false, save->nestlevel);
	SetUserIdAndSecContext(save->userid, save->sec_context);
	marked_base = save->prev_base;
	owner_work_relid = save->prev_owner_work;
	owner_work_level = save->prev_owner_work_level;
	marked_role = save->prev_marked_role;
	/* (back in a reader's marked context from another role's) */
	if (in_marked_reader())
		refresh_domain_checks();
}

/*
 * crm_purge_extension_owner: the role that owns the extension, and so the
 * trash tables and catalogs.
 */
Oid
crm_purge_extension_owner(void)
{
	Oid			extoid = get_extension_oid("crm_purge", false);
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(extoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for extension %u", extoid);
	owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * crm_purge_is_admin: membership that counts: privileges inherited from
 * crm_purge_admin (or a superuser).
 */
bool
crm_purge_is_admin(Oid roleid)
{
	Oid			admin = get_role_oid(CRM_PURGE_ADMIN_ROLE, true);

	if (superuser_arg(roleid))
		return true;
	return OidIsValid(admin) && has_privs_of_role(roleid, admin);
}

/*
 * crm_purge_require_admin: an error unless the current user is an admin;
 * action names what was refused.
 */
void
crm_purge_require_admin(const char *action)
{
	if (!crm_purge_is_admin(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for crm_purge: %s requires membership in role %s",
						action, CRM_PURGE_ADMIN_ROLE),
				 errhint("Ask an administrator to GRANT %s TO %s.",
						 CRM_PURGE_ADMIN_ROLE,
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	/*
	 * Code run on another role's behalf (a table owner's index expression
	 * or trigger, run as an admin whose request, restore or erase reached
	 * it; VACUUM, ANALYZE) acts as no admin; crm_purge's own work runs as
	 * the extension owner.
	 */
	if ((InSecurityRestrictedOperation() || crm_purge_on_behalf(false) ||
		 (crm_purge_citus_internal_session() && !superuser())) &&
		GetUserId() != crm_purge_extension_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s cannot run on another role's behalf", action),
				 errdetail("Code run on another role's behalf (a table owner's expression, constraint or trigger reached by an admin's request, restore or erase, also a trigger later in that transaction; VACUUM, ANALYZE) does not act as that admin."),
				 errhint("Call it directly, as the admin, in a transaction of its own.")));
	/* a worker node's catalogs are empty: its holds too */
	crm_purge_require_coordinator(action);
}

/*
 * Milliseconds a piece of due work may run (crm_purge.step_timeout, set by
 * the worker and, from the coordinator's, by a Citus shard's batch); 0: no
 * limit.  An owner's slow trigger or expression then delays its own table's
 * work only.
 */
int			crm_purge_work_timeout = 0;
static int	subtransaction_depth = 0;

/*
 * cap_text: s cut to 4 kB (whole characters), marked so: a table owner's
 * code's error is logged, formatted and stored after the subtransaction;
 * one of 1 GB made that fail outside it, and the worker died at every
 * naptime (review round 57, A57-2).
 */
static char *
cap_text(char *s)
{
	size_t		len;
	char	   *c;

	if (s == NULL || (len = strlen(s)) <= 4096)
		return s;
	len = pg_mbcliplen(s, len, 4096);
	c = palloc(len + 4);
	memcpy(c, s, len);
	strcpy(c + len, "...");
	pfree(s);
	return c;
}

/*
 * crm_purge_in_subtransaction: runs fn(arg) in a subtransaction.  Returns NULL
 * when it went through, or the error it raised: the subtransaction is rolled
 * back and the error state cleared, so the caller can report the failure its
 * own way.  The outermost one is cancelled after crm_purge_work_timeout; a
 * cancel reaches the outermost (inner ones would go on with other work).
 */
ErrorData *
crm_purge_in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *edata = NULL;
	int			depth = subtransaction_depth;
	int			base = marked_base;
	Oid			owner_work = owner_work_relid;
	int			owner_level = owner_work_level;
	bool		timed = depth == 0 && crm_purge_work_timeout > 0 && !get_timeout_active(STATEMENT_TIMEOUT);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	if (timed)
		enable_timeout_after(STATEMENT_TIMEOUT, crm_purge_work_timeout);
	subtransaction_depth = depth + 1;
	PG_TRY();
	{
		fn(arg);
		subtransaction_depth = depth;
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		subtransaction_depth = depth;
		marked_base = base;
		owner_work_relid = owner_work;
		owner_work_level = owner_level;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		edata->message = cap_text(edata->message);
		edata->detail = cap_text(edata->detail);
		edata->detail_log = cap_text(edata->detail_log);
		edata->hint = cap_text(edata->hint);
		edata->context = cap_text(edata->context);
		edata->internalquery = cap_text(edata->internalquery);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (timed)
	{
		disable_timeout(STATEMENT_TIMEOUT, true);
		/* it fired after fn returned: nothing to cancel */
		if (get_timeout_indicator(STATEMENT_TIMEOUT, true) && edata == NULL)
			QueryCancelPending = false;
	}
	if (edata != NULL && edata->sqlerrcode == ERRCODE_QUERY_CANCELED && depth > 0)
		ReThrowError(edata);
	return edata;
}

/* internal_function: crm_purge.<name>(argtypes) in schema crm_purge, or InvalidOid */
static Oid
internal_function(const char *name, int nargs, const Oid *argtypes)
{
	oidvector  *args = buildoidvector(argtypes, nargs);
	Oid			nsp = get_namespace_oid(CRM_PURGE_SCHEMA, false);

	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
						   CStringGetDatum(name), PointerGetDatum(args),
						   ObjectIdGetDatum(nsp));
}

/*
 * crm_purge_privileged: the gate, for every crm_purge.<name>(args) LANGUAGE C
 * AS 'crm_purge_privileged' (schema crm_purge, not SECURITY DEFINER): the
 * caller must be an admin; an optional crm_purge.<name>_check(args) runs first
 * as the caller (it validates, and computes what must be computed with the
 * caller's rights, e.g. a request's row count, passed on as the last
 * argument); then crm_purge.<name>_impl(actor, args[, checked]) runs as the
 * extension owner.
 */
PG_FUNCTION_INFO_V1(crm_purge_privileged);
Datum
crm_purge_privileged(PG_FUNCTION_ARGS)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	Oid			actor = GetUserId();
	Oid			prev_asker;
	HeapTuple	proctup;
	Form_pg_proc proc;
	char	   *name;
	int			nargs = fcinfo->nargs;
	Oid			argtypes[FUNC_MAX_ARGS];
	Oid			check_oid;
	Oid			impl_oid;
	bool		have_checked = false;
	Datum		checked = (Datum) 0;
	bool		checked_null = true;
	Oid			checked_type = InvalidOid;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	Datum		result;
	CrmPurgeIdentity id;
	int			i;

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", self);
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	name = pstrdup(NameStr(proc->proname));
	if (proc->prosecdef || proc->pronamespace != get_namespace_oid(CRM_PURGE_SCHEMA, false))
		elog(ERROR, "crm_purge_privileged must be declared in schema crm_purge without SECURITY DEFINER");
	memcpy(argtypes, proc->proargtypes.values, sizeof(Oid) * nargs);
	ReleaseSysCache(proctup);

	crm_purge_require_admin(psprintf("crm_purge%s", name));
	crm_purge_require_coordinator(psprintf("crm_purge%s", name));
	/* an erase's steps each check their own part only: never called alone */
	if ((strcmp(name, "_erased") == 0 || strcmp(name, "_trash_apply") == 0) && erasing == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("crm_purge.%s is a step of crm_purge_erase", name),
				 errhint("Use crm_purge_erase.")));

	check_oid = internal_function(psprintf("%s_check", name), nargs, argtypes);
	if (OidIsValid(check_oid))
	{
		fmgr_info(check_oid, &flinfo);
		InitFunctionCallInfoData(*call, &flinfo, nargs, fcinfo->fncollation, NULL, NULL);
		for (i = 0; i < nargs; i++)
			call->args[i] = fcinfo->args[i];
		checked = FunctionCallInvoke(call);
		checked_null = call->isnull;
		checked_type = get_func_rettype(check_oid);
		have_checked = (checked_type != VOIDOID);
	}

	/* the impl takes the actor first, then the arguments */
	{
		Oid			impl_types[FUNC_MAX_ARGS];

		impl_types[0] = REGROLEOID;
		memcpy(impl_types + 1, argtypes, sizeof(Oid) * nargs);
		if (have_checked)
			impl_types[nargs + 1] = checked_type;
		impl_oid = internal_function(psprintf("%s_impl", name),
									 nargs + 1 + (have_checked ? 1 : 0), impl_types);
	}
	if (!OidIsValid(impl_oid))
		elog(ERROR, "crm_purge.%s_impl is missing", name);

	fmgr_info(impl_oid, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs + 1 + (have_checked ? 1 : 0),
							 fcinfo->fncollation, NULL, NULL);
	call->args[0].value = ObjectIdGetDatum(actor);
	call->args[0].isnull = false;
	for (i = 0; i < nargs; i++)
		call->args[i + 1] = fcinfo->args[i];
	if (have_checked)
	{
		call->args[nargs + 1].value = checked;
		call->args[nargs + 1].isnull = checked_null;
	}

	crm_purge_become_owner(&id);
	prev_asker = crm_purge_asker;
	crm_purge_asker = actor;
	PG_TRY();
	{
		result = FunctionCallInvoke(call);
	}
	PG_FINALLY();
	{
		crm_purge_asker = prev_asker;
	}
	PG_END_TRY();
	crm_purge_unbecome(&id);
	fcinfo->isnull = call->isnull;
	return result;
}

/*
 * crm_purge_require_extension_owner: functions that crm_purge's own code
 * calls as the extension owner (on a Citus node, from the coordinator's
 * worker; a table owner's part of an erase) refuse everyone else.
 */
void
crm_purge_require_extension_owner(const char *what)
{
	if (!superuser() && GetUserId() != crm_purge_extension_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", what),
				 errdetail("Only the extension's owner runs it, for crm_purge's own functions.")));
}

/*
 * table_call: for a C gate crm_purge.<gate>(tbl regclass, args): checks
 * how the gate is declared (schema crm_purge, not SECURITY DEFINER, a table
 * first; its name ends in strip when strip is given), and readies call to
 * crm_purge.<target>(tbl, args) with the gate's arguments, target being
 * the gate's name without strip, then with add.  Returns the gate's name.
 */
static char *
table_call(FunctionCallInfo fcinfo, const char *declared_as, const char *strip, const char *add,
		   FmgrInfo *flinfo, FunctionCallInfo call)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	HeapTuple	proctup;
	Form_pg_proc proc;
	char	   *name;
	char	   *target_name;
	int			nargs = fcinfo->nargs;
	Oid			argtypes[FUNC_MAX_ARGS];
	Oid			target;
	int			i;

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", self);
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	name = pstrdup(NameStr(proc->proname));
	if (proc->prosecdef || proc->pronamespace != get_namespace_oid(CRM_PURGE_SCHEMA, false) ||
		nargs < 1 || proc->proargtypes.values[0] != REGCLASSOID || (strip && !pg_str_endswith(name, strip)))
		elog(ERROR, "%s", declared_as);
	memcpy(argtypes, proc->proargtypes.values, sizeof(Oid) * nargs);
	ReleaseSysCache(proctup);
	target_name = pstrdup(name);
	if (strip)
		target_name[strlen(target_name) - strlen(strip)] = '\0';
	target_name = psprintf("%s%s", target_name, add);
	target = internal_function(target_name, nargs, argtypes);
	if (!OidIsValid(target))
		elog(ERROR, "crm_purge.%s is missing", target_name);
	fmgr_info(target, flinfo);
	InitFunctionCallInfoData(*call, flinfo, nargs, fcinfo->fncollation, NULL, NULL);
	for (i = 0; i < nargs; i++)
		call->args[i] = fcinfo->args[i];
	return name;
}

/*
 * crm_purge_as_table_owner: for crm_purge.<name>_as_owner(tbl regclass,
 * args) LANGUAGE C AS 'crm_purge_as_table_owner': runs crm_purge.<name>(tbl,
 * args), on Citus, as the extension owner whose statements the worker
 * nodes run as the owner of tbl, except those that change only the
 * extension owner's tables (crm_purge_citus_run_as_begin): the table's
 * owner is the role whose code (triggers, constraints) may run on its rows,
 * and only the extension owner removes trash rows.  Only the extension
 * owner calls it, from an _impl that checked the actor's rights.
 */
PG_FUNCTION_INFO_V1(crm_purge_as_table_owner);
Datum
crm_purge_as_table_owner(PG_FUNCTION_ARGS)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	Datum		result;
	int			nest;

	crm_purge_require_extension_owner("crm_purge_as_table_owner");
	(void) table_call(fcinfo, "crm_purge_as_table_owner must be declared as crm_purge.<name>_as_owner(regclass, ...)",
					  "_as_owner", "", &flinfo, call);
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("the table must not be NULL")));
	nest = crm_purge_citus_run_as_begin(crm_purge_rel_owner(PG_GETARG_OID(0)), PG_GETARG_OID(0));
	crm_purge_owner_calls++;
	PG_TRY();
	{
		result = FunctionCallInvoke(call);
	}
	PG_FINALLY();
	{
		crm_purge_owner_calls--;
	}
	PG_END_TRY();
	crm_purge_citus_run_as_end(nest);
	fcinfo->isnull = call->isnull;
	return result;
}

/*
 * crm_purge_as_filter_creator: for crm_purge.<name>(tbl regclass, args)
 * LANGUAGE C AS 'crm_purge_as_filter_creator': runs
 * crm_purge.<name>_query(tbl, args), a filter's count or trial when it is
 * made, as its batches will run it: crm_purge_become_creator() for the
 * caller (a superuser's count runs as the table's owner, restricted), with
 * the pinned filter settings.  Admins only.
 */
PG_FUNCTION_INFO_V1(crm_purge_as_filter_creator);
Datum
crm_purge_as_filter_creator(PG_FUNCTION_ARGS)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	Datum		result;
	CrmPurgeIdentity id;

	crm_purge_require_admin(table_call(fcinfo, "crm_purge_as_filter_creator must be declared as crm_purge.<name>(regclass, ...)",
									   NULL, "_query", &flinfo, call));
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("the table must not be NULL")));
	refuse_citus_reader(GetUserId(), PG_GETARG_OID(0));
	crm_purge_become_creator(GetUserId(), PG_GETARG_OID(0), &id);
	result = FunctionCallInvoke(call);
	crm_purge_unbecome(&id);
	fcinfo->isnull = call->isnull;
	return result;
}

/* how deep crm_purge_as_table_owner runs: crm_purge's own work on a table for its owner */
int			crm_purge_owner_calls = 0;

/* crm_purge_role_name: the role's name for messages, or its OID when it is gone */
const char *
crm_purge_role_name(Oid roleid)
{
	char	   *name = GetUserNameFromId(roleid, true);

	return name ? quote_identifier(name) : psprintf("%u", roleid);
}

/*
 * crm_purge_pin_output_settings: text of values the same whatever the
 * session's settings, as pg_dump writes it: export parts, and the key text
 * tombstones hash.  Returns the GUC level to pass to
 * AtEOXact_GUC(false, level).
 */
int
crm_purge_pin_output_settings(void)
{
	int			nestlevel = NewGUCNestLevel();

	/* DateStyle, IntervalStyle, and TimeZone (timestamptz keys: the same text in every session's zone) */
	crm_purge_pin_filter_settings();
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* money keys: the same text in every locale */
	(void) set_config_option("lc_monetary", "C", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * crm_purge_policies_would_run: would reading relid as role run code of the
 * table's owner (row-level security policies) with role's rights?  Not for
 * the owner or superusers, nor for a table that is gone.
 */
bool
crm_purge_policies_would_run(Oid relid, Oid role)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class c;
	bool		result;

	if (!HeapTupleIsValid(tup))
		return false;
	c = (Form_pg_class) GETSTRUCT(tup);
	result = c->relrowsecurity && !superuser_arg(role) && !has_privs_of_role(role, c->relowner) &&
		!has_bypassrls_privilege(role);
	ReleaseSysCache(tup);
	return result;
}

/* crm_purge_check_admin: crm_purge._check_admin(action): an error unless the caller is an admin. */
PG_FUNCTION_INFO_V1(crm_purge_check_admin);
Datum
crm_purge_check_admin(PG_FUNCTION_ARGS)
{
	crm_purge_require_admin(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* crm_purge_is_admin_sql: crm_purge._is_admin(): is the caller an admin? */
PG_FUNCTION_INFO_V1(crm_purge_is_admin_sql);
Datum
crm_purge_is_admin_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(crm_purge_is_admin(GetUserId()));
}

/*
 * crm_purge_require_admin_sql: crm_purge._require_admin(action): as
 * _check_admin, but returns true.
 */
PG_FUNCTION_INFO_V1(crm_purge_require_admin_sql);
Datum
crm_purge_require_admin_sql(PG_FUNCTION_ARGS)
{
	crm_purge_require_admin(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_BOOL(true);
}

