// ratings: the stars each review got.
import { identity, sendJson, serve } from './mesh-http.js';

serve('ratings', (req, res, url) => {
  const m = /^\/ratings\/(\d+)$/.exec(url.pathname);
  if (!m) return sendJson(res, 404, { service: 'ratings', ...identity, error: `no ratings at ${url.pathname}` });
  sendJson(res, 200, { service: 'ratings', ...identity, product: Number(m[1]), ratings: { reviewer1: 5, reviewer2: 4 } });
});
