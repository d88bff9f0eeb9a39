// VPN peers: the list with live handshake and traffic (polled every 5 s), create with grant checkboxes from
// the API's grant list and an owner from the users, the QR code and config download with the cell CA's
// fingerprint beside it, enable/disable, edit grants and owner, filter by owner, delete after a question.
import { useEffect, useId, useState } from "react";
import { ApiError, del, get, getWithHeaders, post, put, type LivePeer, type Peer, type User } from "../api";
import { bytes } from "../format";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Page, Time, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";
import { Fingerprint } from "./Ca";

interface PeerList {
  peers: Peer[];
  grants: string[];
}

function GrantBoxes({ grants, value, onChange, legend }: { grants: string[]; value: string[]; onChange: (v: string[]) => void; legend: string }) {
  return (
    <fieldset className="grants">
      <legend>{legend}</legend>
      {grants.map((g) => (
        <label key={g}>
          <input
            type="checkbox"
            name={`grant-${g}`}
            checked={value.includes(g)}
            onChange={(e) => onChange(e.target.checked ? [...value, g] : value.filter((x) => x !== g))}
          />{" "}
          {g}
        </label>
      ))}
    </fieldset>
  );
}

// "" is nobody (the API takes null for it).
function OwnerSelect({ users, value, onChange, label, error, all }: { users: string[]; value: string; onChange: (v: string) => void; label: string; error?: string; all?: boolean }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name="owner" value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined}>
        <option value="">{all ? "everyone's" : "nobody"}</option>
        {users.map((u) => (
          <option key={u} value={u}>
            {u}
          </option>
        ))}
      </select>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

function PeerConfig({ name }: { name: string }) {
  const url = `/api/peers/${encodeURIComponent(name)}/config`;
  // The text first: when the cell cannot make a config (no endpoint known) the API says why, and that is shown.
  // Its headers say where the device fetches the cell CA and the fingerprint to compare on the phone.
  const conf = usePoll(() => getWithHeaders(url), 0);
  const caUrl = conf.data?.headers.get("X-Pic-CA-URL");
  const caFp = conf.data?.headers.get("X-Pic-CA-Fingerprint");
  return (
    <div className="card qr" aria-labelledby={`qr-${name}`}>
      <h3 id={`qr-${name}`}>Configuration for {name}</h3>
      {conf.error && (
        <p className="error" role="alert">
          {conf.error.message}
          {conf.error.field && (
            <>
              {" "}
              (<a href="#/settings">Settings: {conf.error.field}</a>)
            </>
          )}
        </p>
      )}
      {conf.data !== null && (
        <>
          <p>Scan this with the WireGuard app on the phone, or download the file for a computer. It holds the peer's private key.</p>
          <div className="qr-row">
            <img src={`${url}?format=png`} alt={`QR code of the WireGuard configuration of ${name}`} width={320} height={320} data-testid="peer-qr" />
            {caFp && (
              <div className="ca-box">
                <h4>The cell's certificate</h4>
                <p>
                  Once connected, open {caUrl ? <code data-testid="peer-ca-url">{caUrl}</code> : "the cell's CA address"} on the device and install the
                  certificate if its SHA-256 fingerprint is:
                </p>
                <Fingerprint fp={caFp} testId="peer-ca-fingerprint" />
              </div>
            )}
          </div>
          <p>
            <a href={url} download={`${name}.conf`}>
              Download {name}.conf
            </a>
          </p>
        </>
      )}
    </div>
  );
}

function CreatePeer({ grants, users, onCreated }: { grants: string[]; users: string[]; onCreated: (p: Peer) => void }) {
  const [name, setName] = useState("");
  const [owner, setOwner] = useState("");
  const [description, setDescription] = useState("");
  const [access, setAccess] = useState<string[]>([]);
  const [routeAll, setRouteAll] = useState(false);
  const { busy, error, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const p = await run(() => post<Peer>("/api/peers", { name, description, service_access: access, route_all: routeAll, owner: owner || null }));
    if (!p) return;
    setName("");
    setDescription("");
    setOwner("");
    setAccess([]);
    onCreated(p);
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-peer">
      <h2 id="new-peer">Add a peer</h2>
      <Field label="Name" name="name" value={name} onChange={setName} required help="Lower-case letters, digits and '-', e.g. anna-phone." error={fieldError(error, "name")} />
      <Field label="Description" name="description" value={description} onChange={setDescription} error={fieldError(error, "description")} />
      <OwnerSelect users={users} value={owner} onChange={setOwner} label="Owner" error={fieldError(error, "owner")} />
      <GrantBoxes grants={grants} value={access} onChange={setAccess} legend="Services this peer may reach" />
      {fieldError(error, "service_access") && (
        <span className="field-error" role="alert">
          {fieldError(error, "service_access")}
        </span>
      )}
      <label className="check">
        <input type="checkbox" name="route_all" checked={routeAll} onChange={(e) => setRouteAll(e.target.checked)} /> Send all traffic through the cell
      </label>
      <ErrorBanner error={otherError(error, ["name", "description", "service_access", "owner"])} />
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create peer"}
      </button>
    </form>
  );
}

function PeerRow({ peer, live, grants, users, onChanged }: { peer: Peer; live?: LivePeer; grants: string[]; users: string[]; onChanged: () => void }) {
  const [editing, setEditing] = useState(false);
  const [access, setAccess] = useState(peer.service_access);
  const [owner, setOwner] = useState(peer.owner ?? "");
  const [showQr, setShowQr] = useState(false);
  const { busy, error, run } = useAction();
  const path = `/api/peers/${encodeURIComponent(peer.name)}`;
  const change = async (body: Partial<Peer>) => {
    const r = await run(() => put<Peer>(path, body));
    if (r) {
      setEditing(false);
      onChanged();
    }
  };
  return (
    <li className="card peer" data-peer={peer.name}>
      <div className="peer-head">
        <h3>{peer.name}</h3>
        <span className={`badge ${peer.enabled ? "running" : "disabled"}`}>{peer.enabled ? "enabled" : "disabled"}</span>
      </div>
      {peer.description && <p className="description">{peer.description}</p>}
      <dl className="facts">
        <dt>Owner</dt>
        <dd data-testid="owner">{peer.owner ?? "nobody"}</dd>
        <dt>Address</dt>
        <dd>{peer.ip}</dd>
        <dt>Grants</dt>
        <dd data-testid="grants">{peer.service_access.length ? peer.service_access.join(", ") : "none"}</dd>
        <dt>Last handshake</dt>
        <dd>{live ? <Time ts={live.latest_handshake} /> : "–"}</dd>
        <dt>Traffic</dt>
        <dd>{live ? `${bytes(live.rx_bytes)} received, ${bytes(live.tx_bytes)} sent` : "–"}</dd>
        <dt>Endpoint</dt>
        <dd>{live?.endpoint ?? "–"}</dd>
      </dl>
      {editing && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            change({ service_access: access, owner: owner || null });
          }}
        >
          <OwnerSelect users={users} value={owner} onChange={setOwner} label={`Owner of ${peer.name}`} error={fieldError(error, "owner")} />
          <GrantBoxes grants={grants} value={access} onChange={setAccess} legend={`Services ${peer.name} may reach`} />
          <button type="submit" disabled={busy}>
            Save changes
          </button>{" "}
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      )}
      <ErrorBanner error={error} />
      <div className="actions">
        {!editing && (
          <button
            type="button"
            onClick={() => {
              setAccess(peer.service_access);
              setOwner(peer.owner ?? "");
              setEditing(true);
            }}
          >
            Edit grants and owner
          </button>
        )}
        <button type="button" disabled={busy} onClick={() => change({ enabled: !peer.enabled })}>
          {peer.enabled ? "Disable" : "Enable"}
        </button>
        <button type="button" aria-expanded={showQr} onClick={() => setShowQr(!showQr)}>
          {showQr ? "Hide config" : "Show config"}
        </button>
        <ConfirmButton
          label="Delete"
          question={`Delete ${peer.name}? Its device loses access at once.`}
          confirmLabel={`Delete ${peer.name}`}
          onConfirm={async () => {
            const r = await run(() => del(path));
            if (r !== undefined) onChanged();
          }}
        />
      </div>
      {showQr && <PeerConfig name={peer.name} />}
    </li>
  );
}

export function Peers(_: PageProps) {
  const [filter, setFilter] = useState("");
  const list = usePoll(() => get<PeerList>(filter ? `/api/peers?owner=${encodeURIComponent(filter)}` : "/api/peers"), 10000);
  const userList = usePoll(() => get<{ users: User[] }>("/api/users"), 30000);
  const users = (userList.data?.users ?? []).map((u) => u.name);
  const reload = list.reload;
  useEffect(() => {
    reload();
  }, [filter, reload]);
  const live = usePoll(() => get<{ peers: LivePeer[] }>("/api/wireguard/peers"), 5000);
  const [created, setCreated] = useState<Peer | null>(null);
  const liveByKey = new Map((live.data?.peers ?? []).map((p) => [p.public_key, p]));
  return (
    <Page title="Peers">
      <ErrorBanner error={list.error ?? (live.error as ApiError | null) ?? userList.error} />
      <CreatePeer
        grants={list.data?.grants ?? []}
        users={users}
        onCreated={(p) => {
          setCreated(p);
          list.reload();
        }}
      />
      {created && (
        <div className="card" role="status">
          <h2>Peer {created.name} created</h2>
          {created.warnings?.map((w) => (
            <p key={w} className="warning">
              {w}
            </p>
          ))}
          <PeerConfig name={created.name} />
        </div>
      )}
      <h2>
        {filter ? `Peers of ${filter}` : "All peers"} ({list.data?.peers.length ?? 0})
      </h2>
      <OwnerSelect users={users} value={filter} onChange={setFilter} label="Show the peers of" all />
      <ul className="plain">
        {list.data?.peers.map((p) => (
          <PeerRow key={`${p.name}-${p.updated_at}-${p.owner}`} peer={p} live={liveByKey.get(p.public_key)} grants={list.data?.grants ?? []} users={users} onChanged={list.reload} />
        ))}
      </ul>
    </Page>
  );
}
