/*
 * control.c - see control.h.
 */
#include "server/control.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct control_cmd *head, *tail;

int control_submit(struct control_cmd *cmd, double timeout_s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)timeout_s;
    deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    cmd->done = false;
    cmd->next = NULL;
    if (tail)
        tail->next = cmd;
    else
        head = cmd;
    tail = cmd;
    int rc = 0;
    while (!cmd->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&cv, &mu, &deadline);
    if (!cmd->done) {
        /* Unlink it if the main loop has not taken it yet. */
        struct control_cmd **pp = &head, *prev = NULL;
        while (*pp && *pp != cmd) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = cmd->next;
            if (tail == cmd)
                tail = prev;
        } else {
            /* Taken and running: wait for it, it is on our stack. */
            while (!cmd->done)
                pthread_cond_wait(&cv, &mu);
        }
    }
    bool done = cmd->done;
    pthread_mutex_unlock(&mu);
    return done ? 0 : -1;
}

struct control_cmd *control_take(void)
{
    pthread_mutex_lock(&mu);
    struct control_cmd *c = head;
    if (c) {
        head = c->next;
        if (!head)
            tail = NULL;
        c->next = NULL;
    }
    pthread_mutex_unlock(&mu);
    return c;
}

void control_complete(struct control_cmd *cmd)
{
    pthread_mutex_lock(&mu);
    cmd->done = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

enum control_status control_status_of_silence(enum silence_err e)
{
    switch (e) {
    case SILENCE_OK: return CTRL_OK;
    case SILENCE_NOT_FOUND: return CTRL_NOT_FOUND;
    /* Expiring twice is the client's mistake, like a bad matcher. */
    case SILENCE_ENDED:
    /* a limit is the client's to respect, as Alertmanager answers 400 */
    case SILENCE_LIMIT:
    case SILENCE_INVALID: return CTRL_INVALID;
    }
    return CTRL_FAILED;
}
