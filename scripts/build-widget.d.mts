/** Types of scripts/build-widget.mjs (vitest.config.ts builds the widget before the Workers pool starts). */
export interface WidgetBuildInfo {
  version: string;
  rawBytes: number;
  gzipBytes: number;
  budgetBytes: number;
}
export function buildWidget(options?: { write?: boolean }): Promise<WidgetBuildInfo>;
