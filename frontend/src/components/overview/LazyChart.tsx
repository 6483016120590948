/** `TimeChart`, loaded after the first render: Recharts is most of the bundle, and the
 * Overview's figures should not wait for it. */

import { lazy, Suspense, type ComponentProps } from "react";

const Chart = lazy(() => import("@/components/overview/charts").then((m) => ({ default: m.TimeChart })));

export function TimeChart(props: ComponentProps<typeof Chart>) {
  return (
    <Suspense fallback={<div style={{ height: props.height ?? 140 }} aria-busy="true" />}>
      <Chart {...props} />
    </Suspense>
  );
}
