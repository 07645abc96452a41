// `npm start`: the demo. Until the ingestion service lands it says so plainly.
console.log(
  'Sluice demo: not there yet. The pipeline core, emulator and demo are being built (see the README).',
);
console.log('Meanwhile `npm run cassandra:start` starts the local Cassandra and `npm test` runs the suite.');
