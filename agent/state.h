/* state: the store saved to --state-dir and loaded at start, so an agent restart (a
 * DaemonSet upgrade) keeps its diagnoses and counts go on from where they were. */
#ifndef HGDIAG_STATE_H
#define HGDIAG_STATE_H

#include "store.h"

/* Writes the store to path atomically (a temporary file renamed over it). 0 or -errno. */
int hg_state_save(struct hg_store *store, const char *path);

/* Loads a saved store. Returns the number of denials restored, -ENOENT when there is no
 * file, -EBADMSG for a file that is not a saved store (err gets one line). */
int hg_state_load(struct hg_store *store, const char *path, char *err, size_t err_len);

#endif
