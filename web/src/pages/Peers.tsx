// VPN peers: the list with live handshake and traffic (polled every 5 s), create with grant checkboxes from
// the API's grant list, the QR code and config download, enable/disable, edit grants, delete after a question.
import { useState } from "react";
import { ApiError, del, get, post, put, type LivePeer, type Peer } from "../api";
import { bytes } from "../format";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Page, Time, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

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

function PeerConfig({ name }: { name: string }) {
  const url = `/api/peers/${encodeURIComponent(name)}/config`;
  // The text first: when the cell cannot make a config (no endpoint known) the API says why, and that is shown.
  const conf = usePoll(() => get<string>(url), 0);
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
          <img src={`${url}?format=png`} alt={`QR code of the WireGuard configuration of ${name}`} width={320} height={320} data-testid="peer-qr" />
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

function CreatePeer({ grants, onCreated }: { grants: string[]; onCreated: (p: Peer) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [access, setAccess] = useState<string[]>([]);
  const [routeAll, setRouteAll] = useState(false);
  const { busy, error, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const p = await run(() => post<Peer>("/api/peers", { name, description, service_access: access, route_all: routeAll }));
    if (!p) return;
    setName("");
    setDescription("");
    setAccess([]);
    onCreated(p);
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-peer">
      <h2 id="new-peer">Add a peer</h2>
      <Field label="Name" name="name" value={name} onChange={setName} required help="Lower-case letters, digits and '-', e.g. anna-phone." error={fieldError(error, "name")} />
      <Field label="Description" name="description" value={description} onChange={setDescription} error={fieldError(error, "description")} />
      <GrantBoxes grants={grants} value={access} onChange={setAccess} legend="Services this peer may reach" />
      {fieldError(error, "service_access") && (
        <span className="field-error" role="alert">
          {fieldError(error, "service_access")}
        </span>
      )}
      <label className="check">
        <input type="checkbox" name="route_all" checked={routeAll} onChange={(e) => setRouteAll(e.target.checked)} /> Send all traffic through the cell
      </label>
      <ErrorBanner error={otherError(error, ["name", "description", "service_access"])} />
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create peer"}
      </button>
    </form>
  );
}

function PeerRow({ peer, live, grants, onChanged }: { peer: Peer; live?: LivePeer; grants: string[]; onChanged: () => void }) {
  const [editing, setEditing] = useState(false);
  const [access, setAccess] = useState(peer.service_access);
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
            change({ service_access: access });
          }}
        >
          <GrantBoxes grants={grants} value={access} onChange={setAccess} legend={`Services ${peer.name} may reach`} />
          <button type="submit" disabled={busy}>
            Save grants
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
              setEditing(true);
            }}
          >
            Edit grants
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
  const list = usePoll(() => get<PeerList>("/api/peers"), 10000);
  const live = usePoll(() => get<{ peers: LivePeer[] }>("/api/wireguard/peers"), 5000);
  const [created, setCreated] = useState<Peer | null>(null);
  const liveByKey = new Map((live.data?.peers ?? []).map((p) => [p.public_key, p]));
  return (
    <Page title="Peers">
      <ErrorBanner error={list.error ?? (live.error as ApiError | null)} />
      <CreatePeer
        grants={list.data?.grants ?? []}
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
      <h2>All peers ({list.data?.peers.length ?? 0})</h2>
      <ul className="plain">
        {list.data?.peers.map((p) => (
          <PeerRow key={`${p.name}-${p.updated_at}`} peer={p} live={liveByKey.get(p.public_key)} grants={list.data?.grants ?? []} onChanged={list.reload} />
        ))}
      </ul>
    </Page>
  );
}
