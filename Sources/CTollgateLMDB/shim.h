#ifndef TOLLGATE_LMDB_SHIM_H
#define TOLLGATE_LMDB_SHIM_H
// Only what Swift cannot reach by itself: the header, plus sizes that are macros.
#include <lmdb.h>
#endif
