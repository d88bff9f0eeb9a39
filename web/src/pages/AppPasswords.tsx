// A user's app passwords (one per device): the list with label, created and last used, create with a label
// (the secret is shown once, in a dialog with a copy button), revoke after a question.
import { useEffect, useId, useRef, useState } from "react";
import { del, get, post, type AppPassword, type NewAppPassword } from "../api";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Time, usePoll, useAction } from "../ui";

// The secret exists in this dialog only: picd keeps a hash. The copy button uses the clipboard API where the
// browser offers it (not on plain HTTP from another machine), else selects the text for the person to copy.
export function SecretDialog({ secret, onClose }: { secret: NewAppPassword; onClose: () => void }) {
  const titleId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState("");
  useEffect(() => {
    inputRef.current?.focus();
    inputRef.current?.select();
  }, []);
  const selectAll = () => {
    inputRef.current?.focus();
    inputRef.current?.select();
  };
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(secret.password);
      setCopied("Copied to the clipboard.");
    } catch {
      selectAll();
      setCopied("The browser did not let the page copy: the password is selected, copy it with Ctrl+C (or long-press → Copy).");
    }
  };
  // Tab stays inside the dialog; Escape closes it like the Done button.
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === "Escape") onClose();
    if (e.key !== "Tab" || !boxRef.current) return;
    const f = Array.from(boxRef.current.querySelectorAll<HTMLElement>("input, button"));
    const first = f[0], last = f[f.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <div className="backdrop">
      <div className="card dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={boxRef} onKeyDown={onKeyDown}>
        <h2 id={titleId}>App password for {secret.label}</h2>
        <p>
          <strong>Copy it now: you will not see it again.</strong> Enter it on the device as the password, with the user name{" "}
          <code>{secret.user}</code>.
        </p>
        <label htmlFor={`${titleId}-secret`}>Password</label>
        <input
          id={`${titleId}-secret`}
          ref={inputRef}
          className="secret"
          readOnly
          value={secret.password}
          onFocus={(e) => e.target.select()}
          data-testid="app-password-secret"
          spellCheck={false}
        />
        <div className="actions">
          <button type="button" onClick={copy}>
            Copy
          </button>
          <button type="submit" onClick={onClose}>
            Done
          </button>
        </div>
        <p aria-live="polite">{copied}</p>
      </div>
    </div>
  );
}

export function AppPasswords({ user }: { user: string }) {
  const base = `/api/users/${encodeURIComponent(user)}/app-passwords`;
  const list = usePoll(() => get<{ app_passwords: AppPassword[] }>(base), 30000);
  const [label, setLabel] = useState("");
  const [fresh, setFresh] = useState<NewAppPassword | null>(null);
  const add = useAction();
  const remove = useAction();
  const createRef = useRef<HTMLButtonElement>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const r = await add.run(() => post<NewAppPassword>(base, { label }));
    if (!r) return;
    setLabel("");
    setFresh(r);
    list.reload();
  };
  const headingId = useId();
  return (
    <section aria-labelledby={headingId} className="app-passwords">
      <h2 id={headingId}>App passwords of {user}</h2>
      <p className="help">
        One per device (calendar, contacts, files, mail apps). The account password is for this web page only; revoking an app password cuts
        that device alone.
      </p>
      <form onSubmit={submit} aria-label={`New app password for ${user}`}>
        <Field label="Device label" name="label" value={label} onChange={setLabel} required help="e.g. phone, laptop" error={fieldError(add.error, "label")} />
        <ErrorBanner error={otherError(add.error, ["label"])} />
        <button type="submit" ref={createRef} disabled={add.busy}>
          Create app password
        </button>
      </form>
      {fresh && (
        <SecretDialog
          secret={fresh}
          onClose={() => {
            setFresh(null);
            createRef.current?.focus();
          }}
        />
      )}
      <ErrorBanner error={list.error ?? remove.error} />
      <div className="table-wrap">
        <table>
          <caption>App passwords of {user}</caption>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.app_passwords.length === 0 && (
              <tr>
                <td colSpan={4}>None yet.</td>
              </tr>
            )}
            {list.data?.app_passwords.map((a) => (
              <tr key={a.id} data-app-password={a.id}>
                <th scope="row" className="value">
                  {a.label}
                </th>
                <td>
                  <Time ts={a.created_at} />
                </td>
                <td>
                  <Time ts={a.last_used_at} />
                </td>
                <td>
                  <ConfirmButton
                    label="Revoke"
                    question={`Revoke the app password "${a.label}"? That device is refused from its next request.`}
                    confirmLabel="Revoke it"
                    onConfirm={async () => {
                      await remove.run(() => del(`${base}/${a.id}`));
                      list.reload();
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
