// Password change (PUT /api/auth/password); on first start the app shows only this until the initial
// password is replaced.
import { useState } from "react";
import { put, type Session } from "../api";
import { ErrorBanner, Field, fieldError, otherError, useAction } from "../ui";

export function ChangePassword({ firstStart, onDone }: { session: Session; firstStart?: boolean; onDone: () => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [done, setDone] = useState("");
  const { busy, error, setError, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setDone("");
    if (next !== again) {
      setError(null);
      setMismatch(true);
      return;
    }
    setMismatch(false);
    const r = await run(() => put<{ sessions_ended: number }>("/api/auth/password", { current_password: current, new_password: next }));
    if (!r) return;
    setCurrent("");
    setNext("");
    setAgain("");
    setDone(`Password changed. ${r.sessions_ended} other session(s) were signed out.`);
    onDone();
  };
  const [mismatch, setMismatch] = useState(false);
  return (
    <form className="card narrow" onSubmit={submit} aria-labelledby="pw-title">
      <h1 id="pw-title" tabIndex={-1}>
        {firstStart ? "Choose your own password" : "Change password"}
      </h1>
      {firstStart && <p>This cell still uses the password it generated on first start. Replace it before you go on.</p>}
      <Field label="Current password" name="current_password" type="password" value={current} onChange={setCurrent} autoComplete="current-password" required error={fieldError(error, "current_password")} />
      <Field label="New password" name="new_password" type="password" value={next} onChange={setNext} autoComplete="new-password" required help="10 to 256 characters." error={fieldError(error, "new_password")} />
      <Field label="New password again" name="new_password_again" type="password" value={again} onChange={setAgain} autoComplete="new-password" required error={mismatch ? "The two new passwords differ." : undefined} />
      <ErrorBanner error={otherError(error, ["current_password", "new_password"])} />
      {done && <p role="status">{done}</p>}
      <button type="submit" disabled={busy}>
        {busy ? "Saving…" : "Change password"}
      </button>
    </form>
  );
}
