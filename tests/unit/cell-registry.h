/* For unit tests of pure renderers: the registry a running cell has, built from the real modules' ops
 * tables (services_all), so a golden file shows what picd really renders. */
#pragma once
#include "core/registry.h"
#include "services/services.h"

static inline const Registry *cell_registry(void) {
        static Registry reg;
        static bool done;
        if (!done) {
                size_t n;
                const ServiceOps *const *all = services_all(&n);
                for (size_t i = 0; i < n; i++)
                        for (size_t k = 0; k < all[i]->n_endpoints; k++)
                                if (registry_add(&reg, all[i]->name, &all[i]->endpoints[k], NULL, 0) < 0)
                                        abort();
                done = true;
        }
        return &reg;
}
