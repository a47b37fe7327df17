/*
 * csv.c - the CSV of exports, as COPY ... CSV writes and reads it, and the
 * text of composite keys as record_out writes it.
 *
 * Free of backend state, so that the fuzz targets (test/fuzz) can build it
 * as frontend code.
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <ctype.h>

#include "lib/stringinfo.h"

#include "csv.h"

/*
 * crm_purge_csv_value: one value as COPY ... CSV writes it: quoted when it
 * holds the delimiter, a quote, CR or LF, when it is empty (an unquoted empty
 * field is NULL), or when it is \. alone in a one-column row.
 */
void
crm_purge_csv_value(StringInfo buf, const char *s, bool single_column)
{
	const char *p;

	/* one pass for the common value, which needs no quotes */
	for (p = s; *p; p++)
	{
		if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r')
			break;
	}
	if (*p == '\0' && p != s && !(single_column && strcmp(s, "\\.") == 0))
	{
		appendBinaryStringInfo(buf, s, p - s);
		return;
	}
	appendStringInfoCharMacro(buf, '"');
	for (p = s; *p; p++)
	{
		if (*p == '"')
			appendStringInfoCharMacro(buf, '"');
		appendStringInfoCharMacro(buf, *p);
	}
	appendStringInfoCharMacro(buf, '"');
}

/*
 * crm_purge_csv_parse_record: reads one CSV record from buf at *pos, as
 * COPY ... CSV writes them.  Fields go to fields[] (NULL for an unquoted
 * empty field; those past maxfields are counted, not kept); returns the
 * number of fields, or -1 at the end of the buffer.  Quoted fields may hold
 * newlines.
 */
int
crm_purge_csv_parse_record(const char *buf, size_t len, size_t *pos,
						   char **fields, int maxfields)
{
	size_t		p = *pos;
	int			n = 0;
	StringInfoData f;

	if (p >= len)
		return -1;
	initStringInfo(&f);
	for (;;)
	{
		bool		quoted = false;

		resetStringInfo(&f);
		if (p < len && buf[p] == '"')
		{
			quoted = true;
			p++;
			for (;;)
			{
				if (p >= len)
					break;		/* unterminated: take what there is */
				if (buf[p] == '"')
				{
					if (p + 1 < len && buf[p + 1] == '"')
					{
						appendStringInfoChar(&f, '"');
						p += 2;
						continue;
					}
					p++;
					break;
				}
				appendStringInfoChar(&f, buf[p++]);
			}
		}
		/* unquoted text, or anything after a closing quote up to the separator */
		while (p < len && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r')
			appendStringInfoChar(&f, buf[p++]);
		if (n < maxfields)
			fields[n] = (quoted || f.len > 0) ? pstrdup(f.data) : NULL;
		n++;
		if (p < len && buf[p] == ',')
		{
			p++;
			continue;
		}
		if (p < len && buf[p] == '\r')
			p++;
		if (p < len && buf[p] == '\n')
			p++;
		break;
	}
	pfree(f.data);
	*pos = p;
	return n;
}

/* crm_purge_record_field: a field as record_out writes it: quoted if empty or holding specials. */
void
crm_purge_record_field(StringInfo buf, const char *s)
{
	const char *p;
	bool		quote = (*s == '\0');

	for (p = s; !quote && *p; p++)
	{
		if (*p == '"' || *p == '\\' || *p == '(' || *p == ')' || *p == ',' ||
			isspace((unsigned char) *p))
			quote = true;
	}
	if (!quote)
	{
		appendStringInfoString(buf, s);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (p = s; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			appendStringInfoChar(buf, *p);
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

