/*
 * bench_silences.c - what loading silences from the state file costs
 * (notify/silence.h): silences_from_json() over N silences, and the id
 * comparisons it made (the audit's 200,000 took 5.7 minutes when each id
 * was compared with every earlier one).
 *
 *   bench_silences [N...]        default: 20000 200000
 *
 * Prints a table; times are the best of three.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "notify/silence.h"

#define T0 1790000000.0
#define REPS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cJSON *document(long n)
{
    cJSON *arr = cJSON_CreateArray();
    char id[32];
    for (long i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        snprintf(id, sizeof(id), "%016lx", (unsigned long)i * 2654435761ul);
        cJSON_AddStringToObject(o, "id", id);
        cJSON *m = cJSON_AddArrayToObject(o, "matchers");
        cJSON_AddItemToArray(m, cJSON_CreateString("rule=delivery-*"));
        cJSON_AddItemToArray(m, cJSON_CreateString("source=web"));
        cJSON_AddNumberToObject(o, "starts_at", T0);
        cJSON_AddNumberToObject(o, "ends_at", T0 + 3600);
        cJSON_AddStringToObject(o, "created_by", "ops");
        cJSON_AddStringToObject(o, "comment", "maintenance window");
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

int main(int argc, char **argv)
{
    long sizes[8] = { 20000, 200000 };
    int nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < 8; i++)
            sizes[nsizes++] = strtol(argv[i], NULL, 10);
    }
    printf("| silences | load (best of %d) | per silence | id comparisons |\n",
           REPS);
    printf("|---|---|---|---|\n");
    for (int k = 0; k < nsizes; k++) {
        cJSON *doc = document(sizes[k]);
        double best = -1;
        size_t compares = 0;
        for (int r = 0; r < REPS; r++) {
            struct silences *set = silences_new();
            char err[200];
            double t = now_s();
            if (silences_from_json(set, doc, err, sizeof(err)) != 0) {
                fprintf(stderr, "bench_silences: %s\n", err);
                return 1;
            }
            t = now_s() - t;
            compares = silences_load_compares(set);
            if (best < 0 || t < best)
                best = t;
            silences_free(set);
        }
        printf("| %ld | %.1f ms | %.2f us | %zu |\n", sizes[k], best * 1e3,
               best * 1e6 / (double)sizes[k], compares);
        cJSON_Delete(doc);
    }
    return 0;
}
