#ifndef STASIS_CLZ4_SHIM_H
#define STASIS_CLZ4_SHIM_H
#include <lz4.h>
#endif
