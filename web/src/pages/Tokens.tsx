// API tokens: list, create (the token is shown once, with a copy button), revoke after a question.
import { useState } from "react";
import { del, get, post } from "../api";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Page, Time, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface Token {
  id: number;
  name: string;
  prefix: string;
  scope: string;
  created_at: number;
  expires_at: number;
  last_used: number;
}

export function Tokens(_: PageProps) {
  const list = usePoll(() => get<{ tokens: Token[] }>("/api/auth/tokens"), 30000);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [days, setDays] = useState("90");
  const [fresh, setFresh] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState("");
  const add = useAction();
  const remove = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const r = await add.run(() => post<{ name: string; token: string }>("/api/auth/tokens", { name, scope, expires_in_days: Number(days) }));
    if (!r) return;
    setFresh(r);
    setName("");
    list.reload();
  };
  return (
    <Page title="API tokens">
      <form className="card" onSubmit={submit} aria-labelledby="new-token">
        <h2 id="new-token">Create a token</h2>
        <Field label="Name" name="name" value={name} onChange={setName} required error={fieldError(add.error, "name")} />
        <div className="field">
          <label htmlFor="token-scope">Scope</label>
          <select id="token-scope" name="scope" value={scope} onChange={(e) => setScope(e.target.value)}>
            <option value="read">read (look only)</option>
            <option value="write">write (change)</option>
            <option value="admin">admin (everything)</option>
          </select>
          {fieldError(add.error, "scope") && <span className="field-error" role="alert">{fieldError(add.error, "scope")}</span>}
        </div>
        <Field label="Expires in days (0: never)" name="expires_in_days" type="number" min={0} max={3650} value={days} onChange={setDays} error={fieldError(add.error, "expires_in_days")} />
        <ErrorBanner error={otherError(add.error, ["name", "scope", "expires_in_days"])} />
        <button type="submit" disabled={add.busy}>
          Create token
        </button>
      </form>
      {fresh && (
        <div className="card" role="status">
          <h2>Token {fresh.name}</h2>
          <p>Copy it now: it is shown only this once.</p>
          <code className="secret" data-testid="new-token">{fresh.token}</code>{" "}
          <button
            type="button"
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(fresh.token);
                setCopied("Copied.");
              } catch {
                setCopied("Copy failed: select the text and copy it by hand.");
              }
            }}
          >
            Copy
          </button>{" "}
          <span aria-live="polite">{copied}</span>
        </div>
      )}
      <ErrorBanner error={list.error ?? remove.error} />
      <div className="table-wrap">
        <table>
          <caption>Tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scope</th>
              <th scope="col">Starts with</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.tokens.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.name}</th>
                <td>{t.scope}</td>
                <td>
                  <code>{t.prefix}</code>
                </td>
                <td>
                  <Time ts={t.last_used} />
                </td>
                <td>{t.expires_at ? <Time ts={t.expires_at} /> : "never"}</td>
                <td>
                  <ConfirmButton
                    label="Revoke"
                    question={`Revoke ${t.name}? Whatever uses it stops working.`}
                    confirmLabel={`Revoke ${t.name}`}
                    onConfirm={async () => {
                      await remove.run(() => del(`/api/auth/tokens/${t.id}`));
                      list.reload();
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
