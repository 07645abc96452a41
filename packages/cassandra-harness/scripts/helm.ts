// `npm run helm:install`: build (or find cached) the Helm binary the chart tests use.
import { HELM, installMain } from '../src/goTools.js';

await installMain(HELM);
