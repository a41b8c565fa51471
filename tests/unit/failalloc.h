/* failalloc.h -- allocation-failure testing in the SQLite style (its
 * test_malloc.c "faultsim"): the Nth allocation fails, for N = 1, 2, ...
 * until an operation runs without reaching N, and every run must end in
 * success or a clean error, leaking nothing (LeakSanitizer checks at exit).
 *
 * Linked only into the tests named test_<module>_alloc.c, built with
 * -Wl,--wrap for malloc, calloc, realloc, strdup, strndup, fa_arena_alloc
 * and fa_arena_strndup (CMakeLists.txt), so every allocation of our own
 * static libraries is counted; jansson's go through json_set_alloc_funcs,
 * libyaml's through its exported yaml_malloc/yaml_realloc/yaml_strdup
 * (defined here, so the executable's win), OpenSSL's through
 * CRYPTO_set_mem_functions. Single-threaded tests only.
 */
#ifndef FAILALLOC_H
#define FAILALLOC_H

#include <stddef.h>

#include "base/base.h"

/* Installs the library hooks; call first thing in main, before anything
 * allocates through OpenSSL or jansson. */
void failalloc_init(void);

/* One operation under test: everything it allocates is freed before it
 * returns, whatever rc is. On FA_OK it may check its result with cmocka
 * asserts; on failure err must say why. */
typedef enum fa_rc (*failalloc_op)(void *arg, struct fa_err *err);

/* Runs op once normally (it must succeed: this also warms up lazy
 * initialisation in the libraries), then with the Nth allocation failing
 * for every N it reaches. A failed run must return an error with a message
 * in err (err.rc == rc), never crash or leak. Returns how many failure
 * points were exercised (at least one, or the test is wrong). */
size_t failalloc_loop(failalloc_op op, void *arg);

#endif
