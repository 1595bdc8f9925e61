import { formatMoney } from './api.ts';

/**
 * The charts are HTML and CSS, not SVG: their text is the page's own text, so it stays readable at
 * any width (an SVG scaled down to a 390 px phone shrank its labels to 7 px) and follows the
 * reader's font size. Bar lengths are set through the CSSOM (React's style), which the page's
 * content security policy allows.
 */

/** The offer funnel as horizontal bars, each labelled with its count and its share of the first. */
export function FunnelChart({ steps }: { steps: { label: string; value: number }[] }) {
  const top = Math.max(1, steps[0]?.value ?? 0);
  return (
    <figure className="chart funnel" aria-labelledby="funnel-desc">
      <figcaption id="funnel-desc" className="sr-only">
        {steps.map((s) => `${s.label}: ${s.value}`).join(', ')}
      </figcaption>
      <ol className="funnel-rows" aria-hidden="true">
        {steps.map((s, i) => {
          const share = Math.min(100, (s.value / top) * 100);
          return (
            <li key={s.label} className="funnel-row">
              <span className="funnel-label">{s.label}</span>
              <span className="funnel-track">
                <span
                  className={`funnel-bar chart-bar-${i}`}
                  style={{ width: `${Math.max(s.value > 0 ? 2 : 0, share)}%` }}
                />
              </span>
              <span className="funnel-value">
                {s.value}
                {i > 0 ? <span className="muted"> · {Math.round(share)}%</span> : null}
              </span>
            </li>
          );
        })}
      </ol>
    </figure>
  );
}

/** Revenue per day as columns: paid, with what was refunded of it drawn over it in red. */
export function RevenueChart({
  days,
  currency,
}: {
  days: { day: string; paid: number; refunded: number }[];
  currency: string;
}) {
  if (days.length === 0) return <p className="muted">No sales yet.</p>;
  const max = Math.max(1, ...days.map((d) => d.paid));
  const pct = (v: number) => `${Math.min(100, (v / max) * 100)}%`;
  return (
    <figure className="chart revenue" aria-labelledby="revenue-desc">
      <figcaption id="revenue-desc" className="sr-only">
        {days
          .map(
            (d) =>
              `${d.day}: ${formatMoney(d.paid, currency)} paid, ${formatMoney(d.refunded, currency)} refunded`,
          )
          .join('; ')}
      </figcaption>
      <div className="revenue-plot" aria-hidden="true">
        <div className="revenue-scale">
          <span>{formatMoney(max, currency)}</span>
          <span>0</span>
        </div>
        <ol className="revenue-days">
          {days.map((d) => (
            <li key={d.day} className="revenue-day">
              <span className="revenue-column">
                <span className="revenue-bar" style={{ height: pct(d.paid) }} />
                {d.refunded > 0 ? (
                  <span
                    className="revenue-bar revenue-refund"
                    style={{ height: pct(d.refunded) }}
                  />
                ) : null}
              </span>
              <span className="revenue-label">{d.day.slice(5)}</span>
            </li>
          ))}
        </ol>
      </div>
      <p className="legend" aria-hidden="true">
        <span className="key key-paid" /> paid <span className="key key-refund" /> refunded
      </p>
    </figure>
  );
}
