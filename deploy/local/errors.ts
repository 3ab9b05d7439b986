import { defineErrors } from '../../services/kit/index.ts';

export const StackErrors = defineErrors({
  STACK_MISSING_PACKAGES: { status: 500, message: 'Required system packages are missing' },
  STACK_PORT_IN_USE: { status: 500, message: 'A port the stack needs is taken by another process' },
  STACK_START_FAILED: { status: 500, message: 'A stack server failed to start' },
  STACK_NOT_RUNNING: { status: 500, message: 'The local stack is not running' },
  STACK_KAFKA_CONTROL_FAILED: { status: 500, message: 'The Kafka mock cluster refused a control command' },
});
