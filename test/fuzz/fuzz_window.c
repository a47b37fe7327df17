/*
 * libFuzzer target: the processing window parser never crashes, and what it
 * accepts is a well-formed window.
 */
#include "postgres_fe.h"

#include "../../src/requests/window.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	int			s,
				e,
				m;

	memcpy(text, data, size);
	text[size] = '\0';
	if (crm_purge_parse_window(text, &s, &e))
	{
		if (s < 0 || s > 24 * 60 || e < 0 || e > 24 * 60 || s == e)
			abort();
		/* a window holds its start and not its end */
		if (s < 24 * 60 && !crm_purge_in_window(text, s))
			abort();
		if (e < 24 * 60 && crm_purge_in_window(text, e))
			abort();
	}
	for (m = 0; m < 24 * 60; m += 97)
		(void) crm_purge_in_window(text, m);
	free(text);
	return 0;
}
