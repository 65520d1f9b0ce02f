// The server's validation limits, read from GET /openapi.json (`x-hourglass-limits`) instead of
// being copied into the UI: the server fills them in from the constants it validates with.
import { api, type HourglassClient } from './client';
import type { Limits } from './types';

const loaded = new WeakMap<HourglassClient, Promise<Limits>>();

/** The limits of `client`'s server, fetched once per client (again after a failure). */
export function loadLimits(client: HourglassClient = api): Promise<Limits> {
  let p = loaded.get(client);
  if (!p) {
    p = client.openApi().then((doc) => {
      const limits = doc?.['x-hourglass-limits'];
      if (!limits || typeof limits.job_name_max_chars !== 'number') {
        throw new Error('GET /openapi.json has no x-hourglass-limits');
      }
      return limits;
    });
    p.catch(() => loaded.delete(client));
    loaded.set(client, p);
  }
  return p;
}
