// Sharetribe's published SDK (sharetribe-flex-sdk, pinned in package.json) against a running
// listing-search: `LS_URL` is its base URL. Run by tests/integration/test_flex_sdk.py, which
// starts the service with the Albany data. Every SDK answer is compared with the service's plain
// JSON answer for the same search, fetched without the SDK.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const sharetribeSdk = require('sharetribe-flex-sdk');
const { denormalisedResponseEntities } = require('./web_template_data');

const { UUID, Money, LatLng, LatLngBounds } = sharetribeSdk.types;
const BASE = process.env.LS_URL;
const TRICKY = process.env.LS_TRICKY_LISTING;
const IMAGE_IDS = JSON.parse(process.env.LS_IMAGE_IDS || '[]');
const CLIENT_ID = 'storefront-under-test';

if (!BASE) throw new Error('LS_URL is not set: run this through tests/integration/test_flex_sdk.py');

const tokenRequests = [];

// A fresh SDK as a storefront makes it: only the base URL differs from Flex's.
const newSdk = (opts = {}) =>
  sharetribeSdk.createInstance({
    clientId: CLIENT_ID,
    baseUrl: BASE,
    tokenStore: opts.tokenStore || sharetribeSdk.tokenStore.memoryStore(),
    transitVerbose: Boolean(opts.transitVerbose),
  });

// The plain JSON API, as curl or a non-SDK client calls it.
const jsonApi = async (path, query) => {
  const res = await fetch(`${BASE}/v1/api/listings/${path}?${new URLSearchParams(query)}`);
  const body = await res.json();
  return { status: res.status, body };
};

// SDK values back to the JSON API's form, so the two answers compare with deepEqual.
const plain = v => {
  if (v instanceof UUID) return { $uuid: v.uuid };
  if (v instanceof Money) return { amount: v.amount, currency: v.currency };
  if (v instanceof LatLng) return { lat: v.lat, lng: v.lng };
  if (v instanceof Date) return { $date: v.toISOString() };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

// The JSON answer with the types the SDK must have decoded marked the same way.
const typedJson = resource => {
  const ref = r => (r ? { ...r, id: { $uuid: r.id } } : r);
  const out = { ...resource, id: { $uuid: resource.id } };
  if (resource.attributes) {
    out.attributes = { ...resource.attributes };
    if (typeof out.attributes.createdAt === 'string') {
      out.attributes.createdAt = { $date: new Date(out.attributes.createdAt).toISOString() };
    }
  }
  if (resource.relationships) {
    out.relationships = Object.fromEntries(
      Object.entries(resource.relationships).map(([name, rel]) => [
        name,
        { ...rel, data: Array.isArray(rel.data) ? rel.data.map(ref) : ref(rel.data) },
      ])
    );
  }
  return out;
};

const assertSdkTypes = listing => {
  assert.ok(listing.id instanceof UUID, 'id is a UUID');
  assert.match(listing.id.uuid, /^[0-9a-f-]{36}$/);
  assert.equal(listing.type, 'listing');
  const a = listing.attributes;
  if ('price' in a && a.price !== null) assert.ok(a.price instanceof Money, 'price is Money');
  if ('geolocation' in a && a.geolocation !== null) assert.ok(a.geolocation instanceof LatLng, 'geolocation is LatLng');
  if ('createdAt' in a) assert.ok(a.createdAt instanceof Date, 'createdAt is a Date');
};

// Flex carries only the relationships `include` asked for; the JSON API also answers
// `relationships.author` without it (docs/storefront.md).
const asFlex = (resource, query) => {
  const typed = typedJson(resource);
  if (!('include' in query)) delete typed.relationships;
  return typed;
};

// One search through the SDK and through the JSON API; the answers must be the same.
const sameAsJson = async (sdk, sdkParams, jsonQuery, { min = 1 } = {}) => {
  const res = await sdk.listings.query(sdkParams);
  assert.equal(res.status, 200);
  const json = await jsonApi('query', jsonQuery);
  assert.equal(json.status, 200, JSON.stringify(json.body));
  res.data.data.forEach(assertSdkTypes);
  assert.deepEqual(plain(res.data.data), json.body.data.map(r => asFlex(r, jsonQuery)));
  assert.deepEqual(plain(res.data.meta), json.body.meta);
  if ('included' in json.body) {
    assert.deepEqual(plain(res.data.included), json.body.included.map(typedJson));
  }
  assert.ok(res.data.data.length >= min, `at least ${min} result(s): ${JSON.stringify(jsonQuery)}`);
  return res;
};

const day = offset => {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() + offset);
  return d;
};

const sdk = newSdk();

test('keywords and paging', async () => {
  const first = await sameAsJson(sdk, { keywords: 'cozy', perPage: 5 }, { keywords: 'cozy', perPage: '5' });
  assert.ok(first.data.meta.totalItems > 5);
  // Without `include`, nothing refers to an entity the answer lacks.
  assert.equal(denormalisedResponseEntities(first).length, 5);
  await sameAsJson(sdk, { keywords: 'cozy', perPage: 5, page: 2 }, { keywords: 'cozy', perPage: '5', page: '2' });
});

test('price range, sort and pub_ filters', async () => {
  await sameAsJson(
    sdk,
    { price: '5000,15000', sort: '-price', perPage: 10 },
    { price: '5000,15000', sort: '-price', perPage: '10' }
  );
  await sameAsJson(
    sdk,
    { pub_listingType: 'Private room', pub_amenities: 'has_any:Wifi,Kitchen', sort: 'price', perPage: 10 },
    { pub_listingType: 'Private room', pub_amenities: 'has_any:Wifi,Kitchen', sort: 'price', perPage: '10' }
  );
  // Arrays are written as comma lists by the SDK.
  await sameAsJson(
    sdk,
    { pub_amenities: ['Wifi', 'Kitchen'], pub_instantBookable: true, perPage: 10 },
    { pub_amenities: 'Wifi,Kitchen', pub_instantBookable: 'true', perPage: '10' }
  );
});

test('origin as LatLng and bounds as LatLngBounds', async () => {
  await sameAsJson(
    sdk,
    { origin: new LatLng(42.6526, -73.7562), perPage: 10 },
    { origin: '42.6526,-73.7562', perPage: '10' }
  );
  const bounds = new LatLngBounds(new LatLng(42.67, -73.74), new LatLng(42.64, -73.79));
  const res = await sameAsJson(sdk, { bounds, perPage: 50 }, { bounds: '42.67,-73.74,42.64,-73.79', perPage: '50' });
  for (const l of res.data.data) {
    const { lat, lng } = l.attributes.geolocation;
    assert.ok(lat <= 42.67 && lat >= 42.64 && lng <= -73.74 && lng >= -73.79, `${lat},${lng} inside the bounds`);
  }
});

test('dates as Date objects with availability and seats', async () => {
  const start = day(7);
  const end = day(10);
  const res = await sameAsJson(
    sdk,
    { start, end, availability: 'day-full', seats: 1, perPage: 20 },
    { start: start.toISOString(), end: end.toISOString(), availability: 'day-full', seats: '1', perPage: '20' }
  );
  const all = await jsonApi('query', { perPage: '1' });
  assert.ok(res.data.meta.totalItems < all.body.meta.totalItems, 'dates narrow the results');
});

test('include, sparse fields and image limits as the Web Template sends them', async () => {
  // SearchPage.duck.js of sharetribe/web-template asks for exactly these shapes.
  const params = {
    ids: TRICKY,
    include: ['author', 'images'],
    'fields.listing': ['title', 'geolocation', 'price', 'publicData.listingType'],
    'fields.user': ['profile.displayName', 'profile.abbreviatedName'],
    'fields.image': ['variants.listing-card', 'variants.listing-card-2x'],
    'imageVariant.listing-card': 'w:400;h:300;fit:crop',
    'limit.images': 1,
  };
  const res = await sameAsJson(sdk, params, {
    ids: TRICKY,
    include: 'author,images',
    'fields.listing': 'title,geolocation,price,publicData.listingType',
    'limit.images': '1',
  });
  const [listing] = res.data.data;
  assert.deepEqual(Object.keys(listing.attributes).sort(), ['geolocation', 'price', 'publicData', 'title']);
  assert.equal(listing.attributes.title, '~tilde ^caret `tick title');
  assert.ok(listing.relationships.author.data.id instanceof UUID);
  assert.deepEqual(
    listing.relationships.images.data.map(i => i.id.uuid),
    IMAGE_IDS.slice(0, 1)
  );
  const types = res.data.included.map(e => e.type).sort();
  assert.deepEqual(types, ['image', 'user']);
  // The Web Template's denormalisation finds every entity (it throws on a missing one).
  const [denorm] = denormalisedResponseEntities(res);
  assert.equal(denorm.author.id.uuid, listing.relationships.author.data.id.uuid);
  assert.deepEqual(denorm.images.map(i => i.id.uuid), IMAGE_IDS.slice(0, 1));
});

test('show, with every image in order and escaped strings intact', async () => {
  const res = await newSdk({ transitVerbose: true }).listings.show({ id: new UUID(TRICKY), include: ['images'] });
  const json = await jsonApi('show', { id: TRICKY, include: 'images' });
  assertSdkTypes(res.data.data);
  assert.deepEqual(plain(res.data.data), typedJson(json.body.data));
  assert.deepEqual(res.data.data.relationships.images.data.map(i => i.id.uuid), IMAGE_IDS);
  assert.equal(res.data.data.attributes.publicData.note, '^ not a map');
  assert.equal(res.data.data.attributes.publicData['`weird key'], '~:not a keyword');
  assert.deepEqual(res.data.data.attributes.publicData.nested.list, ['~u0000', '^0', '`x', 2 ** 40, null, true, 0.25]);
  // The compact form too (map keys cached as ^0, ^1, ...): the same listing.
  const compact = await sdk.listings.show({ id: new UUID(TRICKY), include: ['images'] });
  assert.deepEqual(plain(compact.data), plain(res.data));
});

for (const [what, stale] of [
  // Signed by this deployment, but two lifetimes old (the test passes it in): expired, nothing else.
  ['an expired token', process.env.LS_EXPIRED_TOKEN],
  // Shaped like ours, with a signature that is not.
  ['a forged token', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjF9.AAAA'],
]) {
  test(`${what} is replaced and the call retried once`, async () => {
    assert.ok(stale, 'LS_EXPIRED_TOKEN is set by tests/integration/test_flex_sdk.py');
    const store = sharetribeSdk.tokenStore.memoryStore();
    // The SDK must get a 401, ask for a fresh anonymous token and retry.
    store.setToken({ access_token: stale, token_type: 'bearer', expires_in: 86400, scope: 'public-read' });
    const stored = await fetch(`${BASE}/v1/api/listings/query?perPage=1`, {
      headers: { Authorization: `Bearer ${stale}` },
    });
    assert.equal(stored.status, 401);
    const fresh = newSdk({ tokenStore: store });
    const res = await fresh.listings.query({ keywords: 'cozy', perPage: 1 });
    assert.equal(res.status, 200);
    const token = await store.getToken();
    assert.notEqual(token.access_token, stale);
    assert.equal(token.token_type, 'bearer');
    assert.equal(token.scope, 'public-read');
    assert.equal(token.refresh_token, undefined);
    // And the token works on its own.
    const direct = await fetch(`${BASE}/v1/api/listings/query?perPage=1`, {
      headers: { Authorization: `Bearer ${token.access_token}` },
    });
    assert.equal(direct.status, 200);
    tokenRequests.push(token);
  });
}

test('a 400 names the parameter and a 404 is a 404, both decoded', async () => {
  await assert.rejects(sdk.listings.query({ pub_noSuchKey: 'x' }), err => {
    assert.equal(err.status, 400);
    const [e] = err.data.errors;
    assert.ok(e.id instanceof UUID);
    assert.equal(e.status, 400);
    assert.match(e.details, /^pub_noSuchKey: /);
    assert.deepEqual(e.source.path, ['query', 'pub_noSuchKey']);
    return true;
  });
  await assert.rejects(sdk.listings.query({ start: day(1) }), err => {
    assert.equal(err.status, 400);
    assert.match(err.data.errors[0].details, /^end: /);
    return true;
  });
  const missing = '00000000-0000-4000-8000-000000000000';
  await assert.rejects(sdk.listings.show({ id: new UUID(missing) }), err => {
    assert.equal(err.status, 404);
    assert.equal(err.data.errors[0].status, 404);
    return true;
  });
});
