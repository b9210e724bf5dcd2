/**
 * @hatake/tracks — vehicle track review for road crews (and farm operators):
 * tracks and exports, trips and shifts, road coverage, storm compliance,
 * contractor reconciliation.
 */
export * from './errors.ts';
export type * from './types.ts';
