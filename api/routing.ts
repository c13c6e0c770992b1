/**
 * Sticky canary routing, from the model store (one rule for every reader of traffic_routing.json):
 * a transaction id always lands in the same slot for a given canary share, and raising the share
 * only moves ids from the champion to the canary, never back.
 */
export { chooseSlot, fnv1a32 } from '../lib/model-store/routing';
