/* libFuzzer target: restoring the state (state.json and its journal) into
 * the evaluator, the dispatcher and the outbox, as `segalert run` does at
 * start.  The input up to its first NUL byte is state.json, the rest (if
 * any) state.journal. */
#include "fuzz_common.h"

#include <dirent.h>
#include <sys/stat.h>

#include "config/config.h"
#include "core/diag.h"
#include "core/util.h"
#include "daemon/persist.h"
#include "engine/eval.h"
#include "engine/labels.h"
#include "engine/rules.h"
#include "notify/dispatch.h"
#include "notify/outbox.h"

static const char conf_text[] =
    "workspace \"prod\" { token = \"t0ken\" }\n"
    "receiver \"console\" { type = \"log\" }\n"
    "route \"all\" { receiver = \"console\" group_by = {\"source\"} }\n"
    "rule \"r\" { expr = \"attempted > 0\" }\n"
    "rule \"q\" { expr = \"discard_ratio > 1%\" for = \"5m\" }\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config *cfg;
    static struct ruleset *rs;
    if (!cfg) {
        const char *p = fuzz_write("segalert.conf",
                                   (const uint8_t *)conf_text,
                                   strlen(conf_text));
        struct diag_list dl = DIAG_LIST_INIT;
        cfg = config_load(p, &dl);
        if (!cfg)
            abort();
        rs = ruleset_compile(cfg, &dl);
        diag_list_free(&dl);
    }
    char *dir = xasprintf("%s/state", fuzz_dir());
    mkdir(dir, 0700);
    const uint8_t *nul = memchr(data, 0, size);
    size_t njson = nul ? (size_t)(nul - data) : size;
    fuzz_write("state/state.json", data, njson);
    if (nul)
        fuzz_write("state/state.journal", nul + 1, size - njson - 1);
    else
        fuzz_write("state/state.journal", data, 0);

    struct label_pool *pool = label_pool_new();
    struct evaluator *ev = evaluator_new(rs, cfg, pool);
    struct dispatcher *disp = dispatch_new(cfg);
    struct outbox *ob = outbox_new(0, 42);
    struct persist *p = persist_new(dir);
    struct persist_parts parts = { ev, pool, disp, ob, 0 };
    struct persist_restore_stats st;
    char err[512];
    if (persist_restore(p, &parts, 1000, 42, &st, err, sizeof(err)) == 0)
        /* what was restored must save again */
        (void)persist_save(p, &parts, 1800000000.0, PERSIST_COMPACT, NULL,
                           err, sizeof(err));
    persist_free(p);
    outbox_free(parts.ob);
    dispatch_free(disp);
    evaluator_free(ev);
    label_pool_free(pool);
    /* damaged files moved aside pile up: start clean every run */
    char *cmd_dir = dir;
    DIR *d = opendir(cmd_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *f = xasprintf("%s/%s", cmd_dir, e->d_name);
            unlink(f);
            free(f);
        }
        closedir(d);
    }
    free(dir);
    return 0;
}
