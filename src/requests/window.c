/*
 * window.c - the processing window setting, "HH:MM-HH:MM": parsed for the
 * setting's check hook (module.c) and tested by the due work (tick.c).
 *
 * Free of backend state, so that the fuzz target can build it as frontend code.
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "window.h"

/*
 * parse_clock: reads H:MM or HH:MM (00:00 to 24:00, spaces around it
 * allowed) at *p into minutes after midnight, and moves *p past it.
 */
static bool
parse_clock(const char **p, int *minutes)
{
	int			h = 0,
				m = 0,
				digits = 0;

	while (**p == ' ')
		(*p)++;
	while (**p >= '0' && **p <= '9' && digits < 2)
	{
		h = h * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || **p != ':')
		return false;
	(*p)++;
	digits = 0;
	while (**p >= '0' && **p <= '9' && digits < 2)
	{
		m = m * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (digits != 2 || h > 24 || m > 59 || (h == 24 && m != 0))
		return false;
	while (**p == ' ')
		(*p)++;
	*minutes = h * 60 + m;
	return true;
}

/*
 * crm_purge_parse_window: parses "HH:MM-HH:MM"; a start after the end wraps
 * past midnight, start = end is refused.
 */
bool
crm_purge_parse_window(const char *text, int *start_min, int *end_min)
{
	const char *p = text;

	if (text == NULL)
		return false;
	if (!parse_clock(&p, start_min) || *p != '-')
		return false;
	p++;
	if (!parse_clock(&p, end_min) || *p != '\0')
		return false;
	return *start_min != *end_min;
}

/*
 * crm_purge_in_window: is minute_of_day in the window?  Empty means always; a
 * window that does not parse, never.
 */
bool
crm_purge_in_window(const char *window, int minute_of_day)
{
	int			s,
				e;

	if (window == NULL || *window == '\0')
		return true;
	if (!crm_purge_parse_window(window, &s, &e))
		return false;
	if (s < e)
		return minute_of_day >= s && minute_of_day < e;
	return minute_of_day >= s || minute_of_day < e;
}
