/*
 * control.h - commands from the HTTP server thread (POST /-/reload, the
 * silences API) to the main loop, which owns all mutable state.
 *
 * The HTTP thread fills a struct control_cmd on its stack and calls
 * control_submit(), which queues it and waits (bounded) until the main
 * loop has executed it; the main loop calls control_take() once per cycle
 * and control_complete() for each command after filling rc and result.
 */
#ifndef SEGALERT_CONTROL_H
#define SEGALERT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum control_kind {
    CTRL_RELOAD = 0,
    CTRL_SILENCE_ADD,
    CTRL_SILENCE_EXPIRE,
};

struct control_cmd {
    enum control_kind kind;
    /* CTRL_SILENCE_ADD (borrowed from the submitter) */
    const struct kv *matchers;
    size_t nmatchers;
    double starts_at, ends_at;
    const char *created_by, *comment;
    /* CTRL_SILENCE_EXPIRE */
    const char *id;
    /* result, set by the main loop: rc 0 ok / -1 error; result holds the new
     * silence id or the error message */
    int rc;
    char result[256];
    /* private */
    bool done;
    bool abandoned;
    struct control_cmd *next;
};

/* Queue cmd and wait up to timeout_s for the main loop.  Returns 0 when it
 * was executed (see cmd->rc), -1 on timeout (the command is then dropped
 * if not started). */
int control_submit(struct control_cmd *cmd, double timeout_s);
/* Main loop: the oldest queued command or NULL. */
struct control_cmd *control_take(void);
/* Main loop: mark cmd executed and wake its submitter. */
void control_complete(struct control_cmd *cmd);

#endif
