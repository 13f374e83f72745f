/** Colour arithmetic for the brand colour (WCAG 2 relative luminance and contrast ratio). */

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** Text on the brand colour: white or near-black, whichever reads better. */
export function textOn(brand: string): string {
  return contrast(brand, '#ffffff') >= contrast(brand, '#111111') ? '#ffffff' : '#111111';
}

/** A valid #rrggbb, or the default blue (the config is validated server side; this is belt and braces). */
export function brandOrDefault(value: string | undefined): string {
  return value && /^#[0-9a-fA-F]{6}$/.test(value) ? value.toLowerCase() : '#2563eb';
}
