/* state: the store saved to --state-dir and loaded at start, so an agent restart (a
 * DaemonSet upgrade) keeps its diagnoses and counts go on from where they were. */
#ifndef HGDIAG_STATE_H
#define HGDIAG_STATE_H

#include <stdbool.h>
#include "store.h"

/* The "version" this build writes and the newest it reads. */
#define HG_STATE_VERSION 1

/* The file inside --state-dir. */
#define HG_STATE_FILE "denials.json"

/* Writes the store to path atomically and durably: a temporary file in the same directory
 * (path + ".tmp"), flushed and fsync'ed, renamed over path, then the directory fsync'ed.
 * A failure at any step, or a kill at any moment, leaves the previous file as it was; a
 * failure removes the temporary file. 0 or -errno. */
int hg_state_save(struct hg_store *store, const char *path);

/* Loads a saved store. Returns the number of denials restored, -ENOENT when there is no
 * file, -EBADMSG for a file that is not a saved store (err gets one line), -EPROTO for a
 * file written by a newer version (err says which). */
int hg_state_load(struct hg_store *store, const char *path, char *err, size_t err_len);

/* The same from the text of a state file, no I/O (what hg_state_load() does after reading
 * it); name is the file's name for the messages. Returns the number of denials restored,
 * -EBADMSG, -EPROTO. */
int hg_state_parse(struct hg_store *store, const char *text, size_t len, const char *name,
		   char *err, size_t err_len);

enum hg_state_restored {
	HG_STATE_NONE,       /* no saved state: starting empty (msg empty) */
	HG_STATE_RESTORED,   /* msg: "restored N denials from PATH" */
	HG_STATE_DAMAGED,    /* set aside as PATH.bad; starting empty */
	HG_STATE_NEWER,      /* set aside as PATH.newer-vN (never overwritten); starting empty */
	HG_STATE_STUCK,      /* could not be set aside: saving must stay off (save false) */
};

/* At start: creates dir when missing, restores DIR/denials.json into store and sets aside
 * a file it cannot use. Returns what happened (msg gets the one line to log; *save tells
 * whether saving to path is safe), or -errno when dir cannot be created (msg says so).
 * path gets DIR/denials.json. */
int hg_state_restore(struct hg_store *store, const char *dir, char *path, size_t path_len,
		     bool *save, char *msg, size_t msg_len);

/* Tests only: when set, called before each step of a save ("open", "write", "fsync",
 * "rename", "fsync-dir"); a negative return fails that step with that -errno. */
extern int (*hg_state_fault)(const char *step);

#endif
