/**
 * Text widths in DejaVu Sans, the font the PNGs are drawn with. Without a canvas, Vega guesses a
 * text's width as 0.8 × font size per character, a third wider than DejaVu Sans: titles then
 * reserve blank space to their right, legends spread out and axis titles stand off their ticks.
 * Vega takes a measuring function instead (as the official vl-convert does); these are the font's
 * own advance widths (its hmtx table, 2048 units per em) for printable ASCII.
 */
const asciiAdvances = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303,
  690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423,
  1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186,
  569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];

/** The few other characters the plots use (≤, ×, µ, en dash, middle dot, ellipsis); others count as a digit. */
const otherAdvances: Record<string, number> = { '≤': 1716, '≥': 1716, '×': 1716, 'µ': 1303, '–': 1024, '−': 1716, '·': 651, '…': 2048, '→': 1716 };

const unitsPerEm = 2048;
const digitAdvance = 1303;

/** Width in pixels of `text` set in DejaVu Sans at `fontSize` pixels. */
export function dejaVuSansWidth(text: string, fontSize: number): number {
  let units = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    units += code >= 32 && code < 127 ? (asciiAdvances[code - 32] ?? digitAdvance) : (otherAdvances[char] ?? digitAdvance);
  }
  return (units * fontSize) / unitsPerEm;
}
