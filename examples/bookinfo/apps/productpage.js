// productpage: the front page. Calls reviews for product 0 and shows which versions answered.
import { call, identity, sendJson, serve } from './mesh-http.js';

serve('productpage', async (req, res, url) => {
  if (url.pathname === '/productpage' || url.pathname.startsWith('/api/v1/products')) {
    const reviews = await call('reviews', '/reviews/0', req);
    const page = { service: 'productpage', ...identity, path: url.pathname, user: req.headers['end-user'] || null, reviews: reviews.body };
    return sendJson(res, reviews.status === 200 ? 200 : 502, reviews.status === 200 ? page : { ...page, error: `reviews answered ${reviews.status}` });
  }
  sendJson(res, 404, { service: 'productpage', ...identity, error: `no page at ${url.pathname}` });
});
