/* intercept_block.c: blocking-call interposers (being written). */
#include "intercept.h"
