/*
 * main.c - the segalert command line: subcommand dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "util.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("segalert %s\n", SEGALERT_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: segalert COMMAND [options]\n");
    return 2;
}
