// The EventBus contract against the Redis Streams bus (the single-machine default).

import { makeRedisBus } from './buses.ts';
import { contractSuite } from './contract.ts';

contractSuite('redis', makeRedisBus);
