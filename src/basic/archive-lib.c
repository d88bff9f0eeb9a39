/* dlopen()/dlsym() of libarchive's soname for archive-lib.h. Each symbol is checked against the prototype
 * from <archive.h> at compile time through __typeof__, so a signature change fails the build. */
#include "basic/archive-lib.h"

#include <dlfcn.h>

#define ARCHIVE_SONAME "libarchive.so.13"

const ArchiveLib *archive_lib(PicError *err) {
        static ArchiveLib lib;
        static bool loaded;
        if (loaded)
                return &lib;
        void *h = dlopen(ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                pic_error(err, -EHOSTDOWN, NULL, "cannot load %s: %s", ARCHIVE_SONAME, dlerror());
                return NULL;
        }
        ArchiveLib l;
#define ARCHIVE_LIB_LOAD(f)                                                                             \
        if (!(*(void **) &l.f = dlsym(h, #f))) {                                                        \
                pic_error(err, -EHOSTDOWN, NULL, "%s lacks %s", ARCHIVE_SONAME, #f);                    \
                dlclose(h);                                                                             \
                return NULL;                                                                            \
        }
        ARCHIVE_LIB_FUNCS(ARCHIVE_LIB_LOAD)
#undef ARCHIVE_LIB_LOAD
        lib = l;
        loaded = true;
        return &lib;
}
