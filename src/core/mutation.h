/* The one shape of every domain mutation (DESIGN.md "One flow for every change"): write the store inside a
 * transaction, apply the change to the live system, commit; if applying or committing fails, roll the store
 * back and bring the live system back to what the store says. Used by DHCP reservations, peers, DNS records. */
#pragma once
#include <stdbool.h>

#include "basic/error.h"
#include "core/cell.h"

typedef struct CellMutation {
        /* What is being changed, for the messages of a failed begin/commit ("the reservation"). */
        const char *what;
        /* The store writes, inside the open transaction. Sets err itself (it knows which field is at fault). */
        int (*write)(Cell *c, void *userdata, PicError *err);
        /* The live part, seeing the written (uncommitted) store; NULL = none. Sets err on failure. */
        int (*apply)(Cell *c, void *userdata, PicError *err);
        /* Called after the store was rolled back, once apply ran: applied=false when apply itself failed (it may
         * have done part of its work), true when apply succeeded but the commit failed. Best effort (it logs);
         * NULL = apply needs no undo. */
        void (*undo)(Cell *c, void *userdata, bool applied);
} CellMutation;

/* Runs m: begin → write → apply → commit. Returns ≥0 on success (the change is durable and live), else the
 * negative errno of the step that failed with err filled, and the store and the live system as before. */
int cell_mutate(Cell *c, const CellMutation *m, void *userdata, PicError *err);
