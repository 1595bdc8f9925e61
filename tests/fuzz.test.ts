import { after, before, test } from 'node:test';
import { apiProperties, openFuzzApi, PURE_PROPERTIES, type FuzzApi } from './fuzz/properties.ts';

// The fuzz properties (tests/fuzz/properties.ts) with a modest count; `npm run fuzz -- --runs 1000000`
// is the long run. fast-check prints the seed and the shrunk counterexample of a failure.
// A fixed seed keeps CI repeatable; FUZZ_SEED explores others (the long run takes --seed).
const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_126);

for (const property of PURE_PROPERTIES) {
  test(`fuzz: ${property.name}`, () => property.run(RUNS, SEED));
}

let api: FuzzApi;
before(async () => {
  api = await openFuzzApi();
});
after(() => api.close());

test('fuzz: API endpoints (every one in the OpenAPI document) answer 2xx or a coded 4xx', async () => {
  for (const property of apiProperties(api)) await property.run(Math.ceil(RUNS / 10), SEED);
});
