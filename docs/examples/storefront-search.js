// Search through listing-search, hydrate images and author profiles from Flex, keep our order.
//
//   cd tests/sdk && npm ci && cd ../..          # or: npm install sharetribe-flex-sdk in your app
//   NODE_PATH=tests/sdk/node_modules SEARCH_URL=http://127.0.0.1:8000 node docs/examples/storefront-search.js cozy
//
// SEARCH_URL is listing-search's base URL. With FLEX_CLIENT_ID (your marketplace's Marketplace
// API client id) set, images and authors are read from Flex for the listings found.
'use strict';

const sharetribeSdk = require('sharetribe-flex-sdk');

const SEARCH_URL = process.env.SEARCH_URL || 'http://127.0.0.1:8000';
const FLEX_CLIENT_ID = process.env.FLEX_CLIENT_ID;

// Search goes to listing-search: the same SDK, another base URL. The client id only has to be
// one listing-search allows (LISTING_SEARCH_TOKEN_CLIENT_IDS; empty allows any).
const searchSdk = sharetribeSdk.createInstance({ clientId: FLEX_CLIENT_ID || 'my-storefront', baseUrl: SEARCH_URL });
// Everything else (images, profiles, transactions) stays with Flex.
const flexSdk = FLEX_CLIENT_ID ? sharetribeSdk.createInstance({ clientId: FLEX_CLIENT_ID }) : null;

async function search(keywords) {
  const found = await searchSdk.listings.query({
    keywords,
    perPage: 12,
    include: ['author', 'images'],
    'fields.listing': ['title', 'price', 'geolocation', 'publicData.listingType'],
    'limit.images': 1,
  });
  const listings = found.data.data;
  const meta = found.data.meta;
  if (!flexSdk || listings.length === 0) return { listings, meta, images: {} };

  // One Flex call for the page: images with their variants, authors with their profiles.
  const hydrated = await flexSdk.listings.query({
    ids: listings.map(l => l.id),
    include: ['author', 'images'],
    'fields.image': ['variants.listing-card'],
    'imageVariant.listing-card': sharetribeSdk.util.objectQueryString({ w: 400, h: 300, fit: 'crop' }),
    'limit.images': 1,
    perPage: listings.length,
  });
  const images = {};
  for (const entity of hydrated.data.included) images[`${entity.type}/${entity.id.uuid}`] = entity;
  // Flex answers `ids` in its own order; the page keeps listing-search's ranking.
  return { listings, meta, images };
}

search(process.argv[2] || '')
  .then(({ listings, meta, images }) => {
    console.log(`${meta.totalItems} listings; page ${meta.page} of ${meta.totalPages}`);
    for (const l of listings) {
      const { title, price } = l.attributes;
      const image = l.relationships.images.data[0];
      const url = image && images[`image/${image.id.uuid}`]?.attributes.variants['listing-card']?.url;
      console.log(`- ${title} (${price.amount / 100} ${price.currency})${url ? ` ${url}` : ''}`);
    }
  })
  .catch(e => {
    console.error(e.status ? `${e.status}: ${JSON.stringify(e.data)}` : e);
    process.exit(1);
  });
