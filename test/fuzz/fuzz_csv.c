/*
 * libFuzzer target: the CSV writer and reader round-trip.  The input is cut
 * into fields at NUL bytes (a 0x01 byte alone marks a NULL); writing them as
 * a COPY-style record and reading it back must give the same fields.
 */
#include "postgres_fe.h"

#include "lib/stringinfo.h"

#include "../../src/requests/csv.h"

#define MAXF 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in[MAXF];
	char	   *out[MAXF];
	int			n = 0;
	size_t		start = 0;
	size_t		i;
	size_t		pos = 0;
	int			got;
	StringInfoData buf;

	for (i = 0; i <= size && n < MAXF; i++)
	{
		if (i == size || data[i] == '\0')
		{
			size_t		len = i - start;

			if (len == 1 && data[start] == 0x01)
				in[n++] = NULL;
			else
			{
				in[n] = malloc(len + 1);
				memcpy(in[n], data + start, len);
				in[n][len] = '\0';
				n++;
			}
			start = i + 1;
		}
	}
	initStringInfo(&buf);
	for (i = 0; i < (size_t) n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		if (in[i] != NULL)
			crm_purge_csv_value(&buf, in[i], n == 1);
	}
	appendStringInfoChar(&buf, '\n');

	got = crm_purge_csv_parse_record(buf.data, buf.len, &pos, out, MAXF);
	/* a lone NULL field is an empty line: COPY reads it back as NULL too */
	if (got != n || pos != (size_t) buf.len)
		abort();
	for (i = 0; i < (size_t) n; i++)
	{
		if ((in[i] == NULL) != (out[i] == NULL))
			abort();
		if (in[i] != NULL && strcmp(in[i], out[i]) != 0)
			abort();
		free(in[i]);
		if (out[i])
			pfree(out[i]);
	}
	pfree(buf.data);
	return 0;
}
