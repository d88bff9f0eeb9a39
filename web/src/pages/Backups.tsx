// Backups: create (with elapsed time while it runs), list, download, delete and restore after a question; a
// restore ends every session, so its message is shown on the sign-in page.
import { useEffect, useState } from "react";
import { del, get, post } from "../api";
import { bytes } from "../format";
import { ConfirmButton, ErrorBanner, Page, Time, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface Backup {
  id: string;
  created: number;
  size: number;
  cell_name: string;
  picd_version: string;
  readable: boolean;
  verified: boolean;
}

function Elapsed({ running, what }: { running: boolean; what: string }) {
  const [sec, setSec] = useState(0);
  useEffect(() => {
    if (!running) return;
    setSec(0);
    const t = setInterval(() => setSec((s) => s + 1), 1000);
    return () => clearInterval(t);
  }, [running]);
  if (!running) return null;
  return (
    <p role="status" aria-live="polite">
      <progress aria-label={what} /> {what}… {sec} s
    </p>
  );
}

export function Backups({ onSessionEnded }: PageProps) {
  const list = usePoll(() => get<{ backups: Backup[] }>("/api/config/backups"), 30000);
  const act = useAction();
  const [running, setRunning] = useState("");
  const [message, setMessage] = useState("");
  const create = async () => {
    setRunning("Creating a backup");
    setMessage("");
    const r = await act.run(() => post<{ id: string }>("/api/config/backup"));
    setRunning("");
    if (r) setMessage(`Backup ${r.id} created.`);
    list.reload();
  };
  const restore = async (id: string) => {
    setRunning(`Restoring ${id}`);
    const r = await act.run(() => post<{ message: string; sessions_ended: boolean }>(`/api/config/restore/${encodeURIComponent(id)}`));
    setRunning("");
    if (r && r.sessions_ended) onSessionEnded(`Restored ${id}. ${r.message}`);
    else if (r) setMessage(r.message);
  };
  return (
    <Page title="Backups">
      <p>
        A backup holds the whole cell: settings, peers and their keys, DNS records, accounts. Backups are kept on the cell;
        download one to keep a copy elsewhere, and keep it as safe as the cell itself (it holds the cell's keys).
      </p>
      <button type="button" onClick={create} disabled={act.busy}>
        Create a backup
      </button>
      <Elapsed running={running !== ""} what={running} />
      <p role="status">{message}</p>
      <ErrorBanner error={list.error ?? act.error} />
      <ul className="plain">
        {list.data?.backups.map((b) => (
          <li key={b.id} className="card" data-backup={b.id}>
            <h3>{b.id}</h3>
            <p>
              <Time ts={b.created} /> · {bytes(b.size)} · cell {b.cell_name} · picd {b.picd_version} · {b.verified ? "signed by this cell" : "not signed by this cell"}
            </p>
            <div className="actions">
              <a className="button" href={`/api/config/backups/${encodeURIComponent(b.id)}/download`} download={`${b.id}.tar.gz`}>
                Download
              </a>
              <ConfirmButton
                label="Restore"
                question={`Restore ${b.id}? Everything changed since then is replaced, and everyone is signed out.`}
                confirmLabel={`Restore ${b.id}`}
                disabled={act.busy || !b.readable}
                onConfirm={() => restore(b.id)}
              />
              <ConfirmButton
                label="Delete"
                question={`Delete backup ${b.id}?`}
                confirmLabel={`Delete ${b.id}`}
                disabled={act.busy}
                onConfirm={async () => {
                  await act.run(() => del(`/api/config/backups/${encodeURIComponent(b.id)}`));
                  list.reload();
                }}
              />
            </div>
          </li>
        ))}
      </ul>
    </Page>
  );
}
