// The shell: who is signed in (session + CSRF token), the first-start password change, navigation and the
// hash router over one table of pages, so a new page is one entry in PAGES (with the roles that may use it).
import { useEffect, useState, type ComponentType } from "react";
import { get, onUnauthorized, post, setCsrf, type Session } from "./api";
import { Login } from "./pages/Login";
import { ChangePassword } from "./pages/ChangePassword";
import { Dashboard } from "./pages/Dashboard";
import { Peers } from "./pages/Peers";
import { Dns } from "./pages/Dns";
import { Dhcp } from "./pages/Dhcp";
import { Ntp } from "./pages/Ntp";
import { NetworkTest } from "./pages/NetworkTest";
import { Settings } from "./pages/Settings";
import { Backups } from "./pages/Backups";
import { Tokens } from "./pages/Tokens";
import { Audit } from "./pages/Audit";
import { Account, Users } from "./pages/Users";
import { Ca } from "./pages/Ca";

export interface PageProps {
  session: Session;
  onSessionEnded: (message: string) => void;
}

type Role = "admin" | "user";
// roles: who the navigation offers the page to (admin when absent). It mirrors the API's route levels: a
// user-role session reaches only its own account; a page reached anyway shows the API's 403.
export const PAGES: { path: string; title: string; component: ComponentType<PageProps>; roles?: Role[] }[] = [
  { path: "dashboard", title: "Dashboard", component: Dashboard },
  { path: "peers", title: "Peers", component: Peers },
  { path: "dns", title: "DNS", component: Dns },
  { path: "dhcp", title: "DHCP", component: Dhcp },
  { path: "ntp", title: "NTP", component: Ntp },
  { path: "network", title: "Network test", component: NetworkTest },
  { path: "settings", title: "Settings", component: Settings },
  { path: "backups", title: "Backups", component: Backups },
  { path: "users", title: "Users", component: Users },
  { path: "ca", title: "Certificate authority", component: Ca },
  { path: "tokens", title: "API tokens", component: Tokens },
  { path: "audit", title: "Audit log", component: Audit },
  { path: "account", title: "My account", component: Account, roles: ["admin", "user"] },
];

const roleOf = (s: Session | null | undefined): Role => (s?.role === "user" ? "user" : "admin");
export const pagesFor = (role: Role) => PAGES.filter((p) => (p.roles ?? ["admin"]).includes(role));

function hashPath() {
  const h = window.location.hash.replace(/^#\/?/, "");
  return PAGES.some((p) => p.path === h) ? h : "";
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string>("");
  const [path, setPath] = useState(hashPath());
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const onHash = () => {
      setPath(hashPath());
      setMenuOpen(false);
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    get<Session>("/api/auth/session")
      .then((s) => {
        if (s.csrf_token) setCsrf(s.csrf_token);
        setSession(s);
      })
      .catch(() => setSession(null));
    return onUnauthorized(() => {
      setSession(null);
      setNotice("Your session ended. Please sign in again.");
    });
  }, []);

  if (session === undefined)
    return (
      <main className="center" aria-busy="true">
        <p>Loading…</p>
      </main>
    );
  if (session === null)
    return (
      <Login
        notice={notice}
        onLogin={(s) => {
          setNotice("");
          setSession(s);
        }}
      />
    );
  if (session.must_change_password)
    return (
      <main className="center">
        <ChangePassword session={session} firstStart onDone={() => setSession({ ...session, must_change_password: false })} />
      </main>
    );

  const mine = pagesFor(roleOf(session));
  const page = PAGES.find((p) => p.path === path) ?? mine[0];
  const offered = mine.includes(page);
  const Current = page.component;
  const signOut = async () => {
    try {
      await post("/api/auth/logout");
    } finally {
      setCsrf("");
      setSession(null);
    }
  };
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">pic</span>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <span className="who">
          {session.name}{" "}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <nav id="nav" aria-label="Main" className={menuOpen ? "open" : ""}>
        <ul>
          {mine.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={p.path === page.path ? "page" : undefined}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        {!offered && (
          <p className="warning" role="note">
            This page is for admins; your account may use: {mine.map((p) => p.title).join(", ")}.
          </p>
        )}
        <Current
          key={page.path}
          session={session}
          onSessionEnded={(m) => {
            setCsrf("");
            setNotice(m);
            setSession(null);
          }}
        />
      </main>
    </div>
  );
}
