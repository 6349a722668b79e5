// What the console keeps in memory while it runs: who is logged in, the
// tenant's sites, and small lookup lists (groups, schedules, doors ...)
// shared by the pages. Nothing here is written to storage.

import { listAll } from './api.js';

export const store = { me: null, sites: [], tenants: [], sync: null };

const caches = new Map();

/** A lookup list, loaded once until a change invalidates it. */
export function cached(key, loader) {
  if (!caches.has(key)) {
    caches.set(key, loader().catch((e) => {
      caches.delete(key);
      throw e;
    }));
  }
  return caches.get(key);
}

export function invalidate(prefix) {
  for (const k of [...caches.keys()]) if (k.startsWith(prefix)) caches.delete(k);
}

export function forgetAll() {
  caches.clear();
}

/* The tenant's small lists, by id, for select boxes and names in tables. */
const LISTS = {
  sites: '/api/v1/sites',
  doors: '/api/v1/doors',
  schedules: '/api/v1/schedules',
  holidays: '/api/v1/holidays',
  groups: '/api/v1/access-groups',
  levels: '/api/v1/access-levels',
  devices: '/api/v1/devices',
};

export function lookup(kind) {
  return cached(kind, async () => {
    const { items, truncated } = await listAll(LISTS[kind]);
    return { items, truncated, byId: new Map(items.map((i) => [i.id, i])) };
  });
}

export function nameOf(list, id) {
  const item = list && list.byId.get(id);
  return item ? item.name : id == null ? '' : `#${id}`;
}
