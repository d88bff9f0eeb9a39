// Settings generated from the metadata table (GET /api/config/settings): one input per key by type with its
// limits, help and restart flag, grouped by module; changes are saved all or nothing, then pending ones applied.
import { useMemo, useState } from "react";
import { get, post, put, type Setting } from "../api";
import { lookup, nest } from "../format";
import { ErrorBanner, Page, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface Pending {
  restart_required: boolean;
  pending: { key: string; value: unknown; applied: unknown; services: string[] }[];
}

export function Settings(_: PageProps) {
  const meta = usePoll(() => get<{ settings: Setting[] }>("/api/config/settings"), 0);
  const config = usePoll(() => get<Record<string, unknown>>("/api/config"), 0);
  const pending = usePoll(() => get<Pending>("/api/config/pending"), 10000);
  const [edits, setEdits] = useState<Record<string, string | boolean>>({});
  const save = useAction();
  const apply = useAction();
  const [message, setMessage] = useState("");

  const groups = useMemo(() => {
    const g = new Map<string, Setting[]>();
    for (const s of meta.data?.settings ?? []) {
      const k = s.module ?? "cell";
      g.set(k, [...(g.get(k) ?? []), s]);
    }
    return [...g.entries()];
  }, [meta.data]);

  const valueOf = (s: Setting): string | boolean => {
    if (s.key in edits) return edits[s.key];
    const v = lookup(config.data, s.key);
    return s.type === "boolean" ? Boolean(v) : v === undefined || v === null ? "" : String(v);
  };
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setMessage("");
    const flat: Record<string, unknown> = {};
    for (const s of meta.data?.settings ?? []) {
      if (!(s.key in edits)) continue;
      const v = edits[s.key];
      flat[s.key] = s.type === "integer" ? Number(v) : v;
    }
    const r = await save.run(() => put<{ applied: string[]; pending: string[] }>("/api/config", nest(flat)));
    if (!r) return;
    setEdits({});
    setMessage(`Saved. Applied now: ${r.applied.join(", ") || "nothing"}. Waiting for Apply: ${r.pending.join(", ") || "nothing"}.`);
    config.reload();
    pending.reload();
  };
  const doApply = async () => {
    const r = await apply.run(() => post<{ applied: string[]; restarted: string[] }>("/api/config/apply"));
    if (r) setMessage(`Applied ${r.applied.join(", ") || "nothing"}; restarted ${r.restarted.join(", ") || "nothing"}.`);
    pending.reload();
    config.reload();
  };
  const err = save.error;
  return (
    <Page title="Settings">
      <ErrorBanner error={meta.error ?? config.error ?? apply.error} />
      {pending.data && pending.data.pending.length > 0 && (
        <div className="card warning-card">
          <h2>Pending changes</h2>
          <ul>
            {pending.data.pending.map((p) => (
              <li key={p.key}>
                <code>{p.key}</code>: {String(p.applied)} → {String(p.value)} (restarts {p.services.join(", ") || "the cell"})
              </li>
            ))}
          </ul>
          <button type="button" onClick={doApply} disabled={apply.busy}>
            {apply.busy ? "Applying…" : "Apply now"}
          </button>
        </div>
      )}
      <p role="status">{message}</p>
      <form onSubmit={submit}>
        {groups.map(([module, settings]) => (
          <fieldset key={module} className="card">
            <legend>{module}</legend>
            {settings.map((s) => {
              const id = `set-${s.key}`;
              const v = valueOf(s);
              const fe = err && err.field === s.key ? err.message : undefined;
              return (
                <div className="field" key={s.key}>
                  <label htmlFor={id}>
                    {s.key}
                    {s.needs_restart && <span className="badge disabled"> needs apply</span>}
                  </label>
                  {s.type === "boolean" ? (
                    <input id={id} name={s.key} type="checkbox" checked={v === true} aria-describedby={`${id}-help`} onChange={(e) => setEdits({ ...edits, [s.key]: e.target.checked })} />
                  ) : (
                    <input
                      id={id}
                      name={s.key}
                      type={s.type === "integer" ? "number" : "text"}
                      min={s.min}
                      max={s.max}
                      value={String(v)}
                      aria-invalid={fe ? true : undefined}
                      aria-describedby={`${id}-help${fe ? ` ${id}-err` : ""}`}
                      onChange={(e) => setEdits({ ...edits, [s.key]: e.target.value })}
                    />
                  )}
                  <small className="help" id={`${id}-help`}>
                    {s.description}
                    {s.min !== undefined && ` (${s.min}–${s.max})`}
                    {`. Default: ${String(s.default) || "empty"}.`}
                  </small>
                  {fe && (
                    <span className="field-error" id={`${id}-err`} role="alert">
                      {fe}
                    </span>
                  )}
                </div>
              );
            })}
          </fieldset>
        ))}
        <ErrorBanner error={err && !(meta.data?.settings ?? []).some((s) => s.key === err.field) ? err : null} />
        <button type="submit" disabled={save.busy || Object.keys(edits).length === 0}>
          Save changes ({Object.keys(edits).length})
        </button>
      </form>
    </Page>
  );
}
