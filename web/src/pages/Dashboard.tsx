// Dashboard: the cell's name and addresses, every service with state, restarts, memory and health reason,
// a one-click restart and the daemon's recent log lines; polled every 5 s.
import { useState } from "react";
import { get, post, type Service } from "../api";
import { bytes, duration } from "../format";
import { ErrorBanner, Page, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface Config {
  cell_name: string;
  domain: string;
  ip_range: string;
  wireguard: { address: string; port: number; endpoint: string };
  service_ips: Record<string, string>;
  restart_required: boolean;
}

export function Dashboard(_: PageProps) {
  const config = usePoll(() => get<Config>("/api/config"), 30000);
  const services = usePoll(() => get<{ services: Service[] }>("/api/services"), 5000);
  const [logs, setLogs] = useState<Record<string, string[]>>({});
  const action = useAction();
  const [message, setMessage] = useState("");

  const restart = async (name: string) => {
    setMessage("");
    const r = await action.run(() => post(`/api/services/${encodeURIComponent(name)}/restart`));
    if (r !== undefined) setMessage(`${name} restarted.`);
    services.reload();
  };
  const showLogs = async (name: string) => {
    if (logs[name]) {
      const { [name]: _gone, ...rest } = logs;
      setLogs(rest);
      return;
    }
    const r = await action.run(() => get<{ lines: string[] }>(`/api/services/${encodeURIComponent(name)}/logs`));
    if (r) setLogs({ ...logs, [name]: r.lines });
  };

  const c = config.data;
  return (
    <Page title="Dashboard">
      <ErrorBanner error={config.error ?? services.error ?? action.error} />
      {c && (
        <div className="card">
          <h2>Cell {c.cell_name}</h2>
          <dl className="facts">
            <dt>Domain</dt>
            <dd>
              {c.cell_name}.{c.domain}
            </dd>
            <dt>VPN address</dt>
            <dd>{c.wireguard.address}</dd>
            <dt>VPN endpoint</dt>
            <dd>{c.wireguard.endpoint || "not set (peer configs use a guess)"}</dd>
            <dt>Service range</dt>
            <dd>{c.ip_range}</dd>
            {Object.entries(c.service_ips).map(([k, v]) => (
              <div key={k} className="fact">
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          {c.restart_required && <p className="warning">Some settings wait for “Apply” on the Settings page.</p>}
        </div>
      )}
      <h2>Services</h2>
      <p role="status" aria-live="polite">
        {message}
      </p>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Managed services, refreshed every 5 seconds</caption>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">State</th>
              <th scope="col">Health</th>
              <th scope="col">Restarts</th>
              <th scope="col">Memory</th>
              <th scope="col">Uptime</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {services.data?.services.map((s) => (
              <tr key={s.name}>
                <th scope="row">{s.name}</th>
                <td>
                  <span className={`badge ${s.state}`}>{s.state}</span>
                </td>
                <td>{s.healthy ? "healthy" : s.problem ?? "unhealthy"}</td>
                <td>{s.restarts}</td>
                <td>{bytes(s.memory)}</td>
                <td>{duration(s.uptime)}</td>
                <td className="actions">
                  {s.kind === "daemon" && (
                    <>
                      <button type="button" disabled={action.busy} onClick={() => restart(s.name)} aria-label={`Restart ${s.name}`}>
                        Restart
                      </button>
                      <button type="button" onClick={() => showLogs(s.name)} aria-expanded={!!logs[s.name]} aria-label={`Logs of ${s.name}`}>
                        Logs
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {Object.entries(logs).map(([name, lines]) => (
        <div key={name} className="card">
          <h3>Recent log of {name}</h3>
          <pre className="log" tabIndex={0} aria-label={`Log lines of ${name}`}>
            {lines.join("\n") || "(no output yet)"}
          </pre>
        </div>
      ))}
    </Page>
  );
}
