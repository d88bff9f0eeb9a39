// Sign in: username and password to POST /api/auth/login; the API's message (wrong password, rate limit)
// is shown next to the form.
import { useState } from "react";
import { get, post, setCsrf, type Session } from "../api";
import { ErrorBanner, Field, fieldError, otherError, useAction } from "../ui";

interface LoginReply {
  username: string;
  csrf_token: string;
  must_change_password?: boolean;
}

export function Login({ onLogin, notice }: { onLogin: (s: Session) => void; notice?: string }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const r = await run(() => post<LoginReply>("/api/auth/login", { username, password }));
    if (!r) return;
    setCsrf(r.csrf_token);
    // The session answer carries the role, which decides the pages the navigation offers.
    const s = await run(() => get<Session>("/api/auth/session"));
    if (!s) return;
    onLogin({ ...s, csrf_token: r.csrf_token, must_change_password: r.must_change_password });
  };
  return (
    <main className="center">
      <form className="card narrow" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to your cell</h1>
        {notice && <p role="status">{notice}</p>}
        <Field label="Username" name="username" value={username} onChange={setUsername} autoComplete="username" required error={fieldError(error, "username")} />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="current-password"
          required
          error={fieldError(error, "password")}
          help="On first start the password is in the file initial-admin-password of the state directory."
        />
        <ErrorBanner error={otherError(error, ["username", "password"])} />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
