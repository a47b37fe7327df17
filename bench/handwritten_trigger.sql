-- The best hand-written trash for a table (psql variable tbl): a PL/pgSQL
-- statement trigger with a transition table into a plain trash table of the
-- same shape, with the columns crm_purge's trash adds.  The baseline of the
-- delete_half comparison (bench.sh, callgrind.sh).
CREATE TABLE t_trash (LIKE :"tbl");
ALTER TABLE t_trash ADD COLUMN deleted_at timestamptz NOT NULL,
					ADD COLUMN deleted_by regrole NOT NULL,  -- the type crm_purge's trash uses
					ADD COLUMN deletion_id bigint NOT NULL;
CREATE SEQUENCE t_trash_deletion_id;
CREATE FUNCTION t_trash_fn() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	d bigint := nextval('t_trash_deletion_id');
	r regrole := (SELECT oid FROM pg_roles WHERE rolname = current_user);
BEGIN
	INSERT INTO t_trash SELECT o.*, now(), r, d FROM old o;
	RETURN NULL;
END
$$;
CREATE TRIGGER t_trash AFTER DELETE ON :"tbl" REFERENCING OLD TABLE AS old
	FOR EACH STATEMENT EXECUTE FUNCTION t_trash_fn();
