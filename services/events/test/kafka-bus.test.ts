// The EventBus contract against the Kafka bus, on the test stack's Kafka-protocol broker.

import { makeKafkaBus } from './buses.ts';
import { contractSuite } from './contract.ts';

contractSuite('kafka', makeKafkaBus);
