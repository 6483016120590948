/** The small time-series chart the Overview panels share (Recharts, only what is used). */

import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { LagPoint } from "@/lib/snapshot";
import { formatClock } from "@/lib/format";
import { seriesColour } from "@/lib/palette";


export function TimeChart({
  points,
  keys,
  height = 140,
  format = (v: number) => String(v),
  label,
}: {
  points: LagPoint[];
  keys: { key: string; name: string }[];
  height?: number;
  format?: (v: number) => string;
  label: string;
}) {
  return (
    <div style={{ height }} aria-label={label} role="img">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={points} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="rgba(148,163,184,0.08)" vertical={false} />
          <XAxis
            dataKey="t"
            type="number"
            domain={["dataMin", "dataMax"]}
            tickFormatter={(t: number) => formatClock(t)}
            stroke="#64748b"
            fontSize={10}
            tickLine={false}
            minTickGap={40}
          />
          <YAxis stroke="#64748b" fontSize={10} width={44} tickLine={false} tickFormatter={format} />
          <Tooltip
            contentStyle={{ background: "rgba(15,23,42,0.92)", border: "1px solid rgba(148,163,184,0.2)", borderRadius: 8, fontSize: 12 }}
            labelFormatter={(t) => formatClock(Number(t))}
            formatter={(v) => format(Number(v))}
          />
          {keys.map(({ key, name }, index) => (
            <Line
              key={key}
              dataKey={key}
              name={name}
              stroke={seriesColour(index)}
              dot={false}
              strokeWidth={1.6}
              isAnimationActive={false}
              connectNulls
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
