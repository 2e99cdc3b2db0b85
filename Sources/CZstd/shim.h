#ifndef STASIS_CZSTD_SHIM_H
#define STASIS_CZSTD_SHIM_H
#include <zstd.h>
#endif
