/** Reading a learner's number (with an optional unit) and writing numbers for people. */

export interface Unit {
  unit: string;
  multiplier: number;
}

/** Trimmed, runs of whitespace as one space. */
export const normalizeSpace = (s: string): string => s.trim().replace(/\s+/g, ' ');

/**
 * "9.81", "-1,5", "1e-3 m", "150cm": the number and the rest (the unit, '' when none). A decimal comma is read as a
 * point. Null when the text does not start with a number.
 */
export function parseNumberWithUnit(text: string): { value: number; unit: string } | null {
  const s = normalizeSpace(text);
  const m = /^([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?)\s*(.*)$/s.exec(s);
  if (!m) return null;
  const value = Number((m[1] ?? '').replace(',', '.'));
  if (!Number.isFinite(value)) return null;
  return { value, unit: m[2] ?? '' };
}

/**
 * The response's value in the first (base) unit, Moodle's way: a unit's multiplier is how many of it one base unit
 * makes (m: 1, cm: 100), so a value in that unit is divided by its multiplier. Null when the response gets no
 * credit: no number, an unknown unit, a unit where there are none, or no unit where one is required.
 */
export function readValue(text: string, units: readonly Unit[], unitHandling: 'optional' | 'required'): number | null {
  const parsed = parseNumberWithUnit(text);
  if (!parsed) return null;
  if (parsed.unit === '') {
    if (units.length > 0 && unitHandling === 'required') return null;
    return parsed.value;
  }
  const unit = units.find((u) => normalizeSpace(u.unit) === parsed.unit);
  if (!unit) return null;
  return parsed.value / unit.multiplier;
}

/** `decimals` digits after the point, without a negative zero. */
export function formatFixed(value: number, decimals: number): string {
  const s = value.toFixed(decimals);
  return /^-0(?:\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** Equal within a tolerance, with a little room for binary floating point. */
export function within(value: number, target: number, tolerance: number): boolean {
  return Math.abs(value - target) <= tolerance + 1e-9 * Math.max(1, Math.abs(target));
}
