// `npm run promtool:install`: build (or find cached) the promtool binary the alert-rule tests use.
import { installMain, PROMTOOL } from '../src/goTools.js';

await installMain(PROMTOOL);
