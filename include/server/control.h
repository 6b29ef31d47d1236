/*
 * control.h - commands from the HTTP server thread (POST /-/reload, the
 * silences API) to the main loop, which owns all mutable state.
 *
 * The HTTP thread fills a struct control_cmd on its stack and calls
 * control_submit(), which queues it and waits (bounded) until the main
 * loop has executed it; the main loop calls control_take() once per cycle
 * and control_complete() for each command after setting its outcome:
 * status, and message when the status is not CTRL_OK (for
 * CTRL_SILENCE_ADD, silence_id on success).  The submitter decides what
 * to answer from status alone; message is for people.
 *
 * Thread safety: the queue is locked; a command belongs to the main loop
 * between control_take() and control_complete() and to its submitter
 * otherwise.
 */
#ifndef SEGALERT_CONTROL_H
#define SEGALERT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/kv.h"
#include "notify/silence.h"

enum control_kind {
    CTRL_RELOAD = 0,
    CTRL_SILENCE_ADD,
    CTRL_SILENCE_EXPIRE,
};

/* What became of a command. */
enum control_status {
    CTRL_OK = 0,
    CTRL_INVALID,           /* refused: the request is wrong (HTTP 400) */
    CTRL_NOT_FOUND,         /* no such silence (404) */
    CTRL_FAILED,            /* tried and failed, e.g. a broken reload (500) */
    CTRL_UNAVAILABLE,       /* not run: segalert is shutting down (503) */
};

/* Size of control_cmd.message. */
#define CONTROL_MESSAGE_SIZE 256

struct control_cmd {
    enum control_kind kind;
    /* CTRL_SILENCE_ADD (borrowed from the submitter) */
    const struct kv *matchers;
    size_t nmatchers;
    double starts_at, ends_at;
    const char *created_by, *comment;
    /* CTRL_SILENCE_EXPIRE */
    const char *id;
    /* outcome, set by the main loop */
    enum control_status status;
    char message[CONTROL_MESSAGE_SIZE];     /* why, unless CTRL_OK */
    char silence_id[SILENCE_ID_MAX + 1];    /* CTRL_SILENCE_ADD: new id */
    /* private */
    bool done;
    struct control_cmd *next;
};

/* Queue cmd and wait up to timeout_s for the main loop.  Returns 0 when it
 * was executed (see cmd->status), -1 on timeout (the command is then
 * dropped if not started). */
int control_submit(struct control_cmd *cmd, double timeout_s);
/* Main loop: the oldest queued command or NULL. */
struct control_cmd *control_take(void);
/* Main loop: mark cmd executed and wake its submitter. */
void control_complete(struct control_cmd *cmd);

/* The outcome of a silence_add()/silence_expire() error. */
enum control_status control_status_of_silence(enum silence_err e);

#endif
