/* cell_mutate(): the store → apply live → commit sequence with its rollback and undo, written once (see
 * mutation.h). The store transaction stays open while the live part is applied, so a failure undoes both. */
#include "core/mutation.h"

#include <string.h>

#include "store/store.h"

int cell_mutate(Cell *c, const CellMutation *m, void *userdata, PicError *err) {
        const char *what = m->what ? m->what : "the change";
        int r = store_begin(c->store);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot store %s: cannot start a store transaction", what);
        r = m->write(c, userdata, err);
        if (r < 0) {
                store_rollback(c->store);
                return r;
        }
        if (m->apply) {
                r = m->apply(c, userdata, err);
                if (r < 0) {
                        store_rollback(c->store);
                        if (m->undo)
                                m->undo(c, userdata, false);
                        return r;
                }
        }
        r = store_commit(c->store);
        if (r < 0) {
                store_rollback(c->store);
                if (m->apply && m->undo)
                        m->undo(c, userdata, true);
                return pic_error(err, r, NULL, "cannot commit %s: %s", what, strerror(-r));
        }
        return 0;
}
