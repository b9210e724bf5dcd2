/**
 * @hatake/tracks — vehicle track review for road crews (and farm operators):
 * tracks and exports, trips and shifts, road coverage, storm compliance,
 * contractor reconciliation.
 */
export * from './errors.ts';
export type * from './types.ts';
export { parseRoadNetwork, RoadNetwork } from './network.ts';
export type { Segment, NearSegment, SegmentProperties, BuildOptions } from './network.ts';
export { matchTrack, resolveMatchOptions, SampleState } from './match.ts';
export type { MatchOptions, ResolvedMatchOptions, MatchedTrack } from './match.ts';
export { roadCoverage, coverageGeoJSON } from './coverage.ts';
export type { Pass, SegmentCoverage, UnmatchedSample, CoverageOptions, CoverageResult, CoverageProperties } from './coverage.ts';
export { stormReport, stormReportCsv, unservicedGeoJSON, DEFAULT_SERVICE_LEVELS_H, STORM_CSV_COLUMNS } from './storm.ts';
export type { StormOptions, StormStatus, StormSegment, StormClassSummary, StormBreach, UnservicedSegment, StormReport, UnservicedProperties } from './storm.ts';
export { parseClaims, reconcile, CLAIMS_COLUMNS } from './reconcile.ts';
export type { Claim, ParseClaimsOptions, ReconcileOptions, ClaimReconciliation } from './reconcile.ts';
export { trackFromRows, trackLengthM, DEFAULT_MAX_GAP_S } from './track.ts';
export { localProjection, projectionForExtent, stepDistanceM, type LocalProjection } from './project.ts';
export { simplifyTrack, type SimplifyOptions } from './simplify.ts';
export {
  splitTrack,
  exportTrack,
  EXPORT_FORMATS,
  GPX_EXTENSION_NS,
  TRACK_CSV_COLUMNS,
  type ExportFormat,
  type ExportOptions,
  type ExportedFile,
  type SplitOptions,
  type TrackPart,
} from './export.ts';
export { tripsAndStops, type TripOptions, type Trip, type Stop, type Gap } from './trips.ts';
export { shiftReport, shiftReportCsv, MAX_SHIFT_H, SHIFT_CSV_COLUMNS, type ShiftOptions, type ShiftReport } from './shift.ts';
