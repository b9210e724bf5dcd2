/**
 * Form fields to engine parameters, and download headers.
 */
import { describe, expect, it } from 'vitest';
import { contentDisposition, paramValue, parseBoundary } from '@hatake/prescription';

describe('paramValue', () => {
  it('reads numbers where the engine takes numbers, and passes the rest on as text', () => {
    expect(paramValue('maxRate', ' 250 ')).toBe(250);
    expect(paramValue('rateStep', '2.5')).toBe(2.5);
    expect(paramValue('zones', 'auto')).toBe('auto');
    expect(paramValue('zones', '4')).toBe(4);
    expect(paramValue('productName', 'CAN 27')).toBe('CAN 27');
    expect(paramValue('nRule', 'target')).toBe('target');
    // not a number: left as it was, so the engine's check names it
    expect(paramValue('maxRate', 'lots')).toBe('lots');
    expect(paramValue('maxRate', '')).toBe('');
  });
});

describe('parseBoundary', () => {
  it('takes what the engine takes and says why not otherwise', () => {
    const ring = [[141.7, 43.2], [141.71, 43.2], [141.71, 43.21], [141.7, 43.2]];
    expect(parseBoundary(JSON.stringify({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } }))).toHaveProperty('boundary');
    expect(parseBoundary('{')).toEqual({ problem: expect.stringMatching(/^field is not JSON: /) });
    expect(parseBoundary(JSON.stringify({ type: 'Polygon', coordinates: [ring.slice(0, 3)] }))).toEqual({ problem: expect.stringMatching(/^field boundary: /) });
  });
});

describe('contentDisposition', () => {
  it('gives an ASCII name and the exact one', () => {
    expect(contentDisposition('TASKDATA.zip')).toBe("attachment; filename=\"TASKDATA.zip\"; filename*=UTF-8''TASKDATA.zip");
    expect(contentDisposition('北村 "rx".tif')).toBe("attachment; filename=\"__ _rx_.tif\"; filename*=UTF-8''%E5%8C%97%E6%9D%91%20%22rx%22.tif");
  });
});
