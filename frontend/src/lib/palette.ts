/** Colours of chart series, in order (charts and their legends share them). */
export const SERIES_COLOURS = ["#38bdf8", "#a78bfa", "#34d399", "#f472b6", "#fbbf24", "#f87171", "#2dd4bf", "#c084fc"];

export function seriesColour(index: number): string {
  return SERIES_COLOURS[index % SERIES_COLOURS.length];
}
