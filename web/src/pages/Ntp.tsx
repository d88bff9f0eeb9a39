// NTP server status from chrony, polled every 10 s.
import { get } from "../api";
import { ErrorBanner, Page, usePoll } from "../ui";
import type { PageProps } from "../App";

export function Ntp(_: PageProps) {
  const s = usePoll(() => get<Record<string, unknown>>("/api/ntp/status"), 10000);
  return (
    <Page title="NTP">
      <ErrorBanner error={s.error} />
      {s.data && (
        <dl className="facts card">
          {Object.entries(s.data).map(([k, v]) => (
            <div key={k} className="fact">
              <dt>{k.replace(/_/g, " ")}</dt>
              <dd>{Array.isArray(v) ? v.join(", ") : String(v)}</dd>
            </div>
          ))}
        </dl>
      )}
    </Page>
  );
}
