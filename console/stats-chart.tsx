/// <reference lib="dom" />
/**
 * The last 24 hours of one subscription as a chart: succeeded and failed attempts per hour
 * (stacked bars, left axis, attempts) and the median response time (line, right axis, ms), with
 * a time axis in local hours, a legend and tooltips. Chart.js, only the parts used registered;
 * the same numbers are in a table for screen readers and for anyone who prefers one.
 */
import { useEffect, useRef } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import type { Stats } from './api.ts';
import { percent } from './format.ts';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const hourLabel = (iso: string | undefined) => (iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '');

function HourlyChart({ hourly }: { hourly: Stats['hourly'] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const chart = new Chart(canvas.current!, {
      type: 'bar',
      data: {
        labels: hourly.map((p) => hourLabel(p.hour)),
        datasets: [
          { type: 'bar', label: 'Succeeded (attempts)', data: hourly.map((p) => p.succeeded ?? 0), backgroundColor: '#2b8a3e', stack: 'attempts', yAxisID: 'attempts' },
          { type: 'bar', label: 'Failed (attempts)', data: hourly.map((p) => p.failed ?? 0), backgroundColor: '#c92a2a', stack: 'attempts', yAxisID: 'attempts' },
          { type: 'line', label: 'Median response (ms)', data: hourly.map((p) => p.p50 ?? null), borderColor: '#1864ab', backgroundColor: '#1864ab', pointRadius: 3, spanGaps: true, yAxisID: 'latency' },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${item.formattedValue}${item.dataset.yAxisID === 'latency' ? ' ms' : ''}` } },
        },
        scales: {
          x: { stacked: true, title: { display: true, text: 'Hour (local time)' }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          attempts: { type: 'linear', position: 'left', stacked: true, beginAtZero: true, title: { display: true, text: 'Attempts per hour' }, ticks: { precision: 0 } },
          latency: { type: 'linear', position: 'right', beginAtZero: true, title: { display: true, text: 'Median response (ms)' }, grid: { drawOnChartArea: false } },
        },
      },
    });
    return () => chart.destroy();
  }, [hourly]);
  const total = hourly.reduce((n, p) => n + (p.attempts ?? 0), 0);
  return (
    <div class="chart-box">
      <canvas ref={canvas} role="img" aria-label={`Attempts per hour over the last 24 hours: ${total} in all; succeeded and failed bars, median response time line`} data-testid="stats-chart" />
    </div>
  );
}

export function StatsPanel({ stats }: { stats: Stats | undefined }) {
  if (!stats) return null;
  const active = stats.hourly.filter((p) => (p.attempts ?? 0) > 0);
  const windows = Object.entries(stats.windows) as [string, NonNullable<Stats['windows']['1h']>][];
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Last 24 hours</h2>
      {active.length === 0 ? (
        <p class="empty" data-testid="stats-empty">No attempts in the last 24 hours: the chart appears once deliveries are made.</p>
      ) : (
        <>
          {active.length === 1 && <p class="muted" data-testid="stats-one-point">All attempts so far fall in one hour ({hourLabel(active[0]!.hour)}): {active[0]!.succeeded ?? 0} succeeded, {active[0]!.failed ?? 0} failed{active[0]!.p50 != null ? `, median ${active[0]!.p50} ms` : ''}.</p>}
          <HourlyChart hourly={stats.hourly} />
        </>
      )}
      <div class="table-scroll" tabIndex={0} role="region" aria-label="Delivery figures by window (scrolls sideways)">
        <table class="stats-table" data-testid="stats-table">
          <caption class="sr-only">Delivery figures by window</caption>
          <thead><tr><th scope="col">Window</th><th scope="col">Events</th><th scope="col">Attempts</th><th scope="col">Success</th><th scope="col">Retries</th><th scope="col">Dead-lettered</th><th scope="col">p50 ms</th><th scope="col">p95 ms</th></tr></thead>
          <tbody>
            {windows.map(([name, w]) => (
              <tr key={name} data-testid={`stats-${name}`}>
                <th scope="row">{name}</th><td>{w.events ?? 0}</td><td>{w.attempts ?? 0}</td><td>{percent(w.successRate)}</td><td>{w.retries ?? 0}</td><td>{w.deadLettered ?? 0}</td><td>{w.responseTimeMs?.p50 ?? '—'}</td><td>{w.responseTimeMs?.p95 ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
