// User accounts: the admin's list (create with role and password, change role, set a password, app passwords,
// delete — a 409 naming what the user owns offers deleting everything with them), and "My account", where any
// signed-in person changes their own password (with the current one) and manages their own app passwords.
import { useState } from "react";
import { ApiError, del, get, post, put, type User } from "../api";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Page, Time, usePoll, useAction } from "../ui";
import { AppPasswords } from "./AppPasswords";
import type { PageProps } from "../App";

const userPath = (name: string) => `/api/users/${encodeURIComponent(name)}`;

// Own account: the API wants current_password (and ends the user's other sessions); an admin setting another
// user's password does not give it.
export function PasswordForm({ user, own }: { user: string; own: boolean }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState("");
  const { busy, error, setError, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setDone("");
    setMismatch(next !== again);
    if (next !== again) {
      setError(null);
      return;
    }
    const body = own ? { password: next, current_password: current } : { password: next };
    const r = await run(() => put<User & { sessions_ended: number }>(userPath(user), body));
    if (!r) return;
    setCurrent("");
    setNext("");
    setAgain("");
    setDone(`Password of ${user} changed. ${r.sessions_ended} other session(s) were signed out.`);
  };
  return (
    <form onSubmit={submit} aria-label={own ? "Change your password" : `Set a new password for ${user}`}>
      <h2>{own ? "Change your password" : `New password for ${user}`}</h2>
      {own && (
        <Field label="Current password" name="current_password" type="password" value={current} onChange={setCurrent} autoComplete="current-password" required error={fieldError(error, "current_password")} />
      )}
      <Field label="New password" name="password" type="password" value={next} onChange={setNext} autoComplete="new-password" required help="10 to 256 characters." error={fieldError(error, "password")} />
      <Field label="New password again" name="password_again" type="password" value={again} onChange={setAgain} autoComplete="new-password" required error={mismatch ? "The two new passwords differ." : undefined} />
      <ErrorBanner error={otherError(error, ["current_password", "password"])} />
      {done && <p role="status">{done}</p>}
      <button type="submit" disabled={busy}>
        {own ? "Change password" : "Set password"}
      </button>
    </form>
  );
}

// DELETE answers 409 while the user owns peers or app passwords. Then the page reads the user (peers by name,
// app password count) to show what would go, and offers ?purge=true behind its own confirmation.
export function DeleteUser({ name, onDeleted }: { name: string; onDeleted: (m: string) => void }) {
  const { busy, error, run } = useAction();
  const [owned, setOwned] = useState<{ message: string; user: User } | null>(null);
  const remove = async (purge: boolean) => {
    const r = await run(async () => {
      try {
        return await del<{ peers_deleted: number }>(`${userPath(name)}${purge ? "?purge=true" : ""}`);
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && !purge) {
          const u = await get<User>(userPath(name));
          if ((u.peers?.length ?? 0) > 0 || (u.app_passwords ?? 0) > 0 || (u.data?.length ?? 0) > 0) {
            setOwned({ message: e.message, user: u });
            return undefined;
          }
        }
        throw e;
      }
    });
    if (r) onDeleted(`User ${name} deleted${r.peers_deleted ? ` with ${r.peers_deleted} peer(s)` : ""}.`);
  };
  const peers = owned?.user.peers ?? [];
  const apps = owned?.user.app_passwords ?? 0;
  return (
    <>
      <ConfirmButton label={`Delete ${name}`} question={`Delete the user ${name}?`} confirmLabel={`Yes, delete ${name}`} disabled={busy} onConfirm={() => remove(false)} />
      <ErrorBanner error={error} />
      {owned && (
        <div className="card warning-card" role="alert" data-testid="owned">
          <p className="error">{owned.message}</p>
          <p>{name} still owns:</p>
          <ul>
            {peers.length > 0 && (
              <li>
                {peers.length} peer(s): {peers.join(", ")} — their devices lose VPN access
              </li>
            )}
            {apps > 0 && <li>{apps} app password(s) — those devices are refused</li>}
            {(owned.user.data ?? []).map((d) => (
              <li key={d}>{d} — deleted with the user</li>
            ))}
          </ul>
          <ConfirmButton
            label="Delete with everything they own"
            question={`Delete ${name}, ${peers.length} peer(s) and ${apps} app password(s)? This cannot be undone.`}
            confirmLabel={`Delete ${name} and everything they own`}
            disabled={busy}
            onConfirm={() => remove(true)}
          />
        </div>
      )}
    </>
  );
}

function CreateUser({ onCreated }: { onCreated: (u: User) => void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState("user");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const { busy, error, setError, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setMismatch(password !== again);
    if (password !== again) {
      setError(null);
      return;
    }
    const u = await run(() => post<User>("/api/users", { name, role, password }));
    if (!u) return;
    setName("");
    setPassword("");
    setAgain("");
    onCreated(u);
  };
  const roleErr = fieldError(error, "role");
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-user">
      <h2 id="new-user">Add a user</h2>
      <Field label="Name" name="name" value={name} onChange={setName} required help="Lower-case letters, digits and '-', e.g. anna." error={fieldError(error, "name")} />
      <div className="field">
        <label htmlFor="new-user-role">Role</label>
        <select id="new-user-role" name="role" value={role} onChange={(e) => setRole(e.target.value)}>
          <option value="user">user (own account and app passwords)</option>
          <option value="admin">admin (everything)</option>
        </select>
        {roleErr && <span className="field-error" role="alert">{roleErr}</span>}
      </div>
      <Field label="Password" name="password" type="password" value={password} onChange={setPassword} autoComplete="new-password" required help="10 to 256 characters." error={fieldError(error, "password")} />
      <Field label="Password again" name="password_again" type="password" value={again} onChange={setAgain} autoComplete="new-password" required error={mismatch ? "The two passwords differ." : undefined} />
      <ErrorBanner error={otherError(error, ["name", "role", "password"])} />
      <button type="submit" disabled={busy}>
        Create user
      </button>
    </form>
  );
}

function ChangeRole({ user, onChanged }: { user: User; onChanged: () => void }) {
  const [role, setRole] = useState<string>(user.role);
  const { busy, error, run } = useAction();
  const id = `role-${user.name}`;
  return (
    <form
      className="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await run(() => put<User>(userPath(user.name), { role }))) onChanged();
      }}
    >
      <label htmlFor={id}>Role of {user.name}</label>{" "}
      <select id={id} value={role} onChange={(e) => setRole(e.target.value)}>
        <option value="user">user</option>
        <option value="admin">admin</option>
      </select>{" "}
      <button type="submit" disabled={busy || role === user.role}>
        Change role
      </button>
      <ErrorBanner error={error} />
    </form>
  );
}

function UserCard({ user, me, onChanged, onDeleted }: { user: User; me: string; onChanged: () => void; onDeleted: (m: string) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <li className="card" data-user={user.name}>
      <div className="peer-head">
        <h3>{user.name}</h3>
        <span className="badge">{user.role}</span>
        {user.name === me && <span>(you)</span>}
      </div>
      <dl className="facts">
        <dt>Created</dt>
        <dd>
          <Time ts={user.created_at} />
        </dd>
        <dt>Password changed</dt>
        <dd>
          <Time ts={user.password_changed_at} />
        </dd>
      </dl>
      <div className="actions">
        <button
          type="button"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? `Close ${user.name}` : `Manage ${user.name}`}
        </button>
        <DeleteUser name={user.name} onDeleted={onDeleted} />
      </div>
      {open && <UserDetail user={user} me={me} onChanged={onChanged} />}
    </li>
  );
}

function UserDetail({ user, me, onChanged }: { user: User; me: string; onChanged: () => void }) {
  const detail = usePoll(() => get<User>(userPath(user.name)), 10000);
  return (
    <div className="detail">
      <ErrorBanner error={detail.error} />
      {detail.data && (
        <p>
          Peers: {detail.data.peers?.length ? detail.data.peers.join(", ") : "none"} · app passwords: {detail.data.app_passwords ?? 0}
        </p>
      )}
      <ChangeRole user={user} onChanged={onChanged} />
      <PasswordForm user={user.name} own={user.name === me} />
      <AppPasswords user={user.name} />
    </div>
  );
}

export function Users({ session }: PageProps) {
  const list = usePoll(() => get<{ users: User[] }>("/api/users"), 30000);
  const [notice, setNotice] = useState("");
  return (
    <Page title="Users">
      <p className="help">People with an account on the cell. Role user: their own account and app passwords only. Peers can belong to a user (Peers page).</p>
      <CreateUser
        onCreated={(u) => {
          setNotice(`User ${u.name} created.`);
          list.reload();
        }}
      />
      {notice && <p role="status">{notice}</p>}
      <ErrorBanner error={list.error} />
      <h2>All users ({list.data?.users.length ?? 0})</h2>
      <ul className="plain">
        {list.data?.users.map((u) => (
          <UserCard
            key={`${u.name}-${u.role}`}
            user={u}
            me={session.name}
            onChanged={list.reload}
            onDeleted={(m) => {
              setNotice(m);
              list.reload();
            }}
          />
        ))}
      </ul>
    </Page>
  );
}

export function Account({ session }: PageProps) {
  const me = usePoll(() => get<User>(userPath(session.name)), 30000);
  return (
    <Page title="My account">
      <ErrorBanner error={me.error} />
      {me.data && (
        <dl className="facts card">
          <dt>Name</dt>
          <dd>{me.data.name}</dd>
          <dt>Role</dt>
          <dd>{me.data.role}</dd>
          <dt>Password changed</dt>
          <dd>
            <Time ts={me.data.password_changed_at} />
          </dd>
          <dt>Your peers</dt>
          <dd>{me.data.peers?.length ? me.data.peers.join(", ") : "none"}</dd>
        </dl>
      )}
      <div className="card">
        <PasswordForm user={session.name} own />
      </div>
      <div className="card">
        <AppPasswords user={session.name} />
      </div>
    </Page>
  );
}
