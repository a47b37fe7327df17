/*
 * window.h - processing windows, "HH:MM-HH:MM".
 */
#ifndef CRM_PURGE_WINDOW_H
#define CRM_PURGE_WINDOW_H

extern bool crm_purge_parse_window(const char *text, int *start_min, int *end_min);
extern bool crm_purge_in_window(const char *window, int minute_of_day);

#endif							/* CRM_PURGE_WINDOW_H */
