// DHCP: current leases (polled every 10 s) and reservations (add, delete after a question).
import { useState } from "react";
import { del, get, post } from "../api";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Page, Time, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface Lease {
  mac: string;
  ip: string;
  hostname: string | null;
  expires: number;
}
interface Reservation {
  mac: string;
  ip: string;
  hostname: string;
}

export function Dhcp(_: PageProps) {
  const leases = usePoll(() => get<{ leases: Lease[] }>("/api/dhcp/leases"), 10000);
  const res = usePoll(() => get<{ reservations: Reservation[] }>("/api/dhcp/reservations"), 30000);
  const [mac, setMac] = useState("");
  const [ip, setIp] = useState("");
  const [hostname, setHostname] = useState("");
  const add = useAction();
  const remove = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const r = await add.run(() => post("/api/dhcp/reservations", { mac, ip, hostname }));
    if (!r) return;
    setMac("");
    setIp("");
    setHostname("");
    res.reload();
  };
  return (
    <Page title="DHCP">
      <ErrorBanner error={leases.error ?? res.error ?? remove.error} />
      <h2>Leases</h2>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Current leases, refreshed every 10 seconds</caption>
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Address</th>
              <th scope="col">MAC</th>
              <th scope="col">Expires</th>
            </tr>
          </thead>
          <tbody>
            {leases.data?.leases.length === 0 && (
              <tr>
                <td colSpan={4}>No leases.</td>
              </tr>
            )}
            {leases.data?.leases.map((l) => (
              <tr key={l.mac}>
                <th scope="row">{l.hostname ?? "–"}</th>
                <td>{l.ip}</td>
                <td>{l.mac}</td>
                <td>{l.expires ? <Time ts={l.expires} /> : "never"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="card" onSubmit={submit} aria-labelledby="new-res">
        <h2 id="new-res">Reserve an address</h2>
        <Field label="MAC address" name="mac" value={mac} onChange={setMac} required placeholder="52:54:00:12:34:56" error={fieldError(add.error, "mac")} />
        <Field label="IP address" name="ip" value={ip} onChange={setIp} required error={fieldError(add.error, "ip")} />
        <Field label="Host name" name="hostname" value={hostname} onChange={setHostname} error={fieldError(add.error, "hostname")} />
        <ErrorBanner error={otherError(add.error, ["mac", "ip", "hostname"])} />
        <button type="submit" disabled={add.busy}>
          Add reservation
        </button>
      </form>
      <h2>Reservations</h2>
      <ul className="plain">
        {res.data?.reservations.map((r) => (
          <li key={r.mac} className="row">
            <span>
              {r.hostname || "–"} {r.ip} ({r.mac})
            </span>
            <ConfirmButton
              label="Delete"
              question={`Remove the reservation of ${r.mac}?`}
              confirmLabel="Remove reservation"
              onConfirm={async () => {
                await remove.run(() => del(`/api/dhcp/reservations/${encodeURIComponent(r.mac)}`));
                res.reload();
              }}
            />
          </li>
        ))}
      </ul>
    </Page>
  );
}
