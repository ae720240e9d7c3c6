// Umbrella header for Debian's libhiredis-dev (0.14.1). Internal to RelQ.
#ifndef RELQ_CHIREDIS_SHIM_H
#define RELQ_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
