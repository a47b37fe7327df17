/*
 * csv.h - CSV and record text, shared by the extension and the fuzz targets.
 */
#ifndef CRM_PURGE_CSV_H
#define CRM_PURGE_CSV_H

#include "lib/stringinfo.h"

extern void crm_purge_csv_value(StringInfo buf, const char *s, bool single_column);
extern int	crm_purge_csv_parse_record(const char *buf, size_t len, size_t *pos,
									   char **fields, int maxfields);
extern void crm_purge_record_field(StringInfo buf, const char *s);

#endif							/* CRM_PURGE_CSV_H */
