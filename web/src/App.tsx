// The shell: who is signed in (session + CSRF token), the first-start password change, navigation and the
// hash router over one table of pages, so a new page (users, app passwords, CA) is one entry in PAGES.
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

export interface PageProps {
  session: Session;
  onSessionEnded: (message: string) => void;
}

export const PAGES: { path: string; title: string; component: ComponentType<PageProps> }[] = [
  { path: "dashboard", title: "Dashboard", component: Dashboard },
  { path: "peers", title: "Peers", component: Peers },
  { path: "dns", title: "DNS", component: Dns },
  { path: "dhcp", title: "DHCP", component: Dhcp },
  { path: "ntp", title: "NTP", component: Ntp },
  { path: "network", title: "Network test", component: NetworkTest },
  { path: "settings", title: "Settings", component: Settings },
  { path: "backups", title: "Backups", component: Backups },
  { path: "tokens", title: "API tokens", component: Tokens },
  { path: "audit", title: "Audit log", component: Audit },
  { path: "password", title: "Password", component: ChangePasswordPage },
];

function ChangePasswordPage({ session }: PageProps) {
  return <ChangePassword session={session} onDone={() => undefined} />;
}

function currentPath() {
  const h = window.location.hash.replace(/^#\/?/, "");
  return PAGES.some((p) => p.path === h) ? h : "dashboard";
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string>("");
  const [path, setPath] = useState(currentPath());
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const onHash = () => {
      setPath(currentPath());
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

  const page = PAGES.find((p) => p.path === path)!;
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
          {PAGES.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={p.path === path ? "page" : undefined}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
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
