/** The tag the stack puts on the instance and the deploy CLI finds it by: key → the stack's name. */
export const SERVER_TAG_KEY = 'portside:server';

/**
 * The tag every server of a fleet carries besides SERVER_TAG_KEY (key → the stack's name), propagated at
 * launch by the Auto Scaling group: a single server never has it.
 */
export const FLEET_TAG_KEY = 'portside:fleet';

/** The stack's default name (`cdk deploy` creates it; the CLI looks for this tag value by default). */
export const DEFAULT_STACK_NAME = 'Portside';
