// The audit log: newest first, polled every 15 s, "older" pages through ?before=; filters (who, method,
// failures only, text) narrow what was loaded, as the API filters by id only.
import { useState } from "react";
import { get } from "../api";
import { ErrorBanner, Field, Page, Time, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface Entry {
  id: number;
  ts: number;
  actor: string;
  remote: string;
  method: string;
  path: string;
  status: number;
  detail: string;
}

export function Audit(_: PageProps) {
  const head = usePoll(() => get<{ entries: Entry[] }>("/api/audit?limit=200"), 15000);
  const [older, setOlder] = useState<Entry[]>([]);
  const [actor, setActor] = useState("");
  const [method, setMethod] = useState("");
  const [failures, setFailures] = useState(false);
  const [text, setText] = useState("");
  const more = useAction();
  const all = [...(head.data?.entries ?? []), ...older.filter((o) => !(head.data?.entries ?? []).some((e) => e.id === o.id))];
  const shown = all.filter(
    (e) =>
      (!actor || e.actor.includes(actor)) &&
      (!method || e.method === method) &&
      (!failures || e.status >= 400) &&
      (!text || `${e.path} ${e.detail} ${e.remote}`.toLowerCase().includes(text.toLowerCase())),
  );
  const loadOlder = async () => {
    const last = all[all.length - 1];
    if (!last) return;
    const r = await more.run(() => get<{ entries: Entry[] }>(`/api/audit?limit=200&before=${last.id}`));
    if (r) setOlder([...older, ...r.entries]);
  };
  return (
    <Page title="Audit log">
      <ErrorBanner error={head.error ?? more.error} />
      <form className="card filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <Field label="Who" name="actor" value={actor} onChange={setActor} />
        <div className="field">
          <label htmlFor="audit-method">Method</label>
          <select id="audit-method" value={method} onChange={(e) => setMethod(e.target.value)}>
            <option value="">any</option>
            <option>POST</option>
            <option>PUT</option>
            <option>DELETE</option>
          </select>
        </div>
        <Field label="Text in path or detail" name="text" value={text} onChange={setText} />
        <label className="check">
          <input type="checkbox" checked={failures} onChange={(e) => setFailures(e.target.checked)} /> Failures only
        </label>
      </form>
      <p role="status">
        {shown.length} of {all.length} loaded entries
      </p>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">From</th>
              <th scope="col">Request</th>
              <th scope="col">Status</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id}>
                <td>
                  <Time ts={e.ts} />
                </td>
                <td>{e.actor}</td>
                <td>{e.remote}</td>
                <td>
                  {e.method} {e.path}
                </td>
                <td className={e.status >= 400 ? "error-text" : undefined}>{e.status}</td>
                <td>{e.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <button type="button" onClick={loadOlder} disabled={more.busy || all.length === 0}>
        Load older entries
      </button>
    </Page>
  );
}
