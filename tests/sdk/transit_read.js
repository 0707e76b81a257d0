// Reads Transit documents (one JSON string per stdin line) with the SDK's own reader
// (sharetribe-flex-sdk `transit.read`, transit-js underneath) and prints each decoded value
// in plain JSON, typed values marked: {"$uuid"}, {"$money"}, {"$latlng"}, {"$date"}.
'use strict';

const readline = require('node:readline');
const sharetribeSdk = require('sharetribe-flex-sdk');

const { UUID, Money, LatLng } = sharetribeSdk.types;

const plain = v => {
  if (v instanceof UUID) return { $uuid: v.uuid };
  if (v instanceof Money) return { $money: [v.amount, v.currency] };
  if (v instanceof LatLng) return { $latlng: [v.lat, v.lng] };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', line => {
  const doc = JSON.parse(line);
  try {
    process.stdout.write(`${JSON.stringify({ ok: plain(sharetribeSdk.transit.read(doc)) })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: String(e) })}\n`);
  }
});
