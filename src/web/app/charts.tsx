import { formatMoney } from './api.ts';

/** The offer funnel as horizontal bars, each labelled with its count and its share of the first. */
export function FunnelChart({ steps }: { steps: { label: string; value: number }[] }) {
  const top = Math.max(1, steps[0]?.value ?? 0);
  const row = 34;
  const labelW = 130;
  const width = 560;
  const barW = width - labelW - 90;
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${width} ${steps.length * row + 6}`}
        role="img"
        aria-labelledby="funnel-desc"
        preserveAspectRatio="xMinYMin meet"
      >
        <desc id="funnel-desc">{steps.map((s) => `${s.label}: ${s.value}`).join(', ')}</desc>
        {steps.map((s, i) => {
          const w = Math.max(2, (s.value / top) * barW);
          const y = i * row + 4;
          return (
            <g key={s.label}>
              <text x={0} y={y + 19} className="chart-label">
                {s.label}
              </text>
              <rect x={labelW} y={y} width={barW} height={26} rx={5} className="chart-track" />
              <rect
                x={labelW}
                y={y}
                width={w}
                height={26}
                rx={5}
                className={`chart-bar chart-bar-${i}`}
              />
              <text x={labelW + barW + 8} y={y + 19} className="chart-value">
                {s.value}
                {i > 0 && top > 0 ? ` · ${Math.round((s.value / top) * 100)}%` : ''}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="sr-only">Funnel: hashtag posts to refunds</figcaption>
    </figure>
  );
}

/** Revenue per day as bars: paid (refunds drawn over it in red). */
export function RevenueChart({
  days,
  currency,
}: {
  days: { day: string; paid: number; refunded: number }[];
  currency: string;
}) {
  if (days.length === 0) return <p className="muted">No sales yet.</p>;
  const width = 560;
  const height = 180;
  const pad = { left: 70, bottom: 28, top: 10 };
  const max = Math.max(1, ...days.map((d) => d.paid));
  const slot = (width - pad.left) / Math.max(days.length, 7);
  const bar = Math.min(48, slot * 0.7);
  const h = (v: number) => ((height - pad.bottom - pad.top) * v) / max;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="revenue-desc">
        <desc id="revenue-desc">
          {days
            .map(
              (d) =>
                `${d.day}: ${formatMoney(d.paid, currency)} paid, ${formatMoney(d.refunded, currency)} refunded`,
            )
            .join('; ')}
        </desc>
        <line
          x1={pad.left}
          x2={width}
          y1={height - pad.bottom}
          y2={height - pad.bottom}
          className="chart-axis"
        />
        <text x={pad.left - 8} y={pad.top + 10} textAnchor="end" className="chart-value">
          {formatMoney(max, currency)}
        </text>
        <text x={pad.left - 8} y={height - pad.bottom} textAnchor="end" className="chart-value">
          0
        </text>
        {days.map((d, i) => {
          const x = pad.left + i * slot + (slot - bar) / 2;
          return (
            <g key={d.day}>
              <rect
                x={x}
                y={height - pad.bottom - h(d.paid)}
                width={bar}
                height={h(d.paid)}
                rx={3}
                className="chart-bar chart-bar-0"
              />
              {d.refunded > 0 ? (
                <rect
                  x={x}
                  y={height - pad.bottom - h(d.refunded)}
                  width={bar}
                  height={h(d.refunded)}
                  rx={3}
                  className="chart-bar chart-bar-refund"
                />
              ) : null}
              <text x={x + bar / 2} y={height - 8} textAnchor="middle" className="chart-label">
                {d.day.slice(5)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        <span className="key key-paid" /> paid <span className="key key-refund" /> refunded
      </figcaption>
    </figure>
  );
}
