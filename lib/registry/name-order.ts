/**
 * Names in the order of their UTF-16 code units: the same on every machine. `localeCompare` follows
 * the locale of the machine the CLI runs on (with LANG=da_DK "aarhus" sorts after "zebra"; in
 * Lithuanian "yak" before "ink"), so two teammates rendered the same registry into different files, and
 * each deploy saw the other's Caddyfile as a hand edit; it also cost ~8 ms of every deploy to load ICU's collator.
 * For service names (a–z, 0–9, inner hyphens) this is the English order.
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
