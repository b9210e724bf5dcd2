/**
 * A built-in 5×7 bitmap font for ASCII 32–126 (the classic LCD glyph shapes,
 * with an eighth row for the descenders of g, j, p, q and y),
 * so previews need no system fonts or native packages, and a text renderer
 * onto an RGBA buffer.
 */

/** Glyph cell in font pixels: 5 wide, 7 above the baseline plus one descender row; characters advance by 6. */
export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 8;
const ADVANCE = GLYPH_WIDTH + 1;

/**
 * Five column bytes per glyph (bit 0 = top row, bit 7 = descender), ten hex digits, in code
 * order from 32 (space) to 126 (~).
 */
const GLYPHS = [
  '0000000000', '00005f0000', '0007000700', '147f147f14', '242a7f2a12', '2313086462', '3649552250', '0000070000', // space ! " # $ % & '
  '001c224100', '0041221c00', '082a1c2a08', '08083e0808', '0050300000', '0808080808', '0060600000', '2010080402', // ( ) * + , - . /
  '3e5149453e', '00427f4000', '4261514946', '2141454b31', '1814127f10', '2745454539', '3c4a494930', '0171090503', // 0-7
  '3649494936', '064949291e', '0036360000', '0056360000', '0814224100', '1414141414', '0041221408', '0201510906', // 8 9 : ; < = > ?
  '324979413e', '7e1111117e', '7f49494936', '3e41414122', '7f4141221c', '7f49494941', '7f09090101', '3e41415132', // @ A-G
  '7f0808087f', '00417f4100', '2040413f01', '7f08142241', '7f40404040', '7f0204027f', '7f0408107f', '3e4141413e', // H-O
  '7f09090906', '3e4151215e', '7f09192946', '4649494931', '01017f0101', '3f4040403f', '1f2040201f', '7f2018207f', // P-W
  '6314081463', '0304780403', '6151494543', '007f414100', '0204081020', '0041417f00', '0402010204', '4040404040', // X Y Z [ \ ] ^ _
  '0001020400', '2054545478', '7f48444438', '3844444420', '384444487f', '3854545418', '087e090102', '18a4a4a478', // ` a-g
  '7f08040478', '00447d4000', '4080847d00', '007f102844', '00417f4000', '7c04180478', '7c08040478', '3844444438', // h-o
  'fc24242418', '18242424fc', '7c08040408', '4854545420', '043f444020', '3c4040207c', '1c2040201c', '3c4030403c', // p-w
  '4428102844', '1ca0a0a07c', '4464544c44', '0008364100', '00007f0000', '0041360800', '0804081008', // x y z { | } ~
].join('');

/** Characters outside ASCII that have an obvious ASCII stand-in; anything else prints as '?'. */
const STAND_INS: Readonly<Record<string, string>> = { '—': '-', '–': '-', '−': '-', '·': '.', '×': 'x', '²': '2', '°': 'o', 'µ': 'u', '\u00a0': ' ' };

/** The text reduced to what the font can draw (ASCII 32–126), one character per code point. */
export function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += code >= 32 && code <= 126 ? ch : (STAND_INS[ch] ?? '?');
  }
  return out;
}

/** Width in pixels of a line of text at an integer scale (no trailing gap). */
export function textWidth(text: string, scale: number): number {
  const n = printable(text).length;
  return n === 0 ? 0 : (n * ADVANCE - 1) * scale;
}

/** Height in pixels of one line of glyphs at a scale. */
export function textHeight(scale: number): number {
  return GLYPH_HEIGHT * scale;
}

/** An RGBA image to draw on (as pngjs's PNG object is). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Draws a line of text with its top-left corner at (x, y), clipped to the image. */
export function drawText(img: RgbaImage, x: number, y: number, text: string, scale: number, rgb: readonly [number, number, number]): void {
  const s = printable(text);
  for (let n = 0; n < s.length; n++) {
    const at = (s.charCodeAt(n) - 32) * 10;
    for (let col = 0; col < GLYPH_WIDTH; col++) {
      const bits = parseInt(GLYPHS.slice(at + col * 2, at + col * 2 + 2), 16);
      if (bits === 0) continue;
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        if ((bits & (1 << row)) === 0) continue;
        const px = x + (n * ADVANCE + col) * scale;
        const py = y + row * scale;
        for (let dy = 0; dy < scale; dy++) {
          const yy = py + dy;
          if (yy < 0 || yy >= img.height) continue;
          for (let dx = 0; dx < scale; dx++) {
            const xx = px + dx;
            if (xx < 0 || xx >= img.width) continue;
            const o = (yy * img.width + xx) * 4;
            img.data[o] = rgb[0];
            img.data[o + 1] = rgb[1];
            img.data[o + 2] = rgb[2];
            img.data[o + 3] = 255;
          }
        }
      }
    }
  }
}
