#include <stdio.h>
int main(void) { fprintf(stderr, "segalert-sim: not built yet\n"); return 1; }
