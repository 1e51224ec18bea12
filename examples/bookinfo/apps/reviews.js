// reviews: v1 shows no ratings; v2 (black stars) and v3 (red stars) ask ratings for them.
// FAIL_EVERY=n makes every n-th answer an HTTP 500: a broken release, for the demo's rolled-back canary.
import { call, identity, sendJson, serve } from './mesh-http.js';

const STARS = { v2: 'black', v3: 'red' };
const failEvery = Number(process.env.FAIL_EVERY ?? 0);
let answered = 0;

serve('reviews', async (req, res, url) => {
  const m = /^\/reviews\/(\d+)$/.exec(url.pathname);
  if (!m) return sendJson(res, 404, { service: 'reviews', ...identity, error: `no reviews at ${url.pathname}` });
  if (failEvery > 0 && ++answered % failEvery === 0) return sendJson(res, 500, { service: 'reviews', ...identity, error: 'this release is broken (FAIL_EVERY)' });
  const answer = { service: 'reviews', ...identity, product: Number(m[1]), reviews: ['An extremely entertaining play by Shakespeare.', 'Absolutely fun and entertaining.'] };
  if (!STARS[identity.version]) return sendJson(res, 200, answer);
  const ratings = await call('ratings', `/ratings/${m[1]}`, req);
  if (ratings.status !== 200) return sendJson(res, 502, { ...answer, error: `ratings answered ${ratings.status}` });
  sendJson(res, 200, { ...answer, stars: STARS[identity.version], ratings: ratings.body });
});
