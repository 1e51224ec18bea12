// meshctl's one table style, kubectl's: upper-case headings, no borders, columns three spaces apart,
// no trailing blanks. Headings are bold only when the caller paints (a terminal with colour).
import Table from 'cli-table3';
import { paint, type Paint } from './format.js';

const NO_BORDERS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
};

/** The table's lines joined by newlines, without a final newline. */
export function table(head: string[], rows: (string | number)[][], p: Paint = paint(false)): string {
  const rendered = new Table({
    head: head.map((h) => p.bold(h)),
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const r of rows) rendered.push(r.map(String));
  return rendered
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}
