# crm_purge: PGXS build.  CI passes PROFILE=-Werror.
EXTENSION  = crm_purge
MODULE_big = crm_purge
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))
PG_CPPFLAGS = -I$(srcdir)/src
# The install script of the current version is built from sql/, one file
# per feature in load order (as pg_partman does).  Released scripts never
# change; each release adds an upgrade script, and test/regress/sql/upgrade.sql
# checks that an updated database equals a fresh one.
DATA       = crm_purge--1.0.sql crm_purge--1.0--1.1.sql
DATA_built = crm_purge--1.1.sql
INSTALL_SOURCES = $(sort $(wildcard sql/*.sql))
PGFILEDESC = "crm_purge - recycle bin, bulk export-and-delete and erasure for PostgreSQL"

# run in this order: base creates the extension
REGRESS        = base security roles recycle_bin permissions schema_changes bad_input expiry requests purge erase policies apps partitions segments recreate upgrade
REGRESS_OPTS   = --inputdir=test/regress --temp-config=test/crm_purge.conf --temp-instance=./tmp_check_regress
ISOLATION      = $(notdir $(basename $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --temp-config=test/crm_purge.conf --temp-instance=./tmp_check_iso
TAP_TESTS      = 1
PROVE_TESTS    = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = tmp_check_regress tmp_check_iso output_iso results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

crm_purge--1.1.sql: $(INSTALL_SOURCES)
	{ echo '-- crm_purge--1.1.sql: built by make from the files in sql/; edit those'; \
	  echo '\\echo Use "CREATE EXTENSION crm_purge" to load this file. \\quit'; \
	  for f in $^; do echo; cat $$f; done; } > $@

override CFLAGS += -Wall -Wmissing-prototypes -Wpointer-arith -Wendif-labels

# Every object depends on the headers: PGXS tracks none, and a struct changed
# in crm_purge.h left objects built with the old layout.
$(OBJS): $(wildcard src/*.h src/*/*.h)

# The TAP suite alone (installcheck runs pg_regress, isolation and TAP).
.PHONY: tapcheck
tapcheck:
	$(prove_installcheck)
