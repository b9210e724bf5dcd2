/**
 * The shapes shared by the engine's stages: the working grid, the zone map it
 * produces, and the summary of a run.
 */
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';

/** A north-up grid in a projected CRS (metres): cell (col, row) covers x ∈ [originX + col·cellSize, +cellSize), y ∈ (originY − (row+1)·cellSize, originY − row·cellSize]. */
export interface Grid {
  /** EPSG code of the grid's projected CRS. */
  readonly epsg: number;
  /** x of the grid's west edge. */
  readonly originX: number;
  /** y of the grid's north edge. */
  readonly originY: number;
  /** Side of a square cell in metres. */
  readonly cellSize: number;
  readonly width: number;
  readonly height: number;
}

/** One management zone of a prescription. */
export interface ZoneSummary {
  /** 1..k, in increasing order of rate. */
  readonly id: number;
  /** Product rate in kg/ha (clamped and rounded to the spreader's step). */
  readonly rate: number;
  /** Nitrogen the product rate supplies, kg N/ha. */
  readonly nRate: number;
  readonly cells: number;
  /** Area in hectares (cells × cell area). */
  readonly areaHa: number;
  /** Product applied in the zone, kg. */
  readonly productKg: number;
}

/** The result of a run on the working grid: a zone id and a rate per cell. */
export interface ZoneMap {
  readonly grid: Grid;
  /** Per cell, row-major: 0 outside the field or without data, else the zone id 1..k. */
  readonly zone: Uint8Array;
  /** Per cell, row-major: product rate in kg/ha, NaN where `zone` is 0. */
  readonly rate: Float32Array;
  readonly zones: readonly ZoneSummary[];
  /** The product's name and nitrogen share, for labels and units. */
  readonly product: { readonly name: string; readonly nPercent: number };
}

/** Properties of a zone polygon in the GeoJSON and Shapefile outputs. */
export interface ZoneProperties {
  zone: number;
  /** kg/ha of product. */
  rate: number;
  areaHa: number;
}

/** Dissolved zone polygons in WGS84, one feature per zone. */
export type ZoneFeatures = FeatureCollection<Polygon | MultiPolygon, ZoneProperties>;
/** A field boundary as accepted from users: WGS84 Polygon or MultiPolygon (a bare geometry, a Feature or a FeatureCollection of them). */
export type FieldFeature = Feature<Polygon | MultiPolygon>;
