/* JSON documents of docs/contract.md: denial, container, pod diagnosis. One writer
 * serves the HTTP API, the standalone JSON log and the CLI. */
#ifndef HGDIAG_REPORT_H
#define HGDIAG_REPORT_H

#include <jansson.h>
#include "store.h"

/* RFC 3339 UTC with a Z, second precision. */
void hg_format_time(uint64_t wall_ns, char buf[32]);

/* A denial object; unknown values are null, never omitted. */
json_t *hg_report_denial(const struct hg_stored_denial *sd);

/* The standalone log line object: the denial keys plus container and cgroup. */
json_t *hg_report_log_line(const struct hg_stored_container *c,
			   const struct hg_stored_denial *sd);

#endif
